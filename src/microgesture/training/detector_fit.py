"""Fit the kinematic detectors' thresholds on annotated streams: a small, documented coordinate search.

Why a grid and not an optimiser: the thresholds are few, each has a body meaning (a distance in shoulder
widths, a duration in seconds), and event-level F1 is a step function of them. A coordinate search over a
handful of plausible values per key (``FIT_GRID``) is transparent (the report lists every change and what it
gained), cannot wander to absurd values, and takes seconds because each stream's geometry is built once
(:func:`microgesture.models.kinematic.detect.prepare_stream`) and only the decisions are re-run.

Objective: detection F1 at temporal IoU 0.5 at the MG class level (predicted and annotated ``label`` are MG
class indices), ties broken by the class-agnostic F1, then by SMG's online F1, then by fewer predicted
events (with nothing annotated, fewer false alarms is better); a value replaces the
current one only when it strictly improves that tuple, so keys that the annotations cannot inform keep their
defaults. Setting ``X.enter`` moves ``X.exit`` with it (the packaged exit/enter ratio is kept). A detector
that only produces false events on the annotated frames may be switched off (``X.enabled: false``).
Only the frames and events passed in are used: to report on held-out frames, fit on the others.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..data.clip import Clip
from ..data.mg_classes import MG_CLASS_NAMES
from ..errors import ConfigError, DataError
from ..evaluation.online_metrics import detection_scores, match_events, smg_online_metric, split_stream_events
from ..models.kinematic import DetectorConfig, detect_events, load_detector_config
from ..models.kinematic.detect import PreparedStream, prepare_stream, run_detectors
from ..models.kinematic.detectors import AFFECTS

log = logging.getLogger(__name__)

# The default grid: each detector's ``enter`` threshold, the face / head boundary, and each detector's on/off
# switch (key -> values tried, units as in thresholds.yaml; keys are visited in this order). Measured on the
# frames of iMiGUE video 298 before its 60 % cut (3-fold, fit on two thirds, score the third): this grid
# scored F1 0.37 (class-agnostic 0.51), the extended grid below 0.32-0.33 (0.44) — with tens of annotated
# events, fitting durations and speed gates as well overfits.
FIT_GRID: dict[str, tuple[Any, ...]] = {
    "head_model.brow_above_eyes": (0.25, 0.5, 0.75, 1.0, 1.25),  # h: face / head boundary
    "touch_face.enter": (0.06, 0.09, 0.12, 0.16, 0.2, 0.25),  # sw
    "touch_head.enter": (0.06, 0.09, 0.12, 0.16, 0.2, 0.25),  # sw
    "touch_ear.enter": (0.06, 0.09, 0.12, 0.16, 0.2),  # sw
    "touch_neck.enter": (0.05, 0.1, 0.15),  # sw
    "lips.enter": (0.55, 0.6, 0.65, 0.7, 0.75, 0.8),  # x usual lip height
    "touch_chest.enter": (0.0, 0.05, 0.1),  # sw
    "hands_together.enter": (0.03, 0.06, 0.1),  # sw
    "fold_arms.enter": (0.25, 0.35, 0.45),  # sw
    "touch_arm.enter": (0.03, 0.06, 0.1),  # sw
    "arms_akimbo.enter": (0.15, 0.25, 0.35),  # sw
    "arms_behind.enter": (0.8, 0.9, 1.0),  # x
    "shake_shoulders.enter": (2.0, 2.5, 3.0, 3.5, 4.0, 5.0),  # x noise floor
    "move_torso.enter": (0.06, 0.08, 0.1, 0.12, 0.15),  # sw/s
    "head_up.enter": (0.15, 0.2, 0.3, 0.4),  # h
    "illustrative.enter": (0.05, 0.08, 0.12, 0.16, 0.24),  # sw
    **{f"{n.replace(' ', '_')}.enabled": (True, False) for n in MG_CLASS_NAMES},
    "lips.enabled": (True, False),
}

# More keys, for users with many annotated events (hundreds): durations, speed gates, merge gaps.
FIT_GRID_EXTENDED: dict[str, tuple[Any, ...]] = {
    **{k: v for k, v in FIT_GRID.items() if not k.endswith(".enabled")},
    "contact.max_speed": (0.4, 0.7, 1.0, 1.5),  # sw/s
    "contact.merge_gap_s": (0.2, 0.4, 0.8),  # s
    "lips.min_duration_s": (0.6, 1.0, 1.5, 2.0, 3.0),  # s
    "lips.max_talk": (0.02, 0.04, 0.08),  # h
    "hands_together.min_rub": (0.03, 0.04, 0.06, 0.08),  # sw
    "arms_behind.min_duration_s": (1.0, 2.0, 4.0),  # s
    "shake_shoulders.min_amplitude": (0.004, 0.006, 0.008, 0.01),  # sw
    "shake_shoulders.min_duration_s": (0.4, 0.6, 0.8, 1.0),  # s
    "shake_shoulders.max_hand_speed": (0.3, 0.5, 0.8),  # sw/s
    "shake_shoulders.max_head_speed": (0.2, 0.3, 0.5, 10.0),  # sw/s (10: no check)
    "move_torso.min_duration_s": (0.4, 0.6, 0.8, 1.2),  # s
    "move_torso.max_hand_speed": (0.3, 0.5, 1.0, 10.0),  # sw/s (10: no gate)
    "illustrative.min_peak_speed": (0.2, 0.3, 0.4, 0.6, 0.8),  # sw/s
    "illustrative.min_duration_s": (0.3, 0.4, 0.6),  # s
    **{k: v for k, v in FIT_GRID.items() if k.endswith(".enabled")},
}


@dataclass
class FitReport:
    """What the fit did: scores before and after, every accepted change, and the search's cost."""

    objective: str
    streams: int
    frames: int
    events: int
    before: dict[str, float]
    after: dict[str, float]
    changes: list[dict[str, Any]] = field(default_factory=list)  # {key, old, new, f1, f1_agnostic, smg_f1}
    evaluations: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        lines = [f"fitted on {self.streams} stream(s), {self.frames} frames, {self.events} annotated events; "
                 f"{self.evaluations} evaluations in {self.seconds:.1f} s",
                 f"F1@0.5 class-aware {self.before['f1']:.3f} -> {self.after['f1']:.3f}, class-agnostic "
                 f"{self.before['f1_agnostic']:.3f} -> {self.after['f1_agnostic']:.3f}, SMG F1 "
                 f"{self.before['smg_f1']:.3f} -> {self.after['smg_f1']:.3f}"]
        lines += [f"  {c['key']}: {c['old']} -> {c['new']} (F1 {c['f1']:.3f})" for c in self.changes]
        return "\n".join(lines)


def _check_events(df: pd.DataFrame, where: str) -> pd.DataFrame:
    need = ["start_frame", "end_frame", "label"]
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise DataError(where, f"annotated events lack columns {missing}")
    lab = df["label"].to_numpy()
    if len(lab) and (np.any(lab < 0) or np.any(lab >= len(MG_CLASS_NAMES))):
        raise DataError(where, f"annotated labels must be MG class indices 0..{len(MG_CLASS_NAMES) - 1} "
                               "(map dataset labels with microgesture.data.mg_classes.to_mg_class first)")
    return df[need].reset_index(drop=True)


def _scores(pairs: list[tuple[pd.DataFrame, pd.DataFrame]], iou: float) -> dict[str, float]:
    aware = detection_scores(pairs, iou)
    agn = detection_scores(pairs, iou, class_agnostic=True)
    smg = smg_online_metric(pairs)
    return {"f1": aware.f1, "precision": aware.precision, "recall": aware.recall, "f1_agnostic": agn.f1,
            "smg_f1": smg.f1, "n_pred": aware.n_pred, "n_gt": aware.n_gt, "tp": aware.tp, "tp_agnostic": agn.tp}


def _objective(s: dict[str, float]) -> tuple[float, float, float, int]:
    return (round(s["f1"], 9), round(s["f1_agnostic"], 9), round(s["smg_f1"], 9), -int(s["n_pred"]))


def _with(cfg: DetectorConfig, base: DetectorConfig, key: str, value: Any) -> DetectorConfig:
    vals = {key: value}
    sec, _, k = key.partition(".")
    if k == "enter" and "exit" in base.to_dict()[sec]:
        b_enter, b_exit = base.get(f"{sec}.enter"), base.get(f"{sec}.exit")
        ratio = b_exit / b_enter if b_enter else 1.0
        vals[f"{sec}.exit"] = round(float(value) * ratio, 6) if b_enter else b_exit
    return cfg.with_values(vals, source="fitted")


def fit_thresholds(streams: Sequence[tuple[Clip, pd.DataFrame]], base: DetectorConfig | None = None, *,
                   grid: dict[str, Sequence[Any]] | None = None, passes: int = 2, iou_threshold: float = 0.5,
                   progress: bool = False) -> tuple[DetectorConfig, FitReport]:
    """Choose thresholds on annotated streams ``[(clip, events), ...]`` (events: ``start_frame, end_frame``
    inclusive source frames, ``label`` MG class index). Returns the fitted config and a :class:`FitReport`."""
    t0 = time.perf_counter()
    base = base if isinstance(base, DetectorConfig) else load_detector_config(base)
    grid = dict(FIT_GRID if grid is None else grid)
    for key in grid:
        base.get(key)  # raises ConfigError naming an unknown key
        if key.startswith("body."):
            raise ConfigError(f"{key}: body settings shape the geometry and are not fitted")
    if not streams:
        raise DataError(None, "fit_thresholds needs at least one annotated stream")
    prepared: list[tuple[PreparedStream, pd.DataFrame]] = []
    for clip, ev in streams:
        where = clip.meta.source or clip.meta.clip_id
        prepared.append((prepare_stream(clip, base), _check_events(ev, where)))

    # per stream, the current events of every class; a candidate re-runs only the classes its key affects
    def run(cfg: DetectorConfig, classes: tuple[str, ...] | None = None) -> list[pd.DataFrame]:
        return [run_detectors(p, cfg, list(classes) if classes else None).events for p, _ in prepared]

    def combine(events: list[pd.DataFrame], fresh: list[pd.DataFrame], classes: tuple[str, ...]) -> list[pd.DataFrame]:
        return [pd.concat([e[~e["label_name"].isin(classes)], f], ignore_index=True) for e, f in zip(events, fresh, strict=True)]

    def evaluate(events: list[pd.DataFrame]) -> dict[str, float]:
        return _scores([(e, gt) for e, (_, gt) in zip(events, prepared, strict=True)], iou_threshold)

    current = base
    cur_events = run(current)
    best = evaluate(cur_events)
    before = dict(best)
    report = FitReport(f"detection F1 at tIoU {iou_threshold:.2f} (MG classes), then class-agnostic F1, then SMG F1, "
                       "then fewer predicted events",
                       len(prepared), int(sum(p.t for p, _ in prepared)), int(sum(len(g) for _, g in prepared)),
                       before, before)
    n_eval = 1
    for pass_ in range(passes):
        improved = False
        for key, values in grid.items():
            cur_val = current.get(key)
            for v in values:
                if v == cur_val:
                    continue
                cand = _with(current, base, key, v)
                affected = AFFECTS[key.partition(".")[0]]
                cand_events = combine(cur_events, run(cand, affected), affected)
                s = evaluate(cand_events)
                n_eval += 1
                if _objective(s) > _objective(best):
                    report.changes.append({"pass": pass_ + 1, "key": key, "old": current.get(key), "new": v,
                                           "f1": s["f1"], "f1_agnostic": s["f1_agnostic"], "smg_f1": s["smg_f1"]})
                    current, best, cur_events, improved = cand, s, cand_events, True
                    cur_val = v
            if progress:
                log.info("fit pass %d %s = %s: F1 %.3f", pass_ + 1, key, current.get(key), best["f1"])
        if not improved:
            break
    report.after = best
    report.evaluations = n_eval
    report.seconds = time.perf_counter() - t0
    current.source = "fitted (microgesture.training.detector_fit)"
    return current, report


def save_fitted_config(cfg: DetectorConfig, path: str | Path, report: FitReport | None = None,
                       base: DetectorConfig | None = None) -> Path:
    """Write the fitted thresholds as a YAML override of the packaged defaults (only changed keys), with the
    fit's summary as a comment header; ``load_detector_config(path)`` reads it back."""
    header = "kinematic detector thresholds fitted by microgesture.training.detector_fit"
    if report is not None:
        header += "\n" + report.summary()
    return cfg.save_overrides(path, base=base, header=header)


def score_events(pred: pd.DataFrame, gt: pd.DataFrame, iou_threshold: float = 0.5) -> dict[str, Any]:
    """Detection P/R/F1 (class-aware and class-agnostic), SMG's online metric, and per-class counts."""

    pairs = [(pred, gt)]
    aware = detection_scores(pairs, iou_threshold)
    agn = detection_scores(pairs, iou_threshold, class_agnostic=True)
    smg = smg_online_metric(pairs)
    m = match_events(pred, gt, iou_threshold) if len(pred) else np.zeros(0, np.int64)
    per_class = {}
    for k, name in enumerate(MG_CLASS_NAMES):
        n_gt, n_pred = int((gt["label"] == k).sum()), int((pred["label"] == k).sum())
        if n_gt or n_pred:
            per_class[name] = {"gt": n_gt, "pred": n_pred, "tp": int(((pred["label"].to_numpy() == k) & (m >= 0)).sum())}
    return {"detection": aware.to_dict(), "detection_class_agnostic": agn.to_dict(), "smg_online": smg.to_dict(),
            "per_class": per_class}


def fit_on_stream_start(clip: Clip, events: pd.DataFrame, *, train_fraction: float = 0.6,
                        base: DetectorConfig | None = None, grid: dict[str, Sequence[Any]] | None = None,
                        passes: int = 2, evaluate: Sequence[str] = ("fitted", "default"),
                        whole_stream: bool = True) -> dict[str, Any]:
    """The within-stream protocol: fit on the frames before ``round(train_fraction * T)``, score after.

    Events straddling the cut are dropped (as ``split_stream_events`` does); the detectors run on the two
    parts separately, so nothing after the cut (not even unlabelled frames) informs the fit. Returns the
    fitted config, the fit report, and scores of the fitted and the unfitted (``base``) detectors on the
    frames after the cut and on the whole stream (the latter includes the fitting frames). ``evaluate`` picks
    which of the two are scored; ``whole_stream=False`` skips the whole-stream runs.
    """

    base = base if isinstance(base, DetectorConfig) else load_detector_config(base)
    ev = _check_events(events, clip.meta.source or clip.meta.clip_id)
    offset = clip.meta.frame_range[0] if clip.meta.frame_range else 0
    cut = offset + int(round(train_fraction * clip.num_frames))
    ev_tr, ev_te, straddling = split_stream_events(ev, cut)
    train = clip.slice_frames(0, cut - offset - 1)
    test = clip.slice_frames(cut - offset, clip.num_frames - 1)
    cfg, report = fit_thresholds([(train, ev_tr)], base, grid=grid, passes=passes)
    out: dict[str, Any] = {"cut": cut, "train_events": len(ev_tr), "test_events": len(ev_te),
                           "dropped_events": straddling, "config": cfg, "report": report, "seconds": {}}
    for name, c in (("fitted", cfg), ("default", base)):
        if name not in evaluate:
            continue
        t0 = time.perf_counter()
        res_te = detect_events(test, c)
        out[name] = {"after_cut": score_events(res_te.events, ev_te), "events_after_cut": res_te.events}
        out["seconds"][f"{name}: after-cut part"] = time.perf_counter() - t0
        if whole_stream:
            t0 = time.perf_counter()
            res_all = detect_events(clip, c)
            out[name].update(whole_stream=score_events(res_all.events, ev), events_whole_stream=res_all.events)
            out["seconds"][f"{name}: whole stream"] = time.perf_counter() - t0
    return out
