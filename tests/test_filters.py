"""Keypoint-track filters against independent implementations (scipy, numpy, the 1-Euro formula
written out by hand) and the invariances that prove the design."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from tarpose.filters import (
    FILTERS,
    KalmanFilter,
    MeanFilter,
    MedianFilter,
    OneEuroFilter,
    SavgolFilter,
    TrackFilter,
    build_filter,
    list_filters,
)

scipy_signal = pytest.importorskip("scipy.signal")
scipy_ndimage = pytest.importorskip("scipy.ndimage")

#: one of each kind, centred and causal, with windows of several sizes
SPECS = [
    "median:window=5", "median:window=3,causal=true", "median:window=4,causal=true",
    "mean:window=5", "mean:window=7,causal=true",
    "savgol:window=7,order=2", "savgol:window=9,order=3", "savgol:window=5,order=1,causal=true",
    "savgol:window=6,order=2,causal=true",
    "one-euro:min_cutoff=1,beta=0.05,d_cutoff=1,fps=30",
    "kalman:process=2,measurement=3", "kalman:process=0.5,measurement=8,score_weighted=false",
]


def walk(*lead: int, frames: int = 40, joints: int = 3, seed: int = 0) -> torch.Tensor:
    """Random-walk tracks ``(*lead, F, J, 2)`` float64."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*lead, frames, joints, 2, generator=g, dtype=torch.float64).cumsum(-3) * 3 + 50


def holes(*shape: int, p: float = 0.25, seed: int = 1) -> torch.Tensor:
    """Random validity ``shape`` bool, about ``p`` of it invalid."""
    g = torch.Generator().manual_seed(seed)
    return torch.rand(*shape, generator=g) >= p


def window_of(t: int, frames: int, window: int, causal: bool) -> range:
    """The frames of frame t's window that exist."""
    if causal:
        return range(max(0, t - window + 1), t + 1)
    h = window // 2
    return range(max(0, t - h), min(frames, t + h + 1))


# ------------------------------------------------------------------ Savitzky-Golay


@pytest.mark.parametrize("window,order", [(3, 1), (5, 2), (7, 2), (7, 3), (9, 4), (11, 2), (15, 5), (5, 0)])
def test_savgol_equals_scipy_on_the_interior(window, order):
    x = walk(2, 3, frames=50)
    ours = SavgolFilter(window, order)(x)
    theirs = torch.from_numpy(scipy_signal.savgol_filter(x.numpy(), window, order, axis=-3, mode="interp"))
    h = window // 2
    torch.testing.assert_close(ours[..., h:-h, :, :], theirs[..., h:-h, :, :], rtol=0, atol=1e-10)
    # and scipy's 'interp' ends (a shifted window) are not what we do: ours needs no look-ahead
    if order > 0:
        assert (ours[..., :h, :, :] - theirs[..., :h, :, :]).abs().max() > 1e-6


def polyfit_at(times: np.ndarray, values: np.ndarray, order: int, at: float) -> float:
    """numpy's least-squares polynomial (degree at most n - 1) through (times, values), at ``at``."""
    degree = min(order, len(times) - 1)
    fit = np.polynomial.Legendre.fit(times, values, degree)
    return float(fit(at))


@pytest.mark.parametrize("spec", ["savgol:window=7,order=2", "savgol:window=9,order=3",
                                  "savgol:window=5,order=2,causal=true", "savgol:window=41,order=12"])
def test_savgol_ends_and_holes_equal_a_least_squares_fit_of_the_valid_frames(spec):
    """Everywhere (ends, invalid frames, degree dropping to n-1): numpy's own fit of the frames
    of the window that exist and are valid, evaluated at the output frame."""
    f = build_filter(spec)
    frames = 60
    x = walk(frames=frames, joints=2, seed=3)
    valid = holes(frames, 2, p=0.3, seed=4)
    ours = f(x, valid=valid)
    for t in range(frames):
        for j in range(2):
            idx = [i for i in window_of(t, frames, f.window, f.causal) if valid[i, j]]
            if not idx:
                torch.testing.assert_close(ours[t, j], x[t, j])  # an empty window keeps the input
                continue
            for c in range(2):
                expected = polyfit_at(np.array(idx) - t, x[idx, j, c].numpy(), f.order, 0.0)
                assert ours[t, j, c].item() == pytest.approx(expected, rel=1e-10, abs=1e-9), (t, j, c)


def test_savgol_high_order_is_accurate_where_scipy_loses_digits():
    """scipy's coefficients for window 41, order 12 no longer sum to 1 (an ill-conditioned
    Vandermonde fit); ours (Legendre basis on each window's span) still match a numpy lstsq fit."""
    assert abs(scipy_signal.savgol_coeffs(41, 12).sum() - 1) > 1e-3
    x = walk(frames=80, joints=1, seed=5)
    ours = SavgolFilter(41, 12)(x)
    for t in (0, 7, 40, 79):
        idx = list(window_of(t, 80, 41, False))
        expected = polyfit_at(np.array(idx) - t, x[idx, 0, 0].numpy(), 12, 0.0)
        assert ours[t, 0, 0].item() == pytest.approx(expected, abs=1e-8)


def test_linear_tracks_pass_savgol_unchanged():
    t = torch.arange(30, dtype=torch.float64)
    x = torch.stack([3.5 * t - 7, -1.25 * t + 100], -1)[:, None, :].repeat(1, 4, 1)  # (F, J, 2)
    valid = holes(30, 4, p=0.4, seed=7)
    for spec in ("savgol:window=5,order=1", "savgol:window=7,order=2", "savgol:window=9,order=3",
                 "savgol:window=4,order=1,causal=true", "savgol:window=6,order=3,causal=true"):
        f = build_filter(spec)
        out = f(x, valid=valid)
        # exact wherever a line is determined: two valid frames in the window, or frame t itself
        count = torch.stack([valid[list(window_of(t, 30, f.window, f.causal))].sum(0) for t in range(30)])
        exact = (count >= 2) | valid
        assert exact.float().mean() > 0.75
        torch.testing.assert_close(out[exact], x[exact], rtol=0, atol=1e-10, msg=spec)
    torch.testing.assert_close(SavgolFilter(5, 1)(x), x, rtol=0, atol=1e-10)  # all valid: everywhere


# ------------------------------------------------------------------ median and mean


@pytest.mark.parametrize("window", [3, 5, 7, 9])
def test_median_equals_scipy_on_the_interior(window):
    x = walk(2, frames=40, joints=5)
    ours = MedianFilter(window)(x)
    theirs = torch.from_numpy(scipy_ndimage.median_filter(x.numpy(), size=(1, window, 1, 1)))
    h = window // 2
    torch.testing.assert_close(ours[:, h:-h], theirs[:, h:-h], rtol=0, atol=0)


@pytest.mark.parametrize("spec", ["median:window=5", "median:window=4,causal=true", "mean:window=5",
                                  "mean:window=3,causal=true"])
def test_median_and_mean_everywhere_equal_numpy_over_the_valid_frames(spec):
    f = build_filter(spec)
    frames = 30
    x = walk(frames=frames, joints=3, seed=8)
    g = torch.Generator().manual_seed(9)
    scores = torch.rand(frames, 3, generator=g, dtype=torch.float64)
    scores[5, 0] = -0.2  # a negative heatmap maximum counts as 0
    valid = holes(frames, 3, p=0.3, seed=10)
    ours = f(x, scores, valid)
    for t in range(frames):
        for j in range(3):
            idx = [i for i in window_of(t, frames, f.window, f.causal) if valid[i, j]]
            if not idx:
                torch.testing.assert_close(ours[t, j], x[t, j])
                continue
            values = x[idx, j].numpy()
            if f.name == "median":
                expected = np.median(values, axis=0)  # the mean of the middle two for an even count
            else:
                w = scores[idx, j].clamp(min=0).numpy()
                expected = np.average(values, axis=0, weights=w) if w.sum() > 0 else values.mean(0)
            np.testing.assert_allclose(ours[t, j].numpy(), expected, rtol=0, atol=1e-10)


def test_mean_without_scores_or_with_zero_scores_is_the_plain_mean():
    x = walk(frames=12, joints=2)
    plain = MeanFilter(3)(x)
    torch.testing.assert_close(MeanFilter(3)(x, torch.zeros(12, 2, dtype=torch.float64)), plain)
    torch.testing.assert_close(plain[5], x[4:7].mean(0))


# ------------------------------------------------------------------ One-Euro


def test_one_euro_step_response_is_the_published_low_pass():
    """beta = 0: a first-order low-pass with alpha = 1 / (1 + tau / Te), tau = 1 / (2 pi fc):
    a unit step at frame 1 gives y_t = 1 - (1 - alpha)^t."""
    fps, fc = 30.0, 1.0
    alpha = 1 / (1 + (1 / (2 * math.pi * fc)) / (1 / fps))  # = 2 pi / (2 pi + 30) = 0.1731707...
    assert alpha == pytest.approx(0.1731707)
    x = torch.zeros(10, 1, 2, dtype=torch.float64)
    x[1:] = 1.0
    out = OneEuroFilter(min_cutoff=fc, beta=0.0, fps=fps)(x)
    expected = torch.tensor([0.0] + [1 - (1 - alpha) ** t for t in range(1, 10)], dtype=torch.float64)
    torch.testing.assert_close(out[:, 0, 0], expected, rtol=0, atol=1e-15)
    torch.testing.assert_close(out[:, 0, 1], expected, rtol=0, atol=1e-15)


def test_one_euro_ramp_with_speed_term_written_out():
    """beta > 0 on a ramp x_t = 2 t (fps 10): the formula by hand for the first three frames."""
    fps, fc, beta, dc, v = 10.0, 1.0, 0.5, 2.0, 2.0
    te = 1 / fps
    alpha = lambda cutoff: 1 / (1 + 1 / (2 * math.pi * cutoff) / te)  # noqa: E731
    # frame 0 passes: y0 = 0, dxhat0 = 0
    # frame 1: dx = (2 - 0) / te = 20; dxhat = alpha(2) * 20; cutoff = 1 + 0.5 * dxhat
    d1 = alpha(dc) * 20.0
    y1 = alpha(fc + beta * d1) * 2.0
    # frame 2: dx = (4 - y1) / te; dxhat = alpha(2) dx + (1 - alpha(2)) d1
    d2 = alpha(dc) * (4.0 - y1) / te + (1 - alpha(dc)) * d1
    a2 = alpha(fc + beta * d2)
    y2 = a2 * 4.0 + (1 - a2) * y1
    x = (v * torch.arange(3, dtype=torch.float64))[:, None, None].expand(3, 1, 2)
    out = OneEuroFilter(min_cutoff=fc, beta=beta, d_cutoff=dc, fps=fps)(x)
    torch.testing.assert_close(out[:, 0, 0], torch.tensor([0.0, y1, y2], dtype=torch.float64), rtol=0, atol=1e-14)
    assert 0 < y1 < 2 and y1 < y2 < 4  # it lags the ramp, less as the speed estimate grows


def one_euro_reference(values: list[float], valid: list[bool], fps: float, fc: float, beta: float, dc: float) -> list:
    """The filter of Casiez et al. on one scalar signal with timestamps t / fps, invalid samples
    skipped (as the authors' timestamped implementation: the rate is 1 / (t - t_last)),
    written with Python floats; an invalid frame outputs the held estimate."""
    out, xhat, dxhat, last = [], None, 0.0, None
    for t, (x, ok) in enumerate(zip(values, valid)):
        if ok:
            if xhat is None:
                xhat, dxhat = x, 0.0
            else:
                rate = fps / (t - last)
                te = 1 / rate
                a = lambda cutoff: 1 / (1 + 1 / (2 * math.pi * cutoff) / te)  # noqa: E731
                dxhat = a(dc) * (x - xhat) * rate + (1 - a(dc)) * dxhat
                xhat = a(fc + beta * abs(dxhat)) * x + (1 - a(fc + beta * abs(dxhat))) * xhat
            last = t
        out.append(x if xhat is None else xhat)
    return out


def test_one_euro_per_coordinate_with_gaps_equals_the_scalar_reference():
    f = OneEuroFilter(min_cutoff=0.7, beta=0.02, d_cutoff=1.5, fps=25)
    x = walk(frames=40, joints=3, seed=11)
    valid = holes(40, 3, p=0.3, seed=12)
    valid[:3, 1] = False  # a joint that starts late
    out = f(x, valid=valid)
    for j in range(3):
        for c in range(2):
            ref = one_euro_reference(x[:, j, c].tolist(), valid[:, j].tolist(), 25, 0.7, 0.02, 1.5)
            np.testing.assert_allclose(out[:, j, c].numpy(), ref, rtol=0, atol=1e-11)


# ------------------------------------------------------------------ Kalman


def kalman_reference(z: np.ndarray, score: np.ndarray, valid: np.ndarray, q: float, r: float, weighted: bool):
    """The textbook Kalman filter with explicit matrices, one scalar coordinate track ``(F,)``:
    state ``[x, v]``, ``F = [[1, dt], [0, 1]]``, ``Q = q G G^T`` with ``G = [dt^2/2, dt]``,
    ``H = [1, 0]``; the first valid frame starts at ``[z, 0]`` with ``P = diag(r, 100)``; invalid
    frames output the prediction."""
    out = np.array(z, dtype=np.float64)
    x = p = None
    last = 0
    for t in range(len(z)):
        if x is None:
            if valid[t]:
                rt = r / np.clip(score[t], 0.01, 1) if weighted else r
                x, p, last = np.array([z[t], 0.0]), np.diag([rt, 100.0]), t
                out[t] = z[t]
            continue
        dt = t - last
        f = np.array([[1.0, dt], [0.0, 1.0]])
        g = np.array([[dt**2 / 2], [dt]])
        x_pred, p_pred = f @ x, f @ p @ f.T + q * (g @ g.T)
        if not valid[t]:
            out[t] = x_pred[0]
            continue
        rt = r / np.clip(score[t], 0.01, 1) if weighted else r
        h = np.array([[1.0, 0.0]])
        k = p_pred @ h.T / (h @ p_pred @ h.T + rt)
        x = x_pred + (k * (z[t] - x_pred[0])).ravel()
        p = (np.eye(2) - k @ h) @ p_pred
        last = t
        out[t] = x[0]
    return out


@pytest.mark.parametrize("weighted", [True, False])
def test_kalman_equals_the_textbook_filter_with_gaps_and_scores(weighted):
    f = KalmanFilter(process=1.5, measurement=5.0, score_weighted=weighted)
    x = walk(frames=40, joints=3)
    valid = holes(40, 3, p=0.3)
    valid[:3, 0] = False  # a joint that starts late
    scores = torch.rand(40, 3, dtype=torch.float64)
    got = f(x, scores, valid)
    for j in range(3):
        for c in range(2):
            want = kalman_reference(x[:, j, c].numpy(), scores[:, j].numpy(), valid[:, j].numpy(), 1.5, 5.0, weighted)
            np.testing.assert_allclose(got[:, j, c].numpy(), want, rtol=0, atol=1e-9)


def test_kalman_follows_constant_velocity_and_extrapolates_a_gap():
    """On a noiseless constant-velocity track the estimate converges to the truth, and through a
    run of invalid frames it continues at the learned speed (a median or One-Euro holds still)."""
    t = torch.arange(60, dtype=torch.float64)
    x = torch.stack([10 + 3 * t, 5 - 2 * t], -1)[:, None, :]  # (F, 1, 2)
    valid = torch.ones(60, 1, dtype=torch.bool)
    valid[40:50] = False
    out = KalmanFilter(process=0.1, measurement=4.0)(x, valid=valid)
    assert float((out[30:] - x[30:]).abs().max()) < 0.05  # the gap is bridged along the line
    held = build_filter("one-euro:min_cutoff=1,beta=0.05")(x, valid=valid)
    assert float((held[45] - x[45]).abs().max()) > 10


# ------------------------------------------------------------------ invariances, batching, streaming


@pytest.mark.parametrize("spec", SPECS)
def test_constant_tracks_are_unchanged(spec):
    x = torch.tensor([12.5, -3.0], dtype=torch.float64).expand(25, 4, 2).clone()
    valid = holes(25, 4, p=0.3)
    scores = torch.rand(25, 4, dtype=torch.float64)
    torch.testing.assert_close(build_filter(spec)(x, scores, valid), x, rtol=0, atol=1e-10)


@pytest.mark.parametrize("spec", SPECS)
def test_filters_commute_with_translation(spec):
    f = build_filter(spec)
    x = walk(3, frames=30)
    valid = holes(3, 30, 3)
    shift = torch.tensor([[-40.0, 17.25], [3.0, 0.5], [1000.0, -250.0]], dtype=torch.float64)[:, None, None, :]
    torch.testing.assert_close(f(x + shift, valid=valid), f(x, valid=valid) + shift, rtol=0, atol=1e-9)


@pytest.mark.parametrize("spec", SPECS)
def test_invalid_frames_do_not_influence_the_output(spec):
    f = build_filter(spec)
    x = walk(2, frames=30)
    valid = holes(2, 30, 3)
    scores = torch.rand(2, 30, 3, dtype=torch.float64)
    other, other_scores = x.clone(), scores.clone()
    other[~valid] = torch.tensor([1e6, float("nan")], dtype=torch.float64)
    other_scores[~valid] = float("inf")
    a, b = f(x, scores, valid), f(other, other_scores, valid)
    if f.name in ("one-euro", "kalman"):
        keep = valid.cummax(dim=1).values  # from a joint's first valid frame on
    else:  # frames whose window holds a valid frame
        keep = torch.stack([
            torch.stack([valid[:, list(window_of(t, 30, f.window, f.causal)), j].any(1) for j in range(3)], -1)
            for t in range(30)
        ], 1)
    assert keep.float().mean() > 0.9
    torch.testing.assert_close(a[keep], b[keep], rtol=0, atol=0)


@pytest.mark.parametrize("spec", SPECS)
def test_batched_equals_a_loop_over_tracks(spec):
    f = build_filter(spec)
    x = walk(2, 3, frames=20)
    valid = holes(2, 3, 20, 3)
    scores = torch.rand(2, 3, 20, 3, dtype=torch.float64)
    batched = f(x, scores, valid)
    for i in range(2):
        for k in range(3):
            torch.testing.assert_close(batched[i, k], f(x[i, k], scores[i, k], valid[i, k]), rtol=0, atol=1e-12)


@pytest.mark.parametrize("spec", SPECS)
def test_online_equals_offline(spec):
    f = build_filter(spec)
    x = walk(2, frames=25)  # two tracks pushed together: (2, J, 2) a frame
    valid = holes(2, 25, 3)
    scores = torch.rand(2, 25, 3, dtype=torch.float64)
    offline = f(x, scores, valid)
    online = f.online()
    assert online.latency == f.latency
    got = {}
    for t in range(25):
        ready = online.push(x[:, t], scores[:, t], valid[:, t])
        assert [i for i, _ in ready] == ([t - f.latency] if t >= f.latency else [])
        got.update(ready)
    got.update(online.flush())
    assert sorted(got) == list(range(25))
    for t in range(25):
        torch.testing.assert_close(got[t], offline[:, t], rtol=0, atol=1e-12)


@pytest.mark.parametrize("spec", SPECS)
def test_skipping_frames_equals_pushing_invalid_ones(spec):
    f = build_filter(spec)
    x = walk(frames=30)
    valid = torch.ones(30, 3, dtype=torch.bool)
    valid[8:11] = False  # a short gap
    valid[14:27] = False  # a gap longer than any window
    offline = f(x, valid=valid)
    online, got = f.online(), {}
    t = 0
    while t < 30:
        if not valid[t].any():
            gap = int((~valid[t:].any(-1)).int().cumprod(0).sum())
            ready = online.skip(gap)
            assert all(i < t for i, _ in ready)  # only frames before the gap
            got.update(ready)
            t += gap
            continue
        got.update(online.push(x[t]))
        t += 1
    got.update(online.flush())
    for t in range(30):
        if valid[t].all():
            torch.testing.assert_close(got[t], offline[t], rtol=0, atol=1e-12)


@pytest.mark.parametrize("spec", ["median:window=5", "savgol:window=7,order=2", "mean:window=3,causal=true",
                                  "one-euro:beta=0.1"])
def test_track_smoother_equals_the_offline_filter_of_each_track(spec):
    """Tracks that start, pause and end at different frames: each is filtered over its span, its
    absent frames invalid; frames come back in order, each once all its tracks are ready."""
    f = build_filter(spec)
    frames = 40
    spans = {3: [(0, 40)], 7: [(5, 12), (15, 22)], 9: [(10, 13), (30, 40)], 11: [(20, 21)]}
    present = {k: torch.zeros(frames, dtype=torch.bool) for k in spans}
    for k, pieces in spans.items():
        for a, b in pieces:
            present[k][a:b] = True
    tracks = {k: walk(frames=frames, joints=2, seed=k) for k in spans}
    smoother = TrackFilter(f)
    out = []
    for t in range(frames):
        ids = [k for k in spans if present[k][t]]
        kp = torch.stack([tracks[k][t] for k in ids]) if ids else torch.zeros(0, 2, 2, dtype=torch.float64)
        ready = smoother.push(ids, kp, item=(t, ids))
        assert [i for (i, _), _ in ready] == ([t - f.latency] if t >= f.latency else [])  # track 3 is always there
        out += ready
    out += smoother.flush()
    assert [i for (i, _), _ in out] == list(range(frames))
    for k in spans:
        first = int(present[k].nonzero()[0])
        last = int(present[k].nonzero()[-1])
        valid = present[k][first:last + 1, None].expand(-1, 2)
        expected = f(tracks[k][first:last + 1], valid=valid)
        for (t, ids), kp in out:
            if k in ids:
                torch.testing.assert_close(kp[ids.index(k)], expected[t - first], rtol=0, atol=1e-12)


def test_track_smoother_latency():
    smoother = TrackFilter("median:window=5")
    x = walk(frames=8, joints=1)
    released = []
    for t in range(8):
        released.append([i for i, _ in smoother.push([0], x[t][None], item=t)])
    assert released == [[], [], [0], [1], [2], [3], [4], [5]]
    assert [i for i, _ in smoother.flush()] == [6, 7]


# ------------------------------------------------------------------ registry, dtypes, bad input


def test_registry_names_options_and_latency():
    assert list_filters() == ["median", "mean", "savgol", "one-euro", "kalman"] == list(FILTERS)
    f = build_filter("savgol:window=9,order=3")
    assert isinstance(f, SavgolFilter) and (f.window, f.order, f.causal, f.latency) == (9, 3, False, 4)
    assert build_filter(f.spec()) == f and f.spec() == "savgol:window=9,order=3,causal=false"
    assert build_filter("median").latency == 2 and not build_filter("median").causal
    c = build_filter("mean:window=4,causal=yes")
    assert c.causal and c.latency == 0 and c.offsets.tolist() == [-3, -2, -1, 0]
    e = build_filter("one-euro:min-cutoff=0.5,beta=0.01", fps=25)
    assert e.causal and e.latency == 0 and (e.min_cutoff, e.beta, e.fps) == (0.5, 0.01, 25.0)
    assert build_filter("one-euro:fps=60", fps=25).fps == 60.0  # the spec wins over a default
    assert build_filter("median", fps=25) == MedianFilter(5)  # defaults a filter does not take are ignored
    assert e.describe() == {"name": "one-euro", "options": {"min_cutoff": 0.5, "beta": 0.01, "d_cutoff": 1.0,
                                                              "fps": 25.0},
                            "spec": "one-euro:min_cutoff=0.5,beta=0.01,d_cutoff=1,fps=25",
                            "causal": True, "latency_frames": 0}
    # the short label of tables and pictures: a window alone as "median 5", else name and options
    assert build_filter("median:window=5").label() == "median 5"
    assert build_filter("mean:window=3,causal=true").label() == "mean window=3, causal=true"
    assert build_filter("savgol:window=9,order=3").label() == "savgol window=9, order=3"
    assert e.label() == "one-euro min_cutoff=0.5, beta=0.01, d_cutoff=1, fps=25"


@pytest.mark.parametrize("spec,message", [
    ("gauss:window=5", "unknown filter 'gauss'"),
    ("median:order=2", "bad option 'order=2'"),
    ("median:window", "bad option 'window'"),
    ("median:window=five", "window must be int"),
    ("median:window=4", "centred window must be odd"),
    ("mean:window=0,causal=true", "window must be >= 1"),
    ("savgol:window=5,order=5", r"order must be in \[0, window\)"),
    ("savgol:causal=maybe", "causal must be bool"),
    ("one-euro:min_cutoff=0", "min_cutoff must be a finite number > 0"),
    ("one-euro:beta=-1", "beta must be a finite number >= 0"),
    ("kalman:process=0", "process must be a finite number > 0"),
    ("kalman:measurement=inf", "measurement must be a finite number > 0"),
])
def test_bad_specs_are_named(spec, message):
    with pytest.raises(ValueError, match=message):
        build_filter(spec)


def test_bad_tracks_are_named():
    f = MedianFilter(3)
    with pytest.raises(ValueError, match=r"\(\.\.\., F, J, 2\)"):
        f(torch.zeros(5, 3))
    with pytest.raises(ValueError, match="floating point"):
        f(torch.zeros(5, 3, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="valid must be a bool tensor"):
        f(torch.zeros(5, 3, 2), valid=torch.ones(5, 3))
    with pytest.raises(ValueError, match="scores must be"):
        f(torch.zeros(5, 3, 2), scores=torch.ones(5, 2))
    bad = torch.zeros(5, 3, 2)
    bad[2, 1, 0] = float("nan")
    with pytest.raises(ValueError, match="finite"):
        f(bad)
    f(bad, valid=~torch.isnan(bad).any(-1))  # fine once marked invalid
    with pytest.raises(ValueError, match="no frames"):
        f(torch.zeros(0, 3, 2))
    online = f.online()
    online.push(torch.zeros(3, 2))
    with pytest.raises(ValueError, match="shape of the first"):
        online.push(torch.zeros(4, 2))


def test_dtypes_devices_and_float64_precision():
    x64 = walk(frames=20) * 1e6  # large coordinates: float64 keeps the digits float32 would lose
    for spec in SPECS:
        f = build_filter(spec)
        out64 = f(x64)
        assert out64.dtype == torch.float64
        out32 = f(x64.float())
        assert out32.dtype == torch.float32
        torch.testing.assert_close(out32.double(), out64, rtol=1e-6, atol=0)
    # a constant offset far above the signal does not leak float32 rounding into a float64 result
    base = walk(frames=20)
    torch.testing.assert_close(SavgolFilter(7, 3)(base + 1e9) - 1e9, SavgolFilter(7, 3)(base), rtol=0, atol=1e-5)
