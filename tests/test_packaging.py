"""The wheel a user installs carries what tarpose needs at run time (the bundled demo weights)."""

from __future__ import annotations

import subprocess
import sys
import zipfile

import pytest
from conftest import ROOT

from tarpose.demo import DEMO_MODELS

pytest.importorskip("hatchling")


@pytest.mark.slow
def test_wheel_ships_the_demo_weights_and_the_cli(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path), str(ROOT)], check=True, capture_output=True, timeout=300)
    (wheel,) = tmp_path.glob("tarpose-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        for directory in DEMO_MODELS:
            for file in ("config.json", "model.safetensors", "README.md"):
                info = archive.getinfo(f"tarpose/assets/{directory}/{file}")
                assert info.file_size == (ROOT / "tarpose" / "assets" / directory / file).stat().st_size
        entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        assert "tarpose = tarpose.cli:main" in archive.read(entry_points).decode()
    assert not any(n.startswith("tests/") or "__pycache__" in n for n in names)
