"""Keep one consistent main person in a multi-person stream, and account for the frames where they are missing.

Why: recognising a person's micro-gestures from a stream means following *that* person. Readers hand over
``[M, T, V, C]`` clips whose person slots may swap between frames (PYSKL pickles, ``.npy`` arrays, pose
tools without a tracker) or hold a passer-by. ``select_main_person`` picks, per frame, the candidate that
continues a smoothed trajectory of the most prominent person (large, confident, and where that person
has been) — all in array operations over ``[M, T]``, no per-frame Python loop. Frames where the main
person is not seen stay NaN: nothing is invented. ``fill_short_gaps`` can bridge gaps of a few frames by
linear interpolation; it is off by default (``max_gap=0``) because an interpolated hand is a guess.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.ndimage import median_filter

from ..errors import ConfigError
from .clip import DEFAULT_FPS, Clip
from .layouts import get_layout


@dataclass
class TrackingReport:
    """How the main person was followed; every count is in frames."""

    candidates: int  # person slots in the input
    frames: int
    frames_with_main_person: int
    frames_missing: int
    longest_gap: int
    switches_avoided: int  # frames where the most prominent candidate was not the tracked person
    frames_filled: int = 0  # by fill_short_gaps (0 unless asked for)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _candidate_features(kp: np.ndarray, scores: np.ndarray | None, center: int):
    """Per ``[M, T]``: anchor (centre joint, else mean of seen joints), size (bbox diagonal), prominence."""
    valid = np.isfinite(kp).all(-1)  # [M, T, V]
    xy = np.where(valid[..., None], kp[..., :2], np.nan)
    seen = valid.any(-1)
    with np.errstate(invalid="ignore"), _no_nan_warnings():
        mean = np.nanmean(xy, axis=2)
        lo, hi = np.nanmin(xy, axis=2), np.nanmax(xy, axis=2)
    anchor = np.where(valid[..., center, None], xy[:, :, center], mean)
    size = np.nan_to_num(np.hypot(*(hi - lo).transpose(2, 0, 1)), nan=0.0)
    if scores is not None:
        conf = np.where(valid, np.nan_to_num(scores), 0.0).sum(-1) / np.maximum(valid.sum(-1), 1)
    else:
        conf = valid.mean(-1)
    prominence = np.where(seen, size * conf * valid.mean(-1), -np.inf)
    return anchor, size, prominence, seen


class _no_nan_warnings:
    def __enter__(self) -> None:
        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc: object) -> None:
        self._w.__exit__(*exc)


def _ffill_bfill(x: np.ndarray) -> np.ndarray:
    """Fill NaN rows of ``[T, D]`` with the last (then next) finite row — vectorised index trick."""
    ok = np.isfinite(x).all(-1)
    if not ok.any():
        return x
    idx = np.where(ok, np.arange(len(x)), 0)
    np.maximum.accumulate(idx, out=idx)
    first = int(np.argmax(ok))
    idx[:first] = first
    return x[idx]


def select_main_person(clip: Clip, *, smooth_s: float = 2.0, gate: float = 1.0) -> tuple[Clip, TrackingReport]:
    """Reduce ``clip`` to ``[1, T, V, C]``: the main person, NaN where they are not seen.

    1. Per frame, the most prominent candidate (body-box diagonal × mean confidence × fraction of joints
       seen) gives a reference anchor; its track is median-filtered over ``smooth_s`` seconds so a single
       frame in which a passer-by is larger does not move it.
    2. Per frame, the candidate nearest that smoothed reference is kept, if within ``gate`` × its size;
       otherwise the frame is missing.
    """
    kp = clip.keypoints
    m, t, v, _ = kp.shape
    center = get_layout(clip.meta.layout).center_index if clip.meta.layout else 0
    if m == 1:
        seen = np.isfinite(kp[0]).all(-1).any(-1)
        return clip, _report(1, seen, 0)
    if gate <= 0:
        raise ConfigError(f"tracking gate must be positive, got {gate}")
    anchor, size, prom, seen = _candidate_features(kp, clip.scores, center)  # [M, T, 2], [M, T], ...
    best = np.argmax(prom, axis=0)  # [T]
    frames = np.arange(t)
    any_seen = seen.any(0)
    ref = np.where(any_seen[:, None], anchor[best, frames], np.nan)
    ref_size = np.where(any_seen, size[best, frames], np.nan)
    fps = clip.meta.fps or DEFAULT_FPS
    width = max(1, int(round(smooth_s * fps)) | 1)  # odd window
    ref = median_filter(_ffill_bfill(ref), size=(width, 1), mode="nearest")
    ref_size = median_filter(_ffill_bfill(ref_size[:, None]), size=(width, 1), mode="nearest")[:, 0]
    dist = np.hypot(*(anchor - ref[None]).transpose(2, 0, 1))  # [M, T]
    dist = np.where(seen, dist, np.inf)
    pick = np.argmin(np.nan_to_num(dist, nan=np.inf), axis=0)
    ok = np.isfinite(dist[pick, frames]) & (dist[pick, frames] <= gate * np.maximum(ref_size, 1e-6))
    out = np.full((1, t, v, kp.shape[-1]), np.nan, dtype=np.float32)
    out[0, ok] = kp[pick[ok], frames[ok]]
    scores = None
    if clip.scores is not None:
        scores = np.zeros((1, t, v), dtype=np.float32)
        scores[0, ok] = clip.scores[pick[ok], frames[ok]]
    switches = int((ok & any_seen & (pick != best)).sum())
    meta = type(clip.meta)(**{**clip.meta.__dict__, "extra": {**clip.meta.extra}})
    report = _report(m, ok, switches)
    meta.extra["tracking"] = report.to_dict()
    return Clip(out, meta, scores), report


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start indices and lengths of the runs of True in a 1-D bool array."""
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
    return starts, ends - starts


def _report(candidates: int, seen: np.ndarray, switches: int) -> TrackingReport:
    _, gaps = _runs(~seen)
    return TrackingReport(candidates=candidates, frames=int(seen.size), frames_with_main_person=int(seen.sum()),
                          frames_missing=int((~seen).sum()), longest_gap=int(gaps.max()) if gaps.size else 0,
                          switches_avoided=switches)


def fill_short_gaps(clip: Clip, max_gap: int = 0) -> tuple[Clip, int]:
    """Linearly interpolate each joint across gaps of at most ``max_gap`` frames *between* observations.

    Longer gaps, and gaps at the start or end of the stream, stay NaN. Returns the clip and the number of
    joint-frames filled. ``max_gap=0`` (the default everywhere) returns the clip unchanged.
    """
    if max_gap < 0:
        raise ConfigError(f"max_gap must be >= 0, got {max_gap}")
    if max_gap == 0:
        return clip, 0
    kp = clip.keypoints
    m, t, v, c = kp.shape
    series = kp.transpose(0, 2, 3, 1).reshape(-1, t)  # [M*V*C, T]
    missing = ~np.isfinite(series)
    # length of the NaN run each position belongs to, and whether it is bounded on both sides
    d = np.diff(np.concatenate([np.zeros((len(series), 1), bool), missing, np.zeros((len(series), 1), bool)],
                               axis=1).astype(np.int8), axis=1)
    run_id = np.cumsum(d == 1, axis=1)[:, :t] * missing  # 1-based id of the gap each NaN is in
    row_base = np.arange(len(series))[:, None] * (t + 1)
    flat_id = (run_id + row_base)[missing]
    lengths = np.bincount(flat_id, minlength=int(row_base.max()) + t + 2)
    gap_len = np.zeros_like(series, dtype=np.int64)
    gap_len[missing] = lengths[flat_id]
    seen = ~missing
    has_before = np.maximum.accumulate(seen, axis=1)
    has_after = np.maximum.accumulate(seen[:, ::-1], axis=1)[:, ::-1]
    fillable = missing & (gap_len <= max_gap) & has_before & has_after
    if not fillable.any():
        return clip, 0
    idx = np.arange(t)
    prev_i = np.where(seen, idx, -1)
    np.maximum.accumulate(prev_i, axis=1, out=prev_i)
    next_i = np.where(seen, idx, t)
    next_i = np.minimum.accumulate(next_i[:, ::-1], axis=1)[:, ::-1]
    rows, cols = np.nonzero(fillable)
    p, n = prev_i[rows, cols], next_i[rows, cols]
    w = (cols - p) / (n - p)
    out = series.copy()
    out[rows, cols] = series[rows, p] * (1 - w) + series[rows, n] * w
    kp2 = out.reshape(m, v, c, t).transpose(0, 3, 1, 2).astype(np.float32)
    filled_joint_frames = int(fillable.reshape(m, v, c, t)[:, :, 0].sum())
    meta = type(clip.meta)(**{**clip.meta.__dict__, "extra": {**clip.meta.extra, "gap_fill_max": max_gap}})
    return Clip(kp2, meta, clip.scores), filled_joint_frames
