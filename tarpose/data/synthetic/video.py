"""One procedural video: a figure, its motion, a camera, a textured background with distractor
shapes, and a corruption plan. Labels are computed analytically at construction (cheap); frames
are rendered on demand ([SyntheticVideo.render][tarpose.data.synthetic.video.SyntheticVideo.render])."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from ...geometry import apply_affine, invert_affine
from .corruptions import DEFAULT_WEIGHTS, DROP, CorruptionPlan
from .figure import (
    HAIR,
    HEAD,
    L_HAND,
    L_TOE,
    NECK,
    PELVIS,
    R_HAND,
    R_TOE,
    Body,
    pose_points,
    random_motion,
)
from .raster import BOX, CAPSULE, Paint, Primitives, coverage, pixel_centres, rasterize

# body parts: (first point, second point, kind, region); radii are set per video
_PARTS: tuple[tuple[str, int, int, int, str], ...] = (
    ("chest", NECK, PELVIS, BOX, "shirt"),
    ("belly", NECK, PELVIS, BOX, "shirt"),
    ("neck", NECK, HEAD, CAPSULE, "skin"),
    ("head", HEAD, HEAD, CAPSULE, "skin"),
    ("hair", HAIR, HAIR, CAPSULE, "hair"),
    ("l_eye", 1, 1, CAPSULE, "eye"),
    ("r_eye", 2, 2, CAPSULE, "eye"),
    ("nose", 0, 0, CAPSULE, "nose"),
    ("l_ear", 3, 3, CAPSULE, "ear"),
    ("r_ear", 4, 4, CAPSULE, "ear"),
    ("l_upper_arm", 5, 7, CAPSULE, "sleeve"),
    ("r_upper_arm", 6, 8, CAPSULE, "sleeve"),
    ("l_forearm", 7, 9, CAPSULE, "forearm"),
    ("r_forearm", 8, 10, CAPSULE, "forearm"),
    ("l_hand", 9, L_HAND, CAPSULE, "skin"),
    ("r_hand", 10, R_HAND, CAPSULE, "skin"),
    ("l_thigh", 11, 13, CAPSULE, "pants"),
    ("r_thigh", 12, 14, CAPSULE, "pants"),
    ("l_shin", 13, 15, CAPSULE, "shin"),
    ("r_shin", 14, 16, CAPSULE, "shin"),
    ("l_foot", 15, L_TOE, CAPSULE, "shoe"),
    ("r_foot", 16, R_TOE, CAPSULE, "shoe"),
)
PART_NAMES: tuple[str, ...] = tuple(p[0] for p in _PARTS)
_P = {name: i for i, name in enumerate(PART_NAMES)}

#: the body parts each COCO joint belongs to: a joint is visible when one of them is the front-most
#: part drawn at its location
JOINT_PARTS: tuple[tuple[int, ...], ...] = tuple(
    tuple(_P[n] for n in names)
    for names in (
        ("nose",), ("l_eye",), ("r_eye",), ("l_ear",), ("r_ear",),
        ("chest", "l_upper_arm"), ("chest", "r_upper_arm"),
        ("l_upper_arm", "l_forearm"), ("r_upper_arm", "r_forearm"),
        ("l_forearm", "l_hand"), ("r_forearm", "r_hand"),
        ("belly", "l_thigh"), ("belly", "r_thigh"),
        ("l_thigh", "l_shin"), ("r_thigh", "r_shin"),
        ("l_shin", "l_foot"), ("r_shin", "r_foot"),
    )
)


def _hsv(h: Tensor, s: Tensor, v: Tensor) -> Tensor:
    """HSV in 0..1 -> RGB ``(..., 3)``."""
    k = torch.stack([(5 + h * 6) % 6, (3 + h * 6) % 6, (1 + h * 6) % 6], -1)
    return v[..., None] - v[..., None] * s[..., None] * (torch.minimum(k, 4 - k).clamp(0, 1))


class SyntheticVideo:
    """A procedural video of one moving figure, deterministic by ``seed``.

    Args:
        seed: everything (figure, motion, camera, scene, corruptions) follows from it.
        num_frames: length ``F``.
        image_size: frame ``(H, W)``.
        corruption: fraction of frames corrupted (exactly ``round(corruption * F)`` of them).
        kinds: corruption kinds and their relative frequencies (default
            ``DEFAULT_WEIGHTS``).
        action: one of ``ACTIONS`` (default: drawn).

    Labels (all computed without rendering), in pixel-index coordinates ([tarpose.geometry][tarpose.geometry]:
    pixel ``(i, j)`` is centred at ``(i, j)``; the renderer works at pixel centres internally):
        ``keypoints`` ``(F, 17, 2)``;
        ``visibility`` ``(F, 17)`` COCO style: 0 outside the frame, 1 hidden (behind a body part,
        an occluder, or a dropped frame), 2 visible; ``self_occluded``, ``occluded`` ``(F, 17)``
        bool: hidden by the body / by a corruption (occluder or drop); ``corruption`` ``(F,)`` int
        bit mask ([KINDS][tarpose.data.synthetic.corruptions.KINDS]); ``boxes`` ``(F, 4)`` x, y, w, h
        of the figure's silhouette (clipped to the frame); ``depth`` ``(F, 17)`` (larger = nearer).
    """

    def __init__(
        self,
        seed: int,
        num_frames: int = 32,
        image_size: tuple[int, int] = (192, 256),
        corruption: float = 0.0,
        kinds: dict[str, float] | None = None,
        action: str | None = None,
    ) -> None:
        if num_frames < 1:
            raise ValueError(f"num_frames must be >= 1, got {num_frames}")
        if len(image_size) != 2 or min(image_size) < 16:
            raise ValueError(f"image_size must be (H, W) with sides >= 16, got {image_size}")
        self.seed = int(seed)
        self.num_frames = num_frames
        self.image_size = (int(image_size[0]), int(image_size[1]))
        streams = [torch.Generator().manual_seed(self.seed * 7919 + k) for k in range(4)]
        self._figure(streams[0], action)
        self._appearance(streams[1])
        self._background(streams[2])
        self.plan = CorruptionPlan.draw(
            streams[3], self.points[:, :17], self.figure_height, corruption,
            DEFAULT_WEIGHTS if kinds is None else kinds,
        )
        self.corruption = self.plan.code
        self._labels()

    # -- construction -------------------------------------------------------------------------

    def _figure(self, gen: torch.Generator, action: str | None) -> None:
        h, w = self.image_size
        f = self.num_frames
        rand = lambda *s: torch.rand(*s, generator=gen, dtype=torch.float64)
        self.body = body = Body.random(gen)
        self.motion = motion = random_motion(gen, f, body, action)
        self.action = motion.action
        world = pose_points(body, motion)  # (f, n, 3), y up
        t = torch.arange(f, dtype=torch.float64)
        # camera: follows the figure loosely, drifts, zooms a little
        self.figure_height = float(0.45 + 0.3 * rand(1)) * h
        ppu = self.figure_height / body.height
        zoom = 1 + 0.08 * rand(1) * torch.sin(0.02 + 0.08 * rand(1) * t + 6.3 * rand(1))
        track = 0.6 + 0.4 * rand(1)
        drift = (rand(2) - 0.5) * 0.006 * t[:, None] + (rand(2) - 0.5) * 0.05 * torch.sin(
            (0.05 + 0.1 * rand(2)) * t[:, None] + 6.3 * rand(2)
        )
        root = motion.root
        cam = torch.stack([track * (root[:, 0] - root[0, 0]) + root[0, 0], torch.zeros(f, dtype=torch.float64)], -1) + drift
        cam[:, 1] += body.height / 2
        # put the figure somewhere in the frame (keeping most of it inside)
        spare = torch.tensor([w * 0.5 - 0.3 * self.figure_height, h * 0.5 - 0.5 * self.figure_height],
                             dtype=torch.float64).clamp_min(0)
        offset = (rand(2) - 0.5) * 2 * spare * 0.8
        self._camera = (cam, zoom, ppu, offset)
        scale = (ppu * zoom)[:, None]
        x = (world[..., 0] - cam[:, None, 0]) * scale + w / 2 + offset[0]
        y = -(world[..., 1] - cam[:, None, 1]) * scale + h / 2 + offset[1]
        self.points = torch.stack([x, y], -1)  # (f, n, 2) pixels
        self.point_depth = world[..., 2] * scale  # (f, n)

    def _appearance(self, gen: torch.Generator) -> None:
        rand = lambda *s: torch.rand(*s, generator=gen, dtype=torch.float64)
        b = self.body
        ppu = self._camera[2]
        skin = _hsv(0.02 + 0.08 * rand(1), 0.25 + 0.45 * rand(1), 0.3 + 0.65 * rand(1))[0]
        cloth = lambda: _hsv(rand(1), rand(1), 0.15 + 0.85 * rand(1))[0]
        regions = {
            "skin": (skin, skin * 0.85),
            "shirt": (cloth(), cloth()),
            "pants": (cloth(), cloth()),
            "shoe": (cloth() * 0.5, cloth() * 0.5),
            "hair": (_hsv(rand(1), 0.2 + 0.6 * rand(1), 0.05 + 0.5 * rand(1))[0],) * 2,
            "eye": (torch.full((3,), 0.05, dtype=torch.float64),) * 2,
            "nose": (skin * 0.7,) * 2,
            "ear": (skin * 0.8,) * 2,
        }
        regions["sleeve"] = regions["shirt"] if rand(1) < 0.8 else regions["skin"]
        regions["forearm"] = regions["shirt"] if rand(1) < 0.5 else regions["skin"]
        regions["shin"] = regions["pants"] if rand(1) < 0.7 else regions["skin"]
        pattern = {}
        for region in ("shirt", "pants", "shoe"):  # stripes or checks, sized to the figure
            period = (0.02 + 0.06 * rand(2)) * ppu
            wave = torch.zeros(2, 2, dtype=torch.float64)
            angle = rand(1) * math.pi
            wave[0] = torch.cat([torch.cos(angle), torch.sin(angle)]) / period[0]
            if rand(1) < 0.4:
                wave[1] = torch.cat([-torch.sin(angle), torch.cos(angle)]) / period[1]
            pattern[region] = (wave, float(rand(1) < 0.7))
        pattern["sleeve"] = pattern["shirt"] if regions["sleeve"] is regions["shirt"] else None
        pattern["forearm"] = pattern["shirt"] if regions["forearm"] is regions["shirt"] else None
        pattern["shin"] = pattern["pants"] if regions["shin"] is regions["pants"] else None
        r = self.figure_height / b.height
        radius = {
            "chest": 0.0, "belly": 0.0, "neck": 0.45 * b.head, "head": b.head, "hair": 0.95 * b.head,
            "l_eye": 0.15 * b.head, "r_eye": 0.15 * b.head, "nose": 0.13 * b.head,
            "l_ear": 0.22 * b.head, "r_ear": 0.22 * b.head,
            "l_upper_arm": b.arm_radius, "r_upper_arm": b.arm_radius,
            "l_forearm": 0.85 * b.arm_radius, "r_forearm": 0.85 * b.arm_radius,
            "l_hand": 0.9 * b.arm_radius, "r_hand": 0.9 * b.arm_radius,
            "l_thigh": b.leg_radius, "r_thigh": b.leg_radius,
            "l_shin": 0.8 * b.leg_radius, "r_shin": 0.8 * b.leg_radius,
            "l_foot": 0.55 * b.leg_radius, "r_foot": 0.55 * b.leg_radius,
        }
        self._radius = torch.tensor([radius[n] for n in PART_NAMES], dtype=torch.float64) * r
        colors, colors2, waves, mixes, shades = [], [], [], [], []
        for _, _, _, _, region in _PARTS:
            c1, c2 = regions[region]
            pat = pattern.get(region)
            colors.append(c1)
            colors2.append(c2)
            waves.append(pat[0] if pat else torch.zeros(2, 2, dtype=torch.float64))
            mixes.append(pat[1] if pat else 0.0)
            shades.append(0.0 if region in ("eye", "nose") else 0.35)
        self._paint = Paint(torch.stack(colors), torch.stack(colors2), torch.stack(waves),
                            torch.tensor(mixes, dtype=torch.float64), torch.tensor(shades, dtype=torch.float64))

    def _background(self, gen: torch.Generator) -> None:
        rand = lambda *s: torch.rand(*s, generator=gen, dtype=torch.float64)
        color = lambda n: _hsv(rand(n), rand(n), 0.1 + 0.9 * rand(n))
        self._bg_colors = color(3)  # sky-ish ramp ends and the floor
        self._bg_ramp = torch.cat([torch.randn(2, generator=gen, dtype=torch.float64), rand(1) * 3])
        self._bg_floor = float(rand(1)) < 0.6
        self._bg_waves = torch.cat([(rand(3, 2) - 0.5) * 12, rand(3, 1) * 6.3], -1)  # cycles / unit
        self._bg_wave_colors = (rand(3, 3) - 0.5) * 0.25 * rand(3, 1)
        self._bg_noise = (torch.rand(1, 3, 24, 32, generator=gen) - 0.5) * 0.4 * float(rand(1))
        # distractors: static shapes in the world, behind the figure
        n = int(torch.randint(3, 10, (1,), generator=gen))
        b = self.body
        centre = torch.stack([(rand(n) - 0.5) * 3.0, rand(n) * 1.4 * b.height], -1)
        angle = rand(n) * math.pi
        half = (0.03 + 0.25 * rand(n))[:, None] * torch.stack([torch.cos(angle), torch.sin(angle)], -1)
        self._distractor_ends = (centre - half, centre + half)
        self._distractor_radius = 0.01 + 0.1 * rand(n) ** 2
        self._distractor_kind = (rand(n) < 0.5).long() * BOX + 0 * CAPSULE
        skinlike = rand(n) < 0.3
        c1 = torch.where(skinlike[:, None], self._paint.color[_P["head"]].expand(n, 3), color(n))
        wave = (rand(n, 2, 2) - 0.5) * 0.4 * (rand(n, 1, 1) < 0.5)
        self._distractor_paint = Paint(c1, color(n), wave, (rand(n) < 0.5).double(), 0.3 * rand(n))

    def _to_image(self, world: Tensor) -> Tensor:
        """Static world points ``(M, 2)`` (y up) -> pixels ``(F, M, 2)``."""
        cam, zoom, ppu, offset = self._camera
        h, w = self.image_size
        scale = (ppu * zoom)[:, None]
        x = (world[None, :, 0] - cam[:, None, 0]) * scale + w / 2 + offset[0]
        y = -(world[None, :, 1] - cam[:, None, 1]) * scale + h / 2 + offset[1]
        return torch.stack([x, y], -1)

    def body_primitives(self, frames: Tensor | None = None) -> Primitives:
        """The figure's parts (``PART_NAMES``) in some frames, ``(n, P)``."""
        frames = torch.arange(self.num_frames) if frames is None else frames
        pts, z = self.points[frames], self.point_depth[frames]
        first = torch.tensor([p[1] for p in _PARTS])
        second = torch.tensor([p[2] for p in _PARTS])
        a, b = pts[:, first].clone(), pts[:, second].clone()
        depth = 0.5 * (z[:, first] + z[:, second])
        radius = self._radius.expand(len(frames), -1).clone()
        # the torso: two boxes along neck -> pelvis, as wide as the turned shoulders / hips
        axis = b[:, 0] - a[:, 0]
        unit = axis / axis.norm(dim=-1, keepdim=True).clamp_min(1e-9)
        ppr = self.figure_height / self.body.height
        depth_half = self.body.torso_depth * ppr

        def across(left: int, right: int) -> Tensor:
            d = pts[:, left] - pts[:, right]
            return 0.5 * (d[:, 0] * unit[:, 1] - d[:, 1] * unit[:, 0]).abs()

        mid = a[:, 0] + 0.55 * axis
        radius[:, 0] = torch.maximum(across(5, 6) + 0.3 * self.body.arm_radius * ppr, torch.tensor(depth_half))
        radius[:, 1] = torch.maximum(across(11, 12) + 0.5 * self.body.leg_radius * ppr, torch.tensor(depth_half))
        a[:, 0] = pts[:, NECK] - 0.02 * ppr * unit
        b[:, 0] = mid
        a[:, 1] = mid
        b[:, 1] = pts[:, PELVIS] + 0.03 * ppr * unit
        depth[:, 0] = z[:, [NECK, 5, 6]].mean(-1)
        depth[:, 1] = z[:, [PELVIS, 11, 12]].mean(-1)
        head_r = self.body.head * ppr
        depth[:, _P["l_ear"]] += 0.4 * head_r  # ears show beside a face seen from the front
        depth[:, _P["r_ear"]] += 0.4 * head_r
        kind = torch.tensor([p[3] for p in _PARTS])
        return Primitives(a, b, radius, kind, depth)

    def _labels(self) -> None:
        h, w = self.image_size
        kp = self.points[:, :17]
        self.keypoints = (kp - 0.5).float()  # pixel centres i + 0.5 -> pixel indices i
        self.depth = self.point_depth[:, :17].float()
        inside = (kp[..., 0] >= 0) & (kp[..., 0] < w) & (kp[..., 1] >= 0) & (kp[..., 1] < h)
        prims = self.body_primitives()
        cover, _, _ = coverage(kp, prims)  # (f, 17, p)
        covered = cover.transpose(1, 2) >= 0.5  # (f, p, 17)
        # the front-most part covering each joint
        depth = torch.where(covered, prims.depth[:, :, None], torch.tensor(-math.inf, dtype=torch.float64))
        front = depth.argmax(1)  # (f, 17)
        own = torch.zeros(len(PART_NAMES), 17, dtype=torch.bool)
        for j, parts in enumerate(JOINT_PARTS):
            own[list(parts), j] = True
        self.self_occluded = ~own[front, torch.arange(17)] & covered.any(1)
        occ = self.plan.select(torch.arange(self.num_frames))
        by_occluder = (coverage(kp, occ)[0] >= 0.5).any(-1)
        dropped = ((self.plan.code & DROP) != 0)[:, None]
        self.occluded = (by_occluder | dropped) & inside
        hidden = self.self_occluded | self.occluded
        self.visibility = torch.where(inside, torch.where(hidden, 1, 2), 0).to(torch.int64)
        # silhouette box: capsule ends +- radius, box corners
        r = prims.radius[..., None]
        normal = torch.stack([-(prims.b - prims.a)[..., 1], (prims.b - prims.a)[..., 0]], -1)
        normal = normal / normal.norm(dim=-1, keepdim=True).clamp_min(1e-9)
        is_box = (prims.kind == BOX)[None, :, None]
        corners = []
        for end in (prims.a, prims.b):
            for sign in (1, -1):
                corners.append(torch.where(is_box, end + sign * r * normal, end + sign * r))
            corners.append(torch.where(is_box, end, end + r * torch.tensor([1.0, -1.0])))
            corners.append(torch.where(is_box, end, end + r * torch.tensor([-1.0, 1.0])))
        corners = torch.cat(corners, 1)  # (f, many, 2)
        lo = corners.amin(1).clamp(min=torch.zeros(2, dtype=torch.float64))
        hi = corners.amax(1).clamp(max=torch.tensor([w, h], dtype=torch.float64))
        self.boxes = torch.cat([lo - 0.5, (hi - lo).clamp_min(0)], -1).float()  # pixel indices

    # -- rendering ------------------------------------------------------------------------------

    def render(
        self,
        frames: Sequence[int] | Tensor | None = None,
        *,
        corrupt: bool = True,
        matrix: Tensor | None = None,
        size: tuple[int, int] | None = None,
    ) -> tuple[Tensor, Tensor]:
        """Render frames, whole or through crops.

        Args:
            frames: frame indices ``(n,)`` (default: all; repeats allowed).
            corrupt: apply the corruption plan (``False``: the clean footage).
            matrix: image -> crop affine ``(2, 3)``, or one per frame ``(n, 2, 3)``, in pixel
                indices ([tarpose.geometry.crop_matrices][tarpose.geometry.crop_matrices]; similarities: scale, rotation,
                flip). The scene is rendered straight into the crop at its own resolution, as
                ``warp_crops`` of the whole frame would show it, only sharper and cheaper. A
                UDP crop scales its axes by ``(W - 1) / S`` and ``(H - 1) / S'``, a stretch of
                a few tenths of a percent (at most `MAX_STRETCH`): its shapes are placed
                exactly and drawn as wide as the mean scale says.
            size: the crops' ``(H, W)`` (with ``matrix``).

        Returns:
            images uint8 ``(n, 3, H, W)`` and the figure's silhouette areas ``(n,)`` in image
            pixels (its opacity summed over the view, before corruptions).
        """
        if frames is None:
            frames = torch.arange(self.num_frames)
        frames = torch.as_tensor(frames, dtype=torch.long).flatten()
        if len(frames) and (frames.min() < 0 or frames.max() >= self.num_frames):
            raise ValueError(f"frames must be in [0, {self.num_frames}), got {frames.tolist()}")
        if (matrix is None) != (size is None):
            raise ValueError("pass both matrix= and size= (a crop), or neither (whole frames)")
        n = len(frames)
        if matrix is None:
            matrix = torch.tensor([[1.0, 0, 0], [0, 1.0, 0]], dtype=torch.float64)
            size = self.image_size
        matrix = torch.as_tensor(matrix, dtype=torch.float64)
        if matrix.shape == (2, 3):
            matrix = matrix.expand(n, 2, 3)
        if matrix.shape != (n, 2, 3):
            raise ValueError(f"matrix must be (2, 3) or ({n}, 2, 3) for {n} frames, got {tuple(matrix.shape)}")
        matrix = _at_pixel_centres(matrix)
        linear = matrix[..., :2]
        scale = linear.det().abs().sqrt()  # (n,)
        stretch = torch.linalg.svdvals(linear)  # (n, 2), largest first
        if not bool((scale > 0).all()) or bool((stretch[:, 0] > MAX_STRETCH * stretch[:, 1]).any()):
            raise ValueError(f"matrix must be a similarity (scale, rotation, flip), got {matrix[0].tolist()}")
        h, w = size
        image = self._background_image(frames, matrix, (h, w))  # (n, 3, h*w)
        body = _transform(self.body_primitives(frames), matrix)
        colors, opacity = rasterize(_float(body), _float(self._paint), (h, w), scale.float())
        image = colors + (1 - opacity[:, None]) * image
        area = opacity.sum(-1) / scale.float() ** 2
        if corrupt:
            occluders = _transform(self.plan.select(frames), matrix)
            colors, opacity = rasterize(_float(occluders), _float(self.plan.paint), (h, w), scale.float())
            image = colors + (1 - opacity[:, None]) * image
        image = image.view(n, 3, h, w)
        if corrupt:
            image = self.plan.apply(image, frames, linear)
        return (image.clamp(0, 1) * 255).round().to(torch.uint8), area

    def _background_image(self, frames: Tensor, matrix: Tensor, size: tuple[int, int]) -> Tensor:
        """The static background (texture and distractor shapes) seen by some frames through
        ``matrix`` ``(n, 2, 3)``, ``(n, 3, H*W)``.

        It is rendered on a plate, a pixel lattice fixed in the world for the whole video (pixel
        ``i`` covers world x in ``[i, i+1) / res``), over the region these views see, then
        resampled per view: a frame looks the same whichever frames are rendered with it.
        """
        h, w = size
        _, zoom, ppu, _ = self._camera
        inverse = invert_affine(matrix)
        res = float(ppu * zoom.max()) * _PLATE_RESOLUTION  # plate pixels per world unit
        corners = torch.tensor([[0.0, 0.0], [w, 0.0], [0.0, h], [w, h]], dtype=torch.float64)
        world = self._to_world_each(apply_affine(corners.expand(len(frames), 4, 2), inverse), frames).reshape(-1, 2)
        ix0 = math.floor(float(world[:, 0].min()) * res) - 2
        ix1 = math.ceil(float(world[:, 0].max()) * res) + 2
        iy0 = math.floor(-float(world[:, 1].max()) * res) - 2  # plate rows go down, world y up
        iy1 = math.ceil(-float(world[:, 1].min()) * res) + 2
        pw, ph = ix1 - ix0, iy1 - iy0
        pix = pixel_centres((ph, pw))
        pts = torch.stack([(ix0 + pix[:, 0]) / res, -(iy0 + pix[:, 1]) / res], -1)  # world
        background = self._background_colors(pts)  # (3, N)
        ends = [torch.stack([e[:, 0] * res - ix0, -e[:, 1] * res - iy0], -1) for e in self._distractor_ends]
        d = len(self._distractor_radius)
        prims = Primitives(ends[0][None], ends[1][None], self._distractor_radius[None] * res,
                           self._distractor_kind, -torch.arange(d, dtype=torch.float64)[None])
        colors, opacity = rasterize(_float(prims), _float(self._distractor_paint), (ph, pw),
                                    torch.tensor([res / ppu]))
        plate = (colors[0] + (1 - opacity[0]) * background).view(1, 3, ph, pw)
        # each view pixel centre -> image -> world -> plate coordinates normalised to [-1, 1]
        grid = pixel_centres((h, w)).double().expand(len(frames), -1, -1)
        grid = self._to_world_each(apply_affine(grid, inverse), frames)
        norm = torch.stack([(grid[..., 0] * res - ix0) / pw, (-grid[..., 1] * res - iy0) / ph], -1) * 2 - 1
        out = F.grid_sample(plate.expand(len(frames), -1, -1, -1), norm[:, :, None].float(),
                            mode="bilinear", padding_mode="border", align_corners=False)
        return out[..., 0]

    def _to_world_each(self, pixels: Tensor, frames: Tensor) -> Tensor:
        """Pixels ``(n, N, 2)``, row ``i`` of frame ``frames[i]`` -> world points ``(n, N, 2)``."""
        cam, zoom, ppu, offset = self._camera
        h, w = self.image_size
        scale = (ppu * zoom[frames])[:, None]
        x = (pixels[..., 0] - w / 2 - offset[0]) / scale + cam[frames, None, 0]
        y = -(pixels[..., 1] - h / 2 - offset[1]) / scale + cam[frames, None, 1]
        return torch.stack([x, y], -1)

    def _background_colors(self, world: Tensor) -> Tensor:
        """Texture of the static background at world points ``(N, 2)`` -> ``(3, N)``."""
        world = world.float()
        c = self._bg_colors.float()
        g = self._bg_ramp.float()
        ramp = torch.sigmoid(world @ g[:2] * g[2])[..., None]  # (N, 1)
        color = c[0] * (1 - ramp) + c[1] * ramp
        if self._bg_floor:
            floor = torch.sigmoid(-world[..., 1:2] * 60)
            tiles = 0.08 * torch.sign(torch.sin(world[..., 0:1] * 12) * torch.sin(world[..., 1:2] * 40 + 0.5))
            color = color * (1 - floor) + (c[2] + tiles) * floor
        waves = self._bg_waves.float()
        color = color + torch.cos(2 * math.pi * (world @ waves[:, :2].T) + waves[:, 2]) @ self._bg_wave_colors.float()
        noise = F.grid_sample(
            self._bg_noise, (world[None, :, None] / 2.5).clamp(-1, 1), mode="bilinear", align_corners=False,
        )[0, :, :, 0]  # (3, N)
        return color.T + noise


#: the most one axis of a crop may be stretched relative to the other (a UDP crop of 128x96 pixels
#: stretches by 0.26 %, of 32x24 by 1.1 %)
MAX_STRETCH = 1.02


def _at_pixel_centres(matrix: Tensor) -> Tensor:
    """A pixel-index map ``(n, 2, 3)`` as the renderer's map between pixel-centre coordinates
    (index + 0.5 on both sides)."""
    half = torch.full((2, 1), 0.5, dtype=matrix.dtype)
    return torch.cat([matrix[..., :2], matrix[..., 2:] + half - matrix[..., :2] @ half], dim=-1)


def _transform(prims: Primitives, matrix: Tensor) -> Primitives:
    """Primitives ``(n, P)`` through similarities ``(n, 2, 3)``: ends mapped, half-widths
    scaled (unused primitives keep their negative radius)."""
    scale = matrix[..., :2].det().abs().sqrt()[:, None]  # (n, 1)
    radius = torch.where(prims.radius > 0, prims.radius * scale, prims.radius)
    return Primitives(apply_affine(prims.a, matrix), apply_affine(prims.b, matrix), radius, prims.kind, prims.depth)


#: background plate pixels per image pixel (crops zoom in a little)
_PLATE_RESOLUTION = 1.25


def _float(x: Primitives | Paint) -> Primitives | Paint:
    kw = {k: (v.float() if v.is_floating_point() else v) for k, v in vars(x).items()}
    return type(x)(**kw)
