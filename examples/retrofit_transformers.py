"""Retrofit a Hugging Face transformers ViTPose with TAR's temporal modules.

    python examples/retrofit_transformers.py                                   # from the Hub
    python examples/retrofit_transformers.py --model path/to/saved/vitpose     # a local copy

Shows the two ways in: wrap transformers' own ``VitPoseForPoseEstimation`` (its modules are shared,
not copied), or load its weights into tarpose's ViTPose with ``tarpose.load_model``. Both start
out exactly equal to the single-frame model; train the new modules to get the temporal gain.
"""

from __future__ import annotations

import argparse

import torch

import tarpose


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument("--model", default="usyd-community/vitpose-base-simple",
                        help="Hub id or directory of a transformers ViTPose")
    parser.add_argument("--frames", type=int, default=5, help="window length (odd)")
    args = parser.parse_args(argv)

    from transformers import VitPoseForPoseEstimation

    vitpose = VitPoseForPoseEstimation.from_pretrained(args.model).eval()
    height, width = vitpose.config.backbone_config.image_size

    # 1. wrap the transformers model itself
    temporal = tarpose.TemporalWrapper(vitpose, num_frames=args.frames).eval()
    # 2. or load the same weights into tarpose's ViTPose (any input size divisible by 16)
    builtin = tarpose.TemporalWrapper(tarpose.load_model(args.model), num_frames=args.frames).eval()

    clip = torch.randn(2, args.frames, 3, height, width)  # normalised crops of 2 people
    with torch.no_grad():
        single = vitpose(clip[:, args.frames // 2]).heatmaps
        wrapped, loaded = temporal(clip), builtin(clip)
    print(f"heatmaps {tuple(wrapped.shape)}; new parameters: "
          f"{sum(p.numel() for p in temporal.new_parameters()) / 1e6:.1f}M")
    print(f"max |wrapped - single-frame|    = {(wrapped - single).abs().max():.2e}")
    print(f"max |tarpose ViTPose - single|  = {(loaded - single).abs().max():.2e}")


if __name__ == "__main__":
    main()
