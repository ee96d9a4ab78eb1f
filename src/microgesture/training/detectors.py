"""A detector from a user's own annotated recordings: fitted kinematic thresholds, or a window model.

Why both: with a handful of annotated recordings the kinematic detectors' thresholds can be tuned to the
user's camera and people (``method="thresholds"``: seconds, transparent, every change reported); with more
labels a window classifier (MG classes + background windows from unannotated stretches) can learn what the
rules do not capture (``method="window"``). Either result is what ``microgesture analyze --model`` takes, so
the review cycle is: analyze → correct the ``.eaf`` in ELAN → ``train-detector`` on the corrections → analyze.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from ..data.annotations import read_annotations, to_mg_classes
from ..data.clip import Clip
from ..data.convert import convert_clip
from ..data.mg_classes import MG_CLASS_NAMES
from ..data.recordings import ReadOptions, read_recording
from ..errors import ConfigError, DataError
from ..models.kinematic import load_detector_config
from ..utils.io import write_json
from .detector_fit import fit_thresholds, save_fitted_config
from .windows import train_window_model

METHODS = ("thresholds", "window")


def annotated_streams(pairs: Sequence[tuple[str | Path, str | Path]], read: ReadOptions | None = None
                      ) -> list[tuple[Clip, pd.DataFrame, dict[str, Any]]]:
    """``[(recording, annotations), ...]`` → the main person's stream of each recording with its events in the
    MG class set (iMiGUE labels mapped onto it), and what was read."""
    if not pairs:
        raise ConfigError("no annotated recordings given (pass --recording and --annotations in pairs)")
    out = []
    for rec_path, ann_path in pairs:
        rec = read_recording(rec_path, read or ReadOptions(progress=False))
        events = to_mg_classes(read_annotations(ann_path, fps=rec.clip.fps, recording=str(rec.clip.meta.clip_id)))
        if not len(events):
            raise DataError(ann_path, "holds no events with an MG class (nothing to learn from)")
        last = rec.clip.first_frame + rec.clip.num_frames - 1
        outside = events[(events["start_frame"] > last) | (events["end_frame"] < rec.clip.first_frame)]
        if len(outside) == len(events):
            raise DataError(ann_path, f"none of its {len(events)} events falls inside the recording's frames "
                                      f"{rec.clip.first_frame}-{last} (wrong file, or another frame rate? set --fps)")
        out.append((rec.clip, events.reset_index(drop=True),
                    {"recording": str(rec_path), "annotations": str(ann_path), "events": int(len(events)),
                     "events_outside": int(len(outside)), "frames": rec.clip.num_frames, "fps": rec.clip.fps,
                     "layout": rec.clip.meta.layout, "warnings": rec.warnings}))
    return out


def train_detector(pairs: Sequence[tuple[str | Path, str | Path]], out: str | Path, *, method: str = "thresholds",
                   window: int = 32, layout: str = "imigue22", overrides: Sequence[str] = (), seed: int = 0,
                   read: ReadOptions | None = None, progress: bool = True) -> dict[str, Any]:
    """Train a detector on annotated recordings into ``out``; returns a summary whose ``model`` is the path to
    pass to ``microgesture analyze --model`` (also written to ``out/train_detector.json``)."""
    if method not in METHODS:
        raise ConfigError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
    out = Path(out)
    t0 = time.perf_counter()
    streams = annotated_streams(pairs, read)
    summary: dict[str, Any] = {"method": method, "recordings": [s[2] for s in streams],
                               "events": int(sum(len(s[1]) for s in streams)), "label_space": "mg"}
    if method == "thresholds":
        base = load_detector_config(None)
        cfg, report = fit_thresholds([(c, e) for c, e, _ in streams], base, progress=progress)
        path = save_fitted_config(cfg, out / "thresholds.yaml", report, base)
        summary.update(model=str(path), fit=report.to_dict() if hasattr(report, "to_dict") else str(report))
    else:
        converted = [(convert_clip(c, layout) if c.meta.layout != layout else c, e) for c, e, _ in streams]
        desc = f"{len(converted)} annotated recording(s): " + ", ".join(s[2]["recording"] for s in streams)
        wm = train_window_model(converted, list(MG_CLASS_NAMES), out=out / "window", window=window,
                                overrides=overrides, label_space="mg", description=desc, seed=seed, progress=progress)
        summary.update(model=wm.path, classes=wm.class_names, input=wm.spec.to_dict(),
                       windows={"positive": wm.info.get("positive_windows"),
                                "background": wm.info.get("background_windows")})
    summary["seconds"] = round(time.perf_counter() - t0, 2)
    write_json(out / "train_detector.json", summary)
    return summary
