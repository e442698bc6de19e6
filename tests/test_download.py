"""`tarpose download` fetches a registered model's weights and the RT-DETR detector into the Hub
cache through huggingface_hub.snapshot_download; afterwards they load with HF_HUB_OFFLINE=1 and
`tarpose models` marks them cached. The Hub is a local folder here: snapshot_download is
replaced by a copy from it into a hand-made cache (tests/hub_cache.py), never the network."""

from __future__ import annotations

import fnmatch

import huggingface_hub
import pytest
import torch
from huggingface_hub import constants

import tarpose
from conftest import hf_vitpose
from hub_cache import populate
from tarpose.cli import main
from tarpose.cli.download import PATTERNS, human
from tarpose.models import PretrainedCfg, registry
from tarpose.models.pretrained import PRETRAINED

X = torch.randn(2, 3, 64, 48, generator=torch.Generator().manual_seed(4))


@pytest.fixture
def fake_hub(tmp_path, monkeypatch):
    """``(remote, cache, calls)``: repos are folders ``remote/ORG/NAME``; snapshot_download copies
    the files its patterns allow into the cache (HF_HUB_CACHE) and returns the snapshot folder."""
    remote, cache, calls = tmp_path / "remote", tmp_path / "hf-cache", []
    cache.mkdir()
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)

    def snapshot_download(repo_id, *, revision=None, allow_patterns=None, **kw):
        calls.append({"repo_id": repo_id, "revision": revision, "allow_patterns": allow_patterns, **kw})
        assert not constants.HF_HUB_OFFLINE, "downloaded while offline"
        folder = remote / repo_id
        if not folder.is_dir():
            raise OSError(f"404 Client Error for {repo_id}")
        files = {p.name: p for p in folder.iterdir()
                 if allow_patterns is None or any(fnmatch.fnmatch(p.name, pat) for pat in allow_patterns)}
        commit = populate(cache, repo_id, files, branch=revision or "main")
        return str(cache / f"models--{repo_id.replace('/', '--')}" / "snapshots" / commit)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    return remote, cache, calls


@pytest.fixture
def tiny_entry(monkeypatch, fake_hub):
    """A registered 'test-tiny' (+ 'tar-test-tiny') whose pretrained weights are the Hub repo
    tarpose-test/tiny-hf: a transformers ViTPose as save_pretrained writes it, and a README."""
    remote, _, _ = fake_hub
    hf = hf_vitpose("simple")
    hf.save_pretrained(remote / "tarpose-test" / "tiny-hf")
    (remote / "tarpose-test" / "tiny-hf" / "README.md").write_text("# a model card the download skips\n")
    tiny = dict(input_size=(64, 48), embed_dim=32, depth=2, num_heads=4, num_joints=5, decoder="simple")
    monkeypatch.setitem(registry.MODELS._entries, "test-tiny", lambda **kw: tarpose.ViTPose(**{**tiny, **kw}))
    monkeypatch.setitem(registry.MODELS._entries, "tar-test-tiny",
                        lambda **kw: tarpose.TemporalWrapper(tarpose.ViTPose(**tiny), **kw))
    cfg = PretrainedCfg("tarpose-test/tiny-hf", input_size=(64, 48), num_joints=5)
    monkeypatch.setitem(PRETRAINED._entries, "test-tiny", cfg)
    monkeypatch.setitem(PRETRAINED._entries, "tar-test-tiny", cfg)
    return hf


def models_line(capsys, name: str) -> list[str]:
    assert main(["models", name]) == 0
    return next(line.split() for line in capsys.readouterr().out.splitlines() if line.startswith(name + " "))


def test_download_then_everything_runs_offline(tiny_entry, fake_hub, capsys, monkeypatch):
    remote, cache, calls = fake_hub
    assert models_line(capsys, "test-tiny")[3] == "no"
    assert main(["download", "test-tiny", "tar-test-tiny"]) == 0
    out = capsys.readouterr().out
    assert calls == [{"repo_id": "tarpose-test/tiny-hf", "revision": None, "allow_patterns": list(PATTERNS)}]
    wanted = [p for p in (remote / "tarpose-test" / "tiny-hf").iterdir() if p.suffix in (".json", ".safetensors")]
    size = sum(p.stat().st_size for p in wanted)
    assert f"test-tiny (tarpose-test/tiny-hf): {len(wanted)} files, {human(size)} in {cache}" in out, out
    assert "tar-test-tiny: the weights of test-tiny (tarpose-test/tiny-hf)" in out
    assert not list(cache.rglob("README.md"))  # only configs and weights

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)  # HF_HUB_OFFLINE=1 from here on
    assert models_line(capsys, "test-tiny")[3] == "cached"
    assert models_line(capsys, "vitpose-demo")[3] == "bundled"
    # latency in frames: the centred demo TAR trails by its look-ahead, the causal one not at all
    assert [models_line(capsys, n)[2] for n in ("vitpose-demo", "tar-vitpose-demo", "tar-vitpose-demo-causal")] == ["0", "2", "0"]
    with torch.no_grad():
        expected = tiny_entry(X).heatmaps
        model = tarpose.create_model("test-tiny", pretrained=True)
        torch.testing.assert_close(model(X), expected, atol=1e-4, rtol=0)
        assert isinstance(tarpose.create_model("tar-test-tiny", pretrained=True), tarpose.TemporalWrapper)
    assert main(["download", "test-tiny"]) == 0  # offline and cached: found, not downloaded
    assert len(calls) == 1 and f"{len(wanted)} files, {human(size)} in {cache}" in capsys.readouterr().out


def test_download_rtdetr_then_the_detector_loads_offline(fake_hub, capsys, monkeypatch):
    from test_detection import tiny_rtdetr

    from tarpose.detection import DEFAULT_RTDETR, RTDetrDetector

    remote, _, calls = fake_hub
    tiny_rtdetr(remote / DEFAULT_RTDETR)
    assert main(["download", "rtdetr"]) == 0
    assert calls[0]["repo_id"] == DEFAULT_RTDETR and f"rtdetr ({DEFAULT_RTDETR}): 3 files" in capsys.readouterr().out
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    frames = [torch.randint(0, 256, (120, 160, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(t)).numpy()
              for t in range(2)]
    cached = RTDetrDetector(DEFAULT_RTDETR, score_threshold=0.01).detect(frames, [0, 1])
    local = RTDetrDetector(remote / DEFAULT_RTDETR, score_threshold=0.01).detect(frames, [0, 1])
    assert sum(len(d) for d in cached) > 0
    for a, b in zip(cached, local):
        assert torch.equal(a.boxes, b.boxes) and torch.equal(a.scores, b.scores)


def test_any_hub_repo_id_and_the_errors(fake_hub, capsys, monkeypatch):
    remote, _, calls = fake_hub
    (remote / "someone" / "weights").mkdir(parents=True)
    (remote / "someone" / "weights" / "config.json").write_text("{}")
    (remote / "someone" / "weights" / "model.safetensors").write_bytes(b"\0" * 1500)
    assert main(["download", "someone/weights"]) == 0
    assert "someone/weights: 2 files, 1.5 kB in" in capsys.readouterr().out

    assert main(["download", "vitpose-demo"]) == 0  # bundled: nothing fetched
    assert "bundled with tarpose" in capsys.readouterr().out and len(calls) == 1

    def error_of(*argv: str) -> str:
        assert main(["download", *argv]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1, err  # one line, no traceback
        return err

    assert "vitpose-s has no pretrained weights" in error_of("vitpose-s")
    assert "did you mean 'vitpose-plus-s'" in error_of("vitpose-plus-ss")
    assert "could not download someone/missing: 404" in error_of("someone/missing")
    (remote / "someone" / "no-weights").mkdir()
    (remote / "someone" / "no-weights" / "config.json").write_text("{}")
    assert "someone/no-weights has no model.safetensors or pytorch_model.bin" in error_of("someone/no-weights")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    assert "HF_HUB_OFFLINE is set and usyd-community/vitpose-plus-small is not in the Hub cache" in error_of(
        "vitpose-plus-s")


def test_sizes_read_as_the_hub_shows_them():
    assert [human(n) for n in (841, 5_110, 172_400_000, 3_600_000_000)] == ["841 B", "5.1 kB", "172.4 MB", "3.6 GB"]


def test_the_readme_path_runs_offline(fake_hub, capsys, monkeypatch, tmp_path):
    """The README's real-video example with tiny stand-ins under the same repo ids: download a
    ViTPose+ (six experts) and the RT-DETR, then `tarpose predict` with HF_HUB_OFFLINE=1 and the
    default detector reads both from the cache."""
    import json

    import numpy as np
    from test_detection import tiny_rtdetr

    from tarpose.io import write_video
    from tarpose.detection import DEFAULT_RTDETR

    remote, _, calls = fake_hub
    hf_vitpose("classic", num_experts=6, part_features=8).save_pretrained(remote / "usyd-community" / "vitpose-plus-small")
    detector = tiny_rtdetr(remote / DEFAULT_RTDETR)
    with torch.no_grad():  # confident people, so that the tracker starts tracks (scores >= 0.6)
        for head in [detector.model.enc_score_head, *detector.model.decoder.class_embed]:
            head.bias[0] = 6.0  # label 0: person
    detector.save_pretrained(remote / DEFAULT_RTDETR)
    assert main(["download", "usyd-community/vitpose-plus-small", "rtdetr"]) == 0
    assert "2 repos" in capsys.readouterr().out and len(calls) == 2
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    assert models_line(capsys, "vitpose-plus-s")[3] == "cached"
    frames = np.random.default_rng(0).integers(0, 256, (4, 120, 160, 3), dtype=np.uint8)
    write_video(tmp_path / "street.mp4", frames, fps=10)
    out = tmp_path / "keypoints.json"
    assert main(["predict", str(tmp_path / "street.mp4"), "--model", "usyd-community/vitpose-plus-small",
                 "--out", str(out), "--quiet", "--threads", "1"]) == 0, capsys.readouterr()
    result = json.loads(out.read_text())
    assert len({p["frame"] for p in result["predictions"]}) == 4  # people found and posed in every frame
    assert len(calls) == 2  # nothing downloaded while offline
