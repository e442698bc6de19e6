"""Train a single-frame ViTPose or a TAR-ViTPose on a dataset, in one process or under torchrun.

Examples:

  tarpose train --model vitpose-s --dataset my_module:make_dataset --out runs/single
  tarpose train --model tar-vitpose-s --init-from runs/single --lr 5e-6 --lr-new 5e-4 \\
      --dataset my_module:make_dataset --data-opt num_frames=5 --out runs/tar
  torchrun --nproc-per-node 4 -m tarpose train --model tar-vitpose-b ... --out runs/tar-b

KEY=VALUE options are parsed as JSON where possible (numbers, true/false, [64,48]), else kept as
strings. The run directory gets checkpoint.safetensors (atomic; --resume continues it exactly),
log.jsonl, train.json, and at the end the trained model as save_pretrained writes it
(config.json + model.safetensors + README.md), which tarpose.load_model loads.
"""

from __future__ import annotations

import argparse
import json
import re
import typing
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any

from . import CLIError, counted

HELP = "train a model (single process or torchrun); --resume continues exactly"

#: TrainConfig fields shown in the "run" group (the others: "optimisation")
RUN_FIELDS = ("seed", "amp", "workers", "log_every", "save_every", "val_every")
#: TrainConfig fields the command line gives another default: a command-line run loads its data
#: in background processes (the library's default, 0, suits notebooks and tests); results do not
#: depend on it
COMMAND_LINE_DEFAULTS: dict[str, Any] = {"workers": 2}
#: TrainConfig fields given on the command line in one of two ways
EXCLUSIVE = ("epochs", "steps")
_METAVARS = {"log_every": "STEPS", "save_every": "STEPS", "val_every": "EPOCHS", "joint_weights": "none|coco|W,W,..."}


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


_PARSERS = {"joint_weights": _joint_weights}


class _Formatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Keeps the description's line breaks and shows each default once: not where the help
    already says it, and not for "unset" defaults (None, False, an empty list)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if "default" in text or action.default in (None, False, [], argparse.SUPPRESS):
            return text
        return super()._get_help_string(action)


def field_help(cls: type) -> dict[str, str]:
    """``{field: description}`` from the ``Args:`` section of a dataclass's docstring."""
    doc = (cls.__doc__ or "").split("Args:", 1)[-1]
    entries = re.findall(r"^ {8}(\w+): (.*?)(?=^ {8}\w+: |^\S|^\s*$|\Z)", doc, re.S | re.M)
    return {name: " ".join(text.split()) for name, text in entries}


def add_config_arguments(
    groups: dict[str, argparse._ArgumentGroup], cls: type, run_fields: tuple[str, ...],
    skip: tuple[str, ...] = (),
) -> None:
    """One option per field of the dataclass ``cls`` (but those in ``skip``), with its type,
    default and description."""
    hints = typing.get_type_hints(cls)
    docs = field_help(cls)
    exclusive = groups["optimisation"].add_mutually_exclusive_group()
    for f in fields(cls):
        if f.name in skip:
            continue
        group = groups["run"] if f.name in run_fields else groups["optimisation"]
        if f.name in EXCLUSIVE:
            group = exclusive
        default = COMMAND_LINE_DEFAULTS.get(f.name, None if f.default is MISSING else f.default)
        options: dict[str, Any] = {"dest": f.name, "default": default, "help": docs.get(f.name, "")}
        kind = hints[f.name]
        args = [a for a in typing.get_args(kind) if a is not type(None)]
        if f.name in _PARSERS:
            options.update(type=_PARSERS[f.name])
        elif kind is bool:
            options.update(action=argparse.BooleanOptionalAction)
        elif typing.get_origin(kind) is typing.Literal:
            options.update(type=str, metavar="{" + ",".join(map(str, args)) + "}")
        elif len(args) == 1 and args[0] in (int, float, str):  # X | None
            options.update(type=args[0])
        elif kind in (int, float, str):
            options.update(type=kind)
        else:
            raise TypeError(f"no command-line form for {cls.__name__}.{f.name}: {kind}")
        if f.name in _METAVARS:
            options["metavar"] = _METAVARS[f.name]
        group.add_argument("--" + f.name.replace("_", "-"), **options)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ..training import TrainConfig

    parser.formatter_class = _Formatter
    m = parser.add_argument_group("model")
    m.add_argument(
        "--model", help="registered model name (tarpose models), e.g. vitpose-s, tar-vitpose-s"
    )
    m.add_argument(
        "--model-opt", type=_key_value, action="extend", nargs="+", default=[], metavar="KEY=VALUE",
        help="create_model override, e.g. embed_dim=192 input_size=[128,96] (repeatable)",
    )
    m.add_argument(
        "--init-from", type=Path, metavar="DIR",
        help="start from a previous run's model; with --model tar-X and a run of X, wrap it",
    )
    m.add_argument(
        "--num-frames", type=int, help="window length of a temporal model (default: the dataset's)"
    )
    d = parser.add_argument_group("data")
    d.add_argument("--dataset", required=True, help="registered dataset name, or module:factory")
    d.add_argument(
        "--data-opt", type=_key_value, action="extend", nargs="+", default=[], metavar="KEY=VALUE",
        help="dataset option (repeatable)",
    )
    d.add_argument(
        "--val-dataset", help="validation dataset (name or module:factory): its loss is logged"
    )
    d.add_argument(
        "--val-data-opt", type=_key_value, action="extend", nargs="+", default=[], metavar="KEY=VALUE",
    )
    groups = {"optimisation": parser.add_argument_group("optimisation (tarpose.training.TrainConfig)"),
              "run": parser.add_argument_group("run")}
    add_config_arguments(groups, TrainConfig, RUN_FIELDS)
    r = groups["run"]
    r.add_argument("--out", type=Path, required=True, metavar="DIR", help="run directory")
    r.add_argument("--resume", action="store_true", help="continue DIR/checkpoint.safetensors")
    r.add_argument("--device", help="cpu, cuda (default: cuda:LOCAL_RANK if available)")


def run(args: argparse.Namespace) -> int:
    import os

    import torch

    from ..data import build_dataset
    from ..preprocess import DataConfig
    from ..training import TrainConfig, check_sample, loss_validator, train, training_model
    from ..training.engine import CHECKPOINT
    from ..training.setup import dataset_in_geometry

    try:
        dataset = build_dataset(args.dataset, **dict(args.data_opt))
        num_frames, _ = check_sample(dataset, "dataset")
        config = TrainConfig(**{f.name: getattr(args, f.name) for f in fields(TrainConfig)})
        validate = None
        if args.val_dataset:
            val = build_dataset(args.val_dataset, **dict(args.val_data_opt))
            check_sample(val, "validation dataset")
    except (ValueError, TypeError) as error:
        raise CLIError(str(error)) from None
    if not args.resume and (args.out / CHECKPOINT).exists():
        raise CLIError(
            f"{args.out} already holds a checkpoint: add --resume, or choose another --out"
        )
    torch.manual_seed(args.seed)  # the initial weights
    try:
        model, spec = training_model(
            args.model, dict(args.model_opt), num_frames=num_frames, init_from=args.init_from,
            window=args.num_frames,
        )
    except FileNotFoundError as error:
        raise CLIError(f"--init-from: {error}") from None
    except (ValueError, TypeError) as error:
        raise CLIError(str(error)) from None
    try:  # crops and targets in the geometry the model's weights are (or will be) trained in
        geometry = (getattr(model, "data_config", None) or DataConfig()).geometry
        dataset = dataset_in_geometry(dataset, args.dataset, dict(args.data_opt), geometry, "dataset")
        if args.val_dataset:
            val = dataset_in_geometry(
                val, args.val_dataset, dict(args.val_data_opt), geometry, "validation dataset"
            )
            validate = loss_validator(val, args.batch_size, config)
    except (ValueError, TypeError) as error:
        raise CLIError(str(error)) from None
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
            model, dataset, config, args.out, resume=args.resume, validate=validate,
            model_spec=spec, device=args.device,
            data_spec={"dataset": args.dataset, "options": dict(args.data_opt)},
        )
    except (ValueError, FileNotFoundError, FileExistsError, FloatingPointError) as error:
        raise CLIError(str(error)) from None
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"trained {spec['name']} for {counted(result.step, 'step')}: {args.out / 'model.safetensors'}")
    return 0
