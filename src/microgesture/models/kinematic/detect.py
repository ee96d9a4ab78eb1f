"""``detect_events``: one person's skeleton stream → micro-gesture events with evidence, per-frame strengths,
and the classes this layout/stream cannot tell.

Why a result object and not just a table: the report shows each event's evidence sentence, the weak-label
and plotting code reads per-frame strengths, and a user must see which classes were *not* looked for (and
why) so that "no fold arms" is never mistaken for "the person never folded their arms".
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ...data.clip import Clip
from ...data.layouts import get_layout
from ...data.mg_classes import MG_CLASS_NAMES, MG_INDEX
from ...errors import DataError
from .body import build_body
from .config import DetectorConfig, load_detector_config
from .detectors import (
    HEAD_FAMILY,
    REQUIREMENTS,
    SINGLE,
    ClassOutput,
    Context,
    Event,
    detect_head_family,
    detect_lips,
)

EVENT_COLUMNS = ("start_frame", "end_frame", "label", "label_name", "score", "evidence")


@dataclass
class DetectionResult:
    events: pd.DataFrame  # start_frame, end_frame (inclusive, source frames), label, label_name, score, evidence
    frame_scores: np.ndarray  # [T, K] float32 in [0, 1], K = len(MG_CLASSES)
    cannot_tell: dict[str, str]  # class name -> reason
    fps: float
    frame_offset: int
    layout: str
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary: events (with evidence), classes that cannot be told, per-class counts."""
        ev = [{"start_frame": int(r.start_frame), "end_frame": int(r.end_frame), "label": int(r.label),
               "label_name": r.label_name, "score": round(float(r.score), 4), "evidence": r.evidence,
               "start_s": round((r.start_frame - self.frame_offset) / self.fps, 3),
               "end_s": round((r.end_frame + 1 - self.frame_offset) / self.fps, 3)}
              for r in self.events.itertuples(index=False)]
        counts = {n: int((self.events["label_name"] == n).sum()) for n in MG_CLASS_NAMES if n not in self.cannot_tell}
        return {"layout": self.layout, "fps": self.fps, "frames": int(self.frame_scores.shape[0]),
                "frame_offset": self.frame_offset, "events": ev, "counts": counts,
                "cannot_tell": dict(self.cannot_tell), "notes": list(self.notes),
                "timings": {k: round(v, 4) for k, v in self.timings.items()}}


def _merge_same_class(events: list[Event]) -> list[Event]:
    """Overlapping events of one class (a hand contact and pressed lips, say) become one, keeping the
    evidence of the longer one."""
    out: list[Event] = []
    for e in sorted(events, key=lambda e: (e.label, e.start)):
        if out and out[-1].label == e.label and e.start <= out[-1].end:
            last = out[-1]
            keep = last if (last.end - last.start) >= (e.end - e.start) else e
            out[-1] = Event(last.start, max(last.end, e.end), e.label, max(last.score, e.score), keep.evidence)
        else:
            out.append(e)
    return out


def _empty(t: int, cannot: dict[str, str], fps: float, offset: int, layout: str, notes: list[str]) -> DetectionResult:
    ev = pd.DataFrame({c: pd.Series(dtype=d) for c, d in zip(
        EVENT_COLUMNS, ("int64", "int64", "int64", "object", "float64", "object"), strict=True)})
    return DetectionResult(ev, np.zeros((t, len(MG_CLASS_NAMES)), np.float32), cannot, fps, offset, layout, notes)


@dataclass
class PreparedStream:
    """A stream's body geometry, built once; :func:`run_detectors` can then try many configs on it."""

    ctx: Context | None
    reason: str | None  # why no body frame exists (every class cannot be told)
    t: int
    fps: float
    offset: int
    layout: str
    notes: list[str]
    seconds: float


def prepare_stream(clip: Clip, cfg: DetectorConfig | None = None) -> PreparedStream:
    """Check the clip and build its body frame (units, axes, gap-filled joints) under ``cfg.body``."""
    t0 = time.perf_counter()
    cfg = cfg if isinstance(cfg, DetectorConfig) else load_detector_config(cfg)
    where = clip.meta.source or clip.meta.clip_id
    if clip.num_persons != 1:
        raise DataError(where, f"detect_events takes one person's stream [1, T, V, C]; got {clip.num_persons} "
                               "persons (pick or track one first)")
    if not clip.meta.layout:
        raise DataError(where, "clip has no layout name (clip.meta.layout); the detectors need named joints")
    layout = get_layout(clip.meta.layout)
    fps = float(clip.meta.fps or cfg.body.default_fps)
    if not fps > 0:
        raise DataError(where, f"frame rate must be positive, got {fps}")
    notes = [] if clip.meta.fps else [f"frame rate not given; assumed {fps:g} fps (body.default_fps)"]
    offset = int(clip.meta.frame_range[0]) if clip.meta.frame_range else 0
    t = clip.num_frames
    if t == 0:
        return PreparedStream(None, "empty clip", 0, fps, offset, layout.name, notes, time.perf_counter() - t0)
    body = build_body(clip.keypoints[0], layout, fps, cfg.body)
    if isinstance(body, str):
        return PreparedStream(None, body, t, fps, offset, layout.name, notes, time.perf_counter() - t0)
    return PreparedStream(Context(body, cfg), None, t, fps, offset, layout.name, notes + body.notes,
                          time.perf_counter() - t0)


def run_detectors(prep: PreparedStream, cfg: DetectorConfig, classes: list[str] | None = None) -> DetectionResult:
    """Every detector the stream supports under ``cfg`` (its ``body`` section must be the one prepared with)."""
    t0 = time.perf_counter()
    wanted = list(MG_CLASS_NAMES) if classes is None else list(classes)
    unknown = [c for c in wanted if c not in MG_INDEX]
    if unknown:
        raise DataError(None, f"unknown MG classes {unknown}; known: {', '.join(MG_CLASS_NAMES)}")
    cannot: dict[str, str] = {n: "not requested" for n in MG_CLASS_NAMES if n not in wanted}
    if prep.ctx is None:
        return _empty(prep.t, {**cannot, **{n: prep.reason or "" for n in wanted}}, prep.fps, prep.offset,
                      prep.layout, prep.notes)
    ctx = prep.ctx
    ctx.cfg = cfg
    tellable = set()  # every class the stream supports and the config enables (the head family decodes them
    for n in MG_CLASS_NAMES:  # together, so a subset request gives the same events as a full run)
        sec = n.replace(" ", "_")
        reason = REQUIREMENTS[n](ctx)
        if reason:
            cannot.setdefault(n, reason)
        elif not cfg[sec].enabled:
            cannot.setdefault(n, f"switched off in the detector config ({sec}.enabled = false)")
        else:
            tellable.add(n)
    active = tellable & set(wanted)
    outputs: dict[str, ClassOutput] = {}
    timings: dict[str, float] = {"body": prep.seconds}
    if active & set(HEAD_FAMILY):
        ts = time.perf_counter()
        family = detect_head_family(ctx, tellable)
        outputs.update({n: o for n, o in family.items() if n in active})
        if "touch face" in active:
            lips = detect_lips(ctx)
            outputs["touch face"].events += lips.events
            outputs["touch face"].strength = np.maximum(outputs["touch face"].strength, lips.strength)
        timings["head contacts"] = time.perf_counter() - ts
    for n, fn in SINGLE.items():
        if n in active:
            ts = time.perf_counter()
            outputs[n] = fn(ctx)
            timings[n] = time.perf_counter() - ts
    scores = np.zeros((prep.t, len(MG_CLASS_NAMES)), np.float32)
    events: list[Event] = []
    for n, o in outputs.items():
        scores[:, MG_INDEX[n]] = o.strength
        events += o.events
    events = _merge_same_class(events)
    events.sort(key=lambda e: (e.start, MG_INDEX[e.label]))
    off = prep.offset
    df = pd.DataFrame({
        "start_frame": np.array([e.start + off for e in events], np.int64),
        "end_frame": np.array([e.end + off for e in events], np.int64),
        "label": np.array([MG_INDEX[e.label] for e in events], np.int64),
        "label_name": pd.Series([e.label for e in events], dtype=object),
        "score": np.array([float(np.clip(e.score, 0, 1)) for e in events], np.float64),
        "evidence": pd.Series([e.evidence for e in events], dtype=object),
    })
    timings["detectors"] = time.perf_counter() - t0
    timings["total"] = prep.seconds + timings["detectors"]
    return DetectionResult(df, scores, cannot, prep.fps, prep.offset, prep.layout, list(prep.notes), timings)


def detect_events(clip: Clip, cfg: DetectorConfig | None = None, classes: list[str] | None = None) -> DetectionResult:
    """Run every detector the layout supports on one person's stream ``clip.keypoints [1, T, V, C]``.

    ``cfg``: a :class:`DetectorConfig`, or anything :func:`load_detector_config` takes (None = packaged
    defaults). ``classes`` restricts the run to some MG classes (the rest are reported as not requested).
    Event frames are source frames (``clip.meta.frame_range[0]`` added).
    """
    cfg = cfg if isinstance(cfg, DetectorConfig) else load_detector_config(cfg)
    return run_detectors(prepare_stream(clip, cfg), cfg, classes)
