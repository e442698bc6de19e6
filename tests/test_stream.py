"""StreamingPredictor: cached streaming equals the windowed model, each crop is encoded once."""

from __future__ import annotations

import pytest
import torch

import tarpose
from conftest import tiny_vitpose
from reference_tar import activate_temporal_
from tarpose.tracking import IoUTracker
from tarpose.inference import StreamingPredictor
from tarpose.topdown import box_matrices, crop_images, heatmaps_to_keypoints

SIZE = (64, 48)  # tiny model's crop (H, W)


def temporal(num_frames: int = 5, target: str = "centred", seed: int = 0) -> tarpose.TemporalWrapper:
    """A tiny TemporalWrapper whose temporal part really changes the output (zero-initialised
    parameters given values)."""
    model = tarpose.TemporalWrapper(tiny_vitpose(seed=seed), num_frames=num_frames, jta_depth=2, target=target)
    return activate_temporal_(model, torch.Generator().manual_seed(seed)).eval()


def random_video(n: int, size=(96, 80), seed: int = 0) -> torch.Tensor:
    """``(n, H, W, 3)`` uint8 frames, smooth enough that crops differ from frame to frame."""
    g = torch.Generator().manual_seed(seed)
    low = torch.rand(n, 3, size[0] // 8, size[1] // 8, generator=g)
    frames = torch.nn.functional.interpolate(low, size=size, mode="bilinear", align_corners=False)
    frames = frames + 0.1 * torch.rand(n, 3, *size, generator=g)
    return (frames.clamp(0, 1) * 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous()


def crops_with(frames: torch.Tensor, box) -> torch.Tensor:
    """Every frame cropped with one box: ``(n, 3, H, W)``."""
    m = box_matrices(torch.tensor([box]), SIZE)
    return torch.cat([crop_images(f.permute(2, 0, 1), m, SIZE) for f in frames])


def windowed(model, crops: torch.Tensor, t: int) -> torch.Tensor:
    """The model on the window of frame t: crops clamped at the video's edges, frames past the
    edges marked invalid (their clamped content must not matter)."""
    n = crops.shape[0]
    slots = [t - model.target_index + i for i in range(model.num_frames)]
    clip = crops[[min(max(s, 0), n - 1) for s in slots]][None]
    valid = torch.tensor([[0 <= s < n for s in slots]])
    with torch.no_grad():
        return model(clip, frame_valid=None if valid.all() else valid)


def test_centred_stream_equals_windowed_model():
    model = temporal()
    frames = random_video(9)
    box = (12.0, 10.0, 40.0, 60.0)
    predictor = StreamingPredictor(model, keep_heatmaps=True)
    out = []
    for i, frame in enumerate(frames.numpy()):
        ready = predictor.push(frame, [box], [7])
        # centred: frame t comes out when frame t + 2 has been pushed
        assert [p.index for p in ready] == ([i - 2] if i >= 2 else [])
        out += ready
    out += predictor.flush()
    assert [p.index for p in out] == list(range(9))
    crops = crops_with(frames, box)
    for t, poses in enumerate(out):
        assert poses.track_ids == [7]
        torch.testing.assert_close(poses.heatmaps, windowed(model, crops, t), atol=1e-5, rtol=0)
    # the temporal part matters: the final heatmaps are not the single-frame model's
    with torch.no_grad():
        single = model.decoder(model.encoder(crops[4:5]))
    assert (out[4].heatmaps - single).abs().max() > 1e-2
    # and the keypoints are the decoded heatmaps, in image coordinates
    keypoints, scores = heatmaps_to_keypoints(out[4].heatmaps, box_matrices(torch.tensor([box]), SIZE), SIZE)
    torch.testing.assert_close(out[4].keypoints, keypoints)
    torch.testing.assert_close(out[4].scores, scores)


def test_causal_stream_answers_at_once():
    model = temporal(num_frames=3, target="last")
    frames = random_video(6, seed=1)
    box = (5.0, 3.0, 50.0, 70.0)
    predictor = StreamingPredictor(model, keep_heatmaps=True)
    assert predictor.mode == "causal"
    crops = crops_with(frames, box)
    for t, frame in enumerate(frames.numpy()):
        (poses,) = predictor.push(frame, [box], [0])
        assert poses.index == t
        torch.testing.assert_close(poses.heatmaps, windowed(model, crops, t), atol=1e-5, rtol=0)
    assert predictor.flush() == []


def test_mode_checks():
    with pytest.raises(ValueError, match="target='last'"):
        StreamingPredictor(temporal(num_frames=3), mode="causal")
    with pytest.raises(ValueError, match="centre"):
        StreamingPredictor(temporal(num_frames=3, target="last"), mode="centred")
    with pytest.raises(ValueError, match="mode must be"):
        StreamingPredictor(temporal(num_frames=3), mode="sideways")
    with pytest.raises(TypeError, match="SingleFrameModel"):
        StreamingPredictor(tiny_vitpose())
    with pytest.raises(ValueError, match="refine"):
        StreamingPredictor(temporal(num_frames=3), refine="soft-argmax")


class EncoderCalls:
    """Counts the encoder's calls and the images it saw."""

    def __init__(self, model) -> None:
        self.calls: list[int] = []
        model.encoder.register_forward_hook(lambda module, args, output: self.calls.append(args[0].shape[0]))


@pytest.mark.parametrize("flip", [False, True])
def test_each_crop_is_encoded_exactly_once(flip):
    model = temporal(num_frames=5)
    calls = EncoderCalls(model)
    frames = random_video(12, seed=2).numpy()
    # persons come and go: frame -> boxes (track ids given)
    people = {
        0: (5.0, 5.0, 30.0, 50.0), 1: (40.0, 10.0, 30.0, 60.0), 2: (20.0, 30.0, 25.0, 40.0),
    }
    present = [[0], [0, 1], [0, 1, 2], [1, 2], [], [0, 2], [0, 1, 2], [0, 1, 2], [2], [0, 1], [0], [1]]
    predictor = StreamingPredictor(model, flip=flip, flip_pairs=[(1, 2), (3, 4)])
    out = list(predictor.run(
        (frame, [people[k] for k in ids], ids) for frame, ids in zip(frames, present)
    ))
    views = 2 if flip else 1
    assert calls.calls == [views * len(ids) for ids in present if ids]  # one batch per frame
    assert [p.index for p in out] == list(range(len(frames)))
    assert [p.track_ids for p in out] == present
    assert predictor.cached_frames() == 0  # flush leaves nothing behind


def test_tracks_are_batched_without_mixing():
    """Three people in one stream give what each gives alone (windows with gaps included)."""
    model = temporal(num_frames=5)
    frames = random_video(8, seed=3).numpy()
    boxes = {0: (5.0, 5.0, 30.0, 50.0), 1: (40.0, 10.0, 30.0, 60.0), 2: (20.0, 30.0, 25.0, 40.0)}
    present = [[0, 1], [0, 1, 2], [1, 2], [0, 1, 2], [0, 2], [0, 1, 2], [1], [0, 1, 2]]
    joint = list(StreamingPredictor(model, keep_heatmaps=True).run(
        (f, [boxes[k] for k in ids], ids) for f, ids in zip(frames, present)
    ))
    for k in boxes:
        alone = list(StreamingPredictor(model, keep_heatmaps=True).run(
            (f, [boxes[k]] if k in ids else [], [k] if k in ids else []) for f, ids in zip(frames, present)
        ))
        for t, ids in enumerate(present):
            if k in ids:
                i = joint[t].track_ids.index(k)
                torch.testing.assert_close(joint[t].heatmaps[i : i + 1], alone[t].heatmaps, atol=1e-5, rtol=0)


def test_missing_frames_of_a_track_are_excluded():
    """A person absent from some frames: the window marks those frames invalid."""
    model = temporal(num_frames=5)
    frames = random_video(7, seed=4)
    box = (10.0, 6.0, 44.0, 66.0)
    seen = [True, True, False, True, True, False, True]
    out = list(StreamingPredictor(model, keep_heatmaps=True).run(
        (f, [box] if s else [], [3] if s else []) for f, s in zip(frames.numpy(), seen)
    ))
    crops = crops_with(frames, box)
    t = 3
    slots = range(t - 2, t + 3)
    valid = torch.tensor([[seen[s] for s in slots]])
    with torch.no_grad():
        expected = model(crops[list(slots)][None], frame_valid=valid)
    torch.testing.assert_close(out[t].heatmaps, expected, atol=1e-5, rtol=0)
    assert len(out[2]) == 0 and len(out[5]) == 0


def test_exact_mode_crops_the_window_with_the_target_box():
    model = temporal(num_frames=3)
    frames = random_video(5, seed=5)
    moving = [(10.0 + 4 * t, 8.0 + 2 * t, 40.0, 56.0) for t in range(5)]
    calls = EncoderCalls(model)
    exact = list(StreamingPredictor(model, mode="exact", keep_heatmaps=True).run(
        (f, [b], [0]) for f, b in zip(frames.numpy(), moving)
    ))
    # the training protocol: T crops per output (fewer at the edges), all with frame t's box
    assert calls.calls == [2, 3, 3, 3, 2]
    for t in range(5):
        torch.testing.assert_close(
            exact[t].heatmaps, windowed(model, crops_with(frames, moving[t]), t), atol=1e-5, rtol=0
        )
    cached = list(StreamingPredictor(model, keep_heatmaps=True).run(
        (f, [b], [0]) for f, b in zip(frames.numpy(), moving)
    ))
    # cached streaming crops each neighbour with its own box: different when the box moves ...
    assert (cached[2].heatmaps - exact[2].heatmaps).abs().max() > 1e-4
    # ... and the same when it does not
    still = [(f, [moving[0]], [0]) for f in frames.numpy()]
    a = list(StreamingPredictor(model, mode="exact", keep_heatmaps=True).run(still))
    b = list(StreamingPredictor(model, keep_heatmaps=True).run(still))
    for x, y in zip(a, b):
        torch.testing.assert_close(x.heatmaps, y.heatmaps, atol=1e-5, rtol=0)


def test_the_inferencer_tracks_boxes_given_without_ids():
    from tarpose import PoseInferencer

    model = temporal(num_frames=3)
    frames = random_video(4, seed=6).numpy()
    # two people drifting apart, listed in a different order in every frame
    a = [(5.0 + t, 5.0, 30.0, 50.0) for t in range(4)]
    b = [(45.0 - t, 20.0, 30.0, 50.0) for t in range(4)]
    order = [[a, b], [b, a], [a, b], [b, a]]
    listed = iter([box[t] for box in o] for t, o in enumerate(order))
    out = list(PoseInferencer(model, detector=lambda frame: next(listed))(list(frames)))
    for t, poses in enumerate(out):
        ids = dict(zip(poses.track_ids, poses.boxes[:, 0].tolist()))
        assert ids == {0: a[t][0], 1: b[t][0]}


def test_iou_tracker():
    tracker = IoUTracker(iou_threshold=0.3, max_age=1)
    assert tracker.update([[0, 0, 10, 10], [20, 0, 10, 10]]) == [0, 1]
    assert tracker.update([[21, 1, 10, 10], [1, 0, 10, 10]]) == [1, 0]
    assert tracker.update([[100, 100, 5, 5]]) == [2]          # both old tracks unseen once
    assert tracker.update([[1, 1, 10, 10]]) == [0]            # back within max_age
    assert tracker.update([]) == []
    assert tracker.update([]) == []
    assert tracker.update([[1, 1, 10, 10]]) == [3]            # gone too long: a new track
    with pytest.raises(ValueError, match="positive width"):
        tracker.update([[0, 0, -1, 10]])


def test_bad_push_input():
    predictor = StreamingPredictor(temporal(num_frames=3))
    frame = random_video(1)[0].numpy()
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        predictor.push(frame, [[1, 2, 3]], [0])
    with pytest.raises(ValueError, match="distinct"):
        predictor.push(frame, [[0, 0, 10, 10], [5, 5, 10, 10]], [1, 1])
    with pytest.raises(ValueError, match="2 boxes but 1 track"):
        predictor.push(frame, [[0, 0, 10, 10], [5, 5, 10, 10]], [1])
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        predictor.push(frame[..., :2], [[0, 0, 10, 10]], [0])
    with pytest.raises(TypeError, match="needs the track id of each box"):
        predictor.push(frame, [[0, 0, 10, 10]], None)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_matches_cpu():
    """On CUDA: float32 equals the CPU; the default bfloat16 autocast stays close."""
    frames = random_video(6, seed=8).numpy()
    boxes = [[(5.0, 5.0, 30.0, 50.0), (40.0, 10.0, 30.0, 60.0)]] * 6
    items = [(f, b, [0, 1]) for f, b in zip(frames, boxes)]
    cpu = list(StreamingPredictor(temporal(), keep_heatmaps=True, flip=True, flip_pairs=[(1, 2)]).run(items))
    for precision, tolerance in (("float32", 1e-4), ("auto", 5e-2)):
        predictor = StreamingPredictor(temporal().cuda(), keep_heatmaps=True, flip=True, flip_pairs=[(1, 2)],
                                       precision=precision)
        assert predictor.autocast_dtype == (torch.bfloat16 if precision == "auto" else None)
        for a, b in zip(predictor.run(items), cpu):
            scale = b.heatmaps.abs().max()
            assert (a.heatmaps - b.heatmaps).abs().max() <= tolerance * scale, precision


def test_single_frame_model_streams_the_plain_vitpose():
    from tarpose.inference import SingleFrameModel
    from tarpose.inference.source import runnable_model as resolve_model

    vitpose = tiny_vitpose()
    frames = random_video(3, seed=9)
    box = (8.0, 6.0, 40.0, 60.0)
    out = list(StreamingPredictor(SingleFrameModel(vitpose), keep_heatmaps=True).run(
        (f, [box], [0]) for f in frames.numpy()
    ))
    with torch.no_grad():
        expected = vitpose(crops_with(frames, box))
    for t, poses in enumerate(out):
        torch.testing.assert_close(poses.heatmaps, expected[t : t + 1], atol=1e-5, rtol=0)
    assert isinstance(resolve_model(vitpose), SingleFrameModel)
    wrapper = temporal(num_frames=3)
    assert resolve_model(wrapper) is wrapper
    with pytest.raises(FileNotFoundError, match="no such checkpoint file or directory: nope"):
        resolve_model("nope")


def test_each_frames_mask_is_computed_once_and_cached():
    """The JTA mask of a frame does not depend on the window: computed when the frame is encoded,
    cached with its features and heatmaps, and the output equals the heatmap path's bit for bit."""
    model = temporal()
    frames, box = random_video(8, seed=3).numpy(), [(10.0, 8.0, 40.0, 60.0)]
    computed = []
    real = model.frame_masks

    def frame_masks(heatmaps, size):
        computed.append(heatmaps.shape[0])
        return real(heatmaps, size)

    model.frame_masks = frame_masks
    predictor = StreamingPredictor(model, keep_heatmaps=True)
    out = []
    for i, frame in enumerate(frames):
        out += predictor.push(frame, box, [0])
        (entry,) = [e for e in predictor._cache[0].values()][-1:]
        assert entry.mask.dtype == torch.bool and entry.mask.shape == (1, 5, 4, 3)  # (v, j, h, w)
    out += predictor.flush()
    assert computed == [1] * len(frames)  # once per frame, not once per window
    plain = list(StreamingPredictor(_NotAModule(model), input_size=SIZE, keep_heatmaps=True).run(
        (f, box, [0]) for f in frames))  # no frame_masks: windows of heatmaps
    assert len(out) == len(plain) == len(frames)
    for a, b in zip(out, plain):
        torch.testing.assert_close(a.heatmaps, b.heatmaps, atol=0, rtol=0)


@pytest.mark.slow
def test_compiled_stream_equals_eager():
    model = temporal(num_frames=3)
    frames = random_video(5).numpy()
    box = [(10.0, 8.0, 40.0, 60.0)]
    eager = list(StreamingPredictor(model).run((f, box, [0]) for f in frames))
    compiled = list(StreamingPredictor(model, compile=True).run((f, box, [0]) for f in frames))
    assert len(eager) == len(compiled) == 5
    for a, b in zip(eager, compiled):
        torch.testing.assert_close(b.keypoints, a.keypoints, atol=1e-3, rtol=0)
    with pytest.raises(ValueError, match="compile=True needs a PyTorch model"):
        StreamingPredictor(_NotAModule(model), compile=True, input_size=SIZE)


class _NotAModule:
    """The temporal interface without being an nn.Module (like the ONNX runner)."""

    def __init__(self, model):
        self.num_frames, self.target_index, self.num_joints = model.num_frames, model.target_index, model.num_joints
        self.encode, self.aggregate_restore = model.encode, model.aggregate_restore


@pytest.mark.parametrize("spec", ["median:window=3", "savgol:window=5,order=2", "mean:window=3,causal=true"])
def test_smoothing_filters_each_track_online(spec):
    """keypoint_filter=: each track's keypoints equal the offline filter over the track's span (its absent
    frames invalid), frames come out the filter's latency later, in order."""
    from tarpose.filters import build_filter

    model = temporal(num_frames=5)
    frames = random_video(10, seed=5).numpy()
    boxes = {0: (5.0, 5.0, 30.0, 50.0), 1: (40.0, 10.0, 30.0, 60.0)}
    present = [[0], [0, 1], [0, 1], [1], [0, 1], [0, 1], [0, 1], [0], [0], [0, 1]]
    items = [(f, [boxes[k] for k in ids], ids) for f, ids in zip(frames, present)]
    raw = list(StreamingPredictor(model).run(items))
    j = model.num_joints
    filt = build_filter(spec)
    predictor = StreamingPredictor(model, keypoint_filter=spec)
    assert predictor.latency == 2 + filt.latency
    out = []
    for t, item in enumerate(items):
        ready = predictor.push(*item)
        assert [p.index for p in ready] == ([t - predictor.latency] if t >= predictor.latency else [])
        out += ready
    out += predictor.flush()
    assert [p.index for p in out] == list(range(10)) and [p.track_ids for p in out] == present
    for k in boxes:
        seen = [t for t, ids in enumerate(present) if k in ids]
        span = range(seen[0], seen[-1] + 1)
        track = torch.stack([raw[t].keypoints[raw[t].track_ids.index(k)] if k in present[t]
                             else torch.zeros(j, 2, dtype=torch.float64) for t in span])
        scores = torch.stack([raw[t].scores[raw[t].track_ids.index(k)] if k in present[t]
                              else torch.zeros(j) for t in span])
        valid = torch.tensor([k in present[t] for t in span])[:, None].expand(-1, j)
        expected = filt(track, scores.double(), valid)
        for i, t in enumerate(span):
            if k in present[t]:
                row = out[t].track_ids.index(k)
                torch.testing.assert_close(out[t].keypoints[row], expected[i], rtol=0, atol=1e-9)
                torch.testing.assert_close(out[t].scores[row], raw[t].scores[raw[t].track_ids.index(k)])
    assert max((out[t].keypoints - raw[t].keypoints).abs().max() for t in range(10) if len(out[t])) > 1e-3


def test_causal_mode_takes_only_causal_filters():
    model = temporal(num_frames=3, target="last")
    with pytest.raises(ValueError, match="causal mode allows only causal filters; median:window=5"):
        StreamingPredictor(model, keypoint_filter="median:window=5")
    predictor = StreamingPredictor(model, keypoint_filter="one-euro:beta=0.1")
    assert predictor.mode == "causal" and predictor.latency == 0
    frames = random_video(4, seed=6).numpy()
    for t, frame in enumerate(frames):
        assert [p.index for p in predictor.push(frame, [(5.0, 3.0, 50.0, 70.0)], [0])] == [t]
    with pytest.raises(ValueError, match="unknown filter"):
        StreamingPredictor(model, keypoint_filter="gauss")
