"""One training loop for one process or many (``torchrun`` + DistributedDataParallel).

Reproducibility by construction: a sample's augmentation is seeded by ``(seed, epoch, index)``
and the model's randomness (drop path, dropout) by ``(seed, rank, step)``, the data order by
``(seed, epoch)``. So a run is a pure function of its configuration and the number of steps done,
whatever the number of data workers, and ``resume=True`` continues exactly where a checkpoint left
off: the model, the optimizer and the step are all the state there is.
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.distributed as dist
from einops import rearrange
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler, get_worker_info

from ..atomic import atomic_write
from ..models.temporal import TemporalWrapper
from ..window import Target, Window, normalize_target
from .checkpoint import load_checkpoint, save_checkpoint
from .export import export_trained
from .losses import HeatmapLoss

Schedule = Literal["constant", "step", "cosine"]
Amp = Literal["auto", "off", "bf16", "fp16"]

CHECKPOINT = "checkpoint.safetensors"
LOG = "log.jsonl"
_NO_DECAY_SUFFIXES = ("pos_embed", "query_embed", "query_pos")


@dataclass
class TrainConfig:
    """How to train. Sizes are per process: the global batch is ``batch_size * world_size``.

    Args:
        epochs: passes over the data (ignored when ``steps`` is set).
        steps: total optimizer steps (may stop mid-epoch).
        batch_size: samples per process and step.
        lr: learning rate of the base model (all of a single-frame model).
        lr_new: learning rate of the new temporal modules (JTA, GRA); default ``lr``.
        weight_decay: AdamW decay of weight matrices (never of biases, norms, embeddings, gates).
        schedule: ``"constant"``, ``"step"`` (x ``lr_gamma`` every ``lr_step_epochs``) or
            ``"cosine"`` (to 0 at the last step); all after ``warmup_steps`` of linear warm-up.
        lr_step_epochs: period of the step schedule, in epochs.
        lr_gamma: factor of the step schedule.
        warmup_steps: steps of linear warm-up from 0.
        clip_grad: max gradient norm (None: no clipping).
        freeze_base: train only the new modules of a temporal model (base frozen, in eval mode).
        joint_weights: ``None``, ``"coco"`` or J floats (see [HeatmapLoss][tarpose.training.engine.HeatmapLoss]).
        initial_loss_weight: weight of the loss on the initial heatmaps (temporal models).
        target_frame: which frame of the window a single-frame model sees (``"centred"`` = T//2,
            ``"last"`` = T-1, see [Window][tarpose.Window]); must match how the dataset windows
            its samples.
        amp: ``"auto"`` (bf16 autocast on CUDA, off on CPU), ``"off"``, ``"bf16"``, ``"fp16"``
            (with gradient scaling).
        seed: seeds initial-state-free randomness: data order, augmentation, drop path.
        workers: DataLoader worker processes (does not change results).
        log_every: steps between log lines.
        save_every: steps between checkpoints (0: only at epoch ends).
        val_every: epochs between validations.

    ``tarpose train``'s options are generated from these fields (their defaults and these
    descriptions), so they are defined here only.
    """

    epochs: int = 10
    steps: int | None = None
    batch_size: int = 16
    lr: float = 5e-4
    lr_new: float | None = None
    weight_decay: float = 0.1
    schedule: Schedule = "cosine"
    lr_step_epochs: float = 5.0
    lr_gamma: float = 0.5
    warmup_steps: int = 0
    clip_grad: float | None = None
    freeze_base: bool = False
    joint_weights: str | list[float] | None = None
    initial_loss_weight: float = 0.0
    target_frame: Target = "centred"
    amp: Amp = "auto"
    seed: int = 0
    workers: int = 0
    log_every: int = 50
    save_every: int = 0
    val_every: int = 1

    #: fields that do not change the result, so a resumed run may change them
    RUNTIME = ("workers", "log_every", "save_every", "val_every")

    def __post_init__(self) -> None:
        problems = []
        for name in ("epochs", "batch_size"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.steps is not None and self.steps < 1:
            problems.append(f"steps must be >= 1, got {self.steps}")
        for name in ("lr", "lr_new"):
            value = getattr(self, name)
            if value is not None and not (value >= 0 and math.isfinite(value)):
                problems.append(f"{name} must be a finite number >= 0, got {value}")
        if self.weight_decay < 0:
            problems.append(f"weight_decay must be >= 0, got {self.weight_decay}")
        if self.schedule not in ("constant", "step", "cosine"):
            problems.append(
                f"schedule must be 'constant', 'step' or 'cosine', got {self.schedule!r}"
            )
        if self.lr_step_epochs <= 0 or not 0 < self.lr_gamma <= 1:
            problems.append(
                "need lr_step_epochs > 0 and 0 < lr_gamma <= 1, got "
                f"{self.lr_step_epochs} and {self.lr_gamma}"
            )
        if self.clip_grad is not None and not (math.isfinite(self.clip_grad) and self.clip_grad > 0):
            problems.append(f"clip_grad must be a finite number > 0 or None, got {self.clip_grad}")
        if self.amp not in ("auto", "off", "bf16", "fp16"):
            problems.append(f"amp must be 'auto', 'off', 'bf16' or 'fp16', got {self.amp!r}")
        try:
            self.target_frame = normalize_target(self.target_frame)
        except ValueError:
            problems.append(f"target_frame must be 'centred' or 'last', got {self.target_frame!r}")
        for name in ("warmup_steps", "workers", "save_every"):
            if getattr(self, name) < 0:
                problems.append(f"{name} must be >= 0, got {getattr(self, name)}")
        for name in ("log_every", "val_every"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be >= 1, got {getattr(self, name)}")
        if problems:
            raise ValueError("invalid training config: " + "; ".join(problems))
        HeatmapLoss(self.joint_weights, self.initial_loss_weight)  # validates both
        if self.joint_weights is not None and not isinstance(self.joint_weights, str):
            self.joint_weights = [float(w) for w in self.joint_weights]  # as JSON stores it

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def result_fields(self) -> dict[str, Any]:
        """The fields a resumed run must share with the run that wrote the checkpoint."""
        return {k: v for k, v in self.to_dict().items() if k not in self.RUNTIME}


@dataclass
class TrainResult:
    """``model``: the trained model (unwrapped, on its device); ``step``: steps done;
    ``history``: the log records (dicts with step, epoch, loss, lr, ...) of this process."""

    model: nn.Module
    step: int
    history: list[dict[str, Any]] = field(default_factory=list)


# -- reproducible randomness ------------------------------------------------------------------


def _mix(*values: int) -> int:
    """A well-mixed 32-bit seed from integers."""
    return int(np.random.SeedSequence([int(v) for v in values]).generate_state(1)[0])


class SeededSamples(Dataset):
    """``dataset[i]`` with torch's, numpy's and Python's global RNGs seeded by ``(seed, epoch, i)``,
    so random augmentations are the same in any worker, batch or resumed run. In the main process
    (``workers=0``) the RNG states are restored afterwards."""

    def __init__(self, dataset: Dataset, seed: int) -> None:
        self.dataset = dataset
        self.seed = seed
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> Any:
        seed = _mix(self.seed, 0, self.epoch, index)
        in_main = get_worker_info() is None
        if in_main:
            saved = torch.get_rng_state(), np.random.get_state(), random.getstate()
        torch.default_generator.manual_seed(seed)
        np.random.seed(seed)
        random.seed(seed)
        try:
            return self.dataset[index]
        finally:
            if in_main:
                torch.set_rng_state(saved[0])
                np.random.set_state(saved[1])
                random.setstate(saved[2])


class ResumableSampler(Sampler[int]):
    """A [DistributedSampler][tarpose.training.engine.DistributedSampler] (shuffled by ``(seed, epoch)``) that can start ``skip``
    samples into an epoch."""

    def __init__(self, dataset: Dataset, world_size: int, rank: int, seed: int) -> None:
        self.inner = DistributedSampler(dataset, world_size, rank, shuffle=True, seed=seed)
        self.skip = 0

    def set_epoch(self, epoch: int, skip: int = 0) -> None:
        self.inner.set_epoch(epoch)
        self.skip = skip

    def __iter__(self) -> Iterator[int]:
        return iter(list(self.inner)[self.skip :])

    def __len__(self) -> int:
        return len(self.inner) - self.skip


# -- model, optimizer, schedule ---------------------------------------------------------------


def unwrap(model: nn.Module) -> nn.Module:
    """The module inside DistributedDataParallel (or the model itself)."""
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


def freeze_base(model: nn.Module) -> None:
    """Train only the temporal modules of a [TemporalWrapper][tarpose.TemporalWrapper]: the
    base's parameters stop requiring gradients and the base stays in eval mode (its BatchNorm
    statistics do not move), also after ``model.train()``.

    Args:
        model: the temporal model (changed in place).
    """
    if not isinstance(model, TemporalWrapper):
        raise ValueError(
            f"freeze_base needs a TemporalWrapper (a single-frame {type(model).__name__} has no "
            "new modules to train)"
        )
    model.freeze_base = True
    for p in model.base_parameters():
        p.requires_grad_(False)
    model.train(model.training)


def parameter_groups(
    model: nn.Module, lr: float, lr_new: float | None, weight_decay: float
) -> list[dict[str, Any]]:
    """AdamW groups: base / new modules (separate learning rates) x decay / no decay.

    Biases, norms, position embeddings, joint queries and GRA's gate (all <= 1-D or embeddings)
    get no weight decay. Frozen parameters are left out. Each group has a ``name`` and the
    ``base_lr`` the schedule scales.
    """
    new_ids: set[int] = set()
    if isinstance(model, TemporalWrapper):
        new_ids = {id(p) for p in model.new_parameters()}
    elif lr_new is not None:
        raise ValueError(
            "lr_new applies to the new modules of a TemporalWrapper; "
            f"{type(model).__name__} has none"
        )
    groups: dict[str, dict[str, Any]] = {}
    for name, p in model.named_parameters():  # shared parameters are listed once
        if not p.requires_grad:
            continue
        part = "new" if id(p) in new_ids else "base"
        decay = p.ndim >= 2 and not name.endswith(_NO_DECAY_SUFFIXES)
        key = part if decay else f"{part}/no_decay"
        if key not in groups:
            group_lr = lr_new if part == "new" and lr_new is not None else lr
            groups[key] = {
                "name": key,
                "params": [],
                "lr": group_lr,
                "base_lr": group_lr,
                "weight_decay": weight_decay if decay else 0.0,
            }
        groups[key]["params"].append(p)
    if not groups:
        raise ValueError("the model has no trainable parameters")
    order = ["base", "base/no_decay", "new", "new/no_decay"]
    return [groups[k] for k in order if k in groups]


def lr_factor(config: TrainConfig, step: int, total_steps: int, steps_per_epoch: int) -> float:
    """The schedule's multiplier of the groups' ``base_lr`` at optimizer step ``step`` (from 0)."""
    warm = config.warmup_steps
    factor = min(1.0, (step + 1) / warm) if warm else 1.0
    if config.schedule == "step":
        factor *= config.lr_gamma ** math.floor(step / (config.lr_step_epochs * steps_per_epoch))
    elif config.schedule == "cosine":
        progress = max(0, step - warm) / max(1, total_steps - warm)
        factor *= 0.5 * (1.0 + math.cos(math.pi * progress))
    return factor


# -- distributed ------------------------------------------------------------------------------


@dataclass
class _Dist:
    rank: int
    world_size: int
    device: torch.device
    created_group: bool

    @property
    def main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.world_size > 1:
            dist.barrier()

    def mean(self, value: Tensor) -> float:
        if self.world_size > 1:
            value = value.clone()
            dist.all_reduce(value)
            value /= self.world_size
        return float(value)


def _setup(device: str | torch.device | None) -> _Dist:
    """Join the process group that ``torchrun`` describes (if any) and pick this rank's device."""
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device is None:
        device = torch.device(f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu")
    device = torch.device(device)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", local_rank)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    created = False
    if not dist.is_initialized() and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        created = True
    if dist.is_initialized():
        return _Dist(dist.get_rank(), dist.get_world_size(), device, created)
    return _Dist(0, 1, device, created)


def _amp_dtype(amp: str, device: torch.device) -> torch.dtype | None:
    if amp == "auto":
        if device.type != "cuda":
            return None
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return {"off": None, "bf16": torch.bfloat16, "fp16": torch.float16}[amp]


# -- the loop ---------------------------------------------------------------------------------


def _forward(
    model: nn.Module,
    batch: Mapping[str, Any],
    target_frame: str,
    initial: bool,
    device: torch.device,
) -> tuple[Tensor, Tensor | None]:
    """Final heatmaps ``(B, J, h, w)`` and, if asked, the initial ones of the target frame."""
    # contiguous: collating in a worker or in this process may give other strides, and kernels
    # chosen by layout (channels-last convolutions) would change the last bits of the result
    clip = batch["clip"].to(device, non_blocking=True).contiguous()  # (b, t, 3, H, W)
    if clip.ndim != 5:
        raise ValueError(
            f"samples' clip must be (T, 3, H, W), got a batch of shape {tuple(clip.shape)}"
        )
    core = unwrap(model)
    if isinstance(core, TemporalWrapper):
        valid = batch.get("frame_valid")
        valid = None if valid is None else valid.to(device, non_blocking=True)
        if "features" in batch:  # the encoder's outputs come with the sample (cached)
            features, heatmaps = cached_encoding(core, batch, clip, device)
            out = model(features=features, heatmaps=heatmaps, frame_valid=valid, return_initial=initial)
        else:
            out = model(clip, frame_valid=valid, return_initial=initial)
        if initial:
            return out.heatmaps, out.initial_heatmaps[:, core.target_index]
        return out, None
    out = model(clip[:, Window(clip.shape[1], target_frame).target_index])
    return getattr(out, "heatmaps", out), None


def loss_validator(
    dataset: Dataset, batch_size: int, config: TrainConfig
) -> Callable[[nn.Module], dict[str, float]]:
    """``fn(model) -> {"loss": mean loss over dataset}``, the training loss (without the initial
    heatmaps' term) on validation samples, for [train][tarpose.training.engine.train]'s ``validate``.

    Args:
        dataset: validation samples in the sample format of ``tarpose.data``.
        batch_size: samples per forward pass.
        config: the training config (its joint weights and target frame).
    """

    def validate(model: nn.Module) -> dict[str, float]:
        device = next(model.parameters()).device
        loss_fn = HeatmapLoss(config.joint_weights).to(device)
        total, count = 0.0, 0
        for batch in DataLoader(dataset, batch_size=batch_size):
            heatmaps, _ = _forward(model, batch, config.target_frame, False, device)
            target, weight = batch["target"].to(device), batch["target_weight"].to(device)
            n = batch["clip"].shape[0]
            total += float(loss_fn(heatmaps.float(), target, weight)) * n
            count += n
        return {"loss": total / count}

    return validate


def cached_encoding(
    model: TemporalWrapper, batch: Mapping[str, Any], clip: Tensor, device: torch.device
) -> tuple[Tensor, Tensor]:
    """A batch's windows encoded from what the samples carry: their cached encoder outputs
    ``"features"`` ``(B, T, C, h, w)`` and ``"heatmaps"`` ``(B, T, J, Hh, Wh)`` (of the frozen
    base, on the frames as they were when cached), with the frames marked in ``"encode"``
    ``(B, T)`` bool (changed since, e.g. corrupted) encoded again from ``clip``
    ``(B, T, 3, H, W)``, without gradients. A step then costs the marked frames' encoder passes,
    not ``B * T`` of them.

    Args:
        model: the temporal model (its base frozen: cached outputs of a base that trains go stale).
        batch: the collated samples.
        clip: the batch's clip on ``device``.
        device: where the model is.

    Returns:
        the window's features and heatmaps, in the dtype of the cached ones.
    """
    if not model.freeze_base:
        raise ValueError(
            "samples with cached encoder outputs ('features') need a frozen base "
            "(TrainConfig(freeze_base=True)): a base that trains would make them stale"
        )
    missing = [key for key in ("heatmaps", "encode") if key not in batch]
    if missing:
        raise ValueError(f"samples with cached 'features' also need {missing} (see tarpose.training.cached_encoding)")
    features = batch["features"].to(device, non_blocking=True)
    heatmaps = batch["heatmaps"].to(device, non_blocking=True)
    encode = batch["encode"].to(device, non_blocking=True)
    b, t = clip.shape[:2]
    if tuple(encode.shape) != (b, t) or encode.dtype != torch.bool:
        raise ValueError(f"'encode' must be bool (B, T) = {(b, t)}, got {encode.dtype} {tuple(encode.shape)}")
    frames = encode.flatten().nonzero().flatten()  # (n,) indices into b*t
    if len(frames) == 0:
        return features, heatmaps
    with torch.no_grad():
        new_features, new_heatmaps = model.encode(rearrange(clip, "b t c h w -> (b t) c h w")[frames])
    features = rearrange(features, "b t c h w -> (b t) c h w").index_copy(0, frames, new_features.to(features.dtype))
    heatmaps = rearrange(heatmaps, "b t j h w -> (b t) j h w").index_copy(0, frames, new_heatmaps.to(heatmaps.dtype))
    return (rearrange(features, "(b t) c h w -> b t c h w", t=t),  # (b, t, c, h, w)
            rearrange(heatmaps, "(b t) j h w -> b t j h w", t=t))  # (b, t, j, hh, wh)


def _train_step(
    net: nn.Module,
    batch: Mapping[str, Any],
    loss_fn: HeatmapLoss,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    config: TrainConfig,
    amp_dtype: torch.dtype | None,
    device: torch.device,
) -> Tensor:
    """Forward (under autocast), loss in float32, backward, clip, step; returns the loss."""
    autocast = torch.autocast(device.type, dtype=amp_dtype) if amp_dtype else nullcontext()
    with autocast:
        heatmaps, initial = _forward(
            net, batch, config.target_frame, loss_fn.initial_weight > 0, device
        )
    loss = loss_fn(
        heatmaps.float(),
        batch["target"].to(device),
        batch["target_weight"].to(device),
        None if initial is None else initial.float(),
    )
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    if config.clip_grad is not None:
        scaler.unscale_(optimizer)
        params = [p for group in optimizer.param_groups for p in group["params"]]
        nn.utils.clip_grad_norm_(params, config.clip_grad)
    scaler.step(optimizer)
    scaler.update()
    return loss.detach()


def _check_geometry(model: nn.Module, dataset: Dataset) -> None:
    """The dataset's crops and targets must be laid out as the model will be read: in the
    geometry its ``data_config`` records, which the trained model is saved with."""
    data = getattr(model, "data_config", None)
    have = getattr(dataset, "geometry", None)
    if data is not None and have is not None and have != data.geometry:
        raise ValueError(
            f"the dataset crops and draws its targets in the {have!r} geometry but the model's "
            f"data_config records {data.geometry!r} (tarpose.geometry): build the dataset with "
            f"geometry={data.geometry!r}, or, for a model trained from scratch, set "
            f"model.data_config = model.data_config.replace(geometry={have!r})"
        )


def train(
    model: nn.Module,
    dataset: Dataset,
    config: TrainConfig | None = None,
    out: str | os.PathLike | None = None,
    *,
    resume: bool = False,
    validate: Callable[[nn.Module], Mapping[str, float]] | None = None,
    model_spec: Mapping[str, Any] | None = None,
    device: str | torch.device | None = None,
    on_step: Callable[[int, float], None] | None = None,
    log: Callable[[str], None] | None = print,
    data_spec: Mapping[str, Any] | None = None,
) -> TrainResult:
    """Train ``model`` on ``dataset`` (samples in [tarpose.data][tarpose.data]'s format).

    Run it in one process, or in each of many started by ``torchrun`` (it joins the process group:
    gloo on CPU, nccl on CUDA, and wraps the model in DistributedDataParallel). A
    [TemporalWrapper][tarpose.TemporalWrapper] trains on whole windows; any other model is treated as a
    single-frame model and trains on the target frame of each window. Samples of a temporal model
    with a frozen base may carry the window's encoder outputs, cached (``"features"``,
    ``"heatmaps"``, ``"encode"``: see [cached_encoding][tarpose.training.engine.cached_encoding]):
    only the frames marked then go through the encoder.

    Args:
        model: the model to train (moved to the device, trained in place).
        dataset: training samples.
        config: a [TrainConfig][tarpose.training.engine.TrainConfig] (default: its defaults).
        out: directory for ``checkpoint.safetensors`` (atomic, every ``save_every`` steps and at
            epoch ends), ``log.jsonl`` and, at the end, the trained model in the format
            ``save_pretrained`` writes (``tarpose.load_model(out)`` loads it).
        resume: continue from ``out/checkpoint.safetensors`` (same config and world size).
        validate: ``fn(model) -> {name: value}``, run on rank 0 in eval mode without gradients
            every ``val_every`` epochs and at the end.
        model_spec: ``{"name": registered name, "options": {...}}`` the model was built with:
            recorded in the checkpoint (a resumed run must match it) and its name in
            ``config.json``.
        device: default ``cuda:LOCAL_RANK`` if CUDA is available, else CPU.
        on_step: ``fn(step, loss)`` after every optimizer step (and checkpoint).
        log: where rank 0's progress lines go (None: silent).
        data_spec: how the dataset was made (``{"dataset": name, "options": {...}}``, JSON-able):
            recorded in the checkpoint; a resumed run must match it (the same size alone does
            not make the same data).

    Raises:
        ValueError: the dataset crops and draws targets in another geometry
            ([tarpose.geometry][tarpose.geometry]) than the model's ``data_config`` records.
    """
    _check_geometry(model, dataset)
    config = config or TrainConfig()
    if model_spec is not None:  # as JSON stores it (tuples become lists)
        model_spec = json.loads(json.dumps(dict(model_spec)))
    if data_spec is not None:
        data_spec = json.loads(json.dumps(dict(data_spec)))
    out_dir = Path(out) if out is not None else None
    if resume and out_dir is None:
        raise ValueError("resume=True needs the out directory holding the checkpoint")
    if out_dir is not None and (out_dir / CHECKPOINT).exists() != resume:
        if resume:
            raise FileNotFoundError(f"no checkpoint at {out_dir / CHECKPOINT} to resume")
        raise FileExistsError(
            f"{out_dir} already holds a checkpoint: resume it, or train into another directory"
        )
    env = _setup(device)
    say = log if (log is not None and env.main) else (lambda _msg: None)
    try:
        return _train(
            model, dataset, config, out_dir, resume, validate, model_spec, on_step, say, env, data_spec
        )
    finally:
        if env.created_group:
            dist.destroy_process_group()


def _train(
    model: nn.Module,
    dataset: Dataset,
    config: TrainConfig,
    out_dir: Path | None,
    resume: bool,
    validate: Callable[[nn.Module], Mapping[str, float]] | None,
    model_spec: Mapping[str, Any] | None,
    on_step: Callable[[int, float], None] | None,
    say: Callable[[str], None],
    env: _Dist,
    data_spec: Mapping[str, Any] | None = None,
) -> TrainResult:
    temporal = isinstance(model, TemporalWrapper)
    if not temporal:
        for name in ("freeze_base", "initial_loss_weight"):
            if getattr(config, name):
                raise ValueError(
                    f"{name} applies to a TemporalWrapper; {type(model).__name__} is a "
                    "single-frame model"
                )
    if config.freeze_base:
        freeze_base(model)
    model.to(env.device)
    optimizer = torch.optim.AdamW(
        parameter_groups(model, config.lr, config.lr_new, config.weight_decay), lr=config.lr
    )
    amp_dtype = _amp_dtype(config.amp, env.device)
    scaler = torch.amp.GradScaler(env.device.type, enabled=amp_dtype == torch.float16)
    loss_fn = HeatmapLoss(config.joint_weights, config.initial_loss_weight).to(env.device)

    samples = SeededSamples(dataset, config.seed)
    sampler = ResumableSampler(samples, env.world_size, env.rank, config.seed)
    steps_per_epoch = len(sampler) // config.batch_size
    if steps_per_epoch == 0:
        raise ValueError(
            f"the dataset has {len(samples)} samples: fewer than one batch of {config.batch_size} "
            f"for each of {env.world_size} process(es)"
        )
    total = config.steps or config.epochs * steps_per_epoch
    info = {
        "config": config.result_fields(),
        "world_size": env.world_size,
        "dataset_size": len(samples),
        "model_spec": dict(model_spec) if model_spec else None,
        "data_spec": dict(data_spec) if data_spec else None,
    }

    step = 0
    saved: int | None = None  # the step of the last checkpoint written (or resumed from)
    if resume:
        step = _restore(out_dir / CHECKPOINT, model, optimizer, scaler, info)
        say(f"resumed from {out_dir / CHECKPOINT} at step {step}/{total}")
        saved = step
    history = _read_log(out_dir, step) if env.main else []
    # the first step whose loss was not finite (-1: none): updated on the device at every step,
    # read (one synchronisation) only when logging or saving
    diverged = torch.full((), -1, dtype=torch.long, device=env.device)

    def check_finite(weights: bool) -> None:
        """Stop, naming the step and the last good checkpoint, once the loss (or, before a save,
        any weight) is not finite: a diverged run never overwrites its checkpoint."""
        bad = (diverged >= 0).float()
        if weights:
            finite = torch.stack([torch.isfinite(p).all() for p in model.parameters()]).all()
            bad = torch.maximum(bad, (~finite).float())
        if env.mean(bad) == 0:  # all ranks agree, so all stop together
            return
        first = int(diverged)
        what = (f"the loss was not finite at step {first}" if first >= 0
                else f"the weights were not finite at step {step}")
        if out_dir is None:
            kept = "no checkpoint is written (out=None)"
        elif saved is None:
            kept = "no checkpoint was saved before it"
        else:
            kept = f"the last good checkpoint is {out_dir / CHECKPOINT} (step {saved}), kept as it was"
        raise FloatingPointError(
            f"training diverged: {what}; stopped at step {step} without saving; {kept}. Lower "
            "the learning rate (or set clip_grad) and train again"
        )

    def save() -> None:
        nonlocal saved
        check_finite(weights=True)
        saved = step
        if env.main and out_dir is not None:
            save_checkpoint(
                out_dir / CHECKPOINT,
                model.state_dict(),
                optimizer.state_dict(),
                {
                    **info,
                    "step": step,
                    "scaler": scaler.state_dict() if scaler.is_enabled() else None,
                },
            )

    def record(entry: dict[str, Any]) -> None:
        history.append(entry)
        if env.main and out_dir is not None:
            with open(out_dir / LOG, "a") as f:
                f.write(json.dumps(entry) + "\n")

    def run_validation(epoch: int) -> None:
        if validate is None:
            return
        if env.main:
            was_training = model.training
            model.eval()
            with torch.no_grad():
                metrics = {k: float(v) for k, v in validate(model).items()}
            model.train(was_training)
            say(
                f"validation after epoch {epoch}: "
                + ", ".join(f"{k} {v:.4g}" for k, v in metrics.items())
            )
            record({"step": step, "epoch": epoch, "validation": metrics})
        env.barrier()

    net: nn.Module = model
    if env.world_size > 1:
        ids = [env.device.index] if env.device.type == "cuda" else None
        net = nn.parallel.DistributedDataParallel(model, device_ids=ids)
    loader = DataLoader(
        samples,
        batch_size=config.batch_size,
        sampler=sampler,
        num_workers=config.workers,
        drop_last=True,
        pin_memory=env.device.type == "cuda",
    )
    if out_dir is not None and env.main:
        out_dir.mkdir(parents=True, exist_ok=True)
    say(
        f"training {type(model).__name__} on {len(samples)} sample{'s' if len(samples) != 1 else ''}: "
        f"{total} step{'s' if total != 1 else ''} "
        f"({steps_per_epoch}/epoch) of {config.batch_size} x {env.world_size} process(es) on "
        f"{env.device}, amp {amp_dtype or 'off'}"
    )
    net.train()
    running = torch.zeros((), device=env.device)
    count, tic = 0, time.perf_counter()
    while step < total:
        epoch, skip = divmod(step, steps_per_epoch)
        sampler.set_epoch(epoch, skip * config.batch_size)
        samples.epoch = epoch
        for batch in loader:
            factor = lr_factor(config, step, total, steps_per_epoch)
            for group in optimizer.param_groups:
                group["lr"] = group["base_lr"] * factor
            torch.manual_seed(_mix(config.seed, 1, env.rank, step))
            loss = _train_step(
                net, batch, loss_fn, optimizer, scaler, config, amp_dtype, env.device
            )
            step += 1
            diverged.masked_fill_(~torch.isfinite(loss) & (diverged < 0), step)  # no sync
            running += loss
            count += 1
            if step % config.log_every == 0 or step == total:
                check_finite(weights=False)
                mean = env.mean(running / count)
                seconds = time.perf_counter() - tic
                rate = count * config.batch_size * env.world_size / seconds
                lrs = {g["name"].split("/")[0]: g["lr"] for g in optimizer.param_groups}
                eta = (total - step) * seconds / count
                say(
                    f"epoch {epoch} step {step}/{total} loss {mean:.4e} lr "
                    + " ".join(f"{k}={v:.2e}" for k, v in lrs.items())
                    + f" {rate:.1f} samples/s eta {eta / 60:.1f} min"
                )
                record(
                    {"step": step, "epoch": epoch, "loss": mean, "lr": lrs, "samples_per_s": rate}
                )
                running.zero_()
                count, tic = 0, time.perf_counter()
            epoch_end = step % steps_per_epoch == 0
            if epoch_end or step == total or (config.save_every and step % config.save_every == 0):
                save()
            if on_step is not None:
                on_step(step, float(loss))
            if epoch_end and (epoch + 1) % config.val_every == 0 and step < total:
                run_validation(epoch)
            if step >= total:
                break
    run_validation((step - 1) // steps_per_epoch)
    if out_dir is not None and env.main:
        name = model_spec.get("name") if model_spec else None
        say(f"wrote {export_trained(out_dir, model, name)}")
    env.barrier()
    return TrainResult(model, step, history)


def _restore(
    path: Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    info: Mapping[str, Any],
) -> int:
    """Load a checkpoint into model/optimizer/scaler after checking it belongs to this run."""
    checkpoint = load_checkpoint(path)  # on the CPU: load_state_dict moves it to the parameters
    saved = checkpoint.info
    for key, what in (
        ("config", "training config"),
        ("world_size", "number of processes"),
        ("dataset_size", "dataset size"),
        ("model_spec", "model"),
        ("data_spec", "dataset's options"),
    ):
        if key == "data_spec" and key not in saved:  # written before it was recorded
            continue
        if saved.get(key) != info[key]:
            if key == "config":
                diff = {
                    k: (saved[key].get(k), v)
                    for k, v in info[key].items()
                    if saved[key].get(k) != v
                }
                detail = ", ".join(f"{k}: {a!r} -> {b!r}" for k, (a, b) in diff.items())
            else:
                detail = f"{saved.get(key)!r} -> {info[key]!r}"
            raise ValueError(f"cannot resume from {path}: the {what} changed ({detail})")
    try:
        model.load_state_dict(checkpoint.model, strict=True)
    except RuntimeError as error:
        raise ValueError(f"cannot resume from {path}: the model does not match: {error}") from None
    optimizer.load_state_dict(checkpoint.optimizer)
    if saved.get("scaler"):
        scaler.load_state_dict(saved["scaler"])
    return int(saved["step"])


def _read_log(out_dir: Path | None, step: int) -> list[dict[str, Any]]:
    """The log records up to ``step`` (later ones, from a run that crashed, are dropped, and so is
    a last line that a crash cut short); the log is rewritten with those alone.

    Raises:
        ValueError: a line before the last is not a record with a whole ``"step"``, naming the
            file and the line.
    """
    if out_dir is None or not (out_dir / LOG).exists():
        return []
    path = out_dir / LOG
    text = path.read_text(encoding="utf-8", errors="replace")
    lines = text.split("\n")
    kept = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as error:
            if number == len(lines):  # the last line, without its newline: torn by a crash
                break
            raise ValueError(f"cannot resume: {path} line {number} is not JSON ({error}); remove that line") from None
        if not isinstance(entry, dict) or isinstance(entry.get("step"), bool) or not isinstance(entry.get("step"), int):
            raise ValueError(f"cannot resume: {path} line {number} is not a log record with a whole \"step\"; "
                             "remove that line")
        if entry["step"] <= step:
            kept.append(entry)
    atomic_write(path, lambda tmp: Path(tmp).write_text("".join(json.dumps(e) + "\n" for e in kept)))
    return kept


__all__: Sequence[str] = (
    "ResumableSampler",
    "SeededSamples",
    "TrainConfig",
    "TrainResult",
    "cached_encoding",
    "freeze_base",
    "loss_validator",
    "lr_factor",
    "parameter_groups",
    "train",
    "unwrap",
)
