"""How label-free adaptation runs: [AdaptConfig][tarpose.training.adaptation.config.AdaptConfig]."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from ...data.synthetic.corruptions import DEFAULT_WEIGHTS
from ...models.temporal import TARConfig
from ..engine import TrainConfig
from .corrupt import PLACEMENTS, Placement, check_kinds
from .teacher import Teacher, TeacherKind


@dataclass
class AdaptConfig:
    """Label-free adaptation of a base model's temporal modules. The defaults are the bundled
    ``tar-vitpose-demo``'s temporal stage (``examples/train_demo.py``): 4800 steps of 16 windows,
    AdamW at 2e-3 with 100 warm-up steps, cosine decay, weight decay 0.05, COCO joint weights.

    Args:
        steps: optimizer steps.
        batch_size: windows per step (per process).
        lr: learning rate of the temporal modules (the base is frozen).
        weight_decay: AdamW weight decay of their weight matrices.
        warmup_steps: steps of linear warm-up.
        schedule: ``"cosine"``, ``"constant"`` or ``"step"`` (see [TrainConfig][tarpose.training.TrainConfig]).
        joint_weights: ``"coco"``, ``None`` or J floats.
        clip_grad: max gradient norm (None: no clipping).
        amp: ``"auto"``, ``"off"``, ``"bf16"`` or ``"fp16"``.
        seed: seeds the corruptions, the data order and the held-out corruptions.
        workers: data-loader workers (do not change the result).
        log_every: steps between progress lines.
        save_every: steps between checkpoints.
        temporal: the temporal modules, a [TARConfig][tarpose.TARConfig] (its window sets the
            windows).
        kinds: corruption kinds and their weights
            ([KINDS][tarpose.data.synthetic.corruptions.KINDS]).
        target_rate: probability that a window's target frame is corrupted (the others stay clean,
            so clean frames keep what the base sees in them).
        neighbour_rate: probability that each other frame of a window is corrupted.
        placement: occluders over the base's joints (``"joints"``) or anywhere in the box
            (``"random"``).
        teacher: ``"heatmaps"``, ``"keypoints"`` or ``"filtered"``
            ([Teacher][tarpose.training.adaptation.teacher.Teacher]).
        teacher_filter: the filter of the ``"filtered"`` teacher.
        confidence_floor: joints the base scores below this on the clean target weigh 0 (and
            do not count in the self-consistency).
        confidence_weighting: ``"threshold"`` (1 above the floor) or ``"peak"``.
        padding: box enlargement before cropping.
        holdout: fraction of the footage held out of training to measure self-consistency on
            (blocks of ``holdout_block`` consecutive frames; 0: none).
        holdout_block: frames per held-out block.
        cache_dtype: of the cached features and heatmaps (``"float16"`` or ``"float32"``).
        min_track_length: tracks with fewer frames are left out (default: the window's length).
    """

    steps: int = 4800
    batch_size: int = 16
    lr: float = 2e-3
    weight_decay: float = 0.05
    warmup_steps: int = 100
    schedule: Literal["constant", "step", "cosine"] = "cosine"
    joint_weights: str | list[float] | None = "coco"
    clip_grad: float | None = None
    amp: Literal["auto", "off", "bf16", "fp16"] = "auto"
    seed: int = 0
    workers: int = 0
    log_every: int = 50
    save_every: int = 250
    temporal: TARConfig = field(default_factory=TARConfig)
    kinds: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    target_rate: float = 0.9
    neighbour_rate: float = 0.3
    placement: Placement = "joints"
    teacher: TeacherKind = "heatmaps"
    teacher_filter: str = "median:window=5"
    confidence_floor: float = 0.1
    confidence_weighting: Literal["threshold", "peak"] = "threshold"
    padding: float = 1.25
    holdout: float = 0.1
    holdout_block: int = 32
    cache_dtype: Literal["float16", "float32"] = "float16"
    min_track_length: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.temporal, TARConfig):
            raise TypeError(f"temporal must be a TARConfig, got {type(self.temporal).__name__}")
        self.kinds = check_kinds(self.kinds)
        problems = []
        for name in ("target_rate", "neighbour_rate"):
            if not 0 <= getattr(self, name) <= 1:
                problems.append(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if self.placement not in PLACEMENTS:
            problems.append(f"placement must be one of {PLACEMENTS}, got {self.placement!r}")
        if not 0 <= self.holdout < 1:
            problems.append(f"holdout must be in [0, 1), got {self.holdout}")
        if self.holdout_block < 1:
            problems.append(f"holdout_block must be >= 1, got {self.holdout_block}")
        if self.cache_dtype not in ("float16", "float32"):
            problems.append(f"cache_dtype must be 'float16' or 'float32', got {self.cache_dtype!r}")
        if not (self.padding > 0 and math.isfinite(self.padding)):
            problems.append(f"padding must be > 0, got {self.padding}")
        if self.min_track_length is not None and self.min_track_length < 1:
            problems.append(f"min_track_length must be >= 1, got {self.min_track_length}")
        if problems:
            raise ValueError("invalid adaptation config: " + "; ".join(problems))
        self.teacher_config()  # checks the teacher's fields
        self.train_config()  # and the optimisation's

    def teacher_config(self) -> Teacher:
        """The [Teacher][tarpose.training.adaptation.teacher.Teacher] these fields describe."""
        return Teacher(self.teacher, self.confidence_floor, self.confidence_weighting, self.teacher_filter)

    def train_config(self) -> TrainConfig:
        """The [TrainConfig][tarpose.training.TrainConfig] of the training engine: the base frozen,
        the temporal modules at ``lr``."""
        return TrainConfig(
            steps=self.steps, batch_size=self.batch_size, lr=self.lr, lr_new=self.lr,
            weight_decay=self.weight_decay, schedule=self.schedule, warmup_steps=self.warmup_steps,
            clip_grad=self.clip_grad, freeze_base=True, joint_weights=self.joint_weights,
            target_frame=self.temporal.target, amp=self.amp, seed=self.seed, workers=self.workers,
            log_every=self.log_every, save_every=self.save_every,
        )

    def to_dict(self) -> dict[str, Any]:
        """The fields as JSON-able values."""
        values = asdict(self)
        values["temporal"] = self.temporal.to_dict()
        return values
