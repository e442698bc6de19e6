"""RT-DETR person detection through Hugging Face transformers (``pip install "tarpose[hf]"``).

The default, ``PekingU/rtdetr_r50vd_coco_o365`` (RT-DETR R50, Objects365 pre-training, COCO
fine-tuning: the detector the transformers ViTPose guide pairs with ViTPose), is downloaded from
the Hub once and cached; ``PekingU/rtdetr_r18vd_coco_o365`` is a lighter one. Pre- and
post-processing are the model's own image processor's (its PIL path: tarpose never needs
torchvision), so boxes equal what transformers gives; tarpose keeps the person class, applies the
score threshold and, optionally, NMS.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..boxes import nms
from ..hub import HubOptions, hub_access, offline_message
from .base import Detections, PersonDetector

#: the default detector, as in the transformers ViTPose guide
DEFAULT_RTDETR = "PekingU/rtdetr_r50vd_coco_o365"
_INSTALL = 'the RT-DETR person detector needs transformers and Pillow: pip install "tarpose[hf]"'


def _import_transformers() -> Any:
    try:
        import transformers
    except ImportError as error:
        raise ImportError(_INSTALL) from error
    return transformers


class RTDetrDetector(PersonDetector):
    """People found by an RT-DETR (any transformers object detector with an image processor).

    Args:
        model: a Hub repo id or a local directory holding the model and its
            ``preprocessor_config.json`` (as ``save_pretrained`` of both writes them).
        score_threshold: lowest score kept.
        iou_threshold: suppress boxes overlapping a higher-scoring one above this IoU (``None``:
            none; RT-DETR's set prediction rarely needs it).
        batch_size: frames per forward pass.
        device: where the detector runs (the pose model's device).
        hub: how to fetch it from the Hub (revision, cache, offline...).
        person_label: the class name kept (looked up in the model's ``id2label``).
    """

    def __init__(
        self,
        model: str | os.PathLike[str] = DEFAULT_RTDETR,
        *,
        score_threshold: float = 0.3,
        iou_threshold: float | None = None,
        batch_size: int = 4,
        device: str | torch.device = "cpu",
        hub: HubOptions | None = None,
        person_label: str = "person",
    ) -> None:
        transformers = _import_transformers()
        if not 0 <= score_threshold <= 1:
            raise ValueError(f"score_threshold must be in [0, 1], got {score_threshold}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        try:
            import PIL  # noqa: F401  (the image processor's path without torchvision)
        except ImportError as error:
            raise ImportError(_INSTALL) from error
        source = str(model)
        options: dict[str, Any] = (hub or HubOptions()).download_kwargs()
        if not Path(source).is_dir():
            options["local_files_only"] = hub_access(options["local_files_only"])
        try:
            self.processor = transformers.AutoImageProcessor.from_pretrained(source, **options)
            self.model = transformers.AutoModelForObjectDetection.from_pretrained(source, **options)
        except OSError as error:
            if options["local_files_only"] and not Path(source).is_dir():
                raise FileNotFoundError(offline_message(source, "the RT-DETR detector")) from None
            raise FileNotFoundError(f"cannot load the detector {source!r}: {str(error).splitlines()[0]}") from None
        labels = {str(name).lower(): int(i) for i, name in self.model.config.id2label.items()}
        if person_label.lower() not in labels:
            raise ValueError(
                f"the detector {source!r} has no {person_label!r} class; its classes: "
                f"{', '.join(sorted(labels)[:20])}{'...' if len(labels) > 20 else ''}"
            )
        self.person = labels[person_label.lower()]
        self.source = source
        self.score_threshold = score_threshold
        self.iou_threshold = iou_threshold
        self.batch_size = batch_size
        self.device = torch.device(device)
        self.model.to(self.device).eval()

    def detect(self, frames: Sequence[np.ndarray], indices: Sequence[int]) -> list[Detections]:
        out: list[Detections] = []
        for start in range(0, len(frames), self.batch_size):
            out.extend(self._batch(frames[start : start + self.batch_size]))
        return out

    @torch.inference_mode()
    def _batch(self, frames: Sequence[np.ndarray]) -> list[Detections]:
        inputs = self.processor(images=[np.ascontiguousarray(f) for f in frames], return_tensors="pt")
        outputs = self.model(pixel_values=inputs["pixel_values"].to(self.device))
        sizes = [(int(f.shape[0]), int(f.shape[1])) for f in frames]
        results = self.processor.post_process_object_detection(
            outputs, threshold=self.score_threshold, target_sizes=sizes
        )
        found = []
        for result in results:
            person = result["labels"] == self.person
            corners = result["boxes"][person].double().cpu()  # (n, 4) x0, y0, x1, y1
            boxes = torch.cat([corners[:, :2], corners[:, 2:] - corners[:, :2]], 1)
            scores = result["scores"][person].double().cpu()
            usable = (boxes[:, 2:] > 0).all(1)  # a degenerate box cannot be cropped
            detections = Detections(boxes[usable], scores[usable])
            if self.iou_threshold is not None and len(detections):
                detections = detections.select(nms(detections.boxes, detections.scores, self.iou_threshold))
            found.append(detections)
        return found
