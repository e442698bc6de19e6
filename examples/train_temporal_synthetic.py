"""Train TAR's temporal modules on top of a frozen ViTPose, on synthetic video (no download).

    python examples/train_temporal_synthetic.py                       # about 15 min on one CPU thread
    python examples/train_temporal_synthetic.py --steps 50 --videos 8  # a quick look

The base is the bundled single-frame ``vitpose-demo`` (swap in your own ViTPose: any model
``TemporalWrapper`` accepts). ``freeze_base`` keeps every base weight as it is, so only JTA
and GRA learn, from windows of 5 frames of ``tarpose.data.synthetic`` in which 30% of the frames
are corrupted (occluders, blur, noise, dropped frames). Every output layer of the new modules
starts at zero (GRA's projection, its FFN, the heatmap embedding): before training the wrapper
returns exactly the base's heatmaps. At the end both models are scored on held-out test videos, on
clean and on corrupted frames.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

import tarpose
from tarpose.data import build_dataset
from tarpose.data.synthetic import SyntheticVideo, split_seeds
from tarpose.demo import compare, predict_video
from tarpose.training import TrainConfig, freeze_base, train


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=600, help="optimizer steps")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--videos", type=int, default=200, help="32-frame training videos")
    parser.add_argument("--test-videos", type=int, default=16, help="held-out videos to score")
    parser.add_argument("--out", type=Path, default=Path("runs/tar-frozen"), help="run directory")
    args = parser.parse_args(argv)

    base = tarpose.create_model("vitpose-demo", pretrained=True)  # the bundled single-frame model
    model = tarpose.TemporalWrapper(base, num_frames=5)  # fresh JTA and GRA around it
    freeze_base(model)  # base frozen, in eval mode (TrainConfig(freeze_base=True) does it too)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    print(f"training {trainable / 1e6:.2f} M parameters (JTA, GRA, heatmap embedding); base frozen")

    # windows t-2..t+2 cropped with frame t's box; Gaussian targets of frame t, laid out in the
    # geometry the base was trained in (its data config says which: tarpose.geometry)
    data = build_dataset("synthetic", split="train", num_videos=args.videos, video_length=32,
                         num_frames=5, input_size=(128, 96), corruption=0.3,
                         geometry=model.data_config.geometry)
    config = TrainConfig(steps=args.steps, batch_size=args.batch_size, lr=1e-3, warmup_steps=args.steps // 10,
                         freeze_base=True, joint_weights="coco", weight_decay=0.05, log_every=50)
    # the run directory ends with the model as save_pretrained writes it: tarpose.load_model(args.out)
    # or `tarpose predict --model args.out` loads it
    train(model, data, config, out=args.out)

    model.eval()
    with torch.inference_mode():
        results = [predict_video(SyntheticVideo(seed, 32, corruption=0.3), base, model)
                   for seed in split_seeds("test", args.test_videos)]  # never seen in training
    scores = compare(results)
    print(f"{'':<20}{'single-frame':>14}{'temporal':>10}")
    for key in ("pck_clean", "pck_corrupted", "ap_clean", "ap_corrupted", "jitter"):
        print(f"{key:<20}{scores['single_frame'][key]:>14.2f}{scores['temporal'][key]:>10.2f}")


if __name__ == "__main__":
    main()
