"""PoseTrack mAP (poseval rules) on hand-made files with hand-computed answers, and on real files."""

from __future__ import annotations

import copy
import json
import math

import numpy as np
import pytest
from conftest import SHARED

from tarpose.data.posetrack_format import (
    POSETRACK_EVAL_JOINTS,
    POSETRACK_KEYPOINTS,
    convert_posetrack17,
    posetrack_category,
)
from tarpose.eval.posetrack import evaluate_posetrack, inside_polygon, write_posetrack_predictions

PT18 = SHARED / "data" / "posetrack18" / "annotations"
needs_shared = pytest.mark.skipif(not PT18.is_dir(), reason="needs ../shared/data/posetrack18")

HEAD = [0.0, 0.0, 30.0, 40.0]  # diagonal 50 -> head size 30 -> a joint matches within 15 px
EVALUATED = [s for s, n in enumerate(POSETRACK_KEYPOINTS) if n in POSETRACK_EVAL_JOINTS]
ANKLES = [POSETRACK_KEYPOINTS.index("left_ankle"), POSETRACK_KEYPOINTS.index("right_ankle")]
WRISTS = [POSETRACK_KEYPOINTS.index("left_wrist"), POSETRACK_KEYPOINTS.index("right_wrist")]


def pose(origin, labelled=EVALUATED) -> np.ndarray:
    """(17, 3) x, y, v: joints of one person spread 50 px apart, unlabelled slots (0, 0, 0)."""
    kp = np.zeros((17, 3))
    for s in labelled:
        kp[s] = (origin[0] + 50 * (s % 4), origin[1] + 50 * (s // 4), 1)
    return kp


def person(image_id, kp, scores=None, **extra) -> dict:
    ann = {
        "image_id": image_id,
        "keypoints": kp.reshape(-1).tolist(),
        "bbox_head": HEAD,
        "scores": [] if scores is None else [float(scores)] * 17,
        "category_id": 1,
    }
    ann.update(extra)
    return ann


def video(annotations, frames=3, name="000001_test") -> dict:
    images = [
        {
            "id": i + 1,
            "file_name": f"images/val/{name}/{i:06d}.jpg",
            "nframes": frames,
            "is_labeled": True,
        }
        for i in range(frames)
    ]
    for n, ann in enumerate(annotations):
        ann.setdefault("id", n + 1)
    return {"images": images, "annotations": annotations, "categories": [posetrack_category()]}


def hand_case():
    """Frame 1: people A, B; frame 2: C without ankles; frame 3: nobody (not evaluated).
    Predictions: f far away (0.95), a = A (0.9), c = C plus two ankles C lacks (0.7),
    b = B with both wrists 20 px off (0.5), and one on frame 3 (ignored)."""
    a, b, c = (
        pose((100, 100)),
        pose((1000, 100)),
        pose((100, 600), [s for s in EVALUATED if s not in ANKLES]),
    )
    gt = video([person(1, a), person(1, b), person(2, c)])
    b_pred = b.copy()
    b_pred[WRISTS, 0] += 20
    c_pred = c.copy()
    c_pred[ANKLES] = pose((100, 600))[ANKLES]
    pred = video(
        [
            person(1, pose((5000, 5000)), 0.95),
            person(1, a, 0.9),
            person(2, c_pred, 0.7),
            person(1, b_pred, 0.5),
            person(3, pose((100, 100)), 0.99),
        ]
    )
    return gt, pred


def test_hand_made_case():
    result = evaluate_posetrack(*hand_case())
    # 11 joints: FP, TP, TP, TP of 3 -> envelope 0.75 over the whole recall -> 75
    # wrists: FP, TP, TP, FP of 3 -> recall 2/3 at precision 2/3 -> 44.4
    # ankles: FP, TP, FP, TP of 2 -> recall 1/2 at 1/2, then 1 at 1/2 -> 50
    summary = result.summary()
    expected = {
        "Head": 75,
        "Shoulder": 75,
        "Elbow": 75,
        "Wrist": 400 / 9,
        "Hip": 75,
        "Knee": 75,
        "Ankle": 50,
    }
    for row, value in expected.items():
        assert summary[row] == pytest.approx(value), row
    assert summary["Total"] == pytest.approx((11 * 75 + 2 * 400 / 9 + 2 * 50) / 15)
    precision, recall = result.summary("precision"), result.summary("recall")
    assert precision["Knee"] == pytest.approx(75) and precision["Wrist"] == pytest.approx(50)
    assert recall["Knee"] == pytest.approx(100) and recall["Wrist"] == pytest.approx(200 / 3)
    assert result.num_frames == 2
    assert result.num_gt[POSETRACK_EVAL_JOINTS.index("left_ankle")] == 2
    assert result.num_gt[POSETRACK_EVAL_JOINTS.index("nose")] == 3
    table = result.table()
    assert "Head" in table and "Ankl" in table and "75.0" in table and "44.4" in table


def test_each_prediction_keeps_only_its_best_person():
    # G2 is G1 moved 20 px right. p1 lies on G2 for 9 joints and on G1 for 6: PCKh .6 to G2,
    # .4 to G1, so it keeps G2 only; G2 takes p2 (PCKh 1) and p1 is left unassigned: all of its
    # joints are false positives although 6 of them match G1 -> every joint: FP, TP of 2 -> 25.
    g1 = pose((100, 100))
    g2 = g1.copy()
    g2[EVALUATED, 0] += 20
    p1 = g2.copy()
    p1[EVALUATED[:6]] = g1[EVALUATED[:6]]
    result = evaluate_posetrack(
        video([person(1, g1), person(1, g2)], 1), video([person(1, p1, 0.9), person(1, g2, 0.8)], 1)
    )
    assert result.ap == pytest.approx((25.0,) * 15)


def test_head_size_normalises_the_match():
    gt = video([person(1, pose((100, 100)))], 1)
    for offset, matched in ((14.9, True), (15.0, True), (15.1, False)):  # threshold 0.5 * 30 px
        kp = pose((100, 100))
        kp[EVALUATED, 1] += offset
        result = evaluate_posetrack(gt, video([person(1, kp, 1.0)], 1))
        assert result.summary()["Total"] == (100.0 if matched else 0.0), offset


def test_missing_scores_rank_last():
    gt = video([person(1, pose((100, 100))), person(1, pose((1000, 100)))], 1)
    far = person(1, pose((5000, 5000)))  # no scores -> -9999
    result = evaluate_posetrack(
        gt, video([person(1, pose((100, 100)), 0.5), person(1, pose((1000, 100)), 0.4), far], 1)
    )
    assert result.summary()["Total"] == pytest.approx(100.0)  # the unscored FP ranks after both TPs
    scored = copy.deepcopy(far)
    scored["scores"] = [0.6] * 17
    result = evaluate_posetrack(
        gt, video([person(1, pose((100, 100)), 0.5), person(1, pose((1000, 100)), 0.4), scored], 1)
    )
    assert result.summary()["Total"] == pytest.approx(100 * 2 / 3)  # FP, TP, TP: envelope 2/3


def test_ignore_regions_remove_joints_of_both_sides():
    kp = pose((100, 100))
    gt = video([person(1, kp)], 1)
    nose = POSETRACK_KEYPOINTS.index("nose")
    x, y = kp[nose, :2]
    gt["images"][0]["ignore_regions_x"] = [[x - 5, x + 5, x + 5, x - 5]]
    gt["images"][0]["ignore_regions_y"] = [[y - 5, y - 5, y + 5, y + 5]]
    wrong_nose = kp.copy()
    wrong_nose[nose, 0] += 3  # still inside the region: removed, so not a false positive
    result = evaluate_posetrack(gt, video([person(1, wrong_nose, 1.0)], 1))
    assert result.num_gt[POSETRACK_EVAL_JOINTS.index("nose")] == 0
    # poseval: a joint without ground truth and without predictions scores 0 and counts in Total
    assert result.ap[POSETRACK_EVAL_JOINTS.index("nose")] == 0.0
    assert result.summary()["Total"] == pytest.approx(14 * 100 / 15)
    # with a prediction left outside the region, the joint has no ground truth: NaN, left out
    outside = kp.copy()
    outside[nose, 0] += 30
    result = evaluate_posetrack(gt, video([person(1, outside, 1.0)], 1))
    assert math.isnan(result.ap[POSETRACK_EVAL_JOINTS.index("nose")])
    assert result.summary()["Total"] == pytest.approx(100.0)  # mean of the 14 other joints


def test_inside_polygon_equals_shapely():
    shapely = pytest.importorskip("shapely")
    rng = np.random.default_rng(0)
    for _ in range(20):
        n = rng.integers(3, 12)
        angles = np.sort(rng.uniform(0, 2 * np.pi, n))
        polygon = (
            np.stack([np.cos(angles), np.sin(angles)], -1) * rng.uniform(20, 100, (n, 1)) + 200
        )
        polygon = np.round(polygon)
        edges = (polygon + np.roll(polygon, -1, 0)) / 2  # edge midpoints: on the boundary
        points = np.concatenate([rng.uniform(80, 320, (300, 2)).round(), polygon, edges])
        shape = shapely.geometry.Polygon(polygon)
        expected = [shape.contains(shapely.geometry.Point(p)) for p in points]
        assert inside_polygon(points, polygon).tolist() == expected


@needs_shared
def test_real_ignore_regions_match_shapely():
    shapely = pytest.importorskip("shapely")
    data = json.loads((PT18 / "test_posetrack18_val.json").read_text())
    points = np.array([a["keypoints"] for a in data["annotations"]], float).reshape(-1, 3)[:, :2]
    points = np.concatenate([points, np.random.default_rng(0).uniform(0, 1900, (2000, 2))])
    found = 0
    for image in data["images"]:
        for xs, ys in zip(image["ignore_regions_x"], image["ignore_regions_y"]):
            polygon = np.array(list(zip(xs, ys)), float)
            shape = shapely.geometry.Polygon(polygon)
            expected = np.array([shape.contains(shapely.geometry.Point(p)) for p in points])
            assert (inside_polygon(points, polygon) == expected).all()
            found += expected.sum()
    assert found > 0


def to_posetrack17(data: dict) -> dict:
    """The same video written in the PoseTrack17 annolist layout (test-side writer)."""
    annolist = []
    for image in data["images"]:
        rects = []
        for ann in (a for a in data["annotations"] if a["image_id"] == image["id"]):
            kp = np.asarray(ann["keypoints"]).reshape(17, 3)
            points = []
            for joint, name in enumerate(POSETRACK_EVAL_JOINTS):
                x, y, v = kp[POSETRACK_KEYPOINTS.index(name)]
                if x == 0 and y == 0 and v == 0:
                    continue
                point = {"id": [joint], "x": [x], "y": [y], "is_visible": [v]}
                if ann["scores"]:
                    point["score"] = [ann["scores"][POSETRACK_KEYPOINTS.index(name)]]
                points.append(point)
            hx, hy, hw, hh = ann["bbox_head"]
            rects.append(
                {
                    "x1": [hx],
                    "y1": [hy],
                    "x2": [hx + hw],
                    "y2": [hy + hh],
                    "track_id": [0],
                    "annopoints": [{"point": points}],
                }
            )
        annolist.append(
            {
                "image": [{"name": image["file_name"]}],
                "annorect": rects,
                "is_labeled": [int(bool(rects))],
            }
        )
    return {"annolist": annolist}


def test_posetrack17_files_give_the_same_result():
    gt, pred = hand_case()
    expected = evaluate_posetrack(gt, pred)
    got = evaluate_posetrack(to_posetrack17(gt), to_posetrack17(pred))
    assert got.ap == pytest.approx(expected.ap) and got.num_gt == expected.num_gt


def test_convert_posetrack17_fields():
    data = {
        "annolist": [
            {
                "image": [{"name": "images/bonn/000342_mpii/00000001.jpg"}],
                "is_labeled": [1],
                "annorect": [
                    {
                        "x1": [10],
                        "y1": [20],
                        "x2": [40],
                        "y2": [60],
                        "track_id": [3],
                        "annopoints": [
                            {
                                "point": [
                                    {
                                        "id": [13],
                                        "x": [100.0],
                                        "y": [50.0],
                                        "is_visible": [1],
                                        "score": [0.7],
                                    },
                                    {
                                        "id": [0],
                                        "x": [120.0],
                                        "y": [250.0],
                                        "is_visible": [0],
                                        "score": [0.2],
                                    },
                                ]
                            }
                        ],
                    }
                ],
                "ignore_regions": [
                    {"point": [{"x": [1], "y": [2]}, {"x": [3], "y": [4]}, {"x": [5], "y": [9]}]}
                ],
            },
            {"image": [{"name": "images/bonn/000342_mpii/00000002.jpg"}], "annorect": []},
        ]
    }
    out = convert_posetrack17(data)
    first, second = out["images"]
    assert first["id"] == 10003420001 and first["nframes"] == 2 and first["is_labeled"] is True
    assert second["is_labeled"] is False
    assert first["ignore_regions_x"] == [[1, 3, 5]] and first["ignore_regions_y"] == [[2, 4, 9]]
    (ann,) = out["annotations"]
    kp = np.asarray(ann["keypoints"]).reshape(17, 3)
    assert kp[POSETRACK_KEYPOINTS.index("nose")].tolist() == [100, 50, 1]
    assert kp[POSETRACK_KEYPOINTS.index("right_ankle")].tolist() == [120, 250, 0]
    assert (kp[[3, 4]] == 0).all() and kp.sum() == 100 + 50 + 1 + 120 + 250
    assert ann["scores"][0] == 0.7 and ann["scores"][16] == 0.2 and ann["scores"][5] == 0
    assert ann["bbox_head"] == [10, 20, 30, 40] and ann["track_id"] == 3
    assert ann["id"] == 10003420001 * 100
    assert ann["bbox"] == pytest.approx(
        [110 - 13, 150 - 130, 26, 260]
    )  # extent x1.3 about its centre


@needs_shared
def test_real_ground_truth_against_itself_is_100():
    result = evaluate_posetrack(PT18 / "val", PT18 / "val")
    assert result.num_frames == 3 and sum(result.num_gt) > 150
    assert all(v == pytest.approx(100.0) for v in result.summary().values())
    single = evaluate_posetrack(
        PT18 / "test_posetrack18_val.json", PT18 / "test_posetrack18_val.json"
    )
    assert single.ap == result.ap and single.num_gt == result.num_gt


def evaluated_joints(data: dict, annotation_ids, shapely) -> np.ndarray:
    """Per poseval joint: annotated ground-truth joints of these people outside ignore regions."""
    images = {im["id"]: im for im in data["images"]}
    counts = np.zeros(15)
    for ann in data["annotations"]:
        if ann["id"] not in annotation_ids:
            continue
        image = images[ann["image_id"]]
        regions = [
            shapely.geometry.Polygon(list(zip(x, y)))
            for x, y in zip(image["ignore_regions_x"], image["ignore_regions_y"])
        ]
        kp = np.asarray(ann["keypoints"]).reshape(17, 3)
        for joint, name in enumerate(POSETRACK_EVAL_JOINTS):
            x, y, v = kp[POSETRACK_KEYPOINTS.index(name)]
            if not (x == 0 and y == 0 and v == 0) and not any(
                r.contains(shapely.geometry.Point(x, y)) for r in regions
            ):
                counts[joint] += 1
    return counts


@needs_shared
def test_real_files_with_perturbed_predictions(tmp_path):
    shapely = pytest.importorskip("shapely")
    gt_dir = PT18 / "val"
    pred_dir = tmp_path / "pred"
    pred_dir.mkdir()
    moved, everyone = set(), set()
    for file in sorted(gt_dir.glob("*.json")):
        data = json.loads(file.read_text())
        for n, ann in enumerate(data["annotations"]):
            everyone.add(ann["id"])
            ann["scores"] = [1.0] * 17
            if n % 3 == 1:  # every third person is predicted far away, with lower scores
                moved.add(ann["id"])
                kp = np.asarray(ann["keypoints"], float).reshape(17, 3)
                kp[kp[:, 2] > 0, :2] += 5000
                ann["keypoints"] = kp.reshape(-1).tolist()
                ann["scores"] = [0.5] * 17
        (pred_dir / file.name).write_text(json.dumps(data))
    # ranked: every kept person's joints (TP) first, then the moved ones (FP): AP = kept / all
    total = evaluated_joints(
        json.loads((PT18 / "test_posetrack18_val.json").read_text()), everyone, shapely
    )
    kept = evaluated_joints(
        json.loads((PT18 / "test_posetrack18_val.json").read_text()), everyone - moved, shapely
    )
    result = evaluate_posetrack(gt_dir, pred_dir)
    assert result.num_gt == tuple(total.astype(int))
    np.testing.assert_allclose(result.ap, 100 * kept / total)
    assert 0 < result.summary()["Total"] < 100


def shifted(data: dict, fraction: float) -> dict:
    """Every labelled joint moved diagonally by `fraction` of its person's head size."""
    data = copy.deepcopy(data)
    for ann in data["annotations"]:
        w, h = ann["bbox_head"][2:]
        kp = np.asarray(ann["keypoints"], float).reshape(17, 3)
        kp[kp[:, 2] > 0, :2] += fraction * 0.6 * math.hypot(w, h) / math.sqrt(2)
        ann["keypoints"] = kp.reshape(-1).tolist()
        ann["scores"] = [1.0] * 17
    return data


@needs_shared
def test_real_files_shifted_within_the_threshold(tmp_path):
    # 0.45 head sizes: every prediction matches its person, except joints whose shifted prediction
    # lands in an ignore region (removed there, so that ground-truth joint is missed)
    shapely = pytest.importorskip("shapely")
    gt = json.loads((PT18 / "test_posetrack18_val.json").read_text())
    pred = shifted(gt, 0.45)
    images = {im["id"]: im for im in gt["images"]}
    found, lost = np.zeros(15), np.zeros(15)
    for g, p in zip(gt["annotations"], pred["annotations"]):
        image = images[g["image_id"]]
        regions = [
            shapely.geometry.Polygon(list(zip(x, y)))
            for x, y in zip(image["ignore_regions_x"], image["ignore_regions_y"])
        ]
        g_kp, p_kp = (np.asarray(a["keypoints"]).reshape(17, 3) for a in (g, p))
        for joint, name in enumerate(POSETRACK_EVAL_JOINTS):
            slot = POSETRACK_KEYPOINTS.index(name)
            if g_kp[slot, 2] == 0 or any(
                r.contains(shapely.geometry.Point(*g_kp[slot, :2])) for r in regions
            ):
                continue
            found[joint] += 1
            lost[joint] += any(r.contains(shapely.geometry.Point(*p_kp[slot, :2])) for r in regions)
    assert lost.sum() > 0  # the real files do exercise this rule
    result = evaluate_posetrack(gt, pred)
    np.testing.assert_allclose(result.ap, 100 * (found - lost) / found)


@needs_shared
@pytest.mark.parametrize("video", ["003418_mpii_test", "012834_mpii_test"])
def test_real_files_shifted_beyond_the_threshold(video):
    # 0.55 head sizes: no joint matches (in these videos no one stands within reach of another)
    gt = json.loads((PT18 / "val" / f"{video}.json").read_text())
    assert max(evaluate_posetrack(gt, shifted(gt, 0.55)).ap) == 0.0
    assert min(v for v in evaluate_posetrack(gt, shifted(gt, 0.0)).ap if v > 0) == pytest.approx(
        100.0
    )


@needs_shared
def test_write_predictions_round_trip(tmp_path):
    predictions = []
    for file in sorted((PT18 / "val").glob("*.json")):
        for ann in json.loads(file.read_text())["annotations"]:
            kp = np.asarray(ann["keypoints"], float).reshape(17, 3)
            predictions.append(
                {"image_id": ann["image_id"], "keypoints": kp[:, :2], "scores": kp[:, 2]}
            )  # unlabelled: score 0
    written = write_posetrack_predictions(PT18 / "val", predictions, tmp_path / "out")
    assert sorted(p.name for p in written) == sorted(p.name for p in (PT18 / "val").glob("*.json"))
    assert evaluate_posetrack(PT18 / "val", tmp_path / "out").summary()["Total"] == pytest.approx(
        100.0
    )
    with pytest.raises(ValueError, match="image_id 42"):
        write_posetrack_predictions(
            PT18 / "val",
            [{"image_id": 42, "keypoints": np.zeros((17, 2)), "scores": np.ones(17)}],
            tmp_path / "x",
        )


def test_bad_input_is_named(tmp_path):
    gt, pred = hand_case()
    pred["annotations"].append(person(99, pose((0, 0)), 0.1))
    with pytest.raises(ValueError, match="image_id 99"):
        evaluate_posetrack(gt, pred)
    (tmp_path / "gt").mkdir()
    (tmp_path / "gt" / "a.json").write_text(json.dumps(gt))
    (tmp_path / "pred").mkdir()
    with pytest.raises(FileNotFoundError, match="no prediction file"):
        evaluate_posetrack(tmp_path / "gt", tmp_path / "pred")
    no_head = copy.deepcopy(gt)
    del no_head["annotations"][0]["bbox_head"]
    with pytest.raises(ValueError, match="bbox_head"):
        evaluate_posetrack(no_head, hand_case()[1])
    short = copy.deepcopy(hand_case()[1])
    short["annotations"][0]["keypoints"] = [1.0] * 10
    with pytest.raises(ValueError, match="needs 51 keypoint numbers"):
        evaluate_posetrack(gt, short)


def test_cli_prints_the_table_and_writes_json(tmp_path, capsys):
    from tarpose.cli import main

    gt, pred = hand_case()
    (tmp_path / "gt").mkdir()
    (tmp_path / "pred").mkdir()
    (tmp_path / "gt" / "000001_test.json").write_text(json.dumps(gt))
    (tmp_path / "pred" / "000001_test.json").write_text(json.dumps(pred))
    out = tmp_path / "result.json"
    assert (
        main(
            [
                "evaluate",
                "posetrack",
                str(tmp_path / "gt"),
                str(tmp_path / "pred"),
                "--json",
                str(out),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "Head" in printed and "75.0" in printed and "44.4" in printed
    saved = json.loads(out.read_text())
    assert (
        saved["ap"]["Wrist"] == pytest.approx(400 / 9) and saved["per_joint"]["nose"]["num_gt"] == 3
    )
    (tmp_path / "pred" / "000001_test.json").unlink()
    assert main(["evaluate", "posetrack", str(tmp_path / "gt"), str(tmp_path / "pred")]) == 2
    assert "no prediction file" in capsys.readouterr().err
