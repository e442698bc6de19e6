"""Self-consistency: how well a model on corrupted windows agrees with the frozen base on the same
windows clean. It needs no label, so it can be measured on any footage; it measures robustness to
the corruptions, not accuracy (where the base is wrong on a clean frame, agreeing is wrong too).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.utils.data import DataLoader

from ...codec import decode_heatmaps, heatmap_to_image
from ...data.synthetic.corruptions import names
from ...eval.metrics import pck
from ...geometry import apply_affine, invert_affine
from ..engine import cached_encoding
from .cache import WindowCache
from .corrupt import CropCorruptor
from .teacher import Teacher
from .windows import UnlabelledWindows


def self_consistency(
    model: nn.Module,
    cache: WindowCache,
    indices: Sequence[int],
    corruptor: CropCorruptor,
    *,
    neighbour_rate: float = 0.3,
    floor: float = 0.1,
    threshold: float = 0.05,
    seed: int = 0,
    batch_size: int = 32,
) -> dict[str, float | int | dict[str, float]]:
    """PCK of ``model`` against the base's keypoints on the clean target frames.

    Windows ``indices`` of ``cache`` are read twice: with the target frame corrupted and each
    valid neighbour corrupted with probability ``neighbour_rate`` (the same corruptions for every
    model measured: they are fixed by ``seed``), and clean. A joint counts where the base's score on
    the clean target is at least ``floor``; it agrees where the model's keypoint lies within
    ``threshold`` times the box's longer side of the base's.

    Args:
        model: a [TemporalWrapper][tarpose.TemporalWrapper] over the cache's base (frozen).
        cache: the windows.
        indices: which of them.
        corruptor: the corruptions.
        neighbour_rate: probability that a neighbour is corrupted.
        floor: the base's confidence a joint needs to count.
        threshold: PCK threshold, a fraction of the box's longer side.
        seed: fixes the corruptions.
        batch_size: windows per forward pass.

    Returns:
        ``corrupted`` and ``clean`` (PCK in %), ``by_kind`` (PCK on the corrupted windows per kind
        of the target's corruption), ``windows`` and ``joints`` (joints counted per window set).
    """
    if len(indices) == 0:
        raise ValueError("no windows to measure self-consistency on")
    device = next(model.parameters()).device
    teacher = Teacher(floor=floor)
    rows = torch.as_tensor(list(indices), dtype=torch.int64)
    scores = torch.from_numpy(cache["base_scores"][rows.numpy(), cache.window.target_index].copy())  # (n, j)
    points = torch.from_numpy(cache["base_keypoints"][rows.numpy(), cache.window.target_index].copy())
    matrix = torch.from_numpy(cache["matrix"][rows.numpy()].copy())  # (n, 2, 3)
    box = torch.from_numpy(cache["box"][rows.numpy()].copy())
    reference = apply_affine(points.double(), invert_affine(matrix))  # the base, clean, image pixels
    counted = scores >= floor
    norm = torch.maximum(box[:, 2], box[:, 3])
    result: dict[str, float | int | dict[str, float]] = {"windows": len(rows), "joints": int(counted.sum())}
    was_training = model.training
    model.eval()
    try:
        for name, target_rate, rate in (("corrupted", 1.0, neighbour_rate), ("clean", 0.0, 0.0)):
            data = UnlabelledWindows(cache, rows.tolist(), corruptor=corruptor, teacher=teacher,
                                     target_rate=target_rate, neighbour_rate=rate, seed=seed)
            predicted, kinds = [], []
            with torch.no_grad():
                for batch in DataLoader(data, batch_size=batch_size):
                    clip = batch["clip"].to(device)
                    features, heatmaps = cached_encoding(model, batch, clip, device)
                    out = model(features=features, heatmaps=heatmaps, frame_valid=batch["frame_valid"].to(device))
                    coords, _ = decode_heatmaps(out)
                    predicted.append(heatmap_to_image(coords.cpu(), batch["matrix"], cache.input_size,
                                                      cache.heatmap_size, cache.geometry))
                    kinds.append(batch["corruption"][:, cache.window.target_index])
            prediction, kind = torch.cat(predicted), torch.cat(kinds)
            result[name] = 100 * pck(prediction, reference, counted, norm, threshold)
            if name == "corrupted":
                result["by_kind"] = {
                    "+".join(names(int(code))): 100 * pck(prediction[kind == code], reference[kind == code],
                                                          counted[kind == code], norm[kind == code], threshold)
                    for code in sorted(set(kind.tolist()))
                }
    finally:
        model.train(was_training)
    return result
