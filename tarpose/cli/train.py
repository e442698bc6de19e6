"""Train a single-frame ViTPose or a TAR-ViTPose on a dataset, in one process or under torchrun.

Examples:

  tarpose train --model vitpose-s --dataset my_module:make_dataset --out runs/single
  tarpose train --model tar-vitpose-s --init-from runs/single --lr 5e-6 --lr-new 5e-4 \\
      --dataset my_module:make_dataset --data-opt num_frames=5 --out runs/tar
  torchrun --nproc-per-node 4 -m tarpose train --model tar-vitpose-b ... --out runs/tar-b

KEY=VALUE options are parsed as JSON where possible (numbers, true/false, [64,48]), else kept as
strings. The run directory gets checkpoint.safetensors (atomic; --resume continues it exactly),
log.jsonl, train.json, and at the end model.safetensors + config.json for inference.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from . import CLIError

HELP = "train a model (single process or torchrun); --resume continues exactly"


def _key_value(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def _joint_weights(text: str) -> str | list[float] | None:
    if text in ("none", "coco"):
        return None if text == "none" else "coco"
    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected none, coco or comma-separated floats, got {text!r}"
        ) from None


class _Formatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Keeps the description's line breaks and shows each default once: not where the help
    already says it, and not for "unset" defaults (None, False, an empty list)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if "default" in text or action.default in (None, False, [], argparse.SUPPRESS):
            return text
        return super()._get_help_string(action)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = _Formatter
    m = parser.add_argument_group("model")
    m.add_argument(
        "--model", help="registered model name (tarpose models), e.g. vitpose-s, tar-vitpose-s"
    )
    m.add_argument(
        "--model-opt",
        type=_key_value,
        action="extend",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="create_model override, e.g. embed_dim=192 img_size=[128,96] (repeatable)",
    )
    m.add_argument(
        "--init-from",
        type=Path,
        metavar="DIR",
        help="start from a previous run's model; with --model tar-X and a run of X, wrap it",
    )
    m.add_argument(
        "--num-frames", type=int, help="window length of a temporal model (default: the dataset's)"
    )
    d = parser.add_argument_group("data")
    d.add_argument("--dataset", required=True, help="registered dataset name, or module:factory")
    d.add_argument(
        "--data-opt",
        type=_key_value,
        action="extend",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="dataset option (repeatable)",
    )
    d.add_argument(
        "--val-dataset", help="validation dataset (name or module:factory): its loss is logged"
    )
    d.add_argument(
        "--val-data-opt",
        type=_key_value,
        action="extend",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
    )
    d.add_argument(
        "--workers", type=int, default=2, help="data loader processes (results do not depend on it)"
    )
    o = parser.add_argument_group("optimisation")
    length = o.add_mutually_exclusive_group()
    length.add_argument("--epochs", type=int, default=10)
    length.add_argument("--steps", type=int, help="total optimizer steps instead of --epochs")
    o.add_argument("--batch-size", type=int, default=16, help="per process")
    o.add_argument("--lr", type=float, default=5e-4, help="learning rate of the base model")
    o.add_argument(
        "--lr-new", type=float, help="learning rate of the new temporal modules (default --lr)"
    )
    o.add_argument("--weight-decay", type=float, default=0.1)
    o.add_argument("--schedule", choices=("constant", "step", "cosine"), default="cosine")
    o.add_argument("--lr-step-epochs", type=float, default=5.0, help="step schedule period")
    o.add_argument("--lr-gamma", type=float, default=0.5, help="step schedule factor")
    o.add_argument("--warmup-steps", type=int, default=0)
    o.add_argument("--clip-grad", type=float, help="max gradient norm")
    o.add_argument("--freeze-base", action="store_true", help="train only the temporal modules")
    o.add_argument(
        "--joint-weights", type=_joint_weights, default=None, metavar="none|coco|W,W,..."
    )
    o.add_argument(
        "--initial-loss-weight",
        type=float,
        default=0.0,
        help="weight of the loss on the initial heatmaps (temporal models)",
    )
    o.add_argument(
        "--target-frame",
        choices=("center", "last"),
        default="center",
        help="frame of the window a single-frame model trains on",
    )
    r = parser.add_argument_group("run")
    r.add_argument("--out", type=Path, required=True, metavar="DIR", help="run directory")
    r.add_argument("--resume", action="store_true", help="continue DIR/checkpoint.safetensors")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument(
        "--amp",
        choices=("auto", "off", "bf16", "fp16"),
        default="auto",
        help="mixed precision (auto: bf16 on CUDA, off on CPU)",
    )
    r.add_argument("--device", help="cpu, cuda (default: cuda:LOCAL_RANK if available)")
    r.add_argument("--log-every", type=int, default=50, metavar="STEPS")
    r.add_argument(
        "--save-every",
        type=int,
        default=0,
        metavar="STEPS",
        help="checkpoint interval (always at epoch ends)",
    )
    r.add_argument("--val-every", type=int, default=1, metavar="EPOCHS")


def build_dataset(spec: str, options: dict[str, Any]) -> Any:
    """A registered dataset, or ``module:factory`` called with ``options``."""
    import importlib

    from ..data import build_dataset as build_registered

    if ":" not in spec:
        try:
            return build_registered(spec, **options)
        except ValueError as error:
            if "unknown dataset" in str(error):
                raise CLIError(f"{error} (or give module:factory)") from None
            raise CLIError(f"dataset {spec!r}: {error}") from None
        except TypeError as error:
            raise CLIError(f"dataset {spec!r} rejected the options {options}: {error}") from None
    module_name, _, attr = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise CLIError(f"cannot import the dataset module {module_name!r}: {error}") from None
    factory = getattr(module, attr, None)
    if not callable(factory):
        raise CLIError(f"module {module_name!r} has no callable {attr!r}")
    try:
        return factory(**options)
    except TypeError as error:
        raise CLIError(f"{spec} rejected the options {options}: {error}") from None


def _check_sample(dataset: Any, what: str) -> tuple[int, int]:
    """(T, J) of the first sample; a clear error if the dataset does not yield the sample format."""
    if len(dataset) == 0:
        raise CLIError(f"the {what} is empty")
    sample = dataset[0]
    missing = [
        k
        for k in ("clip", "target", "target_weight")
        if not isinstance(sample, dict) or k not in sample
    ]
    if missing:
        raise CLIError(
            f"the {what}'s samples lack {missing} (see tarpose.data for the sample format)"
        )
    clip, target = sample["clip"], sample["target"]
    if clip.ndim != 4 or target.ndim != 3:
        raise CLIError(
            f"the {what}'s clip must be (T, 3, H, W) and target (J, h, w), got {tuple(clip.shape)} "
            f"and {tuple(target.shape)}"
        )
    return int(clip.shape[0]), int(target.shape[0])


def build_model(args: argparse.Namespace, num_frames: int) -> tuple[Any, dict[str, Any]]:
    """The model to train and the spec that rebuilds it (``{"name", "options"}``)."""
    import torch

    from ..models import create_model
    from ..models.registry import split_overrides
    from ..training.export import read_spec
    from ..wrapper import TemporalWrapper

    options = dict(args.model_opt)
    base = None
    if args.init_from is not None:
        try:
            init_spec, weights = read_spec(args.init_from)
        except (FileNotFoundError, ValueError) as error:
            raise CLIError(f"--init-from: {error}") from None
        name = args.model or init_spec["name"]
        if name == init_spec["name"]:
            options = {**init_spec["options"], **options}
        elif name == f"tar-{init_spec['name']}":
            try:
                clash, temporal = split_overrides(options, options.get("vitpose"))
            except TypeError as error:
                raise CLIError(str(error)) from None
            clash.pop("vitpose", None)
            if clash or "vitpose" in options:
                raise CLIError(
                    f"--model-opt {sorted(clash) or ['vitpose']} would change the architecture "
                    "given by --init-from"
                )
            base = init_spec
            options = {**temporal, "vitpose": init_spec["options"]}
        else:
            raise CLIError(
                f"--init-from holds a {init_spec['name']!r} model: train it as --model "
                f"{init_spec['name']} or wrap it as --model tar-{init_spec['name']}"
            )
    elif args.model is None:
        raise CLIError("give --model NAME (see `tarpose models`) or --init-from DIR")
    else:
        name = args.model

    def create(opts: dict[str, Any]) -> torch.nn.Module:
        try:
            return create_model(name, **opts)
        except (TypeError, ValueError) as error:
            raise CLIError(f"cannot build {name!r} with {opts}: {error}") from None

    with torch.device("meta"):  # learn what the options build, without allocating weights
        probe = create(options)
    if isinstance(probe, TemporalWrapper):
        wanted = args.num_frames or options.get("num_frames") or num_frames
        if wanted != num_frames:
            raise CLIError(
                f"the model would take windows of {wanted} frames but the dataset's clips have "
                f"T={num_frames} frames (set the dataset's window, or --num-frames {num_frames})"
            )
        options["num_frames"] = wanted
    elif args.num_frames is not None:
        raise CLIError(f"--num-frames applies to temporal models; {name!r} is single-frame")
    spec = {"name": name, "options": options}
    if args.init_from is None:
        return create(options), spec
    from safetensors.torch import load_file

    if base is None:  # continue training the same architecture
        model = create(options)
    else:  # wrap the trained single-frame model, as create_model(tar-...) does
        model = create_model(base["name"], **base["options"])
    try:
        model.load_state_dict(load_file(str(weights)), strict=True)
    except RuntimeError as error:
        raise CLIError(f"--init-from {weights} does not fit {name!r}: {error}") from None
    if base is not None:
        model = TemporalWrapper(model, **{k: v for k, v in options.items() if k != "vitpose"})
    return model, spec


def _loss_validator(dataset: Any, batch_size: int, config: Any) -> Any:
    """``fn(model) -> {"loss": mean validation loss}`` over the whole dataset."""
    import torch
    from torch.utils.data import DataLoader

    from ..training.engine import _forward
    from ..training.losses import HeatmapLoss

    def validate(model: torch.nn.Module) -> dict[str, float]:
        device = next(model.parameters()).device
        loss_fn = HeatmapLoss(config.joint_weights).to(device)
        total, count = 0.0, 0
        for batch in DataLoader(dataset, batch_size=batch_size):
            heatmaps, _ = _forward(model, batch, config.target_frame, False, device)
            n = batch["clip"].shape[0]
            total += (
                float(
                    loss_fn(
                        heatmaps.float(),
                        batch["target"].to(device),
                        batch["target_weight"].to(device),
                    )
                )
                * n
            )
            count += n
        return {"loss": total / count}

    return validate


def run(args: argparse.Namespace) -> int:
    import os

    from ..training import TrainConfig, train

    dataset = build_dataset(args.dataset, dict(args.data_opt))
    num_frames, _ = _check_sample(dataset, "dataset")
    try:
        config = TrainConfig(
            epochs=args.epochs,
            steps=args.steps,
            batch_size=args.batch_size,
            lr=args.lr,
            lr_new=args.lr_new,
            weight_decay=args.weight_decay,
            schedule=args.schedule,
            lr_step_epochs=args.lr_step_epochs,
            lr_gamma=args.lr_gamma,
            warmup_steps=args.warmup_steps,
            clip_grad=args.clip_grad,
            freeze_base=args.freeze_base,
            joint_weights=args.joint_weights,
            initial_loss_weight=args.initial_loss_weight,
            target_frame=args.target_frame,
            amp=args.amp,
            seed=args.seed,
            workers=args.workers,
            log_every=args.log_every,
            save_every=args.save_every,
            val_every=args.val_every,
        )
    except ValueError as error:
        raise CLIError(str(error)) from None
    validate = None
    if args.val_dataset:
        val = build_dataset(args.val_dataset, dict(args.val_data_opt))
        _check_sample(val, "validation dataset")
        validate = _loss_validator(val, args.batch_size, config)
    import torch

    from ..training.engine import CHECKPOINT

    if not args.resume and (args.out / CHECKPOINT).exists():
        raise CLIError(
            f"{args.out} already holds a checkpoint: add --resume, or choose another --out"
        )
    torch.manual_seed(args.seed)  # the initial weights
    model, spec = build_model(args, num_frames)
    if int(os.environ.get("RANK", "0")) == 0 and not args.resume:
        args.out.mkdir(parents=True, exist_ok=True)
        record = {
            k: (str(v) if isinstance(v, Path) else v)
            for k, v in vars(args).items()
            if not k.startswith("_") and k != "command"
        }
        (args.out / "train.json").write_text(
            json.dumps({"args": record, "model": spec, "config": config.to_dict()}, indent=2) + "\n"
        )
    try:
        result = train(
            model,
            dataset,
            config,
            args.out,
            resume=args.resume,
            validate=validate,
            model_spec=spec,
            device=args.device,
        )
    except (ValueError, FileNotFoundError, FileExistsError) as error:
        raise CLIError(str(error)) from None
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"trained {spec['name']} for {result.step} steps: {args.out / 'model.safetensors'}")
    return 0
