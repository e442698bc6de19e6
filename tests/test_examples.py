"""Every script in examples/ runs as a user would run it (tiny settings, offline)."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import ROOT, hf_vitpose

EXAMPLES = ROOT / "examples"


def run_example(name: str, *args: str, timeout: int = 600) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        capture_output=True, text=True, env=env, timeout=timeout,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_retrofit_transformers(tmp_path):
    hf_vitpose("simple").save_pretrained(tmp_path / "vitpose")  # transformers' own save
    out = run_example("retrofit_transformers.py", "--model", str(tmp_path / "vitpose"), "--frames", "3")
    lines = {line.split("=")[0].strip(): line for line in out.splitlines()}
    for key in ("max |wrapped - single-frame|", "max |tarpose ViTPose - single|"):
        assert float(lines[key].split("=")[1]) < 1e-4, out


def test_convert_official(tmp_path):
    from test_convert import reference_checkpoint

    reference_checkpoint(tmp_path / "tar.pt", width=384)  # a ViT-S width (its heads are known)
    out = run_example("convert_official.py", str(tmp_path / "tar.pt"), str(tmp_path / "converted"),
                      "--img-size", "64", "48")
    assert "token_layout='official'" in out and "finite: True" in out
    assert (tmp_path / "converted" / "model.safetensors").is_file()


def test_every_example_is_tested():
    source = (ROOT / "tests" / "test_examples.py").read_text()
    for script in EXAMPLES.glob("*.py"):
        assert f'"{script.name}"' in source, f"examples/{script.name} has no test"
