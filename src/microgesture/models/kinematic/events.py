"""From a per-frame measure to events: hysteresis, gap merging, minimum durations.

Why hysteresis: a measure near its threshold flickers frame to frame (keypoint jitter); an event is a stretch
past a looser ``exit`` threshold that somewhere reaches the stricter ``enter`` one, so a touch is one event
instead of ten, and it spans the whole movement rather than only its strongest part. Gaps shorter than
``merge_gap`` (a hand briefly lost or lifted) are bridged, and runs shorter than ``min_duration`` dropped.
"""

from __future__ import annotations

import numpy as np


def hysteresis(value: np.ndarray, enter: float | np.ndarray, exit: float | np.ndarray, higher: bool = True,
               gate: np.ndarray | None = None) -> np.ndarray:
    """``[T]`` bool: the stretches where ``value`` is past ``exit`` that contain a frame past ``enter``.

    Two-sided, so an event starts where the movement starts (the measure first passes ``exit``), not where
    it first gets strong. ``higher``: the measure is strong when large (else when small, e.g. a distance).
    NaN and frames where ``gate`` is False end a stretch (missing joints never hold an event open).
    ``enter`` / ``exit`` may be per-frame arrays.
    """
    v = np.asarray(value, dtype=np.float64)
    ok = np.isfinite(v) & (True if gate is None else np.asarray(gate, bool))
    with np.errstate(invalid="ignore"):
        strong = ok & ((v >= enter) if higher else (v <= enter))
        weak = ok & ((v >= exit) if higher else (v <= exit))
    weak |= strong
    r = runs(weak)
    if not len(r):
        return np.zeros(v.shape[0], bool)
    cs = np.concatenate([[0], np.cumsum(strong)])
    kept = r[cs[r[:, 1] + 1] - cs[r[:, 0]] > 0]
    edges = np.zeros(v.shape[0] + 1, np.int64)
    np.add.at(edges, kept[:, 0], 1)
    np.add.at(edges, kept[:, 1] + 1, -1)
    return np.cumsum(edges)[:-1] > 0


def runs(mask: np.ndarray) -> np.ndarray:
    """``[T]`` bool → ``[N, 2]`` inclusive (start, end) frame indices of its True runs."""
    m = np.concatenate([[False], np.asarray(mask, bool), [False]]).astype(np.int8)
    d = np.diff(m)
    return np.stack([np.flatnonzero(d == 1), np.flatnonzero(d == -1) - 1], axis=1).astype(np.int64)


def merge_runs(r: np.ndarray, max_gap: int) -> np.ndarray:
    """Join runs separated by at most ``max_gap`` frames."""
    if len(r) < 2 or max_gap <= 0:
        return r
    gaps = r[1:, 0] - r[:-1, 1] - 1
    new_group = np.concatenate([[True], gaps > max_gap])
    gid = np.cumsum(new_group) - 1
    starts = r[new_group, 0]
    ends = np.zeros(gid[-1] + 1, dtype=np.int64)
    np.maximum.at(ends, gid, r[:, 1])
    return np.stack([starts, ends], axis=1)


def decode(value: np.ndarray, *, enter: float, exit: float, higher: bool, fps: float,
           min_duration_s: float, merge_gap_s: float, gate: np.ndarray | None = None,
           max_duration_s: float | None = None) -> np.ndarray:
    """Hysteresis → merge gaps → drop short (and, if given, over-long) runs. Returns ``[N, 2]`` runs."""
    r = runs(hysteresis(value, enter, exit, higher, gate))
    r = merge_runs(r, int(round(merge_gap_s * fps)))
    if not len(r):
        return r
    length = r[:, 1] - r[:, 0] + 1
    keep = length >= max(1, int(round(min_duration_s * fps)))
    if max_duration_s:
        keep &= length <= int(round(max_duration_s * fps))
    return r[keep]


def ramp(value: np.ndarray, threshold: float, higher: bool) -> np.ndarray:
    """Per-frame strength in [0, 1]: 0.5 exactly at ``threshold``, 1 at twice it (or at 0 for a distance)."""
    v = np.asarray(value, dtype=np.float32)
    th = max(float(threshold), 1e-6)
    s = v / (2 * th) if higher else 1.0 - v / (2 * th)
    return np.where(np.isfinite(s), np.clip(s, 0.0, 1.0), 0.0).astype(np.float32)
