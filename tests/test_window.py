"""The one frame window: its rule, written out, and every user of it agreeing with it."""

from __future__ import annotations

import pytest
import torch
from conftest import tiny_vitpose

import tarpose
from tarpose import Window
from tarpose.data.synthetic import SyntheticPoseDataset
from tarpose.inference import SingleFrameModel, StreamingPredictor
from tarpose.window import window_of


def reference(t: int, n: int, length: int, target: str) -> tuple[list[int], list[bool]]:
    """The paper's rule written out: frames t-T..t+T (or t-length+1..t), clamped, flagged."""
    first = t - length // 2 if target == "centred" else t - length + 1
    wanted = list(range(first, first + length))
    return [min(max(f, 0), n - 1) for f in wanted], [0 <= f < n for f in wanted]


@pytest.mark.parametrize("length,target", [(1, "centred"), (5, "centred"), (7, "centred"), (1, "last"), (4, "last")])
def test_indices_follow_the_rule_at_every_frame_of_short_and_long_videos(length, target):
    window = Window(length, target)
    for n in (1, 3, 12):
        for t in range(n):
            index, valid = window.indices(t, n)
            assert (index.tolist(), valid.tolist()) == reference(t, n, length, target)
            assert valid[window.target_index] and index[window.target_index] == t
        batched, valid = window.indices(torch.arange(n), n)  # (n, T) at once
        assert batched.shape == valid.shape == (n, length)
        assert [row.tolist() for row in batched] == [reference(t, n, length, target)[0] for t in range(n)]


def test_offsets_target_and_lookahead():
    assert (Window(5).offsets, Window(5).target_index, Window(5).lookahead) == ((-2, -1, 0, 1, 2), 2, 2)
    assert (Window(3, "last").offsets, Window(3, "last").target_index, Window(3, "last").lookahead) == ((-2, -1, 0), 2, 0)
    assert list(Window(5).frames(10)) == [8, 9, 10, 11, 12]
    assert Window.of(5, 2) == Window(5) and Window.of(4, 3) == Window(4, "last") and Window.of(1, 0) == Window(1)
    with pytest.raises(ValueError, match="centre \\(2\\) or its last frame \\(4\\); got frame 1 of 5"):
        Window.of(5, 1)


def test_bad_windows_name_the_problem():
    with pytest.raises(ValueError, match="num_frames=4 is even: a centred window needs an odd length"):
        Window(4)
    with pytest.raises(ValueError, match="num_frames must be an integer >= 1, got 0"):
        Window(0, "last")
    with pytest.raises(ValueError, match="target must be 'centred' or 'last', got 'middle'"):
        Window(3, "middle")


def test_the_wrapper_the_dataset_the_predictor_and_the_single_frame_model_share_it():
    for window in (Window(5), Window(3, "last")):
        wrapper = tarpose.TemporalWrapper(tiny_vitpose(), num_frames=window.length, target=window.target)
        assert wrapper.window == window and window_of(wrapper) == window
        assert (wrapper.num_frames, wrapper.target_index) == (window.length, window.target_index)
        data = SyntheticPoseDataset(num_videos=1, video_length=4, num_frames=window.length, target=window.target,
                                    input_size=(64, 48))
        assert data.window == window
        for t in range(4):  # the frames the dataset crops are the window's
            assert data[t]["frame_valid"].tolist() == window.indices(t, 4)[1].tolist()
        predictor = StreamingPredictor(wrapper)
        assert predictor.window == window
        assert predictor.mode == ("causal" if window.lookahead == 0 else "centred")
    assert window_of(SingleFrameModel(tiny_vitpose())) == Window(1)
