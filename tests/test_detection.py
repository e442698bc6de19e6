"""Person detection: the interface, NMS against OpenCV's, RT-DETR through transformers' own loading
and post-processing on a small saved model (offline), and OpenCV's HOG on real footage."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from conftest import ROOT, SHARED
from tarpose.inference import StreamingPredictor
from tarpose.boxes import box_iou
from tarpose.detection import (
    BoxesFile,
    CallableDetector,
    Detections,
    HOG_NMS_IOU,
    HOG_THRESHOLD,
    HOGDetector,
    PersonDetector,
    RTDetrDetector,
    make_detector,
    nms,
)

VTEST = SHARED / "data" / "vtest.avi"
VTEST_BOXES = ROOT / "tests" / "data" / "vtest_boxes.json"


def random_boxes(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=g, dtype=torch.float64) * 60
    wh = 10 + torch.rand(n, 2, generator=g, dtype=torch.float64) * 40
    return torch.cat([xy, wh], 1), torch.rand(n, generator=g, dtype=torch.float64)


@pytest.mark.parametrize("threshold", [0.0, 0.3, 0.5, 0.8])
def test_nms_equals_opencv(threshold):
    cv2 = pytest.importorskip("cv2")
    for seed in range(20):
        boxes, scores = random_boxes(25, seed)
        ours = nms(boxes, scores, threshold).tolist()
        theirs = cv2.dnn.NMSBoxes(boxes.tolist(), scores.tolist(), 0.0, threshold)
        assert ours == np.asarray(theirs).reshape(-1).tolist()


def test_nms_keeps_no_overlapping_pair():
    boxes, scores = random_boxes(40, 7)
    keep = nms(boxes, scores, 0.4)
    iou = box_iou(boxes[keep], boxes[keep]).fill_diagonal_(0)
    assert iou.max() <= 0.4 and scores[keep].tolist() == sorted(scores[keep].tolist(), reverse=True)
    dropped = torch.ones(len(boxes), dtype=torch.bool)
    dropped[keep] = False
    # every dropped box overlaps a better kept one
    for i in torch.nonzero(dropped).flatten():
        better = keep[scores[keep] >= scores[i]]
        assert box_iou(boxes[i : i + 1], boxes[better]).max() > 0.4
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        nms(boxes, scores, 1.5)


def test_detections_are_checked():
    with pytest.raises(ValueError, match="2 boxes but 1 scores"):
        Detections([[0, 0, 1, 1], [1, 1, 2, 2]], [0.5])
    with pytest.raises(ValueError, match="positive width"):
        Detections([[0, 0, 0, 1]], [0.5])
    d = Detections([[0, 0, 1, 1], [1, 1, 2, 2]], None, [4, 9])
    assert d.scores.tolist() == [1.0, 1.0] and d.select([1]).track_ids == [9]


def test_callable_full_frame_and_boxes_file(tmp_path):
    frame = np.zeros((30, 40, 3), np.uint8)
    d = CallableDetector(lambda f: [[1, 2, 3, 4]])(frame)
    assert d.boxes.tolist() == [[1, 2, 3, 4]] and d.scores.tolist() == [1.0] and d.track_ids is None
    d = make_detector(lambda f: ([[1, 2, 3, 4], [5, 5, 5, 5]], [0.9, 0.2]))(frame)
    assert d.scores.tolist() == [0.9, 0.2]
    d = make_detector("full-frame")(frame)
    assert d.boxes.tolist() == [[0, 0, 40, 30]] and d.track_ids == [0]
    path = tmp_path / "b.json"
    path.write_text(json.dumps([{"frame": 2, "bbox": [1, 2, 3, 4], "score": 0.7}, {"frame": 5, "bbox": [1, 1, 1, 1]}]))
    boxes = make_detector(str(path))
    assert isinstance(boxes, BoxesFile) and boxes.frames == [2, 5]
    found = boxes.detect([frame] * 3, [2, 3, 5])
    assert [len(d) for d in found] == [1, 0, 1] and found[0].scores.tolist() == [0.7]
    with pytest.raises(ValueError, match="unknown detector 'yolo'"):
        make_detector("yolo")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        make_detector(str(tmp_path / "none.json"))
    with pytest.raises(ValueError, match="rtdetr"):
        make_detector("hog", model="x/y")


def test_the_inferencer_runs_its_detector_and_tracker():
    """PoseInferencer asks its detector for each frame's boxes and its tracker for their ids; equal
    to the predictor given the same boxes and ids by hand. The predictor itself owns neither: it
    refuses boxes without ids."""
    from test_stream import random_video, temporal

    from tarpose import PoseInferencer

    model = temporal(num_frames=3)
    frames = random_video(4, seed=2).numpy()
    box = [10.0, 8.0, 40.0, 60.0]
    calls = []

    class Fixed(PersonDetector):
        def detect(self, frames, indices):
            calls.extend(indices)
            return [Detections([box], [0.9]) for _ in frames]

    found = list(PoseInferencer(model, detector=Fixed())(list(frames)))
    by_hand = list(StreamingPredictor(model).run((f, [box], [0]) for f in frames))
    assert calls == [0, 1, 2, 3] and [p.track_ids for p in found] == [[0]] * 4
    for a, b in zip(found, by_hand, strict=True):
        torch.testing.assert_close(a.keypoints, b.keypoints)
    with pytest.raises(TypeError, match="needs the track id of each box"):
        StreamingPredictor(model).push(frames[0], [box], None)


# -- RT-DETR ---------------------------------------------------------------------------------------


def tiny_rtdetr(directory, labels=("person", "bicycle", "car")):
    """A small randomly initialised RTDetrForObjectDetection and its image processor, saved with
    their own save_pretrained (what a Hub repo holds)."""
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("PIL")
    torch.manual_seed(0)
    backbone = transformers.RTDetrResNetConfig(
        embedding_size=16, hidden_sizes=[16, 32, 64, 128], depths=[1, 1, 1, 1], layer_type="basic",
        out_features=["stage2", "stage3", "stage4"],
    )
    config = transformers.RTDetrConfig(
        backbone_config=backbone, d_model=32, encoder_hidden_dim=32, encoder_ffn_dim=64,
        decoder_ffn_dim=64, encoder_in_channels=[32, 64, 128], decoder_in_channels=[32, 32, 32],
        num_queries=30, decoder_layers=1, encoder_layers=1, decoder_attention_heads=2,
        encoder_attention_heads=2, num_labels=len(labels), id2label=dict(enumerate(labels)),
        label2id={name: i for i, name in enumerate(labels)}, use_pretrained_backbone=False,
    )
    model = transformers.RTDetrForObjectDetection(config).eval()
    with torch.no_grad():  # every class among the top-scoring queries
        for head in [model.model.enc_score_head, *model.model.decoder.class_embed]:
            head.weight.normal_(0, 1.0)
            head.bias.zero_()
    model.save_pretrained(directory)  # transformers' own writer
    try:  # transformers 5: the PIL backend; 4.x: the slow processor (PIL as well)
        from transformers.models.rt_detr.image_processing_pil_rt_detr import RTDetrImageProcessorPil as Processor
    except ImportError:
        from transformers import RTDetrImageProcessor as Processor
    Processor(size={"height": 96, "width": 96}).save_pretrained(directory)
    return model


def reference_detections(directory, frames, threshold):
    """transformers' own pipeline: processor -> model -> post_process_object_detection."""
    import transformers

    processor = transformers.AutoImageProcessor.from_pretrained(directory)
    model = transformers.AutoModelForObjectDetection.from_pretrained(directory).eval()
    inputs = processor(images=list(frames), return_tensors="pt")
    with torch.no_grad():
        outputs = model(**inputs)
    return processor.post_process_object_detection(
        outputs, threshold=threshold, target_sizes=[f.shape[:2] for f in frames]
    )


@pytest.fixture(scope="module")
def saved_rtdetr(tmp_path_factory):
    directory = tmp_path_factory.mktemp("rtdetr") / "det"
    tiny_rtdetr(directory)
    return directory


def test_rtdetr_equals_transformers_person_boxes(saved_rtdetr):
    g = np.random.default_rng(0)
    frames = [g.integers(0, 256, (120, 160, 3), dtype=np.uint8), g.integers(0, 256, (90, 200, 3), dtype=np.uint8)]
    detector = RTDetrDetector(saved_rtdetr, score_threshold=0.2, batch_size=2)
    ours = detector.detect(frames, [0, 1])
    reference = reference_detections(saved_rtdetr, frames, 0.2)
    assert not detector.model.training
    for found, ref, frame in zip(ours, reference, frames):
        person = ref["labels"] == 0
        assert 0 < int(person.sum()) < len(ref["labels"])  # other classes present and dropped
        corners = ref["boxes"][person].double()
        expected = torch.cat([corners[:, :2], corners[:, 2:] - corners[:, :2]], 1)
        torch.testing.assert_close(found.boxes, expected)
        torch.testing.assert_close(found.scores, ref["scores"][person].double())
        assert (found.scores >= 0.2).all()
    # one frame at a time gives the same boxes as the batch
    detector.batch_size = 1
    for frame, batched in zip(frames, ours):
        torch.testing.assert_close(detector(frame).boxes, batched.boxes, atol=1e-4, rtol=0)
    # NMS as an option: no kept pair overlaps above the threshold
    detector.score_threshold, detector.iou_threshold = 0.0, 0.3
    suppressed = detector(frames[0])
    iou = box_iou(suppressed.boxes, suppressed.boxes).fill_diagonal_(0)
    assert len(suppressed) and iou.max() <= 0.3


def test_rtdetr_bad_sources(tmp_path):
    tiny_rtdetr(tmp_path / "cars", labels=("car", "truck"))
    with pytest.raises(ValueError, match="has no 'person' class; its classes: car, truck"):
        RTDetrDetector(tmp_path / "cars")
    with pytest.raises(FileNotFoundError, match="cannot load the detector"):
        RTDetrDetector(tmp_path)  # a directory without a model


def test_rtdetr_offline_and_uncached_fails_at_once(tmp_path, monkeypatch):
    pytest.importorskip("transformers")
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(FileNotFoundError, match="HF_HUB_OFFLINE is set") as error:
        RTDetrDetector("PekingU/rtdetr_r50vd_coco_o365")
    assert "cannot be reached" not in str(error.value)  # the network was not tried: do not blame it


# -- HOG on real footage ------------------------------------------------------------------------


def test_hog_finds_nothing_on_a_blank_frame():
    pytest.importorskip("cv2")
    assert len(HOGDetector()(np.full((300, 400, 3), 128, np.uint8))) == 0


def test_hog_defaults_are_the_measured_best():
    """HOG's default threshold and NMS are the setting of highest F1 in the benchmark's JSON
    (benchmarks/bench_hog.py), whose rows are consistent counts; make_detector and HOGDetector
    both use them, and --score-threshold's help says the default."""
    import math

    from tarpose.cli import build_parser

    results = json.loads((ROOT / "benchmarks" / "results" / "hog_threshold.json").read_text())
    rows = results["rows"]
    for row in rows:
        assert row["tp"] + row["fp"] == row["boxes"] and row["tp"] + row["fn"] == results["reference_boxes"]
        assert row["precision"] == pytest.approx(row["tp"] / row["boxes"])
        assert row["f1"] == pytest.approx(2 * row["tp"] / (2 * row["tp"] + row["fp"] + row["fn"]))
    top = max(round(row["f1"], 6) for row in rows)
    tied = [row for row in rows if round(row["f1"], 6) == top]
    best = max(tied, key=lambda row: (row["threshold"], 2.0 if row["nms_iou"] is None else row["nms_iou"]))
    assert results["best"] == {"threshold": best["threshold"], "nms_iou": best["nms_iou"]}
    assert (HOG_THRESHOLD, HOG_NMS_IOU) == (best["threshold"], best["nms_iou"]), (
        "the HOG defaults are not the benchmark's choice; re-run benchmarks/bench_hog.py")
    pytest.importorskip("cv2")
    margin = math.log(HOG_THRESHOLD / (1 - HOG_THRESHOLD))
    for detector in (make_detector("hog"), HOGDetector()):
        assert detector.hit_threshold == pytest.approx(margin) and detector.iou_threshold == HOG_NMS_IOU
    assert make_detector("hog", score_threshold=0.5).hit_threshold == 0.0
    predict = build_parser()._subparsers._group_actions[0].choices["predict"]
    help_text = next(a.help for a in predict._actions if a.dest == "score_threshold")
    assert f"{HOG_THRESHOLD:g} for hog" in help_text


@pytest.mark.slow
@pytest.mark.skipif(not VTEST.exists(), reason="../shared/data/vtest.avi is not here")
def test_hog_finds_the_pedestrians_of_vtest():
    """Real frames of vtest.avi: HOG's boxes land where the background-subtraction boxes of
    tests/data/vtest_boxes.json are (recall at IoU 0.3)."""
    pytest.importorskip("cv2")
    from tarpose.io import read_video

    frames, _ = read_video(VTEST, max_frames=100)
    truth: dict[int, list[list[float]]] = {}
    for record in json.loads(VTEST_BOXES.read_text()):
        truth.setdefault(record["frame"], []).append(record["bbox"])
    chosen = list(range(0, 100, 10))
    found = make_detector("hog").detect([frames[t] for t in chosen], chosen)
    hits = total = 0
    for t, detections in zip(chosen, found):
        expected = torch.tensor(truth[t], dtype=torch.float64)
        assert (detections.scores >= HOG_THRESHOLD).all()
        if len(detections):
            hits += int((box_iou(expected, detections.boxes).max(1).values >= 0.3).sum())
        total += len(expected)
    recall = hits / total
    print(f"HOG recall at IoU 0.3 on {len(chosen)} vtest frames: {hits}/{total} = {recall:.2f}")
    assert recall >= 0.8
