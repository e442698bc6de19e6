"""Articulated figures with the 17 COCO joints: body shapes, smooth motions, forward kinematics.

A figure lives in its own body frame (x: the person's left, y: up, z: the way the person faces,
towards the camera at yaw 0; units: about one figure height). Each limb segment is given two
absolute angles per frame, ``flex`` (swing forward, about the x axis) and ``abd`` (swing outwards,
about the z axis), applied to a segment hanging straight down. The body is turned by ``yaw`` about
the vertical axis and projected orthographically; ``depth`` is the turned z (larger = nearer).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

#: the motions a clip can show; each clip has one main action plus idle sway and camera drift
ACTIONS: tuple[str, ...] = ("walk", "wave", "turn", "jump", "dance")

#: limb segments driven by (flex, abd) angles, in this order
SEGMENTS: tuple[str, ...] = (
    "l_upper_arm", "r_upper_arm", "l_forearm", "r_forearm",
    "l_thigh", "r_thigh", "l_shin", "r_shin",
)

#: points beyond the 17 COCO joints that the renderer needs (indices 17..)
EXTRA_POINTS: tuple[str, ...] = (
    "neck", "pelvis", "head", "l_hand", "r_hand", "l_toe", "r_toe", "hair",
)
NUM_POINTS = 17 + len(EXTRA_POINTS)
NECK, PELVIS, HEAD, L_HAND, R_HAND, L_TOE, R_TOE, HAIR = range(17, NUM_POINTS)


@dataclass
class Body:
    """One figure's proportions (figure units; the standing height is about 1)."""

    torso: float
    shoulder: float
    hip: float
    neck: float
    head: float
    upper_arm: float
    forearm: float
    thigh: float
    shin: float
    arm_radius: float
    leg_radius: float
    torso_depth: float

    @property
    def height(self) -> float:
        return self.shin + self.thigh + self.torso + self.neck + 2 * self.head

    @staticmethod
    def random(gen: torch.Generator) -> Body:
        u = torch.rand(12, generator=gen, dtype=torch.float64).tolist()

        def between(x: float, lo: float, hi: float) -> float:
            return lo + (hi - lo) * x

        return Body(
            torso=between(u[0], 0.27, 0.34),
            shoulder=between(u[1], 0.085, 0.13),
            hip=between(u[2], 0.06, 0.095),
            neck=between(u[3], 0.035, 0.06),
            head=between(u[4], 0.055, 0.075),
            upper_arm=between(u[5], 0.15, 0.20),
            forearm=between(u[6], 0.13, 0.18),
            thigh=between(u[7], 0.21, 0.27),
            shin=between(u[8], 0.20, 0.26),
            arm_radius=between(u[9], 0.022, 0.04),
            leg_radius=between(u[10], 0.03, 0.055),
            torso_depth=between(u[11], 0.055, 0.085),
        )


@dataclass
class Motion:
    """Per-frame pose of one figure (``F`` frames).

    ``angles``: ``(F, 8, 2)`` degrees, (flex, abd) of [SEGMENTS][tarpose.data.synthetic.figure.SEGMENTS]; ``yaw``: ``(F,)`` degrees
    (0 faces the camera, 90 faces screen right); ``lean``: ``(F, 2)`` degrees (forward,
    sideways) of the upper body; ``root``: ``(F, 2)`` world (x, y) of the pelvis, y up.
    """

    action: str
    angles: Tensor
    yaw: Tensor
    lean: Tensor
    root: Tensor


def _rand(gen: torch.Generator, *shape: int, lo: float = 0.0, hi: float = 1.0) -> Tensor:
    return lo + (hi - lo) * torch.rand(*shape, generator=gen, dtype=torch.float64)


def _sway(gen: torch.Generator, t: Tensor, n: int, amplitude: float, terms: int = 2) -> Tensor:
    """``n`` smooth random signals ``(F, n)``: sums of sinusoids with random slow frequencies."""
    amp = _rand(gen, terms, n, lo=0.3, hi=1.0) * amplitude / terms
    freq = _rand(gen, terms, n, lo=0.03, hi=0.25)  # rad / frame
    phase = _rand(gen, terms, n, hi=2 * math.pi)
    return (amp * torch.sin(freq * t[:, None, None] + phase)).sum(1)


def random_motion(
    gen: torch.Generator, num_frames: int, body: Body, action: str | None = None
) -> Motion:
    """A smooth motion of ``num_frames`` frames (about 25 fps) for one of ``ACTIONS``."""
    if action is None:
        action = ACTIONS[int(torch.randint(len(ACTIONS), (1,), generator=gen))]
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}; known: {', '.join(ACTIONS)}")
    t = torch.arange(num_frames, dtype=torch.float64)
    f = num_frames
    # rest pose: arms slightly out and bent, legs slightly apart
    flex = torch.zeros(f, 8, dtype=torch.float64)
    abd = torch.zeros(f, 8, dtype=torch.float64)
    abd[:, 0:2] = _rand(gen, 1, lo=6, hi=18)
    abd[:, 2:4] = abd[:, 0:2] + _rand(gen, 1, lo=-4, hi=8)
    flex[:, 2:4] = _rand(gen, 2, lo=5, hi=35)
    abd[:, 4:8] = _rand(gen, 1, lo=2, hi=8)
    flex = flex + _sway(gen, t, 8, 8.0)
    abd = abd + _sway(gen, t, 8, 5.0)
    yaw0 = float(_rand(gen, 1, lo=-100, hi=100))
    yaw = yaw0 + _sway(gen, t, 1, 25.0)[:, 0]
    lean = _sway(gen, t, 2, 6.0)
    root = torch.zeros(f, 2, dtype=torch.float64)
    lift = torch.zeros(f, dtype=torch.float64)  # height of the feet above the ground

    if action == "walk":
        side = 1.0 if float(_rand(gen, 1)) < 0.5 else -1.0
        yaw = side * float(_rand(gen, 1, lo=35, hi=100)) + _sway(gen, t, 1, 12.0)[:, 0]
        omega = float(_rand(gen, 1, lo=0.17, hi=0.32))
        phase = omega * t + float(_rand(gen, 1, hi=2 * math.pi))
        stride, knee, swing = _rand(gen, 3, lo=0, hi=1).tolist()
        stride, knee, swing = 16 + 18 * stride, 25 + 35 * knee, 12 + 28 * swing
        for leg, sign in ((4, 1.0), (5, -1.0)):
            p = phase if sign > 0 else phase + math.pi
            flex[:, leg] += stride * torch.sin(p)
            bend = knee * torch.clamp(torch.sin(p - 1.0), min=0) ** 1.5
            flex[:, leg + 2] = flex[:, leg] - bend
            flex[:, leg - 4] += -sign * swing * torch.sin(phase)  # arms swing against the legs
            flex[:, leg - 2] = flex[:, leg - 4] + float(_rand(gen, 1, lo=10, hi=40))
        speed = float(_rand(gen, 1, lo=0.008, hi=0.02))
        root[:, 0] = torch.cumsum(speed * torch.sin(torch.deg2rad(yaw)), 0)
    elif action == "wave":
        arms = [0, 1] if float(_rand(gen, 1)) < 0.35 else [int(torch.randint(2, (1,), generator=gen))]
        for arm in arms:
            raise_, spread, amp = _rand(gen, 3).tolist()
            omega = float(_rand(gen, 1, lo=0.2, hi=0.55))
            phase = omega * t + float(_rand(gen, 1, hi=2 * math.pi))
            abd[:, arm] = 55 + 60 * raise_ + 10 * torch.sin(phase + 1.0)
            flex[:, arm] = float(_rand(gen, 1, lo=-15, hi=25))
            abd[:, arm + 2] = abd[:, arm] + 25 + 45 * spread + (18 + 30 * amp) * torch.sin(phase)
            flex[:, arm + 2] = flex[:, arm] + _sway(gen, t, 1, 15.0)[:, 0]
    elif action == "turn":
        start, length = _rand(gen, 2).tolist()
        start, length = start * 0.4 * f, (0.3 + 0.6 * length) * f
        s = torch.clamp((t - start) / length, 0, 1)
        s = s * s * (3 - 2 * s)  # smoothstep
        turn = float(_rand(gen, 1, lo=70, hi=200)) * (1 if float(_rand(gen, 1)) < 0.5 else -1)
        yaw = float(_rand(gen, 1, lo=-70, hi=70)) + turn * (s - 0.5)
        step = float(_rand(gen, 1, lo=4, hi=14))
        phase = 0.3 * t
        flex[:, 4] += step * torch.sin(phase)
        flex[:, 5] -= step * torch.sin(phase)
        flex[:, 6:8] = flex[:, 4:6] - step * torch.clamp(torch.sin(phase[:, None] + torch.tensor([0.0, math.pi])), min=0)
    elif action == "jump":
        period = float(_rand(gen, 1, lo=16, hi=30))
        wave = torch.sin(2 * math.pi * t / period + float(_rand(gen, 1, hi=2 * math.pi)))
        air = torch.clamp(wave, min=0) ** 1.5
        crouch = torch.clamp(-wave, min=0) ** 1.5
        lift = float(_rand(gen, 1, lo=0.06, hi=0.2)) * air
        depth = float(_rand(gen, 1, lo=25, hi=55))
        flex[:, 4:6] += depth * crouch[:, None]
        flex[:, 6:8] = flex[:, 4:6] - 1.8 * depth * crouch[:, None]
        up = float(_rand(gen, 1, lo=60, hi=150))
        abd[:, 0:4] += up * air[:, None] * 0.6
        flex[:, 0:4] += up * air[:, None] * 0.4 - 20 * crouch[:, None]
    else:  # dance: every limb on its own slow random path
        flex = flex + _sway(gen, t, 8, 1.0, terms=3) * torch.tensor([60, 60, 70, 70, 30, 30, 35, 35])
        abd = abd + (_sway(gen, t, 8, 1.0, terms=3).abs()) * torch.tensor([90, 90, 100, 100, 25, 25, 20, 20])
        flex[:, 6:8] = torch.minimum(flex[:, 6:8], flex[:, 4:6])  # knees bend backwards only
        lean = lean * 2
    root[:, 1] = lift
    return Motion(action, torch.stack([flex, abd], -1), yaw, lean, root)


def _direction(flex: Tensor, abd: Tensor, side: Tensor) -> Tensor:
    """Unit vectors ``(..., 3)`` of segments hanging down, swung by ``flex`` and ``abd`` (radians);
    ``side`` is +1 for left limbs (outwards = +x) and -1 for right ones."""
    return torch.stack(
        [side * torch.sin(abd) * torch.cos(flex), -torch.cos(abd) * torch.cos(flex), torch.sin(flex)], -1
    )


def _rotate_x(p: Tensor, angle: Tensor) -> Tensor:
    """Rotate points ``(F, N, 3)`` about the x axis by ``angle`` ``(F,)`` radians (y towards z)."""
    c, s = torch.cos(angle)[:, None], torch.sin(angle)[:, None]
    y, z = p[..., 1], p[..., 2]
    return torch.stack([p[..., 0], c * y - s * z, s * y + c * z], -1)


def _rotate_z(p: Tensor, angle: Tensor) -> Tensor:
    """Rotate points ``(F, N, 3)`` about the z axis by ``angle`` ``(F,)`` radians (y towards x)."""
    c, s = torch.cos(angle)[:, None], torch.sin(angle)[:, None]
    x, y = p[..., 0], p[..., 1]
    return torch.stack([c * x + s * y, -s * x + c * y, p[..., 2]], -1)


def pose_points(body: Body, motion: Motion) -> Tensor:
    """Forward kinematics: world points ``(F, NUM_POINTS, 3)`` (COCO joints, then
    [EXTRA_POINTS][tarpose.data.synthetic.figure.EXTRA_POINTS]): x right on screen, y up, z towards the camera. The lower foot stands on
    the ground (y = 0) unless the motion lifts it."""
    b = body
    f = motion.angles.shape[0]
    a = torch.deg2rad(motion.angles)
    side = torch.tensor([1.0, -1.0] * 4, dtype=torch.float64)
    dirs = _direction(a[..., 0], a[..., 1], side)  # (f, 8, 3)
    p = torch.zeros(f, NUM_POINTS, 3, dtype=torch.float64)
    zero = torch.zeros(f, 3, dtype=torch.float64)

    def at(x: float, y: float, z: float) -> Tensor:
        return zero + torch.tensor([x, y, z], dtype=torch.float64)

    # legs from the pelvis (origin)
    p[:, 11], p[:, 12] = at(b.hip, 0, 0), at(-b.hip, 0, 0)
    p[:, 13] = p[:, 11] + b.thigh * dirs[:, 4]
    p[:, 14] = p[:, 12] + b.thigh * dirs[:, 5]
    p[:, 15] = p[:, 13] + b.shin * dirs[:, 6]
    p[:, 16] = p[:, 14] + b.shin * dirs[:, 7]
    foot = 0.55 * b.shin * torch.tensor([0.0, -0.15, 1.0], dtype=torch.float64)
    p[:, L_TOE], p[:, R_TOE] = p[:, 15] + foot, p[:, 16] + foot
    p[:, PELVIS] = zero
    # upper body, upright, then leaned about the pelvis
    p[:, NECK] = at(0, b.torso, 0)
    p[:, 5], p[:, 6] = at(b.shoulder, b.torso - 0.02, 0), at(-b.shoulder, b.torso - 0.02, 0)
    p[:, 7] = p[:, 5] + b.upper_arm * dirs[:, 0]
    p[:, 8] = p[:, 6] + b.upper_arm * dirs[:, 1]
    p[:, 9] = p[:, 7] + b.forearm * dirs[:, 2]
    p[:, 10] = p[:, 8] + b.forearm * dirs[:, 3]
    p[:, L_HAND] = p[:, 9] + 0.4 * b.forearm * dirs[:, 2]
    p[:, R_HAND] = p[:, 10] + 0.4 * b.forearm * dirs[:, 3]
    r = b.head
    head = at(0, b.torso + b.neck + r, 0)
    p[:, HEAD] = head
    p[:, 0] = head + at(0, -0.2 * r, 0.95 * r)  # nose
    p[:, 1], p[:, 2] = head + at(0.38 * r, 0.15 * r, 0.82 * r), head + at(-0.38 * r, 0.15 * r, 0.82 * r)
    p[:, 3], p[:, 4] = head + at(0.97 * r, 0.0, -0.1 * r), head + at(-0.97 * r, 0.0, -0.1 * r)
    p[:, HAIR] = head + at(0, 0.3 * r, -0.4 * r)
    upper = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, NECK, HEAD, L_HAND, R_HAND, HAIR]
    lean = torch.deg2rad(motion.lean)
    p[:, upper] = _rotate_z(_rotate_x(p[:, upper], lean[:, 0]), lean[:, 1])
    # turn about the vertical axis, stand on the ground
    yaw = torch.deg2rad(motion.yaw)[:, None]
    x, z = p[..., 0], p[..., 2]
    p = torch.stack([torch.cos(yaw) * x + torch.sin(yaw) * z, p[..., 1], -torch.sin(yaw) * x + torch.cos(yaw) * z], -1)
    feet = p[:, [15, 16, L_TOE, R_TOE], 1].amin(-1) - 0.5 * b.leg_radius
    p[..., 1] -= feet[:, None]
    p[..., 0] += motion.root[:, None, 0]
    p[..., 1] += motion.root[:, None, 1]
    return p
