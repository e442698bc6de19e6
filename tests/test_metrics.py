"""Keypoint metrics: PCK, OKS, COCO OKS AP (equal to pycocotools' COCOeval), jitter."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import ROOT

from tarpose.eval import (
    OKS_THRESHOLDS,
    bbox_size,
    head_size,
    jitter,
    oks,
    oks_ap,
    oks_ap_cocoeval,
    pck,
    pck_per_joint,
)
from tarpose.keypoints import COCO_SIGMAS

# ------------------------------------------------------------------------------------ PCK


def test_pck_counts_labelled_joints_within_threshold_of_each_samples_norm():
    gt = torch.zeros(2, 3, 2)
    pred = gt.clone()
    pred[0, 0, 0] = 4.0  # sample 0, norm 100: 0.04 -> correct at 0.05
    pred[0, 1, 1] = 6.0  # 0.06 -> wrong
    pred[1, 0, 0] = 6.0  # sample 1, norm 200: 0.03 -> correct
    pred[1, 1] = torch.tensor([8.0, 6.0])  # |(8, 6)| = 10 -> 0.05 exactly: correct (<=)
    pred[1, 2, 0] = 50.0  # wrong, but unlabelled
    visible = torch.tensor([[1, 1, 1], [1, 1, 0]])
    norm = torch.tensor([100.0, 200.0])
    assert pck(pred, gt, visible, norm, 0.05) == pytest.approx(4 / 5)
    per_joint = pck_per_joint(pred, gt, visible, norm, 0.05)
    assert per_joint.tolist() == [1.0, 0.5, 1.0]
    assert pck(pred.numpy(), gt.numpy(), visible.numpy(), 100.0, 0.05) == pytest.approx(2 / 5)
    assert math.isnan(pck(pred, gt, torch.zeros(2, 3), norm))
    assert math.isnan(pck_per_joint(pred, gt, torch.tensor([[1, 0, 0], [1, 0, 0]]), norm)[1])


def test_norm_helpers():
    boxes = torch.tensor([[10.0, 20.0, 30.0, 80.0], [0.0, 0.0, 50.0, 40.0]])
    assert bbox_size(boxes).tolist() == [80.0, 50.0]
    assert head_size(torch.tensor([[0.0, 0.0, 30.0, 40.0]])).tolist() == [pytest.approx(30.0)]


def test_pck_bad_input():
    gt = torch.zeros(2, 3, 2)
    with pytest.raises(ValueError, match="norm must be"):
        pck(gt, gt, torch.ones(2, 3), torch.tensor([1.0, 0.0]))
    with pytest.raises(ValueError, match=r"visible must be \(N, K\)"):
        pck(gt, gt, torch.ones(2, 4), 1.0)
    with pytest.raises(ValueError, match="shapes do not agree"):
        pck(gt, torch.zeros(3, 3, 2), torch.ones(2, 3), 1.0)
    with pytest.raises(ValueError, match="norm must be a scalar or"):
        pck(gt, gt, torch.ones(2, 3), torch.ones(3))


# ------------------------------------------------------------------------------------ OKS


def test_oks_formula_by_hand():
    # one labelled joint at distance d with d^2 = 2 * area * (2 sigma)^2 * ln 2  ->  exp(-ln 2)
    area, sigma = 400.0, COCO_SIGMAS[0]
    d = math.sqrt(2 * area * (2 * sigma) ** 2 * math.log(2))
    gt = torch.zeros(1, 17, 2)
    pred = gt.clone()
    pred[0, 0, 0] = d
    pred[0, 5, 0] = 1e4  # far, but unlabelled
    visible = torch.zeros(1, 17)
    visible[0, [0, 1]] = 1  # joint 1 exact -> 1
    assert oks(pred, gt, visible, torch.tensor([area])).item() == pytest.approx((0.5 + 1.0) / 2)
    # broadcasting gives the (D, G) matrix
    matrix = oks(
        pred[:, None].expand(3, 2, 17, 2),
        gt.expand(2, 17, 2),
        visible.expand(2, 17),
        torch.tensor([area, area]),
    )
    assert matrix.shape == (3, 2) and torch.allclose(
        matrix, torch.full((3, 2), 0.75, dtype=torch.float64)
    )
    assert math.isnan(oks(pred, gt, torch.zeros(1, 17), torch.tensor([area])).item())
    with pytest.raises(ValueError, match="sigmas"):
        oks(torch.zeros(1, 5, 2), torch.zeros(1, 5, 2), torch.ones(1, 5), torch.ones(1))


def test_oks_ap_by_hand():
    # four images, one person and one prediction each; scores rank them correct, wrong, correct,
    # wrong -> recall .25 .25 .5 .5, envelope precision 1 2/3 2/3 1/2: 26 recall points at
    # precision 1, 25 at 2/3, 50 at 0.
    g = torch.Generator().manual_seed(0)
    gt = torch.rand(4, 17, 2, generator=g) * 100
    pred = gt.clone()
    pred[[1, 3]] += 500.0
    scores = torch.tensor([0.9, 0.8, 0.7, 0.6])
    result = oks_ap(pred, scores, gt, torch.ones(4, 17), torch.full((4,), 1e4))
    expected = (26 + 25 * 2 / 3) / 101
    assert result.ap == pytest.approx(expected, abs=1e-12)
    assert result.at(0.5) == pytest.approx(expected) and result.at(0.95) == pytest.approx(expected)
    assert result.ar == pytest.approx(0.5)
    perfect = oks_ap(gt, scores, gt, torch.ones(4, 17), torch.full((4,), 1e4))
    assert perfect.ap == pytest.approx(1.0) and perfect.ar == pytest.approx(1.0)


def test_oks_ap_needs_boxes_for_people_without_labelled_joints():
    visible = torch.ones(2, 17)
    visible[1] = 0
    with pytest.raises(ValueError, match="pass gt_boxes"):
        oks_ap(torch.zeros(2, 17, 2), torch.ones(2), torch.zeros(2, 17, 2), visible, torch.ones(2))
    with pytest.raises(ValueError, match="counts must agree"):
        oks_ap(
            torch.zeros(3, 17, 2),
            torch.ones(3),
            torch.zeros(2, 17, 2),
            torch.ones(2, 17),
            torch.ones(2),
        )
    with pytest.raises(ValueError, match="gt_areas"):
        oks_ap(torch.zeros(2, 17, 2), torch.ones(2), torch.zeros(2, 17, 2), torch.ones(2, 17))
    with pytest.raises(ValueError, match="both pred_image_ids and gt_image_ids"):
        oks_ap(
            torch.zeros(2, 17, 2),
            torch.ones(2),
            torch.zeros(2, 17, 2),
            torch.ones(2, 17),
            torch.ones(2),
            pred_image_ids=[0, 1],
        )


def random_case(seed: int) -> dict:
    """A multi-person COCO-like evaluation with everything COCOeval distinguishes: several people
    per image, images without people or without predictions, crowd and unlabelled people (with
    boxes), duplicate and missing predictions, tied scores, varied areas and errors."""
    rng = np.random.default_rng(seed)
    k = 17
    gts, gvis, gboxes, gareas, gimg, crowd = [], [], [], [], [], []
    preds, scores, pimg = [], [], []
    for image in rng.permutation(12)[: rng.integers(4, 12)] * 7 + 3:  # unsorted, sparse ids
        n_people = rng.integers(0, 5)
        for _ in range(n_people):
            w, h = rng.uniform(10, 250, size=2)
            x0, y0 = rng.uniform(0, 400, size=2)
            pts = np.stack([x0 + rng.uniform(0, w, k), y0 + rng.uniform(0, h, k)], -1)
            vis = rng.random(k) < rng.choice([0.0, 0.3, 0.9, 1.0], p=[0.1, 0.2, 0.4, 0.3])
            gts.append(pts)
            gvis.append(vis)
            gboxes.append([x0, y0, w, h])
            gareas.append(w * h * rng.uniform(0.4, 0.9))
            gimg.append(image)
            crowd.append(rng.random() < 0.08)
            for _ in range(rng.choice([0, 1, 1, 1, 2])):  # missed, found, duplicated
                noise = rng.normal(0, rng.choice([0.5, 3, 10, 40]), size=(k, 2))
                preds.append(pts + noise)
                scores.append(rng.choice([rng.random(), 0.5]))  # some exact ties
                pimg.append(image)
        for _ in range(rng.integers(0, 3)):  # false positives
            preds.append(rng.uniform(0, 600, size=(k, 2)))
            scores.append(rng.random())
            pimg.append(image)
    if not gts:  # keep one person so that AP is defined
        gts, gvis, gboxes, gareas, gimg, crowd = (
            [np.ones((k, 2))],
            [np.ones(k, bool)],
            [[0, 0, 5, 5]],
            [25.0],
            [3],
            [False],
        )
    if not preds:
        preds, scores, pimg = [np.ones((k, 2))], [0.3], [3]
    return dict(
        pred_keypoints=np.stack(preds),
        pred_scores=np.array(scores),
        gt_keypoints=np.stack(gts),
        gt_visible=np.stack(gvis),
        gt_areas=np.array(gareas),
        gt_boxes=np.array(gboxes),
        pred_image_ids=np.array(pimg),
        gt_image_ids=np.array(gimg),
        gt_crowd=np.array(crowd),
    )


def assert_same(a, b):
    np.testing.assert_allclose(a.ap_per_threshold, b.ap_per_threshold, rtol=0, atol=1e-12)
    np.testing.assert_allclose(a.recall_per_threshold, b.recall_per_threshold, rtol=0, atol=1e-12)
    assert a.ap == pytest.approx(b.ap, abs=1e-12, nan_ok=True)


@pytest.mark.parametrize("seed", range(12))
def test_oks_ap_equals_pycocotools(seed):
    pytest.importorskip("pycocotools")
    case = random_case(seed)
    mine = oks_ap(**case)
    assert 0.0 < mine.ap < 1.0  # informative cases, not all-or-nothing
    assert_same(mine, oks_ap_cocoeval(**case))
    for area_range in ("medium", "large"):
        assert_same(
            oks_ap(**case, area_range=area_range), oks_ap_cocoeval(**case, area_range=area_range)
        )
    few = dict(max_dets=2, thresholds=(0.3, 0.62, 0.9))
    assert_same(oks_ap(**case, **few), oks_ap_cocoeval(**case, **few))


def test_oks_ap_top_down_form_equals_pycocotools():
    pytest.importorskip("pycocotools")
    rng = np.random.default_rng(3)
    gt = rng.uniform(0, 200, size=(30, 17, 2))
    pred = gt + rng.normal(0, 4, size=gt.shape) * rng.uniform(0.1, 3, size=(30, 1, 1))
    visible = rng.random((30, 17)) < 0.8
    args = (pred, rng.random(30), gt, visible, rng.uniform(500, 20000, 30))
    assert_same(oks_ap(*args), oks_ap_cocoeval(*args))
    assert_same(oks_ap(*map(torch.as_tensor, args)), oks_ap(*args))


def test_oks_ap_without_counted_people_is_nan():
    visible = torch.ones(1, 17)
    result = oks_ap(
        torch.zeros(1, 17, 2),
        torch.ones(1),
        torch.zeros(1, 17, 2),
        visible,
        torch.ones(1),
        gt_crowd=[True],
    )
    assert math.isnan(result.ap)
    assert (
        OKS_THRESHOLDS[0] == 0.5
        and OKS_THRESHOLDS[-1] == pytest.approx(0.95)
        and len(OKS_THRESHOLDS) == 10
    )


# ---------------------------------------------------------------------------------- jitter


def test_jitter_is_mean_second_difference():
    t = torch.arange(6, dtype=torch.float64)
    steady = torch.stack([3 * t + 1, -2 * t], -1)[:, None]  # (T, 1, 2): constant velocity
    assert jitter(steady) == 0.0
    parabola = torch.stack([t**2, torch.zeros_like(t)], -1)[:, None]  # acceleration 2 px/frame^2
    assert jitter(parabola) == pytest.approx(2.0)
    zigzag = torch.tensor([[0.0, 0], [1, 0], [0, 0], [1, 0], [0, 0]])[:, None]  # |a| = 2 each
    both = torch.cat([zigzag, torch.zeros(5, 1, 2)], 1)  # a second, still joint
    assert jitter(both) == pytest.approx(1.0)
    assert jitter(both, reference=both) == 0.0
    assert jitter(parabola, reference=steady) == pytest.approx(2.0)  # steady has no acceleration


def test_jitter_leaves_out_triples_that_touch_a_gap():
    x = torch.tensor([0.0, 0, 0, 100, 0, 0, 0])  # an outlier at frame 3
    track = torch.stack([x, torch.zeros(7)], -1)[:, None]  # (7, 1, 2)
    assert jitter(track) == pytest.approx((100 + 200 + 100) / 5)
    valid = torch.tensor([1, 1, 1, 0, 1, 1, 1]).bool()  # the outlier frame marked invalid
    assert jitter(track, valid) == 0.0  # triples (0,1,2) and (4,5,6) remain, both steady
    per_joint = valid[:, None].expand(7, 1)
    assert jitter(track, per_joint) == 0.0
    assert math.isnan(jitter(track, torch.tensor([1, 1, 0, 1, 1, 0, 1]).bool()))  # no run of 3
    batched = torch.stack([track, 2 * track])  # (2, 7, 1, 2)
    assert jitter(batched) == pytest.approx((80 + 160) / 2)
    with pytest.raises(ValueError, match="valid must be"):
        jitter(track, torch.ones(6))
    with pytest.raises(ValueError, match=r"keypoints must be \(\.\.\., T, K, 2\)"):
        jitter(torch.zeros(5, 2))


def test_eval_package_is_import_light():
    code = (
        "import sys, tarpose.eval; assert 'pycocotools' not in sys.modules, 'pycocotools imported'"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
