"""Counts read as English wherever the command line prints them: "1 frame", "2 frames"."""

from __future__ import annotations

import json

import pytest

from tarpose.cli import counted, main


@pytest.mark.parametrize("n,text", [(0, "0 frames"), (1, "1 frame"), (2, "2 frames"), (11, "11 frames")])
def test_counted(n, text):
    assert counted(n, "frame") == text
    assert counted(n, "person", "people").endswith("person" if n == 1 else "people")


def test_evaluate_says_1_frame(tmp_path, capsys):
    from test_posetrack_eval import person, pose, video

    gt = video([person(1, pose((100, 100)))], frames=1)
    pred = video([person(1, pose((100, 100)), 0.9)], frames=1)
    for name, data in (("gt", gt), ("pred", pred)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "000001_test.json").write_text(json.dumps(data))
    assert main(["evaluate", "posetrack", str(tmp_path / "gt"), str(tmp_path / "pred")]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert ", 1 frame, " in first and "1 frames" not in first, first
