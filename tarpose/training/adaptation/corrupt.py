"""Corruptions of real person crops: the synthetic benchmark's kinds and strengths
([tarpose.data.synthetic.corruptions][tarpose.data.synthetic.corruptions]) applied in image space.

Each crop given is corrupted by one kind, drawn by weight: occluders over limbs (one, or two half
of the time), motion blur, defocus, sensor noise in low light, or a dropped frame. Strengths are
drawn from the same ranges (``STRENGTH``) in units of the person's size in the crop, so a small
person gets a small occluder and a short blur. Occluders lie over a chain of joints
([CHAINS][tarpose.data.synthetic.corruptions.CHAINS]) located by the base model's own keypoints
on the clean crop (no label) or, with ``placement="random"`` (or for a crop whose chains the base
is not confident of), over chains of points drawn uniformly in the person's box.

Everything is drawn from the ``torch.Generator`` passed in, in a fixed order whatever the kinds,
so the same generator state gives the same corruptions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from ..._checks import expect_shape
from ...data.synthetic.corruptions import (
    CHAINS,
    DEFAULT_WEIGHTS,
    DEFOCUS,
    DROP,
    KINDS,
    MAX_OCCLUDERS,
    MOTION_BLUR,
    NOISE,
    OCCLUDE,
    SECOND_OCCLUDER,
    STRENGTH,
    convolve,
    disc_kernel,
    drop_fill,
    dropped_frame,
    line_kernel,
    low_light,
    occluder_paint,
    occluder_segments,
)
from ...data.synthetic.raster import BOX, CAPSULE, Paint, Primitives, rasterize

Placement = Literal["joints", "random"]
#: where occluders go: over the base's confident joints, or anywhere in the person's box
PLACEMENTS: tuple[str, ...] = ("joints", "random")
#: the joints [CHAINS][tarpose.data.synthetic.corruptions.CHAINS] index (COCO-17)
CHAIN_JOINTS = 17


def check_kinds(kinds: Mapping[str, float]) -> dict[str, float]:
    """``kinds`` as a dict of floats, checked: known names, weights >= 0, one of them > 0.

    Args:
        kinds: corruption name ([KINDS][tarpose.data.synthetic.corruptions.KINDS]) -> weight.
    """
    if not isinstance(kinds, Mapping):
        raise TypeError(f"kinds must map corruption names to weights, got {type(kinds).__name__}")
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        raise ValueError(f"unknown corruption kinds {unknown}; known: {', '.join(KINDS)}")
    weights = {str(k): float(v) for k, v in kinds.items()}
    if any(not math.isfinite(v) or v < 0 for v in weights.values()) or not any(v > 0 for v in weights.values()):
        raise ValueError(f"corruption weights must be finite, >= 0 and not all 0, got {weights}")
    return weights


@dataclass
class CorruptedCrops:
    """What [CropCorruptor][tarpose.training.adaptation.corrupt.CropCorruptor] returns.

    Attributes:
        images: the corrupted crops, ``(N, 3, H, W)`` in the input's dtype.
        code: ``(N,)`` int64 bit of the kind each crop got
            ([KINDS][tarpose.data.synthetic.corruptions.KINDS]).
        chains: ``(N, MAX_OCCLUDERS)`` int64 index into
            [CHAINS][tarpose.data.synthetic.corruptions.CHAINS] of each occluder placed over the
            base's joints; -1 where the occluder was placed at random or is not drawn.
        occluders: the occluder segments, ``a`` ``(N, K, 2)``, ``b`` ``(N, K, 2)`` and
            half-widths ``(N, K)`` (-1 where no occluder is drawn), crop pixel indices.
        strength: per-crop parameters ``(N,)`` (drawn for every crop, used by its kind):
            ``blur_length``, ``defocus_radius`` (crop pixels), ``noise_sigma``, ``gain``.
    """

    images: Tensor
    code: Tensor
    chains: Tensor
    occluders: tuple[Tensor, Tensor, Tensor]
    strength: dict[str, Tensor]


class CropCorruptor:
    """Corrupt person crops as the synthetic benchmark corrupts its frames.

    Args:
        kinds: corruption name -> relative weight (default
            [DEFAULT_WEIGHTS][tarpose.data.synthetic.corruptions.DEFAULT_WEIGHTS]); a kind left out
            is never drawn.
        placement: ``"joints"`` (occluders over chains of the base's keypoints) or ``"random"``.
        confidence_floor: a chain is used only when the base's score of each of its joints is at
            least this.
    """

    def __init__(
        self,
        kinds: Mapping[str, float] | None = None,
        placement: Placement = "joints",
        confidence_floor: float = 0.1,
    ) -> None:
        self.kinds = check_kinds(DEFAULT_WEIGHTS if kinds is None else kinds)
        if placement not in PLACEMENTS:
            raise ValueError(f"placement must be one of {PLACEMENTS}, got {placement!r}")
        self.placement = placement
        self.confidence_floor = float(confidence_floor)
        self._weights = torch.tensor([self.kinds.get(name, 0.0) for name in KINDS], dtype=torch.float64)
        self._bits = torch.tensor(list(KINDS.values()), dtype=torch.int64)

    def __repr__(self) -> str:
        return f"CropCorruptor(kinds={self.kinds}, placement={self.placement!r})"

    def __call__(
        self,
        crops: Tensor,
        size: Tensor | float,
        generator: torch.Generator,
        keypoints: Tensor | None = None,
        scores: Tensor | None = None,
    ) -> CorruptedCrops:
        """Corrupt every crop given.

        Args:
            crops: ``(N, 3, H, W)`` uint8, or float in 0..1.
            size: the person's size in each crop, crop pixels (the box's longer side), ``(N,)``
                or one float.
            generator: the source of every random draw.
            keypoints: ``(N, 17, 2)`` the base's keypoints on the clean crops (crop pixel
                indices), for ``placement="joints"``.
            scores: ``(N, 17)`` their scores (default: all confident).

        Returns:
            a [CorruptedCrops][tarpose.training.adaptation.corrupt.CorruptedCrops].
        """
        expect_shape("crops", crops, "(N, 3, H, W)", (None, 3, None, None))
        if not (crops.dtype == torch.uint8 or crops.is_floating_point()):
            raise TypeError(f"crops must be uint8 or float in 0..1, got {crops.dtype}")
        n, _, h, w = crops.shape
        size = torch.as_tensor(size, dtype=torch.float64)
        size = size.expand(n) if size.ndim == 0 else size
        expect_shape("size", size, "(N,)", (n,))
        if not bool(torch.isfinite(size).all() & (size > 0).all()):
            raise ValueError("size (the person's size in each crop) must be finite and > 0")
        if keypoints is not None:
            expect_shape("keypoints", keypoints, "(N, J, 2)", (n, None, 2))
            if scores is not None:
                expect_shape("scores", scores, "(N, J)", (n, keypoints.shape[1]))
        rand = lambda *s: torch.rand(*s, generator=generator, dtype=torch.float64)
        k = MAX_OCCLUDERS

        # every draw happens whatever the kinds and the placement, in this order
        kind = torch.multinomial(self._weights, n, replacement=True, generator=generator) if n else \
            torch.zeros(0, dtype=torch.int64)
        code = self._bits[kind]
        pick, second = rand(n, k), rand(n) < SECOND_OCCLUDER
        jitter, turn, margin, width = rand(n, k, 2), rand(n, k), rand(n, k), rand(n, k)
        scatter = rand(n, CHAIN_JOINTS, 2)  # random placement: points in the person's box
        paint = occluder_paint(rand, n * k)
        between = lambda key, u: STRENGTH[key][0] + (STRENGTH[key][1] - STRENGTH[key][0]) * u
        blur_length, blur_angle = between("motion_blur", rand(n)) * size, rand(n) * math.pi
        defocus = between("defocus", rand(n)) * size
        sigma, gain = between("noise", rand(n)), between("gain", rand(n))
        fill = drop_fill(rand, n)
        noise_seed = torch.randint(0, 2**62, (n,), generator=generator)  # drawn when needed

        def noise(i: int) -> Tensor:
            return torch.randn((3, h, w), generator=torch.Generator().manual_seed(int(noise_seed[i])))

        chains, drawn_over, points = self._chains(pick, scatter, size, (h, w), keypoints, scores)
        a, b, radius = occluder_segments(points, drawn_over, jitter=jitter, turn=turn,
                                         margin=margin, width=width, size=size)
        used = torch.ones(n, k, dtype=torch.bool)
        used[:, 1] = second
        used &= ((code & OCCLUDE) != 0)[:, None]
        radius = torch.where(used, radius, torch.full_like(radius, -1.0))
        chains = torch.where(used, chains, torch.full_like(chains, -1))

        out = crops.float() / 255 if crops.dtype == torch.uint8 else crops.float().clone()
        for i in ((code & OCCLUDE) != 0).nonzero().flatten().tolist():
            # the raster works at pixel centres, pixel indices + 0.5 (tarpose.data.synthetic.raster)
            prims = Primitives(a[i : i + 1] + 0.5, b[i : i + 1] + 0.5, radius[i : i + 1],
                               torch.tensor([BOX, CAPSULE]), torch.zeros(1, k, dtype=torch.float64))
            style = Paint(*(getattr(paint, f)[i * k : (i + 1) * k].float() for f in
                            ("color", "color2", "wave", "mix", "shade")))
            colors, opacity = rasterize(_as_float(prims), style, (h, w))
            out[i] = (colors[0] + (1 - opacity[0]) * out[i].reshape(3, -1)).view(3, h, w)
        for bit, kernels in ((MOTION_BLUR, lambda i: line_kernel(float(blur_length[i]), float(blur_angle[i]))),
                             (DEFOCUS, lambda i: disc_kernel(float(defocus[i])))):
            sel = ((code & bit) != 0).nonzero().flatten()
            if len(sel):
                out[sel] = convolve(out[sel], [kernels(i) for i in sel.tolist()], fft=True)
        for i in ((code & NOISE) != 0).nonzero().flatten().tolist():
            out[i] = low_light(out[i], float(sigma[i]), float(gain[i]), noise(i))
        for i in ((code & DROP) != 0).nonzero().flatten().tolist():
            out[i] = dropped_frame(fill[i], noise(i))
        out = out.clamp(0, 1)
        images = (out * 255).round().to(torch.uint8) if crops.dtype == torch.uint8 else out.to(crops.dtype)
        strength = {"blur_length": blur_length, "defocus_radius": defocus, "noise_sigma": sigma, "gain": gain}
        return CorruptedCrops(images, code, chains, (a, b, radius), strength)

    def _chains(
        self,
        pick: Tensor,
        scatter: Tensor,
        size: Tensor,
        crop: tuple[int, int],
        keypoints: Tensor | None,
        scores: Tensor | None,
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Where each occluder ``(N, K)`` goes: the chain over the base's joints (-1: placed at
        random), the chain it is drawn over, and the points ``(N, 17, 2)`` those chains index:
        the base's keypoints, or points drawn uniformly in a box of ``size`` about the crop's
        centre (random placement)."""
        n, k = pick.shape
        h, w = crop
        centre = torch.tensor([(w - 1) / 2, (h - 1) / 2], dtype=torch.float64)
        extent = torch.stack([0.6 * size, size], -1)[:, None]  # (n, 1, 2): a person is taller than wide
        scattered = centre + (scatter - 0.5) * extent  # (n, 17, 2)
        anywhere = (pick * len(CHAINS)).long().clamp(max=len(CHAINS) - 1)  # (n, k)
        none = torch.full((n, k), -1, dtype=torch.int64)
        if self.placement == "random" or keypoints is None or keypoints.shape[1] != CHAIN_JOINTS:
            return none, anywhere, scattered
        confident = (torch.ones(n, CHAIN_JOINTS, dtype=torch.bool) if scores is None
                     else scores >= self.confidence_floor)
        member = torch.zeros(len(CHAINS), CHAIN_JOINTS, dtype=torch.bool)
        for i, c in enumerate(CHAINS):
            member[i, list(c)] = True
        usable = ~(member[None] & ~confident[:, None]).any(-1)  # (n, chains): all joints confident
        count = usable.sum(-1)  # (n,)
        rank = (pick * count[:, None]).long().clamp(max=(count - 1).clamp_min(0)[:, None])  # (n, k)
        order = torch.cumsum(usable.long(), -1) - 1  # (n, chains): rank among the usable ones
        chosen = (usable[:, None, :] & (order[:, None, :] == rank[..., None])).long().argmax(-1)  # (n, k)
        have = (count > 0)[:, None]
        points = torch.where(have[..., None], keypoints.to(torch.float64), scattered)
        return torch.where(have, chosen, none), torch.where(have, chosen, anywhere), points


def _as_float(prims: Primitives) -> Primitives:
    return Primitives(prims.a.float(), prims.b.float(), prims.radius.float(), prims.kind, prims.depth.float())
