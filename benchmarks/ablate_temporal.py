"""Why does TAR lose to a median filter on the synthetic benchmark? Controlled experiments.

Every arm starts from the same single-frame model (the bundled ``vitpose-demo`` unless ``--base``
names a trained run), trains for the same number of steps on the same 5-frame windows with the
same batch size, optimiser, schedule and seed, and is then run over held-out videos. The
single-frame arm is the same base trained on for the same steps on the windows' target frames,
so every temporal arm is compared with a single-frame model of the same budget.

    python benchmarks/ablate_temporal.py --work runs/ablation --arms single,postnorm,gate0
    python benchmarks/ablate_temporal.py --work runs/ablation --report        # the table

Each arm trains into ``WORK/ARM`` (resumable: run the same command again after an interruption)
and writes its predictions on the evaluation videos to ``WORK/ARM/predictions-SPLIT.pt``; the
report scores them, alone and after keypoint-track filters, on the clean and corrupted frames.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

import torch
from einops import rearrange
from torch import nn

#: arm name -> what differs from the paper's modules (``tar``: TARConfig fields on top of
#: ``TARConfig.paper()``) and from the training defaults; "single" is the control
ARMS: dict[str, dict[str, Any]] = {
    "single": {"temporal": False},
    "postnorm": {"tar": {}},
    "gate0": {"tar": {"restore": "residual"}},
    "gate0.01": {"tar": {"restore": "residual", "gra_gate_init": 0.01}},
    "gate0.1": {"tar": {"restore": "residual", "gra_gate_init": 0.1}},
    "zero_out": {"tar": {"restore": "zero_out"}},
    "postnorm+pos": {"tar": {"position": True}},
    "zero_out+pos": {"tar": {"restore": "zero_out", "position": True}},
    "gate0.1+pos": {"tar": {"restore": "residual", "gra_gate_init": 0.1, "position": True}},
    "postnorm+frozen": {"tar": {}, "freeze_base": True},
    "postnorm+lrnew5e-4": {"tar": {}, "lr_new": 5e-4},
    "postnorm+depth2": {"tar": {"jta_depth": 2}},
    "zero_out+ffn": {"tar": {"restore": "zero_out", "gra_ffn_ratio": 2.0}},
    "zero_out+ffn+frozen": {"tar": {"restore": "zero_out", "gra_ffn_ratio": 2.0}, "freeze_base": True},
    # tarpose's default TARConfig as it was measured here (zero_out + FFN + the window's heatmaps
    # embedded, JTA depth 6, GRA FFN ratio 2: DEFAULT_BEFORE_27); the default since issue 27 is the
    # arm "default+frozen+depth2+ffn1"
    "default": {"tar": "default"},
    "default+frozen": {"tar": "default", "freeze_base": True},
    # the cost of the default (issue 27): shallower JTA, narrower GRA FFN, no heatmap embedding;
    # frozen base, as the bundled model is trained
    **{f"default+frozen+depth{d}": {"tar": {"jta_depth": d}, "from": "default", "freeze_base": True}
       for d in (2, 3, 4)},
    **{f"default+frozen+ffn{r:g}": {"tar": {"gra_ffn_ratio": r}, "from": "default", "freeze_base": True}
       for r in (0.0, 0.5, 1.0)},
    "default+frozen+depth2+ffn1": {"tar": {"jta_depth": 2, "gra_ffn_ratio": 1.0}, "from": "default",
                                   "freeze_base": True},
    "default+frozen+depth3+ffn1": {"tar": {"jta_depth": 3, "gra_ffn_ratio": 1.0}, "from": "default",
                                   "freeze_base": True},
    "default+frozen-embed": {"tar": {"heatmap_embed": False}, "from": "default", "freeze_base": True},
    # causal windows t-4..t (issue 23)
    "causal+frozen": {"tar": "default", "freeze_base": True, "target": "last"},
}

#: the fields of tarpose's default TARConfig before issue 27 made the temporal part cheaper: the
#: "default" arms keep meaning what they measured
DEFAULT_BEFORE_27: dict[str, Any] = {"jta_depth": 6, "gra_ffn_ratio": 2.0}

DEFAULTS: dict[str, Any] = {
    "temporal": True, "tar": {}, "from": "paper", "freeze_base": False, "lr": 2e-4, "lr_new": 2e-3,
    "steps": None, "target": "centred",
}


def arm_options(name: str) -> dict[str, Any]:
    """The full options of an arm: a registered name, or ``base@steps`` for a longer run."""
    base, _, steps = name.partition("@")
    if base not in ARMS:
        raise SystemExit(f"unknown arm {base!r}; known: {', '.join(ARMS)} (append @STEPS for length)")
    options = {**DEFAULTS, **ARMS[base]}
    if steps:
        options["steps"] = int(steps)
    return options


def tar_config(options: dict[str, Any]) -> Any:
    """The arm's TARConfig (5 frames, the arm's target): ``tar`` changes on top of the paper's
    modules (``from="paper"``) or tarpose's default (``from="default"``, or ``tar="default"``)."""
    from tarpose import TARConfig

    window = {"num_frames": 5, "target": options["target"]}
    if options["tar"] == "default":
        return TARConfig(**window, **DEFAULT_BEFORE_27)
    if options["from"] == "default":
        return TARConfig(**window, **{**DEFAULT_BEFORE_27, **options["tar"]})
    return TARConfig.paper(**window, **options["tar"])


def load_base(path: Path | None) -> nn.Module:
    from tarpose import load_model

    return load_model(path) if path is not None else load_model("vitpose-demo")


def build(options: dict[str, Any], base: nn.Module) -> nn.Module:
    """The model of an arm around ``base`` (modified in place: pass a fresh copy)."""
    from tarpose import TemporalWrapper

    if not options["temporal"]:
        return base
    return TemporalWrapper(base, tar_config(options))


def train_arm(name: str, args: argparse.Namespace) -> Path:
    from tarpose.data.synthetic import SyntheticPoseDataset
    from tarpose.training import TrainConfig, train

    options = arm_options(name)
    out = args.work / name
    if (out / "model.safetensors").exists():
        return out
    torch.manual_seed(args.seed)
    model = build(options, load_base(args.base))
    dataset = SyntheticPoseDataset(
        split="train", first_video=args.first_video, num_videos=args.videos, video_length=32,
        num_frames=5, target=options["target"], corruption=0.3, geometry=model.data_config.geometry,
        cache=str(args.cache),
    )  # crops and targets in the geometry the base was trained in (tarpose.geometry)
    config = TrainConfig(
        steps=options["steps"] or args.steps, batch_size=16, lr=options["lr"],
        lr_new=options["lr_new"] if options["temporal"] else None, warmup_steps=100,
        weight_decay=0.05, joint_weights="coco", freeze_base=options["freeze_base"], seed=args.seed,
        log_every=100, save_every=250,
    )
    out.mkdir(parents=True, exist_ok=True)
    (out / "arm.json").write_text(json.dumps({"arm": name, "options": options, "config": config.to_dict()}, indent=2))
    resume = (out / "checkpoint.safetensors").exists()
    start = time.perf_counter()
    train(model, dataset, config, out, resume=resume)
    torch.save(model.state_dict(), out / "weights.pt")
    (out / "done.json").write_text(json.dumps({"wall_s": time.perf_counter() - start}))
    return out


def eval_crops(
    split: str, args: argparse.Namespace, geometry: str, target: str = "centred"
) -> list[dict[str, Any]]:
    """Windows of every frame of the evaluation videos, rendered once and kept in the cache
    folder: ``crops`` uint8 ``(F, T, 3, H, W)``, ``valid`` ``(F, T)``, ``matrix`` ``(F, 2, 3)``,
    ``T = 5``, frame ``t``'s window ``t-2..t+2`` (``target="last"``: ``t-4..t``) cropped with frame
    ``t``'s ground-truth box in the models' ``geometry`` (as ``tarpose.demo.predict_video``)."""
    from tarpose import Window
    from tarpose.data.synthetic import SyntheticVideo
    from tarpose.geometry import box_to_center_scale, crop_matrices

    suffix = "" if target == "centred" else f"-{target}"
    path = args.cache / f"eval-{split}-{args.eval_videos}-{geometry}{suffix}.pt"  # pixel-index matrices
    if path.exists():
        return torch.load(path, weights_only=True)
    size, num_frames = (128, 96), 5
    centre = Window(num_frames, target).target_index  # the target frame's place in the window
    videos = []
    for seed in eval_seeds(split, args.eval_videos):
        video = SyntheticVideo(seed, 32, corruption=0.3)
        f = video.num_frames
        ts = torch.arange(f)
        index = ts[:, None] + torch.arange(num_frames) - centre  # (f, T)
        c, s = box_to_center_scale(video.boxes.double(), aspect_ratio=size[1] / size[0], padding=1.25)
        matrix = crop_matrices(c, s, size, geometry=geometry)  # (f, 2, 3)
        crops, area = video.render(index.clamp(0, f - 1).flatten(), matrix=matrix.repeat_interleave(num_frames, 0), size=size)
        videos.append({"seed": seed, "crops": rearrange(crops, "(f t) c h w -> f t c h w", t=num_frames),
                       "valid": (index >= 0) & (index < f), "matrix": matrix,
                       "keypoints": video.keypoints.float(), "visible": video.visibility > 0,
                       "boxes": video.boxes.float(), "areas": area.view(f, num_frames)[:, centre].float(),
                       "corruption": video.corruption})
    torch.save(videos, path)
    return videos


@torch.no_grad()
def predict(model: nn.Module, video: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
    """Keypoints ``(F, J, 2)`` (image pixels) and scores ``(F, J)`` of ``model`` on one video of
    :func:`eval_crops`; a single-frame model sees the window's target frame."""
    from tarpose import Window
    from tarpose.codec import decode_heatmaps, heatmap_to_image
    from tarpose.geometry import normalize_images

    temporal = hasattr(model, "aggregate_restore")
    target = Window(5, model.config.target).target_index if temporal else 2
    points, scores = [], []
    for start in range(0, len(video["crops"]), 16):
        part = slice(start, start + 16)
        clip = normalize_images(video["crops"][part])  # (b, t, 3, h, w)
        heatmaps = model(clip, frame_valid=video["valid"][part]) if temporal else model(clip[:, target])
        coords, score = decode_heatmaps(heatmaps)
        points.append(heatmap_to_image(
            coords, video["matrix"][part], clip.shape[-2:], heatmaps.shape[-2:], model.data_config.geometry
        ).float())
        scores.append(score)
    return torch.cat(points), torch.cat(scores)


def evaluate_arm(name: str, args: argparse.Namespace, split: str) -> None:
    out = args.work / name
    path = out / f"predictions-{split}.pt"
    if path.exists():
        return
    torch.manual_seed(0)
    model = build(arm_options(name), load_base(args.base))
    model.load_state_dict(torch.load(out / "weights.pt", weights_only=True))
    model.eval()
    results = []
    target = arm_options(name)["target"]
    for video in eval_crops(split, args, model.data_config.geometry, target):
        points, scores = predict(model, video)
        results.append({"seed": video["seed"], "points": points, "scores": scores})
    torch.save(results, path)


#: the bundled models as arms of the report: arm -> (model name, window target, future frames hidden)
BUNDLED = {
    "bundled-centred": ("tar-vitpose-demo", "centred", False),
    "bundled-centred-no-future": ("tar-vitpose-demo", "centred", True),
    "bundled-causal": ("tar-vitpose-demo-causal", "last", False),
}


def evaluate_bundled(args: argparse.Namespace, split: str) -> None:
    """The bundled centred and causal TARs through the same evaluator, and the centred one with
    the frames after its target marked invalid (what it makes of a window without look-ahead):
    how much of the centred TAR's lead over the causal one is the future frames."""
    import tarpose

    for arm, (name, target, blind) in BUNDLED.items():
        out = args.work / arm
        path = out / f"predictions-{split}.pt"
        if path.exists():
            continue
        model = tarpose.load_model(name).float().eval()
        results = []
        for video in eval_crops(split, args, model.data_config.geometry, target):
            if blind:  # (f, t) validity without the frames after the target
                video = {**video, "valid": video["valid"] & (torch.arange(video["valid"].shape[1]) <= 2)}
            points, scores = predict(model, video)
            results.append({"seed": video["seed"], "points": points, "scores": scores})
        out.mkdir(parents=True, exist_ok=True)
        torch.save(results, path)


def smooth(points: torch.Tensor, scores: torch.Tensor, kind: str, window: int = 5) -> torch.Tensor:
    """A centred filter over each joint's track, window clamped at the video's ends:
    ``"median"`` or score-weighted ``"mean"``."""
    f, half = points.shape[0], window // 2
    index = (torch.arange(f)[:, None] + torch.arange(-half, half + 1)).clamp(0, f - 1)  # (f, w)
    neighbours = points[index]  # (f, w, j, 2)
    if kind == "median":
        return neighbours.median(dim=1).values
    weights = scores[index].clamp_min(1e-6)[..., None]  # (f, w, j, 1)
    return (neighbours * weights).sum(1) / weights.sum(1)


def report(args: argparse.Namespace, arms: list[str], split: str) -> dict[str, dict[str, float]]:
    """PCK@0.05 and OKS AP of every arm on ``split``, alone and after each filter."""
    from tarpose.data.synthetic.corruptions import KINDS
    from tarpose.eval import bbox_size, oks_ap, pck

    videos = eval_crops(split, args, load_base(args.base).data_config.geometry)
    cat = lambda key: torch.cat([v[key] for v in videos])
    gt, visible, norm, areas = cat("keypoints"), cat("visible"), bbox_size(cat("boxes")), cat("areas")
    code = cat("corruption")
    subsets = {"clean": code == 0, "corrupted": code != 0, **{k: (code & b) != 0 for k, b in KINDS.items()}}
    table = {}
    for arm in arms:
        path = args.work / arm / f"predictions-{split}.pt"
        if not path.exists():
            continue
        results = torch.load(path, weights_only=True)
        for filt in ("", "median", "mean"):
            pred = torch.cat([smooth(r["points"], r["scores"], filt) if filt else r["points"] for r in results])
            score = torch.cat([r["scores"] for r in results]).mean(-1)
            row = {}
            for name, sel in subsets.items():
                row[f"pck_{name}"] = 100 * pck(pred[sel], gt[sel], visible[sel], norm[sel], 0.05)
                if name in ("clean", "corrupted"):
                    row[f"ap_{name}"] = 100 * oks_ap(pred[sel], score[sel], gt[sel], visible[sel], areas[sel].double()).ap
            table[f"{arm}{' + ' + filt if filt else ''}"] = row
    return table


def format_report(table: dict[str, dict[str, float]]) -> str:
    keys = ["pck_clean", "pck_corrupted", "ap_clean", "ap_corrupted", "pck_occlude", "pck_motion_blur",
            "pck_defocus", "pck_noise", "pck_drop"]
    keys = [k for k in keys if any(k in row for row in table.values())]
    lines = [f"{'arm':<28}" + "".join(f"{k.replace('pck_', 'P ').replace('ap_', 'AP '):>14}" for k in keys)]
    for arm, row in table.items():
        lines.append(f"{arm:<28}" + "".join(f"{row.get(k, float('nan')):>14.2f}" for k in keys))
    return "\n".join(lines)


def eval_seeds(split: str, n: int) -> range:
    from tarpose.data.synthetic import split_seeds

    if split == "val":  # train-split seeds never used for training (those are 0.. and 500000..)
        return split_seeds("train", n, 900_000)
    return split_seeds(split, n)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--arms", default="", help="comma-separated arms (ARM or ARM@STEPS)")
    parser.add_argument("--base", type=Path, help="a trained single-frame run (default: bundled vitpose-demo)")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "tarpose" / "ablation",
                        help="rendered crops, shared by every arm (default: ~/.cache/tarpose/ablation)")
    parser.add_argument("--steps", type=int, default=1600)
    parser.add_argument("--videos", type=int, default=500)
    parser.add_argument("--first-video", type=int, default=500_000)
    parser.add_argument("--eval-videos", type=int, default=64)
    parser.add_argument("--splits", default="val,test")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--report", action="store_true", help="print the table of every finished arm")
    parser.add_argument("--bundled", action="store_true",
                        help="with --report: also the bundled centred and causal TARs, and the centred one "
                             "without the frames after its target")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.report:
        if args.bundled:
            for split in args.splits.split(","):
                evaluate_bundled(args, split)
        arms = sorted(p.name for p in args.work.iterdir() if any(p.glob("predictions-*.pt")))
        for split in args.splits.split(","):
            table = report(args, arms, split)
            print(f"== {split}\n{format_report(table)}")
            (args.work / f"report-{split}.json").write_text(json.dumps(table, indent=2) + "\n")
        return 0
    for name in filter(None, args.arms.split(",")):
        print(f"== {name}", flush=True)
        train_arm(name, args)
        for split in args.splits.split(","):
            evaluate_arm(name, args, split)
    return 0


if __name__ == "__main__":
    sys.exit(main())
