"""Training: losses, checkpoints, the engine (resume, DDP, freeze_base, lrs) and `tarpose train`."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest
import torch
from conftest import ROOT, SHARED, tiny_vitpose
from safetensors.torch import load_file
from toy_pose_data import ToyPoses

import tarpose
from tarpose.cli import main
from tarpose.keypoints import COCO_JOINT_WEIGHTS
from tarpose.training import (
    HeatmapLoss,
    TrainConfig,
    heatmap_mse,
    load_checkpoint,
    lr_factor,
    parameter_groups,
    save_checkpoint,
    train,
)

TESTS = ROOT / "tests"


def tiny_tar(**kw) -> tarpose.TemporalWrapper:
    return tarpose.TemporalWrapper(tiny_vitpose(**kw), num_frames=3, jta_depth=1)


def states_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def snapshot(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


# -- losses -----------------------------------------------------------------------------------


def test_heatmap_mse_matches_hand_computation():
    g = torch.Generator().manual_seed(1)
    pred, target = torch.rand(2, 3, 4, 5, generator=g), torch.rand(2, 3, 4, 5, generator=g)
    tw = torch.tensor([[1.0, 0.0, 1.0], [1.0, 1.0, 0.5]])
    jw = torch.tensor([1.0, 1.2, 1.5])
    total = 0.0
    for b in range(2):
        for j in range(3):
            for y in range(4):
                for x in range(5):
                    total += tw[b, j] * jw[j] * (pred[b, j, y, x] - target[b, j, y, x]) ** 2
    expected = total / (2 * 3 * 4 * 5)
    assert torch.allclose(heatmap_mse(pred, target, tw, jw), expected, rtol=1e-6)
    # without joint weights, with all-ones target weights it is plain MSE
    assert torch.allclose(
        heatmap_mse(pred, target, torch.ones(2, 3)), torch.nn.functional.mse_loss(pred, target)
    )


def test_heatmap_loss_adds_weighted_initial_loss_with_coco_weights():
    g = torch.Generator().manual_seed(2)
    final, initial, target = (torch.rand(2, 17, 8, 6, generator=g) for _ in range(3))
    tw = (torch.rand(2, 17, generator=g) > 0.3).float()
    jw = torch.tensor(COCO_JOINT_WEIGHTS)
    loss = HeatmapLoss("coco", initial_weight=0.25)(final, target, tw, initial)
    expected = heatmap_mse(final, target, tw, jw) + 0.25 * heatmap_mse(initial, target, tw, jw)
    assert torch.allclose(loss, expected)
    assert torch.allclose(HeatmapLoss()(final, target, tw, initial), heatmap_mse(final, target, tw))


def test_loss_bad_input_names_the_problem():
    target, tw = torch.zeros(2, 5, 8, 6), torch.ones(2, 5)
    with pytest.raises(ValueError, match=r"predicted heatmaps \(2, 5, 16, 12\) do not match"):
        heatmap_mse(torch.zeros(2, 5, 16, 12), target, tw)
    with pytest.raises(ValueError, match="17 joint weights given but the targets have J=5"):
        HeatmapLoss("coco")(target, target, tw)
    with pytest.raises(ValueError, match="needs the initial heatmaps"):
        HeatmapLoss(initial_weight=1.0)(target, target, tw)
    with pytest.raises(ValueError, match="joint_weights must be 'coco'"):
        HeatmapLoss("mpii")


# -- checkpoints ------------------------------------------------------------------------------


def _optimizer_after_a_step() -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    model = tiny_vitpose(decoder="simple")
    opt = torch.optim.AdamW(parameter_groups(model, 1e-3, None, 0.1))
    model(torch.randn(2, 3, 64, 48)).square().mean().backward()
    opt.step()
    return model, opt


def test_checkpoint_round_trip_restores_model_and_optimizer(tmp_path):
    model, opt = _optimizer_after_a_step()
    save_checkpoint(tmp_path / "c.safetensors", model.state_dict(), opt.state_dict(), {"step": 7})
    loaded = load_checkpoint(tmp_path / "c.safetensors")
    assert loaded.info == {"step": 7}
    assert states_equal(loaded.model, model.state_dict())
    fresh = torch.optim.AdamW(parameter_groups(tiny_vitpose(decoder="simple"), 1e-3, None, 0.1))
    fresh.load_state_dict(loaded.optimizer)
    a, b = opt.state_dict(), fresh.state_dict()
    assert a["param_groups"] == b["param_groups"]
    for i in a["state"]:
        assert all(torch.equal(a["state"][i][k], b["state"][i][k]) for k in a["state"][i])
    # a safetensors file: readable without any pickle
    assert set(load_file(str(tmp_path / "c.safetensors"))) >= {
        f"model/{k}" for k in model.state_dict()
    }


def test_crash_mid_write_leaves_previous_checkpoint_loadable(tmp_path, monkeypatch):
    import safetensors.torch

    path = tmp_path / "checkpoint.safetensors"
    model, opt = _optimizer_after_a_step()
    save_checkpoint(path, model.state_dict(), opt.state_dict(), {"step": 1})
    real = safetensors.torch.save_file

    def crash(tensors, filename, metadata=None):
        real(tensors, filename, metadata=metadata)
        with open(filename, "r+b") as f:  # torn: half the bytes made it to disk
            f.truncate(os.path.getsize(filename) // 2)
        raise OSError("disk full")

    monkeypatch.setattr(safetensors.torch, "save_file", crash)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, model.state_dict(), opt.state_dict(), {"step": 2})
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "checkpoint.safetensors"
    ]  # no temporaries
    loaded = load_checkpoint(path)
    assert loaded.info["step"] == 1
    assert not torch.equal(
        loaded.model["keypoint_head.final_layer.weight"],
        model.state_dict()["keypoint_head.final_layer.weight"],
    )


def test_load_checkpoint_rejects_torn_or_foreign_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        load_checkpoint(tmp_path / "missing.safetensors")
    (tmp_path / "torn.safetensors").write_bytes(b'\x10\x00\x00\x00\x00\x00\x00\x00{"a"')
    with pytest.raises(ValueError, match="not a readable safetensors checkpoint"):
        load_checkpoint(tmp_path / "torn.safetensors")
    safetensors = pytest.importorskip("safetensors.torch")
    safetensors.save_file({"w": torch.zeros(2)}, str(tmp_path / "weights.safetensors"))
    with pytest.raises(ValueError, match="not a tarpose training checkpoint"):
        load_checkpoint(tmp_path / "weights.safetensors")


# -- optimizer, schedule, freeze_base ----------------------------------------------------------


def test_parameter_groups_split_base_and_new_and_skip_decay_of_vectors():
    model = tiny_tar()
    groups = {g["name"]: g for g in parameter_groups(model, 1e-4, 1e-3, 0.05)}
    assert set(groups) == {"base", "base/no_decay", "new", "new/no_decay"}
    ids = lambda ps: {id(p) for p in ps}
    assert ids(groups["base"]["params"]) | ids(groups["base/no_decay"]["params"]) == ids(
        model.base_parameters()
    )
    assert ids(groups["new"]["params"]) | ids(groups["new/no_decay"]["params"]) == ids(
        model.new_parameters()
    )
    assert groups["new"]["lr"] == 1e-3 and groups["base"]["lr"] == 1e-4
    assert groups["base"]["weight_decay"] == 0.05 and groups["new/no_decay"]["weight_decay"] == 0.0
    no_decay = ids(groups["base/no_decay"]["params"]) | ids(groups["new/no_decay"]["params"])
    for p in (
        model.gra.attn.out_proj.bias,
        model.jta.query_embed,
        model.jta.query_pos,
        model.encoder.backbone.pos_embed
        if hasattr(model.encoder, "backbone")
        else model.jta.query_pos,
    ):
        assert id(p) in no_decay
    assert all(p.ndim >= 2 for p in groups["base"]["params"] + groups["new"]["params"])
    with pytest.raises(ValueError, match="lr_new applies to the new modules"):
        parameter_groups(tiny_vitpose(), 1e-4, 1e-3, 0.0)


def test_lr_schedules():
    step = TrainConfig(schedule="step", lr_step_epochs=2, lr_gamma=0.5)
    assert [lr_factor(step, s, 60, 10) for s in (0, 19, 20, 39, 40)] == [1, 1, 0.5, 0.5, 0.25]
    cos = TrainConfig(schedule="cosine", warmup_steps=4)
    assert [lr_factor(cos, s, 104, 10) for s in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert lr_factor(cos, 54, 104, 10) == pytest.approx(0.5)
    assert lr_factor(cos, 104, 104, 10) == pytest.approx(0.0, abs=1e-12)
    assert lr_factor(TrainConfig(schedule="constant"), 99, 100, 10) == 1.0


def test_separate_learning_rates_are_applied():
    """Adam's first step moves every parameter with a gradient by ~lr (|m / sqrt(v)| = 1)."""
    model = tiny_tar(decoder="simple")
    before = snapshot(model)
    config = TrainConfig(
        steps=1, batch_size=4, lr=1e-4, lr_new=1e-2, weight_decay=0.0, schedule="constant"
    )
    train(model, ToyPoses(size=4), config, log=None, device="cpu")
    new_ids = {id(p) for p in model.new_parameters()}
    moved = {"base": [], "new": []}
    for name, p in model.named_parameters():
        delta = (p.detach() - before[name]).abs()
        moved["new" if id(p) in new_ids else "base"].append(delta.max())
    assert torch.stack(moved["base"]).max().item() == pytest.approx(1e-4, rel=1e-3)
    assert torch.stack(moved["new"]).max().item() == pytest.approx(1e-2, rel=1e-3)


def test_freeze_base_trains_only_the_new_modules():
    model = tiny_tar()  # classic decoder: BatchNorm statistics must not move either
    before = snapshot(model)
    config = TrainConfig(steps=2, batch_size=4, lr=1e-2, freeze_base=True, schedule="constant")
    train(model, ToyPoses(size=8), config, log=None, device="cpu")
    after = model.state_dict()
    base = [k for k in after if k.startswith(("encoder.", "decoder."))]
    new = [k for k in after if k.startswith(("jta.", "gra.", "heatmap_embed."))]
    assert base and new and len(base) + len(new) == len(after)
    assert all(torch.equal(after[k], before[k]) for k in base)  # incl. BN running statistics
    assert all(
        not torch.equal(after[k], before[k]) for k in new if after[k].dtype.is_floating_point
    )
    assert model.freeze_base and not any(p.requires_grad for p in model.base_parameters())


def test_single_frame_model_trains_on_the_target_frame():
    seen = []

    class Spy(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.head = torch.nn.Conv2d(3, 5, 4, stride=4)

        def forward(self, images):
            seen.append(images.clone())
            return self.head(images)

    data = ToyPoses(size=4, augment=False)
    clips = torch.stack([data[i]["clip"] for i in range(4)])
    for frame, index in (("centred", 1), ("last", 2)):
        seen.clear()
        train(
            Spy(),
            data,
            TrainConfig(steps=1, batch_size=4, target_frame=frame),
            log=None,
            device="cpu",
        )
        (images,) = seen
        matches = [any(torch.equal(img, c[index]) for c in clips) for img in images]
        assert all(matches), frame


# -- resume -----------------------------------------------------------------------------------


def _resume_run(out, workers=0, on_step=None, resume=False):
    torch.manual_seed(0)
    model = tarpose.TemporalWrapper(tiny_vitpose(drop_path_rate=0.3), num_frames=3, jta_depth=1)
    config = TrainConfig(
        epochs=2,
        batch_size=4,
        lr=2e-3,
        lr_new=5e-3,
        schedule="step",
        lr_step_epochs=1,
        save_every=3,
        workers=workers,
        seed=5,
        log_every=1,
    )
    return train(
        model,
        ToyPoses(size=16),
        config,
        out,
        resume=resume,
        on_step=on_step,
        log=None,
        device="cpu",
    )


def test_resumed_run_matches_uninterrupted_run_bit_for_bit(tmp_path):
    """Interrupted at step 7 (last checkpoint: step 6, mid-epoch), then resumed with a different
    number of data workers: the final weights are identical to an uninterrupted run's."""
    reference = _resume_run(tmp_path / "a")

    def crash(step, loss):
        if step == 7:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _resume_run(tmp_path / "b", workers=1, on_step=crash)
    assert load_checkpoint(tmp_path / "b" / "checkpoint.safetensors").info["step"] == 6
    resumed = _resume_run(tmp_path / "b", resume=True)
    assert resumed.step == reference.step == 8
    assert states_equal(snapshot(resumed.model), snapshot(reference.model))
    losses = lambda run: [e["loss"] for e in run.history if "loss" in e]
    assert losses(resumed) == losses(reference)  # the log, cut back to step 6, continues the same
    final = load_file(str(tmp_path / "b" / "model.safetensors"))
    assert states_equal(final, {k: v for k, v in snapshot(reference.model).items()})


def test_resume_refuses_a_changed_config_and_fresh_runs_refuse_a_used_directory(tmp_path):
    model = tiny_vitpose(decoder="simple")
    train(
        model,
        ToyPoses(size=4),
        TrainConfig(steps=1, batch_size=4),
        tmp_path,
        log=None,
        device="cpu",
    )
    with pytest.raises(FileExistsError, match="already holds a checkpoint"):
        train(model, ToyPoses(size=4), TrainConfig(steps=1, batch_size=4), tmp_path, log=None)
    with pytest.raises(ValueError, match=r"the training config changed \(lr: 0.0005 -> 0.001\)"):
        train(
            model,
            ToyPoses(size=4),
            TrainConfig(steps=1, batch_size=4, lr=1e-3),
            tmp_path,
            resume=True,
            log=None,
        )
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        train(model, ToyPoses(size=4), TrainConfig(), tmp_path / "new", resume=True, log=None)


def test_bad_config_and_data_give_clear_errors():
    with pytest.raises(ValueError, match="batch_size must be >= 1, got 0; lr must be a finite"):
        TrainConfig(batch_size=0, lr=-1.0)
    with pytest.raises(ValueError, match="schedule must be"):
        TrainConfig(schedule="linear")
    with pytest.raises(ValueError, match="fewer than one batch of 8"):
        train(tiny_vitpose(), ToyPoses(size=4), TrainConfig(batch_size=8), log=None, device="cpu")
    with pytest.raises(ValueError, match="freeze_base applies to a TemporalWrapper"):
        train(
            tiny_vitpose(), ToyPoses(size=4), TrainConfig(freeze_base=True), log=None, device="cpu"
        )
    with pytest.raises(ValueError, match="predicted heatmaps .* do not match the targets"):
        train(
            tiny_vitpose(num_joints=3),
            ToyPoses(size=4),
            TrainConfig(batch_size=4),
            log=None,
            device="cpu",
        )


def test_validation_runs_in_eval_mode_and_is_logged(tmp_path):
    modes = []

    def validate(model):
        modes.append(model.training)
        return {"score": 1.5}

    config = TrainConfig(epochs=2, batch_size=4, log_every=100)
    result = train(
        tiny_vitpose(decoder="simple"),
        ToyPoses(size=8),
        config,
        tmp_path,
        validate=validate,
        log=None,
        device="cpu",
    )
    assert modes == [False, False] and result.model.training
    logged = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [e["validation"] for e in logged if "validation" in e] == [{"score": 1.5}] * 2


def test_bf16_autocast_step_runs_on_cpu():
    result = train(
        tiny_tar(),
        ToyPoses(size=4),
        TrainConfig(steps=1, batch_size=4, amp="bf16", log_every=1),
        log=None,
        device="cpu",
    )
    assert math.isfinite(result.history[-1]["loss"])


# -- distributed ------------------------------------------------------------------------------


def torchrun(*argv: str) -> subprocess.CompletedProcess:
    """``torchrun --standalone --nproc-per-node 2 ARGV`` on CPU (gloo), one thread per process;
    fails the test with the processes' stderr when it fails."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(TESTS)]), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", *argv]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


@pytest.mark.slow
def test_two_gloo_processes_end_with_identical_weights_equal_to_one_process(tmp_path):
    """torchrun, 2 CPU processes x batch 2 == 1 process x batch 4 (same samples, averaged grads)."""
    torchrun(str(TESTS / "ddp_train_worker.py"), str(tmp_path), "2")
    rank0 = load_file(str(tmp_path / "rank0.safetensors"))
    rank1 = load_file(str(tmp_path / "rank1.safetensors"))
    assert states_equal(rank0, rank1)
    from ddp_train_worker import run

    single = run(str(tmp_path), 4)
    initial = snapshot(
        tarpose.TemporalWrapper(tiny_vitpose("simple", seed=0), num_frames=3, jta_depth=1)
    )
    assert not states_equal(single, initial)
    for key in single:
        assert torch.allclose(rank0[key], single[key], atol=2e-5, rtol=1e-4), key


@pytest.mark.slow
def test_cli_under_torchrun_equals_one_process_with_the_global_batch(tmp_path):
    args = [
        "train",
        "--model",
        "vitpose-s-simple",
        *TINY,
        *DATA,
        "--steps",
        "3",
        "--workers",
        "0",
        "--lr",
        "1e-3",
    ]
    done = torchrun("-m", "tarpose", *args, "--batch-size", "2", "--out", str(tmp_path / "ddp"))
    assert (
        "of 2 x 2 process(es)" in done.stdout and done.stdout.count("trained vitpose-s-simple") == 1
    )
    assert main([*args, "--batch-size", "4", "--out", str(tmp_path / "one")]) == 0
    ddp = load_file(str(tmp_path / "ddp" / "model.safetensors"))
    one = load_file(str(tmp_path / "one" / "model.safetensors"))
    for key in one:
        assert torch.allclose(ddp[key], one[key], atol=2e-5, rtol=1e-4), key


# -- command line -----------------------------------------------------------------------------

TINY = [
    "--model-opt",
    "embed_dim=32",
    "depth=2",
    "num_heads=4",
    "deconv_channels=16",
    "num_joints=5",
    "input_size=[64,48]",
]
# a tiny temporal model: the base's depth and heads, the JTA's (their names never collide)
TINY_TAR = [
    "--model-opt",
    "embed_dim=32",
    "depth=2",
    "num_heads=4",
    "jta_depth=2",
    "jta_heads=4",
    "gra_heads=4",
    "deconv_channels=16",
    "num_joints=5",
    "input_size=[64,48]",
]
DATA = ["--dataset", "toy_pose_data:ToyPoses", "--data-opt", "size=8"]


def test_cli_trains_single_frame_then_wraps_it_as_temporal(tmp_path, capsys):
    common = DATA + ["--batch-size", "4", "--workers", "0", "--log-every", "1"]
    assert (
        main(
            [
                "train",
                "--model",
                "vitpose-s",
                *TINY,
                *common,
                "--steps",
                "3",
                "--out",
                str(tmp_path / "single"),
            ]
        )
        == 0
    )
    single = tarpose.load_model(tmp_path / "single")
    assert isinstance(single, tarpose.ViTPose)
    assert single.data_config.geometry == "udp"  # a new vitpose-s's, recorded in the export
    assert json.loads((tmp_path / "single" / "config.json").read_text())["data"]["geometry"] == "udp"
    assert (
        main(
            [
                "train",
                "--model",
                "tar-vitpose-s",
                "--init-from",
                str(tmp_path / "single"),
                *common,
                "--epochs",
                "1",
                "--freeze-base",
                "--lr-new",
                "1e-3",
                "--val-dataset",
                "toy_pose_data:ToyPoses",
                "--val-data-opt",
                "size=4",
                "--out",
                str(tmp_path / "tar"),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "validation after epoch 0: loss" in out and "trained tar-vitpose-s for 2 steps" in out
    tar = tarpose.load_model(tmp_path / "tar")
    assert isinstance(tar, tarpose.TemporalWrapper) and tar.num_frames == 3  # from the dataset
    # frozen base: exactly the single-frame run's weights
    clip = torch.stack([ToyPoses(size=2)[i]["clip"] for i in range(2)])
    with torch.no_grad():
        initial = tar(clip, return_initial=True).initial_heatmaps[:, 1]
        assert torch.equal(initial, single(clip[:, 1]))
    config = json.loads((tmp_path / "tar" / "config.json").read_text())
    assert config["name"] == "tar-vitpose-s" and config["temporal"]["num_frames"] == 3
    assert (tmp_path / "tar" / "train.json").is_file()


def test_cli_resume_continues_a_run(tmp_path, capsys):
    args = [
        "train",
        "--model",
        "vitpose-s",
        *TINY,
        *DATA,
        "--batch-size",
        "4",
        "--workers",
        "0",
        "--epochs",
        "2",
        "--out",
        str(tmp_path),
    ]
    assert main(args) == 0
    first = load_file(str(tmp_path / "model.safetensors"))
    assert main(args) == 2
    assert "already holds a checkpoint: add --resume" in capsys.readouterr().err
    assert main([*args, "--resume"]) == 0  # already complete: nothing changes
    assert states_equal(first, load_file(str(tmp_path / "model.safetensors")))
    assert main([*args[:-2], "--epochs", "3", "--out", str(tmp_path), "--resume"]) == 2
    assert "the training config changed (epochs: 2 -> 3)" in capsys.readouterr().err


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--dataset", "nope"], "unknown dataset 'nope'"),
        (["--dataset", "no_such_module:f"], "cannot import the dataset module 'no_such_module'"),
        (["--dataset", "toy_pose_data:Nope"], "module 'toy_pose_data' has no callable 'Nope'"),
        (DATA + ["--data-opt", "colour=1"], "rejected the options"),
        (DATA + ["--lr", "-1"], "lr must be a finite number >= 0"),
        (
            DATA + ["--num-frames", "5"],
            "windows of 5 frames but the dataset's clips have T=3 frames",
        ),
        (DATA + ["--init-from", "/nonexistent"], "--init-from: no trained model at /nonexistent"),
        (DATA + ["--model-opt", "embed_dim=33"], "cannot build 'tar-vitpose-s'"),
    ],
)
def test_cli_errors_are_one_line(tmp_path, capsys, extra, message):
    base = ["train", "--model", "tar-vitpose-s", *TINY_TAR, "--dataset", "toy_pose_data:ToyPoses"]
    assert main([*base, *extra, "--out", str(tmp_path / "run"), "--steps", "1"]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


@pytest.mark.skipif(
    not (SHARED / "data" / "posetrack18").is_dir(), reason="needs ../shared/data/posetrack18"
)
def test_cli_trains_on_real_posetrack18_files_with_augmentation(tmp_path):
    annotations = SHARED / "data" / "posetrack18" / "annotations" / "val"
    args = [
        "train",
        "--model",
        "tar-vitpose-s",
        *TINY_TAR[:-2],
        "num_joints=17",
        "input_size=[64,48]",
        "--dataset",
        "posetrack",
        "--data-opt",
        f"annotations={annotations}",
        "missing_frames=invalid",
        "input_size=[64,48]",
        "augment=true",
        "--batch-size",
        "4",
        "--steps",
        "2",
        "--workers",
        "0",
        "--joint-weights",
        "coco",
    ]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    assert main([*args, "--out", str(tmp_path / "b")]) == 0  # augmentation is seeded
    a = load_file(str(tmp_path / "a" / "model.safetensors"))
    assert states_equal(a, load_file(str(tmp_path / "b" / "model.safetensors")))
    assert tarpose.load_model(tmp_path / "a").num_frames == 5


def test_train_options_are_the_config_s_fields(capsys):
    """Every TrainConfig field is an option with the field's default and its docstring line."""
    from dataclasses import fields

    from tarpose.cli import build_parser
    from tarpose.cli.train import COMMAND_LINE_DEFAULTS, field_help

    parser = build_parser()
    args = parser.parse_args(["train", "--dataset", "d", "--out", "o"])
    defaults = TrainConfig()
    assert COMMAND_LINE_DEFAULTS == {"workers": 2}  # the one deliberate difference
    for f in fields(TrainConfig):
        assert getattr(args, f.name) == COMMAND_LINE_DEFAULTS.get(f.name, getattr(defaults, f.name)), f.name
    docs = field_help(TrainConfig)
    assert set(docs) == {f.name for f in fields(TrainConfig)}
    assert docs["lr_new"] == "learning rate of the new temporal modules (JTA, GRA); default ``lr``."
    given = parser.parse_args(["train", "--dataset", "d", "--out", "o", "--steps", "3", "--freeze-base",
                               "--schedule", "step", "--joint-weights", "1,2.5", "--clip-grad", "0.5",
                               "--target-frame", "last", "--no-freeze-base", "--lr", "1e-3"])
    config = TrainConfig(**{f.name: getattr(given, f.name) for f in fields(TrainConfig)})
    assert config == TrainConfig(steps=3, schedule="step", joint_weights=[1.0, 2.5], clip_grad=0.5,
                                 target_frame="last", lr=1e-3, workers=2)
    with pytest.raises(SystemExit):
        parser.parse_args(["train", "--dataset", "d", "--out", "o", "--steps", "3", "--epochs", "2"])
    assert "not allowed with argument" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parser.parse_args(["train", "--help"])
    shown = " ".join(capsys.readouterr().out.split())
    assert "--lr-new LR_NEW learning rate of the new temporal modules (JTA, GRA); default ``lr``." in shown
    assert "--workers WORKERS DataLoader worker processes (does not change results). (default: 2)" in shown


def test_cli_datasets_crop_in_the_model_geometry():
    """tarpose train rebuilds a dataset left at its default geometry in the model's, and refuses
    one told to crop in another."""
    from tarpose.training.setup import dataset_in_geometry

    options = {"split": "train", "num_videos": 1, "video_length": 2, "num_frames": 1}
    from tarpose.data import build_dataset

    dataset = build_dataset("synthetic", **options)
    assert dataset.geometry == "udp"
    assert dataset_in_geometry(dataset, "synthetic", options, "udp", "dataset") is dataset
    rebuilt = dataset_in_geometry(dataset, "synthetic", options, "biased", "dataset")
    assert rebuilt.geometry == "biased" and len(rebuilt) == len(dataset)
    with pytest.raises(ValueError, match="crops in the 'udp' geometry but the model was trained in 'biased'"):
        dataset_in_geometry(dataset, "synthetic", {**options, "geometry": "udp"}, "biased", "dataset")


def test_train_refuses_a_dataset_in_another_geometry_than_the_model_s(tmp_path):
    """Targets drawn in one geometry would teach the model a map its recorded geometry does not
    read back: refused, naming both, before anything is written; in the same geometry it trains
    and the export records it."""
    from tarpose.data import build_dataset

    dataset = build_dataset("synthetic", split="train", num_videos=1, video_length=2, num_frames=1,
                            input_size=(64, 48), geometry="biased")
    model = tiny_vitpose(num_joints=17)
    with pytest.raises(ValueError, match="in the 'biased' geometry but the model's data_config records 'udp'"):
        train(model, dataset, TrainConfig(steps=1, batch_size=2), tmp_path / "run", log=None, device="cpu")
    assert not (tmp_path / "run").exists()
    model.data_config = model.data_config.replace(geometry="biased")
    train(model, dataset, TrainConfig(steps=1, batch_size=2), tmp_path / "run", log=None, device="cpu")
    assert tarpose.load_model(tmp_path / "run").data_config.geometry == "biased"
