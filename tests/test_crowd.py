"""SyntheticCrowd: figures walking past each other, with exact boxes and visibility."""

from __future__ import annotations

import pytest
import torch

from tarpose.data.synthetic.crowd import SyntheticCrowd
from tarpose.boxes import box_iou


@pytest.fixture(scope="module")
def crowd() -> SyntheticCrowd:
    return SyntheticCrowd(3, num_people=3, num_frames=24, image_size=(120, 160))


def test_figures_are_drawn_inside_their_boxes_only(crowd):
    """Wherever no box is, the frame is the empty scene; inside each visible box it is not."""
    frames = crowd.render()
    scene = crowd._scene._background_image(
        torch.arange(crowd.num_frames), torch.tensor([[1.0, 0, 0], [0, 1.0, 0]]).double().expand(24, 2, 3),
        crowd.image_size,
    ).view(24, 3, *crowd.image_size)
    scene = (scene.clamp(0, 1) * 255).round().to(torch.uint8)
    changed = (frames.int() - scene.int()).abs().amax(1) > 2  # (f, h, w)
    covered = torch.zeros_like(changed)
    for t in range(crowd.num_frames):
        for x, y, w, h in crowd.boxes[t].round().long().tolist():
            covered[t, max(y - 1, 0) : y + h + 1, max(x - 1, 0) : x + w + 1] = True
    assert not (changed & ~covered).any()
    for t in range(crowd.num_frames):
        for k in range(crowd.num_people):
            if crowd.visible[t, k] > 0.5:
                x, y, w, h = crowd.boxes[t, k].round().long().tolist()
                assert changed[t, y : y + h, x : x + w].float().mean() > 0.1


def test_visibility_is_hiding_by_nearer_figures(crowd):
    inside = crowd.area > 0
    assert ((crowd.visible > 0) <= inside).all() and (crowd.visible <= 1).all()
    nearest = int(crowd.depth_order[-1])
    assert (crowd.visible[inside[:, nearest], nearest] == 1).all()  # nobody is in front of it
    for t in range(crowd.num_frames):
        for rank, k in enumerate(crowd.depth_order.tolist()):
            if inside[t, k] and crowd.visible[t, k] < 1:  # hidden: a nearer figure's box overlaps
                nearer = [j for j in crowd.depth_order[rank + 1 :].tolist() if inside[t, j]]
                assert nearer and box_iou(crowd.boxes[t, k : k + 1].double(), crowd.boxes[t, nearer].double()).max() > 0


def test_crowds_cross_and_are_deterministic():
    crowds = [SyntheticCrowd(s, num_people=3, num_frames=48, image_size=(120, 160)) for s in range(4)]
    assert sum(c.occlusions() > 0 for c in crowds) >= 3  # the paths are timed to cross
    again = SyntheticCrowd(1, num_people=3, num_frames=48, image_size=(120, 160))
    torch.testing.assert_close(again.boxes, crowds[1].boxes, rtol=0, atol=0)
    # keypoints move with the boxes (the figures walk across)
    k = crowds[1]
    moved = (k.keypoints[-1, :, :, 0].mean(-1) - k.keypoints[0, :, :, 0].mean(-1)).abs()
    assert (moved > 20).all()
    with pytest.raises(ValueError, match="num_people"):
        SyntheticCrowd(0, num_people=0)
