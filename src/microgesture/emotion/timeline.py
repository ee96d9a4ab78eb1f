"""Micro-gesture timelines: the identity-free record that every emotion reasoner consumes.

Why: the emotion stage must never see who the person is. A :class:`Timeline` holds only *what* gestures
happened *when* (plus the setting), so a scenario built from it cannot leak names, subject ids or
nationalities. ``meta`` carries bookkeeping for evaluation only (``video_id``, the CV ``group`` and the
``target`` label); builders copy nothing else, and the scenario builder never renders ``meta``.

Events are identified as ``e1, e2, ...`` in :class:`Timeline` order (start, then end time; ties keep their
input order): :func:`event_ids` is the one rule, shared by prompts, grounded evidence and the report's anchors.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from ..data.clip import DEFAULT_FPS
from ..data.mg_classes import IMIGUE_TO_MG, MG_CLASS_NAMES
from ..errors import DataError
from .descriptions import describe

Source = Literal["annotation", "predicted"]
ALLOWED_META = frozenset({"video_id", "group", "target", "split", "outcome"})
PREDICTION_COLUMNS = ("start", "end", "label", "label_name", "score")


@dataclass(frozen=True)
class MGEvent:
    start_s: float
    end_s: float
    label: int
    label_name: str
    score: float = 1.0
    source: Source = "annotation"
    # what the detector measured, for people: at least ``text`` ("right hand within 0.21 shoulder widths of
    # the chin for 1.6 s") when the detector gives one; never read by learned reasoners
    evidence: Mapping[str, Any] | None = field(default=None, compare=False, hash=False)

    @property
    def duration_s(self) -> float:
        return max(0.0, self.end_s - self.start_s)


@dataclass
class Timeline:
    """Events sorted by start time, the observed duration, and the setting name (a scenario template).

    ``visible_s``: seconds in which the person was actually seen (None: the whole ``duration_s``); rates are
    per minute of visible time, so a person who leaves the frame does not look calmer.
    """

    events: list[MGEvent]
    duration_s: float
    fps: float = DEFAULT_FPS
    setting: str = "conversation"
    meta: dict[str, Any] = field(default_factory=dict)
    visible_s: float | None = None

    def __post_init__(self) -> None:
        unknown = set(self.meta) - ALLOWED_META
        if unknown:
            raise ValueError(f"Timeline.meta may only hold {sorted(ALLOWED_META)}; got {sorted(unknown)} "
                             "(identity attributes never enter the emotion stage)")
        self.events = sorted(self.events, key=lambda e: (e.start_s, e.end_s))
        if self.duration_s <= 0 and self.events:
            self.duration_s = max(e.end_s for e in self.events)

    @property
    def observed_s(self) -> float:
        """The time the rates are normalised by: visible time if known, else the span."""
        return float(self.visible_s) if self.visible_s is not None and self.visible_s > 0 else float(self.duration_s)

    @property
    def video_id(self) -> str:
        return str(self.meta.get("video_id", ""))

    @property
    def target(self) -> str | None:
        return self.meta.get("target")

    @property
    def group(self) -> str | None:
        return self.meta.get("group")

    def arrays(self) -> dict[str, np.ndarray]:
        """Columnar view (float32 times, int64 labels) for vectorised statistics and learned reasoners."""
        return {
            "start": np.array([e.start_s for e in self.events], dtype=np.float32),
            "end": np.array([e.end_s for e in self.events], dtype=np.float32),
            "label": np.array([e.label for e in self.events], dtype=np.int64),
            "score": np.array([e.score for e in self.events], dtype=np.float32),
        }

    def with_events(self, events: list[MGEvent]) -> Timeline:
        return Timeline(list(events), self.duration_s, self.fps, self.setting, dict(self.meta), self.visible_s)


def event_order(start: Sequence[float] | np.ndarray, end: Sequence[float] | np.ndarray) -> np.ndarray:
    """Stable order by (start, end): the order of :class:`Timeline` events, for tables kept outside one."""
    return np.lexsort((np.asarray(end, dtype=np.float64), np.asarray(start, dtype=np.float64)))


def event_ids(timeline: Timeline | int) -> list[str]:
    """``e1, e2, ...`` for the events of ``timeline`` in its order (or for that many events)."""
    n = timeline if isinstance(timeline, int) else len(timeline.events)
    return [f"e{i + 1}" for i in range(n)]


def to_mg_timeline(timeline: Timeline, label_space: str = "imigue") -> Timeline:
    """The same timeline in the toolkit's MG class set (``data.mg_classes``); unmappable events are dropped.

    Why: ``analyze`` timelines speak the 14-class MG set, so a reasoner meant for them is fitted on iMiGUE's
    32-class annotations mapped onto it (``IMIGUE_TO_MG``).
    """
    if label_space == "mg":
        return timeline
    if label_space != "imigue":
        raise ValueError(f"unknown label space {label_space!r} (mg, imigue)")
    events = []
    for e in timeline.events:
        m = IMIGUE_TO_MG.get(e.label)
        if m is not None:
            events.append(MGEvent(e.start_s, e.end_s, m, MG_CLASS_NAMES[m], e.score, e.source, e.evidence))
    return timeline.with_events(events)


def outcome_to_valence(outcome: str) -> str:
    """iMiGUE's video-level emotion label: a won match is positive, a lost one negative."""
    o = str(outcome).strip().lower()
    if o in {"win", "won", "1", "positive"}:
        return "positive"
    if o in {"lose", "lost", "loss", "0", "negative"}:
        return "negative"
    raise ValueError(f"unknown outcome {outcome!r}")


def timelines_from_annotations(df: pd.DataFrame, setting: str = "press_conference",
                               fps: float = DEFAULT_FPS) -> dict[str, Timeline]:
    """One ground-truth timeline per video from ``data.readers.imigue.load_annotations`` output.

    Only timing, class and outcome columns are read; subject ids become an opaque CV ``group``.
    The duration is the end of the last annotated event (the full video length is not in the labels).
    """
    need = {"video_id", "start_time", "end_time", "label", "label_name", "subject_id", "outcome"}
    missing = need - set(df.columns)
    if missing:
        raise DataError(None, f"annotation table lacks columns {sorted(missing)}")
    out: dict[str, Timeline] = {}
    for vid, g in df.groupby("video_id", sort=True):
        events = [MGEvent(float(s), float(e), int(lab), str(name), 1.0, "annotation")
                  for s, e, lab, name in zip(g["start_time"], g["end_time"], g["label"], g["label_name"],
                                             strict=True)]
        outcomes = g["outcome"].unique()
        if len(outcomes) != 1:
            raise DataError(None, f"video {vid}: inconsistent outcomes {list(outcomes)}")
        meta = {"video_id": str(vid), "group": str(g["subject_id"].iloc[0]),
                "outcome": str(outcomes[0]), "target": outcome_to_valence(outcomes[0])}
        out[str(vid)] = Timeline(events, float(g["end_time"].max()), fps, setting, meta)
    return out


def timeline_from_predictions(pred: pd.DataFrame | str | Path, duration_s: float | None = None,
                              fps: float = DEFAULT_FPS, setting: str = "conversation",
                              meta: Mapping[str, Any] | None = None, min_score: float = 0.0,
                              visible_s: float | None = None) -> Timeline:
    """A timeline from the recognizer's predicted events (``start,end,label,label_name,score``, seconds).

    An optional ``evidence`` column (a dict, or its JSON text as in ``events.csv``) is kept on the events.
    """
    path = None
    if not isinstance(pred, pd.DataFrame):
        path = Path(pred)
        try:
            pred = pd.read_csv(path)
        except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as e:
            raise DataError(path, f"cannot read predicted events: {e}") from e
    missing = [c for c in PREDICTION_COLUMNS if c not in pred.columns]
    if missing:
        raise DataError(path, f"predicted events lack columns {missing} (need {list(PREDICTION_COLUMNS)})")
    bad = pred[["start", "end", "score"]].isna().any(axis=1) | (pred["end"] < pred["start"])
    if bad.any():
        raise DataError(path, f"{int(bad.sum())} predicted events have NaN times/scores or end < start "
                              f"(first at row {int(np.flatnonzero(bad.to_numpy())[0])})")
    pred = pred[pred["score"] >= min_score]
    evidence = [_evidence(x, path) for x in pred["evidence"]] if "evidence" in pred.columns else [None] * len(pred)
    events = [MGEvent(float(s), float(e), int(lab), str(name), float(sc), "predicted", ev)
              for (s, e, lab, name, sc), ev in zip(pred[list(PREDICTION_COLUMNS)].itertuples(index=False, name=None),
                                                   evidence, strict=True)]
    dur = float(duration_s) if duration_s else (max((e.end_s for e in events), default=0.0))
    return Timeline(events, dur, fps, setting, dict(meta or {}), visible_s)


def _evidence(x: Any, path: Path | None) -> Mapping[str, Any] | None:
    if isinstance(x, Mapping):
        return dict(x)
    if x is None or (isinstance(x, float) and np.isnan(x)) or (isinstance(x, str) and not x.strip()):
        return None
    if isinstance(x, str):
        try:
            obj = json.loads(x)
        except json.JSONDecodeError:
            return {"text": x}  # a plain sentence
        if isinstance(obj, Mapping):
            return dict(obj)
    raise DataError(path, f"an event's evidence must be a JSON object or text, got {str(x)[:80]!r}")


def filter_events(timeline: Timeline, include_non_mg: bool = True,
                  labels: Iterable[int] | None = None) -> Timeline:
    """Drop illustrative (non-MG) events or keep only some classes — for ablations."""

    keep = set(labels) if labels is not None else None
    events = [e for e in timeline.events
              if (include_non_mg or describe(e.label_name).is_micro_gesture)
              and (keep is None or e.label in keep)]
    return timeline.with_events(events)
