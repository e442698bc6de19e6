"""Track id labels: readable on every track colour, and never on top of one another."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tarpose.inference import FramePoses
from tarpose.io import draw_poses, label_positions, label_size, text_color
from tarpose.io.font import text_mask
from tarpose.io.render import PALETTE, contrast_ratio, relative_luminance, track_color


def test_contrast_ratio_matches_wcag_reference_values():
    """WCAG 2's published anchors: black on white 21:1, #767676 on white 4.54:1 (the lightest
    grey that passes AA for text), #777777 4.48:1 (the darkest that fails)."""
    white, black = (255, 255, 255), (0, 0, 0)
    assert relative_luminance(white) == pytest.approx(1.0) and relative_luminance(black) == 0.0
    assert contrast_ratio(black, white) == pytest.approx(21.0)
    assert contrast_ratio((118, 118, 118), white) == pytest.approx(4.54, abs=0.005)
    assert contrast_ratio((119, 119, 119), white) == pytest.approx(4.48, abs=0.005)
    assert contrast_ratio(white, (118, 118, 118)) == contrast_ratio((118, 118, 118), white)


@pytest.mark.parametrize("background", [*PALETTE, (128, 128, 128), (118, 118, 118), (0, 0, 255), (255, 255, 0)])
def test_text_colour_is_the_more_legible_of_black_and_white(background):
    chosen = text_color(background)
    other = (255, 255, 255) if chosen == (0, 0, 0) else (0, 0, 0)
    assert chosen in ((0, 0, 0), (255, 255, 255))
    assert contrast_ratio(chosen, background) >= contrast_ratio(other, background)
    assert contrast_ratio(chosen, background) >= 4.5  # WCAG AA for text, on any background


def test_dark_track_colours_get_white_ids_and_light_ones_black():
    assert text_color(track_color(14)) == (255, 255, 255)  # (128, 0, 0): the dark red of the issue
    assert text_color(track_color(2)) == (0, 0, 0)  # (255, 225, 25): yellow


def poses_at(boxes: list[list[float]], ids: list[int]) -> FramePoses:
    """People with these boxes and no visible joint (only boxes and labels get drawn)."""
    n = len(ids)
    return FramePoses(0, ids, torch.tensor(boxes, dtype=torch.float64), torch.zeros(n, 17, 2, dtype=torch.float64),
                      torch.zeros(n, 17))


def rects_overlap(a, b) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def test_labels_of_people_side_by_side_do_not_overlap_and_each_is_drawn_whole():
    """Five people whose boxes start a few pixels apart (a group walking together): every label
    lands in the frame, none overlaps another, and each shows its whole id, in its contrasting
    colour on its track's colour, in the pixels of the frame."""
    ids = [14, 2, 123, 0, 7]
    boxes = [[60.0 + 4 * k, 80.0 + 2 * k, 30.0, 70.0] for k in range(len(ids))]
    frame = np.full((200, 240, 3), 40, np.uint8)
    corners = label_positions(boxes, [str(i) for i in ids], frame.shape[:2])
    rects = [(x, y, label_size(str(i))[1], label_size(str(i))[0]) for (x, y), i in zip(corners, ids)]
    for a in range(len(rects)):
        x, y, w, h = rects[a]
        assert 0 <= x and x + w <= frame.shape[1] and 0 <= y and y + h <= frame.shape[0]
        assert not any(rects_overlap(rects[a], rects[b]) for b in range(len(rects)) if b != a), rects
    drawn = draw_poses(frame, poses_at(boxes, ids), boxes=False)
    for (x, y, w, h), track_id in zip(rects, ids):
        patch = drawn[int(y) : int(y) + h, int(x) : int(x) + w]
        text = np.pad(text_mask(str(track_id)), 1).repeat(2, 0).repeat(2, 1)  # (h, w) as drawn
        assert (patch[text] == text_color(track_color(track_id))).all()
        assert (patch[~text] == track_color(track_id)).all()


def test_a_lone_label_stays_just_above_its_box():
    (x, y), = label_positions([[50.0, 60.0, 30.0, 70.0]], ["3"], (200, 200))
    assert (x, y) == (50.0, 60.0 - label_size("3")[0] - 1)
    (x, y), = label_positions([[50.0, 0.0, 30.0, 70.0]], ["3"], (200, 200))
    assert (x, y) == (50.0, 1.0)  # no room above: inside the top edge
