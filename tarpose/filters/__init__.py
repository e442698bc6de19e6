"""Keypoint-track filters: median, score-weighted mean, Savitzky-Golay, One-Euro, Kalman.

A track is ``(F, J, 2)`` keypoints over ``F`` frames (batched: ``(..., F, J, 2)``, one track per
leading index) with optional scores ``(..., F, J)`` and validity ``(..., F, J)`` bool. Every
filter returns the filtered track with the input's shape and dtype (the arithmetic runs in
float64), vectorised over tracks and joints.

Windows. A centred filter of window ``W`` (odd) reads frames ``t - W//2 .. t + W//2`` and has a
latency of ``W//2`` frames; a causal one (``causal=True``) reads ``t - W + 1 .. t`` and has none.
Only frames that exist and are valid enter a window: at the ends of a track the window is
truncated (never padded, never shifted), and an invalid frame is treated exactly as a frame that
does not exist. So a filter has no padding artefacts, invalid frames never influence an output,
and a filter run online over a stream (`KeypointFilter.online`) equals the filter run
offline over the whole track. A frame whose window holds no valid frame keeps its input value;
an invalid frame whose window holds valid frames gets the filtered estimate (a gap is bridged).

Filters (`build_filter` builds them from a name like ``"savgol:window=9,order=2"``):

- ``median``: the per-coordinate median of the window (the mean of the two middle values when
  the window holds an even number of valid frames).
- ``mean``: the score-weighted mean of the window (scores clamped at 0; uniform weights without
  scores, or when every score of a window is 0).
- ``savgol``: Savitzky-Golay: the least-squares polynomial of degree ``order`` through the
  window's valid frames, evaluated at frame ``t`` (causal: at the window's last point). On the
  interior of a fully valid track this is ``scipy.signal.savgol_filter``; at the ends the
  polynomial is fit to the truncated window (scipy's ``mode='interp'`` shifts the window instead,
  which would need ``W - 1`` frames of look-ahead at the start of a track), and when a window
  holds ``n <= order`` valid frames the degree drops to ``n - 1``.
- ``one-euro``: the 1-Euro filter (Casiez, Roussel and Vogel, CHI 2012), causal, applied to each
  coordinate: ``alpha(fc) = 1 / (1 + rate / (2 pi fc))``; the derivative
  ``dx = (x_t - xhat_{t-1}) * rate`` is smoothed with ``alpha(d_cutoff)``, the cutoff is
  ``min_cutoff + beta * |dxhat|`` and ``xhat_t = alpha * x_t + (1 - alpha) * xhat_{t-1}``; the
  first valid frame passes unchanged (``dxhat = 0``). Invalid frames are skipped (the estimate is
  held) and the next valid frame uses the elapsed time: ``rate = fps / gap``.
- ``kalman``: a constant-velocity Kalman filter, causal, on each coordinate: state position and
  velocity, ``x_t = x_{t-1} + v_{t-1}``, white acceleration of variance ``process`` (over a gap of
  ``dt`` frames ``Q = process [[dt^4/4, dt^3/2], [dt^3/2, dt^2]]``), measurements of the position
  with variance ``measurement`` (divided by the keypoint's score, clamped to ``[0.01, 1]``, when
  ``score_weighted``). The first valid frame starts the track at rest; an invalid frame gets the
  prediction (the position carried forward by the velocity) and changes nothing.
"""

from .base import KeypointFilter, OnlineFilter
from .kalman import KalmanFilter
from .one_euro import OneEuroFilter
from .registry import FILTERS, build_filter, list_filters
from .track import TrackFilter
from .windowed import MAX_WINDOW, MeanFilter, MedianFilter, SavgolFilter, WindowFilter

__all__ = [
    "FILTERS",
    "MAX_WINDOW",
    "KalmanFilter",
    "KeypointFilter",
    "MeanFilter",
    "MedianFilter",
    "OneEuroFilter",
    "OnlineFilter",
    "SavgolFilter",
    "TrackFilter",
    "WindowFilter",
    "build_filter",
    "list_filters",
]
