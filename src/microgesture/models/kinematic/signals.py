"""Vectorised time-series operations the detectors share: gap filling, smoothing, velocities, band amplitude.

Why here and not in each detector: every measure must treat missing joints the same way. A short gap
(a joint lost for a few frames) is bridged by linear interpolation; a long one stays NaN, so a frame without
the joints a measure needs yields NaN and can never become an event. All functions take ``[T, ...]`` arrays
(time first) and work on every column at once; pandas and scipy do the per-column work in C.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.ndimage import uniform_filter1d
from scipy.signal import butter, sosfiltfilt


def _as_2d(x: np.ndarray) -> tuple[np.ndarray, tuple[int, ...]]:
    x = np.asarray(x, dtype=np.float32)
    return x.reshape(x.shape[0], -1), x.shape


def fill_gaps(x: np.ndarray, max_gap: int) -> np.ndarray:
    """Linearly interpolate NaN gaps of at most ``max_gap`` frames inside each column; longer gaps and the
    clip's leading/trailing gaps stay NaN."""
    x2, shape = _as_2d(x)
    ok = np.isfinite(x2)
    if ok.all() or max_gap <= 0:
        return x2.reshape(shape).copy()
    t = x2.shape[0]
    okt = np.ascontiguousarray(ok.T)  # [K, T]: accumulate along contiguous time
    idx = np.arange(t, dtype=np.int32)[None, :]
    prev = np.maximum.accumulate(np.where(okt, idx, -1), axis=1)  # last observed frame at or before t
    nxt = np.minimum.accumulate(np.where(okt, idx, t)[:, ::-1], axis=1)[:, ::-1]  # first observed at/after t
    fill = ~okt & (prev >= 0) & (nxt < t) & (nxt - prev - 1 <= max_gap)
    out = x2.copy()
    if fill.any():
        cols, rows = np.nonzero(fill)
        p, n = prev[cols, rows], nxt[cols, rows]
        w = ((rows - p) / (n - p)).astype(np.float32)
        out[rows, cols] = x2[p, cols] * (1 - w) + x2[n, cols] * w
    return out.reshape(shape)


def smooth(x: np.ndarray, frames: int) -> np.ndarray:
    """Centred moving average over ``frames`` (NaN-aware: the mean of the finite values in the window;
    frames that were NaN stay NaN)."""
    if frames <= 1:
        return np.asarray(x, dtype=np.float32).copy()
    x2, shape = _as_2d(x)
    ok = np.isfinite(x2)
    num = uniform_filter1d(np.where(ok, x2, 0.0), frames, axis=0, mode="nearest")
    den = uniform_filter1d(ok.astype(np.float32), frames, axis=0, mode="nearest")
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(ok & (den > 0), num / np.maximum(den, 1e-9), np.nan)
    return out.astype(np.float32).reshape(shape)


def rolling_median(x: np.ndarray, frames: int, min_fraction: float = 0.2) -> np.ndarray:
    """Centred rolling median over ``frames`` ignoring NaN (NaN where fewer than ``min_fraction`` are finite)."""
    x2, shape = _as_2d(x)
    frames = max(1, min(int(frames), x2.shape[0]))
    out = pd.DataFrame(x2).rolling(frames, center=True, min_periods=max(1, int(frames * min_fraction))).median()
    return out.to_numpy(np.float32).reshape(shape)


def velocity(x: np.ndarray, fps: float) -> np.ndarray:
    """Time derivative (units per second) by central differences; NaN next to missing frames."""
    x = np.asarray(x, dtype=np.float32)
    if x.shape[0] < 2:
        return np.full_like(x, np.nan)
    return (np.gradient(x, axis=0) * np.float32(fps)).astype(np.float32)


def speed(x: np.ndarray, fps: float) -> np.ndarray:
    """``[T, C]`` positions → ``[T]`` speed (units per second)."""
    return np.linalg.norm(velocity(x, fps), axis=-1)


def window_rms(x: np.ndarray, frames: int) -> np.ndarray:
    """Root mean square over a centred window of ``frames`` (NaN-aware), summed over trailing axes."""
    x2, _ = _as_2d(x)
    ok = np.isfinite(x2)
    power = np.where(ok.any(axis=1), np.where(ok, x2 * x2, 0.0).sum(axis=1), np.nan)
    return np.sqrt(smooth(power, frames))


def band_amplitude(x: np.ndarray, fps: float, low_hz: float, high_hz: float, window: int) -> np.ndarray:
    """RMS amplitude of ``x`` [T, K] in the band ``low_hz..high_hz`` over a centred window (summed over K).

    Gaps are bridged by interpolation before filtering (zero-phase Butterworth) and masked again after, so
    a missing stretch reads as NaN, not as motion. Periodic movements (shaking shoulders, rubbing hands)
    raise this amplitude; slow posture changes and frame-to-frame jitter above ``high_hz`` do not.
    """
    x2, _ = _as_2d(x)
    t = x2.shape[0]
    high = min(high_hz, 0.45 * fps)
    if t < 16 or high <= low_hz:
        return np.full(t, np.nan, np.float32)
    bad = ~np.isfinite(x2)
    filled = pd.DataFrame(x2).interpolate(limit_direction="both", axis=0).to_numpy(np.float64)
    filled = np.where(np.isfinite(filled), filled, 0.0)
    sos = butter(2, [low_hz, high], btype="band", fs=fps, output="sos")
    band = sosfiltfilt(sos, filled, axis=0, padlen=min(3 * 7, t - 1)).astype(np.float32)
    band[bad] = np.nan
    return window_rms(band, window)


def point_segment_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray, t_max: float = 1.0) -> np.ndarray:
    """Distance from points ``p [..., C]`` to segments ``a→b`` (broadcast), the segment cut at ``t_max``."""
    ab = b - a
    denom = np.maximum((ab * ab).sum(-1), 1e-9)
    t = np.clip(((p - a) * ab).sum(-1) / denom, 0.0, t_max)
    return np.linalg.norm(p - (a + t[..., None] * ab), axis=-1)
