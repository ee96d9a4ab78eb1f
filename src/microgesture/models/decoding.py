"""From per-window or per-frame class scores to MG events, and the timeline type every recogniser returns.

Why in ``models``: a window classifier (``training.windows``) and the kinematic detectors
(``models.kinematic``) both end in "class scores per frame → events with a start, an end, a class, a score
and the evidence behind it"; evaluation, the pipeline and the report all read the same
:class:`Recognition`. Everything here is vectorised numpy (difference arrays, run-length encoding).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.ndimage import median_filter, uniform_filter1d

from ..data.annotations import write_eaf
from ..data.windows import BACKGROUND
from ..errors import ConfigError
from ..utils.io import atomic_write, write_json

EVENT_COLUMNS = ["start_frame", "end_frame", "label", "label_name", "score", "start", "end", "evidence"]


def frame_scores(probs: np.ndarray, starts: np.ndarray, window: int, num_frames: int) -> np.ndarray:
    """Mean probability over the windows covering each frame, ``[T, K]`` (difference arrays, no loop)."""
    k = probs.shape[1]
    diff = np.zeros((num_frames + window + 1, k), dtype=np.float64)
    np.add.at(diff, starts, probs)
    np.add.at(diff, starts + window, -probs)
    acc = np.cumsum(diff, axis=0)[:num_frames]
    cover = np.zeros(num_frames + window + 1, dtype=np.int64)
    np.add.at(cover, starts, 1)
    np.add.at(cover, starts + window, -1)
    count = np.cumsum(cover)[:num_frames]
    return (acc / np.maximum(count, 1)[:, None]).astype(np.float32)


def smooth_scores(scores: np.ndarray, method: str = "mean", frames: int = 9) -> np.ndarray:
    """Temporal smoothing of ``[T, K]`` per-frame scores (moving average or median)."""
    if method == "none" or frames <= 1 or len(scores) == 0:
        return scores
    if method == "mean":
        return uniform_filter1d(scores, size=frames, axis=0, mode="nearest")
    if method == "median":
        return median_filter(scores, size=(frames, 1), mode="nearest")
    raise ConfigError(f"unknown smoothing {method!r}")


def _runs(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run-length encoding of a 1-D int array: (starts, lengths, values)."""
    if values.size == 0:
        e = np.zeros(0, dtype=np.int64)
        return e, e, e
    change = np.flatnonzero(np.diff(values)) + 1
    starts = np.concatenate([[0], change])
    lengths = np.diff(np.concatenate([starts, [values.size]]))
    return starts, lengths, values[starts]


def frame_labels(scores: np.ndarray, background: int | None, threshold: float, merge_gap: int) -> np.ndarray:
    """Per-frame class index, ``-1`` for background: the best non-background class if it passes ``threshold``
    and beats the background score; short background gaps between two runs of one class are closed."""
    t, k = scores.shape
    fg = np.ones(k, dtype=bool)
    if background is not None:
        fg[background] = False
    if not fg.any() or t == 0:
        return np.full(t, -1, dtype=np.int64)
    fg_scores = np.where(fg[None], scores, -np.inf)
    best = np.argmax(fg_scores, axis=1)
    best_p = fg_scores[np.arange(t), best]
    ok = best_p >= threshold
    if background is not None:
        ok &= best_p >= scores[:, background]
    lab = np.where(ok, best, -1).astype(np.int64)
    if merge_gap > 0:
        starts, lengths, vals = _runs(lab)
        if len(vals) >= 3:
            inner = np.arange(1, len(vals) - 1)
            close = (vals[inner] == -1) & (lengths[inner] <= merge_gap) & (vals[inner - 1] == vals[inner + 1])
            vals = vals.copy()
            vals[inner[close]] = vals[inner[close] - 1]
            lab = np.repeat(vals, lengths)
    return lab


def labels_to_events(lab: np.ndarray, scores: np.ndarray, min_frames: int) -> pd.DataFrame:
    """Runs of one class → events ``start_frame, end_frame`` (inclusive), ``class_index``, ``score``
    (the mean smoothed probability of that class over the event)."""
    starts, lengths, vals = _runs(lab)
    keep = (vals >= 0) & (lengths >= min_frames)
    starts, lengths, vals = starts[keep], lengths[keep], vals[keep]
    if len(vals):
        csum = np.concatenate([np.zeros((1, scores.shape[1])), np.cumsum(scores, axis=0, dtype=np.float64)])
        mean = (csum[starts + lengths, vals] - csum[starts, vals]) / lengths
    else:
        mean = np.zeros(0)
    return pd.DataFrame({"start_frame": starts.astype(np.int64), "end_frame": (starts + lengths - 1).astype(np.int64),
                         "class_index": vals.astype(np.int64), "score": mean.astype(np.float64)})


@dataclass
class Recognition:
    """A stream's MG timeline: events (``EVENT_COLUMNS``; ``start_frame``/``end_frame`` inclusive source frames,
    ``start``/``end`` seconds from the stream start, ``evidence`` a dict with at least ``text``), the per-frame
    class scores behind them, which frames showed the person, and how it was made."""

    events: pd.DataFrame
    frame_scores: np.ndarray  # [T, K] per-class strength in [0, 1]
    observed: np.ndarray  # [T] bool: the person was seen in this frame
    class_names: list[str]
    fps: float
    method: str  # what produced it (window model, kinematic detectors ...)
    settings: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # method-specific facts (windows, cannot-tell classes)

    def summary(self) -> dict[str, Any]:
        counts = self.events["label_name"].value_counts().to_dict() if len(self.events) else {}
        minutes = len(self.observed) / self.fps / 60 if self.fps else 0.0
        return {"method": self.method, "events": int(len(self.events)), "frames": int(len(self.observed)),
                "frames_observed": int(self.observed.sum()), "minutes": minutes,
                "events_per_minute": len(self.events) / minutes if minutes else 0.0,
                "per_class": {str(k): int(v) for k, v in counts.items()}, "timings_s": self.timings,
                "settings": self.settings, **self.extra}

    def write(self, out_dir: str | Path, stem: str = "events", media: str | Path | None = None) -> dict[str, Path]:
        """``<stem>.csv`` (evidence as JSON text), ``<stem>.json`` (events, settings, summary) and ``<stem>.eaf``
        (ELAN: one tier per class, evidence as the annotation value, ``media`` linked), each atomically."""
        out_dir = Path(out_dir)
        csv_path, json_path = out_dir / f"{stem}.csv", out_dir / f"{stem}.json"
        tiers = [n for n in self.class_names if n != BACKGROUND]
        eaf_path = write_eaf(self.events, out_dir / f"{stem}.eaf", media=media, class_names=tiers)
        table = self.events.copy()
        if "evidence" in table.columns:
            table["evidence"] = [json.dumps(e, sort_keys=True, default=str) if isinstance(e, dict) else e
                                 for e in table["evidence"]]
        with atomic_write(csv_path, "w", encoding="utf-8", newline="") as fh:
            table.to_csv(fh, index=False)
        write_json(json_path, {"summary": self.summary(), "events": self.events.to_dict(orient="records")})
        return {"csv": csv_path, "json": json_path, "eaf": eaf_path}
