"""Per-frame corruptions of synthetic video: occluders over limbs, motion blur, defocus blur,
sensor noise and dropped frames.

Which frames are corrupted, how, and with which parameters is drawn once per video from its own
random stream ([CorruptionPlan][tarpose.data.synthetic.corruptions.CorruptionPlan]), so a frame looks the same whichever window renders it,
and a video with ``fraction=0`` is the clean version of the same footage.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from .raster import BOX, CAPSULE, Paint, Primitives

OCCLUDE, MOTION_BLUR, DEFOCUS, NOISE, DROP = 1, 2, 4, 8, 16
#: corruption name -> bit
KINDS: dict[str, int] = {
    "occlude": OCCLUDE, "motion_blur": MOTION_BLUR, "defocus": DEFOCUS, "noise": NOISE, "drop": DROP,
}
#: how often each kind is drawn for a corrupted frame (renormalised over the kinds in use)
DEFAULT_WEIGHTS: dict[str, float] = {
    "occlude": 0.4, "motion_blur": 0.15, "defocus": 0.15, "noise": 0.15, "drop": 0.15,
}

#: corruption strengths, ranges drawn uniformly per frame; lengths in figure heights. Strong on
#: purpose: a corrupted frame should lose the evidence a single-frame model needs, while its
#: neighbours keep it.
STRENGTH: dict[str, tuple[float, float]] = {
    "occluder_margin": (0.08, 0.16),  # occluder extent beyond the joints it covers
    "occluder_width": (0.09, 0.18),  # occluder half-width
    "motion_blur": (0.18, 0.35),  # blur length
    "defocus": (0.06, 0.10),  # blur disc radius
    "noise": (0.30, 0.50),  # noise sigma, of 0..1 intensities
    "gain": (0.30, 0.80),  # brightness under the noise (low light)
}
#: chance that an occluded frame gets a second occluder
SECOND_OCCLUDER = 0.5

#: joint chains an occluder is placed over (COCO indices)
CHAINS: tuple[tuple[int, ...], ...] = (
    (7, 9), (8, 10), (5, 7, 9), (6, 8, 10), (13, 15), (14, 16), (11, 13, 15), (12, 14, 16),
    (9, 10), (15, 16), (0, 1, 2, 3, 4), (5, 6, 7, 8),
)
MAX_OCCLUDERS = 2


def names(code: int) -> list[str]:
    """The kinds set in a corruption bit mask."""
    return [name for name, bit in KINDS.items() if code & bit]


@dataclass
class CorruptionPlan:
    """Per-frame corruptions of a video of ``F`` frames.

    ``code``: ``(F,)`` int bit mask of [KINDS][tarpose.data.synthetic.corruptions.KINDS] (0 = clean); ``occluders``: primitives in
    front of everything, ``(F, MAX_OCCLUDERS)`` (radius -1 where unused) with their ``paint``;
    ``blur``: ``(F, 2)`` motion blur length (px) and angle (rad); ``defocus``: ``(F,)`` disc radius
    (px); ``noise``: ``(F, 2)`` noise sigma and brightness gain; ``fill``: ``(F, 3)`` colour of a
    dropped frame.
    """

    code: Tensor
    occluders: Primitives
    paint: Paint
    blur: Tensor
    defocus: Tensor
    noise: Tensor
    fill: Tensor
    seed: int

    @staticmethod
    def draw(
        gen: torch.Generator,
        keypoints: Tensor,
        figure_height: float,
        fraction: float,
        kinds: dict[str, float],
    ) -> CorruptionPlan:
        """Corrupt ``round(fraction * F)`` frames of a video whose joints are ``keypoints``
        ``(F, 17, 2)`` (pixels) and whose figure is ``figure_height`` pixels tall."""
        if not 0 <= fraction <= 1:
            raise ValueError(f"corruption fraction must be in [0, 1], got {fraction}")
        unknown = set(kinds) - set(KINDS)
        if unknown:
            raise ValueError(f"unknown corruption kinds {sorted(unknown)}; known: {', '.join(KINDS)}")
        f = keypoints.shape[0]
        rand = lambda *s: torch.rand(*s, generator=gen, dtype=torch.float64)
        # every draw below happens whatever the fraction, so the plan is nested in it
        order = torch.randperm(f, generator=gen)
        names_ = list(KINDS)
        weights = torch.tensor([kinds.get(n, 0.0) for n in names_], dtype=torch.float64)
        choice = torch.multinomial(weights + 1e-12 * (weights.sum() == 0), f, replacement=True, generator=gen)
        code = torch.zeros(f, dtype=torch.int64)
        count = round(fraction * f)
        if count and weights.sum() <= 0:
            raise ValueError("corruption fraction > 0 needs at least one kind with a positive weight")
        chosen = order[:count]
        code[chosen] = torch.tensor([KINDS[names_[i]] for i in choice.tolist()], dtype=torch.int64)[chosen]

        # occluders: boxes or capsules over a random chain of joints
        k = MAX_OCCLUDERS
        chain = torch.randint(len(CHAINS), (f, k), generator=gen)
        used = torch.ones(f, k, dtype=torch.bool)
        used[:, 1] = rand(f) < SECOND_OCCLUDER
        used &= (code & OCCLUDE).bool()[:, None]
        a, b, radius = occluder_segments(
            keypoints, chain, jitter=rand(f, k, 2), turn=rand(f, k), margin=rand(f, k),
            width=rand(f, k), size=figure_height,
        )
        radius = torch.where(used, radius, torch.full_like(radius, -1.0))
        kind = torch.tensor([BOX, CAPSULE])
        occluders = Primitives(a, b, radius, kind, torch.full((f, k), 1e6, dtype=torch.float64))
        paint = occluder_paint(rand, k)
        between = lambda key, *shape: _between(STRENGTH[key], rand(*shape))
        blur = torch.stack([between("motion_blur", f) * figure_height, rand(f) * math.pi], -1)
        defocus = between("defocus", f) * figure_height
        noise = torch.stack([between("noise", f), between("gain", f)], -1)
        fill = drop_fill(rand, f)
        return CorruptionPlan(code, occluders, paint, blur, defocus, noise, fill, int(torch.randint(2**31 - 1, (1,), generator=gen)))

    def select(self, frames: Tensor) -> Primitives:
        """The occluder primitives of some frames."""
        o = self.occluders
        return Primitives(o.a[frames], o.b[frames], o.radius[frames], o.kind, o.depth[frames])

    def apply(self, images: Tensor, frames: Tensor, linear: Tensor | None = None) -> Tensor:
        """Blur, noise and drops of ``frames`` ``(n,)`` applied to rendered ``images``
        ``(n, 3, H, W)`` in 0..1 (occluders are drawn by the renderer). ``linear``: the linear
        part ``(n, 2, 2)`` of each image -> view map when the images are crops (blur scales with
        it)."""
        code = self.code[frames]
        out = images.clone()
        if linear is None:
            linear = torch.eye(2, dtype=torch.float64).expand(len(frames), 2, 2)
        linear = linear.to(torch.float64)
        for bit, make in ((MOTION_BLUR, self._line_kernel), (DEFOCUS, self._disc_kernel)):
            sel = ((code & bit) != 0).nonzero().flatten()
            if len(sel):
                kernels = [make(int(frames[i]), linear[i]) for i in sel.tolist()]
                out[sel] = convolve(out[sel], kernels)
        for i in ((code & NOISE) != 0).nonzero().flatten().tolist():
            frame = int(frames[i])
            sigma, gain = self.noise[frame].tolist()
            out[i] = low_light(out[i], sigma, gain, self._randn(frame, images.shape[1:]))
        for i in ((code & DROP) != 0).nonzero().flatten().tolist():
            frame = int(frames[i])
            out[i] = dropped_frame(self.fill[frame], self._randn(frame, images.shape[1:]))
        return out.clamp(0, 1)

    def _randn(self, frame: int, shape: tuple[int, ...]) -> Tensor:
        """Noise of one frame, the same whichever frames are rendered together."""
        gen = torch.Generator().manual_seed(self.seed * 4099 + frame)
        return torch.randn(tuple(shape), generator=gen)

    def _line_kernel(self, frame: int, linear: Tensor) -> Tensor:
        length, angle = self.blur[frame].tolist()
        direction = linear @ torch.tensor([math.cos(angle), math.sin(angle)], dtype=torch.float64)
        return line_kernel(length * float(direction.norm()), math.atan2(float(direction[1]), float(direction[0])))

    def _disc_kernel(self, frame: int, linear: Tensor) -> Tensor:
        return disc_kernel(float(self.defocus[frame]) * float(linear.det().abs().sqrt()))


# -- the kernels, shared with the corruption of real crops (tarpose.training.corrupt) ------------


def occluder_segments(
    keypoints: Tensor, chain: Tensor, *, jitter: Tensor, turn: Tensor, margin: Tensor, width: Tensor,
    size: float | Tensor,
) -> tuple[Tensor, Tensor, Tensor]:
    """Occluders (box segments) over chains of joints, from uniform draws.

    Each occluder runs along its chain (first to last joint, turned by up to +-0.4 rad), through
    the chain's mean point moved by up to +-0.04 ``size``, and reaches
    ``STRENGTH["occluder_margin"]`` beyond the chain's ends; its half-width is in
    ``STRENGTH["occluder_width"]``; both in units of the person's ``size``.

    Args:
        keypoints: ``(N, 17, 2)`` joints (COCO order) in pixels.
        chain: ``(N, K)`` indices into [CHAINS][tarpose.data.synthetic.corruptions.CHAINS].
        jitter: ``(N, K, 2)`` uniform 0..1 draws: the shift.
        turn: ``(N, K)`` uniform draws: the turn.
        margin: ``(N, K)`` uniform draws: the reach beyond the ends.
        width: ``(N, K)`` uniform draws: the half-width.
        size: the person's height in pixels, a float or ``(N,)``.

    Returns:
        segment ends ``a``, ``b`` ``(N, K, 2)`` and half-widths ``(N, K)``, float64.
    """
    kp = keypoints.to(torch.float64)
    size = torch.as_tensor(size, dtype=torch.float64)
    size = size[:, None] if size.ndim == 1 else size  # (n, 1) or a scalar
    member = torch.zeros(len(CHAINS), kp.shape[1], dtype=torch.float64)
    for i, c in enumerate(CHAINS):
        member[i, list(c)] = 1 / len(c)
    first = torch.tensor([c[0] for c in CHAINS])[chain]  # (n, k)
    last = torch.tensor([c[-1] for c in CHAINS])[chain]
    centre = torch.einsum("fkj,fjx->fkx", member[chain], kp)
    rows = torch.arange(kp.shape[0])[:, None]
    axis = kp[rows, last] - kp[rows, first]
    extent = axis.norm(dim=-1)
    shift = (jitter.to(torch.float64) - 0.5) * 0.08 * size[..., None]
    angle = torch.atan2(axis[..., 1], axis[..., 0]) + (turn.to(torch.float64) - 0.5) * 0.8
    half = 0.5 * extent + _between(STRENGTH["occluder_margin"], margin.to(torch.float64)) * size
    direction = torch.stack([torch.cos(angle), torch.sin(angle)], -1)
    a = centre + shift - half[..., None] * direction
    b = centre + shift + half[..., None] * direction
    return a, b, _between(STRENGTH["occluder_width"], width.to(torch.float64)) * size


def occluder_paint(rand: Callable[..., Tensor], count: int) -> Paint:
    """Colours and patterns of ``count`` occluders from a uniform source ``rand(*shape)``: two
    colours each, a soft stripe or check pattern (60 % of them), light shading."""
    return Paint(
        color=rand(count, 3), color2=rand(count, 3),
        wave=(rand(count, 2, 2) - 0.5) * 0.3, mix=(rand(count) < 0.6).double(), shade=0.3 * rand(count),
    )


def line_kernel(length: float, angle: float) -> Tensor:
    """Motion blur: a normalised anti-aliased line ``length`` pixels long at ``angle`` (rad),
    an odd square ``(k, k)`` float32."""
    size = 2 * math.ceil(length / 2) + 1
    c = torch.arange(size, dtype=torch.float64) - size // 2
    y, x = torch.meshgrid(c, c, indexing="ij")
    ux, uy = math.cos(angle), math.sin(angle)
    along = (x * ux + y * uy).abs() - length / 2
    across = (x * uy - y * ux).abs()
    k = (1 - across).clamp(0, 1) * (0.5 - along).clamp(0, 1)
    return (k / k.sum()).float()


def disc_kernel(radius: float) -> Tensor:
    """Defocus blur: a normalised anti-aliased disc of ``radius`` pixels, ``(k, k)`` float32."""
    size = 2 * math.ceil(radius) + 1
    c = torch.arange(size, dtype=torch.float64) - size // 2
    y, x = torch.meshgrid(c, c, indexing="ij")
    k = (radius + 0.5 - (x**2 + y**2).sqrt()).clamp(0, 1)
    return (k / k.sum()).float()


def low_light(image: Tensor, sigma: float, gain: float, noise: Tensor) -> Tensor:
    """Sensor noise in low light: ``image * gain + sigma * noise`` (``image`` in 0..1, ``noise``
    standard normal of its shape; not clamped)."""
    return image * gain + sigma * noise


def drop_fill(rand: Callable[..., Tensor], count: int) -> Tensor:
    """The flat colours ``(count, 3)`` of dropped frames from a uniform source ``rand(*shape)``:
    a grey of 0.1..0.7, tinted by up to +-0.05 per channel."""
    return (0.1 + 0.6 * rand(count, 1)) * torch.ones(1, 3, dtype=torch.float64) + 0.1 * (rand(count, 3) - 0.5)


def dropped_frame(fill: Tensor, noise: Tensor) -> Tensor:
    """A dropped frame: the flat colour ``fill`` ``(3,)`` with faint noise ``noise`` ``(3, H, W)``."""
    return fill.float()[:, None, None] + 0.03 * noise


def _between(bounds: tuple[float, float], u: Tensor) -> Tensor:
    return bounds[0] + (bounds[1] - bounds[0]) * u


def convolve(images: Tensor, kernels: list[Tensor], fft: bool = False) -> Tensor:
    """Each image ``(n, 3, H, W)`` convolved with its own odd square kernel, edges repeated.

    Args:
        images: ``(n, 3, H, W)`` float.
        kernels: ``n`` kernels ``(k, k)``, ``k`` odd.
        fft: through the Fourier transform (faster for large kernels; equal to the direct
            convolution to float32 rounding, not bit for bit).
    """
    out = []
    for image, kernel in zip(images, kernels):
        pad = kernel.shape[-1] // 2
        x = F.pad(image[None], (pad,) * 4, mode="replicate")
        if not fft:
            out.append(F.conv2d(x, kernel.to(x).expand(3, 1, -1, -1), groups=3)[0])
            continue
        # conv2d correlates: the circular convolution with the flipped kernel, read where it
        # does not wrap
        size = x.shape[-2:]
        product = torch.fft.rfft2(x[0], s=size) * torch.fft.rfft2(kernel.to(x).flip(-2, -1), s=size)
        full = torch.fft.irfft2(product, s=size)
        k = kernel.shape[-1]
        out.append(full[:, k - 1 :, k - 1 :])
    return torch.stack(out)
