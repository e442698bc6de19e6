"""[adapt][tarpose.training.adaptation.run.adapt]: train a base model's temporal modules on
unlabelled footage, with no keypoint label anywhere.

The frozen base already knows the poses in clean frames. The temporal modules (JTA, GRA, the
heatmap embedding: a [TemporalWrapper][tarpose.TemporalWrapper]) learn to restore what the base
sees in a clean frame from a window whose frames have been corrupted
([CropCorruptor][tarpose.training.adaptation.corrupt.CropCorruptor]). The training engine is
[train][tarpose.training.train]'s: checkpoints, bit-exact resume, the divergence stop, progress
with an ETA, ``torchrun`` DDP.

What a step costs: the encoder passes of the frames it corrupts (with the defaults about
``batch_size * (0.9 + 0.3 * (T - 1))``: 34 of 80 frames for 16 windows of 5) plus the temporal
modules' forward and backward; the clean frames' encoder outputs come from the cache, computed
once (``T`` encoder passes per window of the footage). Measured with the bundled ``vitpose-demo``
on one CPU thread, side by side on a quiet machine (``python benchmarks/bench_adapt.py
--step-cost``, two runs): 0.28-0.31 s a step of 16 windows against 0.35-0.43 s encoding every
frame; 0.07 s of it makes the samples (cache reads, corruptions, targets), about 0.05 s encodes
the corrupted frames, the rest is the temporal modules, which dominate for so small a base.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ...atomic import atomic_output
from ...factory import load_model
from ...models.temporal import TemporalWrapper
from ..engine import CHECKPOINT, _setup, freeze_base, train
from .cache import WindowCache
from .card import REPORT, write_card
from .config import AdaptConfig
from .consistency import self_consistency
from .corrupt import CropCorruptor
from .tracks import as_tracks
from .windows import UnlabelledWindows


def holdout_windows(index: Tensor, fraction: float, block: int) -> tuple[list[int], list[int]]:
    """Split windows into training and held-out ones by blocks of consecutive frames.

    Each track is cut into blocks of ``block`` frames, numbered across all tracks in order; every
    ``round(1 / fraction)``-th block is held out (none for ``fraction == 0``), so no held-out
    target frame is ever a training target.

    Args:
        index: ``(N, 2)`` the track and target frame of each window.
        fraction: the share of blocks held out.
        block: frames per block.

    Returns:
        the training windows' rows and the held-out ones'.
    """
    if fraction <= 0:
        return list(range(len(index))), []
    every = max(1, round(1 / fraction))
    keys = [(int(track), int(frame) // block) for track, frame in index.tolist()]
    number = {key: i for i, key in enumerate(dict.fromkeys(keys))}
    held = [number[key] % every == every - 1 for key in keys]
    return [i for i, h in enumerate(held) if not h], [i for i, h in enumerate(held) if h]


def _wrap(base: Any, config: AdaptConfig) -> tuple[TemporalWrapper, str]:
    """The temporal model around ``base`` and how to name the base."""
    label = type(base).__name__
    if isinstance(base, (str, os.PathLike)):
        label = str(base)
        base = load_model(base)
    if isinstance(base, TemporalWrapper):
        raise ValueError("the base is already a TemporalWrapper: pass the single-frame model it wraps")
    if not isinstance(base, nn.Module):
        raise TypeError(f"the base must be a ViTPose-style model (an nn.Module), got {type(base).__name__}")
    try:
        model = TemporalWrapper(base, config.temporal)
    except (TypeError, ValueError) as error:
        raise ValueError(f"the base is not a ViTPose-style model: {error}") from None
    if model.data_config.input_size is None:
        raise ValueError(
            f"the base ({label}) does not say its crop size: set its data_config "
            "(tarpose.DataConfig(input_size=(H, W), ...))"
        )
    return model, label


def adapt(
    base: nn.Module | str | os.PathLike[str],
    tracks: Sequence[Any],
    out: str | os.PathLike[str],
    config: AdaptConfig | None = None,
    *,
    resume: bool = False,
    cache_dir: str | os.PathLike[str] | None = None,
    name: str | None = None,
    device: str | torch.device | None = None,
    on_step: Callable[[int, float], None] | None = None,
    log: Callable[[str], None] | None = print,
    label: str | None = None,
) -> TemporalWrapper:
    """Adapt TAR's temporal modules to unlabelled footage of people.

    Args:
        base: the single-frame model, frozen: a tarpose [ViTPose][tarpose.ViTPose], any
            ViTPose-style model [TemporalWrapper][tarpose.TemporalWrapper] accepts, or a source
            [load_model][tarpose.load_model] reads.
        tracks: person tracks ([Track][tarpose.training.adaptation.tracks.Track],
            ``(frames, boxes)`` pairs or dicts): frames RGB uint8 ``(H, W, 3)`` and boxes
            ``(F, 4)`` ``x, y, w, h``. No keypoints.
        out: the run directory: the checkpoint, ``log.jsonl``, the window cache (``cache/``,
            unless ``cache_dir``), ``adapt.json`` and, at the end, the adapted model in the format
            [save_pretrained][tarpose.save_pretrained] writes, with a model card naming the base,
            the footage, the corruptions, the steps and the measured self-consistency.
        config: an [AdaptConfig][tarpose.training.adaptation.config.AdaptConfig].
        resume: continue from ``out``'s checkpoint (same config and footage).
        cache_dir: where the window cache goes (default ``out/cache``); runs on the same base,
            footage and crop options share it.
        name: the name recorded in ``config.json``.
        device: default ``cuda:LOCAL_RANK`` if CUDA is available, else the CPU.
        on_step: ``fn(step, loss)`` after every optimizer step (see [train][tarpose.training.train]).
        log: where progress lines go (None: silent).
        label: how the model card names the base (default: the source ``base`` was loaded
            from, or its class name).

    Returns:
        the adapted model (base frozen), on ``device``.

    Raises:
        ValueError: no tracks, malformed boxes or frames, tracks all shorter than the window, a
            base that is not a ViTPose-style model.
        FileExistsError: ``out`` holds a checkpoint and ``resume`` is False.
    """
    config = config or AdaptConfig()
    tracks = as_tracks(tracks)
    model, base_label = _wrap(base, config)
    base_label = label or base_label
    out = Path(out)
    if (out / CHECKPOINT).exists() != resume:
        if resume:
            raise FileNotFoundError(f"no checkpoint at {out / CHECKPOINT} to resume")
        raise FileExistsError(f"{out} already holds a checkpoint: resume it, or adapt into another directory")
    env = _setup(device)
    say = log if (log is not None and env.main) else None
    try:
        freeze_base(model)
        model.to(env.device)
        folder = Path(cache_dir) if cache_dir is not None else out / "cache"
        tic = time.perf_counter()
        if not env.main:
            env.barrier()  # rank 0 builds the cache, the others open it
        cache = WindowCache.build(model, tracks, padding=config.padding, folder=folder, dtype=config.cache_dtype,
                                  min_length=config.min_track_length, log=say)
        if env.main:
            env.barrier()
        cache_seconds = time.perf_counter() - tic
        trained, held = holdout_windows(cache.index, config.holdout, config.holdout_block)
        corruptor = CropCorruptor(config.kinds, config.placement, config.confidence_floor)
        dataset = UnlabelledWindows(cache, trained, corruptor=corruptor, teacher=config.teacher_config(),
                                    target_rate=config.target_rate, neighbour_rate=config.neighbour_rate)

        def consistency() -> dict[str, Any] | None:
            if not held or not env.main:
                return None
            return self_consistency(model, cache, held, corruptor, neighbour_rate=config.neighbour_rate,
                                    floor=config.confidence_floor, seed=config.seed + 1)

        before = consistency()
        if say is not None and before is not None:
            say(f"self-consistency before adaptation on {before['windows']} held-out windows: "
                f"{before['corrupted']:.2f} corrupted, {before['clean']:.2f} clean (PCK@0.05 vs the base on clean frames)")
        runtime = ("workers", "log_every", "save_every")  # a resumed run may change these
        settings = {k: v for k, v in config.to_dict().items() if k not in runtime}
        spec = {"name": name, "options": {"adapt": settings, "footage": cache.info["footage"],
                                          "base": cache.info["base"]}}
        result = train(model, dataset, config.train_config(), out, resume=resume, model_spec=spec,
                       device=env.device, on_step=on_step, log=log)
        after = consistency()
        if env.main:
            report = _report(config, cache, base_label, len(tracks), trained, held, before, after,
                             result.history, cache_seconds, env.world_size, env.device)
            with atomic_output(out / REPORT, durable=True) as tmp:
                tmp.write_text(json.dumps(report, indent=2) + "\n")
            if (out / "README.md").exists():
                write_card(out, report)
            if say is not None and after is not None:
                say(f"self-consistency after adaptation: {after['corrupted']:.2f} corrupted, "
                    f"{after['clean']:.2f} clean (before: {before['corrupted']:.2f}, {before['clean']:.2f})")
        env.barrier()
        return model
    finally:
        if env.created_group:
            torch.distributed.destroy_process_group()


def _report(
    config: AdaptConfig,
    cache: WindowCache,
    base_label: str,
    given: int,
    trained: list[int],
    held: list[int],
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    history: list[dict[str, Any]],
    cache_seconds: float,
    world_size: int,
    device: torch.device,
) -> dict[str, Any]:
    """What ``adapt.json`` and the model card record."""
    rates = [entry["samples_per_s"] for entry in history if "samples_per_s" in entry]
    step = config.batch_size * world_size / statistics.median(rates) if rates else None
    return {
        "base": {"source": base_label, "sha256": cache.info["base"]},
        "footage": {"sha256": cache.footage_digest(), "tracks": given, "tracks_used": len(cache.info["tracks"]),
                    "windows": len(cache), "training_windows": len(trained), "held_out_windows": len(held)},
        "config": config.to_dict(),
        "steps": config.steps,
        "self_consistency": {"before": before, "after": after},
        "seconds_per_step": step,
        "cache_seconds": cache_seconds,
        "device": str(device),
        "processes": world_size,
        "threads": torch.get_num_threads(),
    }
