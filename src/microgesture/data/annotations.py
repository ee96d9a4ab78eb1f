"""Annotated MG events of a recording, in and out: ELAN ``.eaf``, a CSV of ``(start, end, label)``, iMiGUE labels.

Why: a researcher's few labels are the most valuable data the toolkit sees. They arrive as ELAN files (the
tool annotators use), as simple tables, or as iMiGUE label files; they leave as ELAN files too, one tier per
class with each event's evidence as its value, so a timeline can be corrected in ELAN and the corrections
trained on (``microgesture train-detector``). Every reader returns the same table: ``start_frame`` and
``end_frame`` (inclusive, frames of the recording at ``fps``), ``label`` (an index in ``label_space``),
``label_name``, ``start``/``end`` (seconds) and ``label_space`` (``mg`` = the toolkit's class set
:mod:`~microgesture.data.mg_classes`, or ``imigue``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pympi import Elan

from ..errors import DataError
from .clip import DEFAULT_FPS
from .mg_classes import IMIGUE_TO_MG, MG_CLASS_NAMES, MG_INDEX
from .readers.imigue import IMIGUE_CLASS_NAMES, load_annotations, read_video_labels_txt

_VIDEO_MIMES = {"mp4": "video/mp4", "m4v": "video/mp4", "mov": "video/quicktime", "avi": "video/x-msvideo",
                "mkv": "video/x-matroska", "webm": "video/webm", "mpg": "video/mpeg", "mpeg": "video/mpeg",
                "wav": "audio/x-wav"}
ANNOTATION_COLUMNS = ["start_frame", "end_frame", "label", "label_name", "start", "end", "label_space"]
_IMIGUE_INDEX = {n: i for i, n in enumerate(IMIGUE_CLASS_NAMES)}


def _norm(name: str) -> str:
    return " ".join(str(name).replace("_", " ").replace("-", " ").lower().split())


_MG_BY_NORM = {_norm(n): i for n, i in MG_INDEX.items()}
_IMIGUE_BY_NORM = {_norm(n): i for n, i in _IMIGUE_INDEX.items()}


def resolve_labels(names: Sequence[str], where: Any) -> tuple[np.ndarray, str]:
    """Class names → indices in the MG class set when every name is one of its classes, else in iMiGUE's 32
    classes (names or 0-31 indices); anything else is an error naming the unknown labels."""
    norm = [_norm(n) for n in names]
    if all(n in _MG_BY_NORM for n in norm):
        return np.array([_MG_BY_NORM[n] for n in norm], dtype=np.int64), "mg"
    if all(n in _IMIGUE_BY_NORM for n in norm):
        return np.array([_IMIGUE_BY_NORM[n] for n in norm], dtype=np.int64), "imigue"
    unknown = sorted({str(n) for n, k in zip(names, norm, strict=True) if k not in _MG_BY_NORM})[:6]
    raise DataError(where, f"labels {unknown} are neither MG classes ({', '.join(MG_CLASS_NAMES)}) nor iMiGUE classes")


def _table(start_s: np.ndarray, end_s: np.ndarray, labels: np.ndarray, space: str, fps: float, where: Any
           ) -> pd.DataFrame:
    start_s, end_s = np.asarray(start_s, np.float64), np.asarray(end_s, np.float64)
    if not (np.isfinite(start_s).all() and np.isfinite(end_s).all()):
        raise DataError(where, "has a start or end time that is not a number")
    if (end_s < start_s).any():
        k = int(np.flatnonzero(end_s < start_s)[0])
        raise DataError(where, f"event {k + 1} ends ({end_s[k]:.3f} s) before it starts ({start_s[k]:.3f} s)")
    if (start_s < 0).any():
        raise DataError(where, "has an event that starts before 0 s")
    names = MG_CLASS_NAMES if space == "mg" else IMIGUE_CLASS_NAMES
    sf = np.round(start_s * fps).astype(np.int64)
    ef = np.maximum(np.round(end_s * fps).astype(np.int64) - 1, sf)  # [start, end) seconds → inclusive frames
    df = pd.DataFrame({"start_frame": sf, "end_frame": ef, "label": labels.astype(np.int64),
                       "label_name": [names[int(i)] for i in labels], "start": sf / fps, "end": (ef + 1) / fps,
                       "label_space": space})
    return df.sort_values(["start_frame", "end_frame"], kind="stable").reset_index(drop=True)


def read_eaf(path: str | Path, *, fps: float = DEFAULT_FPS, tiers: Sequence[str] | None = None) -> pd.DataFrame:
    """Events of an ELAN file. A tier named after a class gives that class to all its annotations (the layout
    :func:`write_eaf` writes); on other tiers each annotation's value names its class. Empty tiers are fine;
    annotations whose class cannot be told are an error naming tier and time."""
    path = Path(path)
    try:
        eaf = Elan.Eaf(str(path))
    except Exception as e:  # noqa: BLE001 - pympi raises bare XML/parse errors for a broken file
        raise DataError(path, f"is not a readable ELAN .eaf file: {type(e).__name__}: {e}") from None
    starts, ends, names = [], [], []
    for tier in eaf.get_tier_names():
        if tiers is not None and tier not in tiers:
            continue
        tier_class = _norm(tier) in _MG_BY_NORM or _norm(tier) in _IMIGUE_BY_NORM
        for ann in eaf.get_annotation_data_for_tier(tier):
            begin, end, value = ann[0], ann[1], ann[2] if len(ann) > 2 else ""
            label = tier if tier_class else str(value).split(":")[0].strip()
            if not label:
                raise DataError(path, f"tier {tier!r}: the annotation at {begin / 1000:.3f} s names no class")
            starts.append(begin / 1000.0)
            ends.append(end / 1000.0)
            names.append(label)
    if not names:
        return pd.DataFrame(columns=ANNOTATION_COLUMNS)
    labels, space = resolve_labels(names, path)
    return _table(np.array(starts), np.array(ends), labels, space, fps, path)


def read_events_csv(path: str | Path, *, fps: float = DEFAULT_FPS, recording: str | None = None) -> pd.DataFrame:
    """A CSV of events: ``start,end,label`` in seconds, or ``start_frame,end_frame,label`` in frames (labels as
    class names or iMiGUE indices), or iMiGUE's labels CSV (the rows of ``recording``, an iMiGUE video id)."""
    path = Path(path)
    try:
        df = pd.read_csv(path)
    except FileNotFoundError:
        raise DataError(path, "does not exist") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise DataError(path, f"is not a readable CSV: {e}") from None
    df.columns = [str(c).strip() for c in df.columns]
    if {"video_id", "class", "win_or_lose"} <= set(df.columns):
        if recording is None or not str(recording).isdigit():
            raise DataError(path, f"is an iMiGUE labels file; the recording {recording!r} is not an iMiGUE video id")
        ann = load_annotations(path)
        ann = ann[ann["video_id"] == int(recording)]
        return _table(ann["start_frame"].to_numpy() / fps, (ann["end_frame"].to_numpy() + 1) / fps,
                      ann["label"].to_numpy(), "imigue", fps, path)
    if "label" not in df.columns:
        raise DataError(path, f"needs a 'label' column and start/end times; found columns {list(df.columns)}")
    if {"start_frame", "end_frame"} <= set(df.columns):
        start_s = pd.to_numeric(df["start_frame"], errors="coerce").to_numpy() / fps
        end_s = (pd.to_numeric(df["end_frame"], errors="coerce").to_numpy() + 1) / fps
    elif {"start", "end"} <= set(df.columns):
        start_s = pd.to_numeric(df["start"], errors="coerce").to_numpy()
        end_s = pd.to_numeric(df["end"], errors="coerce").to_numpy()
    else:
        raise DataError(path, "needs columns start,end (seconds) or start_frame,end_frame (frames)")
    if not len(df):
        return pd.DataFrame(columns=ANNOTATION_COLUMNS)
    space = str(df["label_space"].iloc[0]) if "label_space" in df.columns else None
    if pd.api.types.is_integer_dtype(df["label"]):
        labels = df["label"].to_numpy(np.int64)
        space = space or "imigue"
        limit = len(MG_CLASS_NAMES) if space == "mg" else len(IMIGUE_CLASS_NAMES)
        if ((labels < 0) | (labels >= limit)).any():
            raise DataError(path, f"integer labels must be {space} class indices 0-{limit - 1}")
    else:
        labels, space = resolve_labels(df["label"].astype(str).tolist(), path)
    return _table(start_s, end_s, labels, space, fps, path)


def read_annotations(path: str | Path, *, fps: float = DEFAULT_FPS, recording: str | None = None) -> pd.DataFrame:
    """Events from ``.eaf``, ``.csv`` or an iMiGUE per-video ``.txt`` (by suffix)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "does not exist (give an ELAN .eaf, an events .csv or an iMiGUE label .txt)")
    suffix = path.suffix.lower()
    if suffix == ".eaf":
        return read_eaf(path, fps=fps)
    if suffix == ".csv":
        return read_events_csv(path, fps=fps, recording=recording)
    if suffix == ".txt":
        ann = read_video_labels_txt(path)
        return _table(ann["start_time"].to_numpy(), ann["end_time"].to_numpy(), ann["label"].to_numpy(), "imigue",
                      fps, path)
    raise DataError(path, f"unsupported annotation file {suffix or '(no extension)'}: give .eaf, .csv or .txt")


def to_mg_classes(events: pd.DataFrame) -> pd.DataFrame:
    """The same events with iMiGUE labels mapped onto the MG class set (classes without a skeleton
    definition dropped); MG-labelled events are returned unchanged."""
    if not len(events) or (events["label_space"] == "mg").all():
        return events.assign(label_space="mg") if len(events) else events
    if not (events["label_space"] == "imigue").all():
        raise DataError(None, f"cannot map label space(s) {sorted(set(events['label_space']))} onto the MG classes")
    mapped = events["label"].map(lambda v: IMIGUE_TO_MG.get(int(v)))
    keep = mapped.notna()
    out = events[keep].assign(label=mapped[keep].astype(np.int64))
    return out.assign(label_name=[MG_CLASS_NAMES[i] for i in out["label"]], label_space="mg").reset_index(drop=True)


def write_eaf(events: pd.DataFrame, path: str | Path, *, media: str | Path | None = None,
              class_names: Sequence[str] | None = None) -> Path:
    """An ELAN file with one tier per class (all of ``class_names`` — empty tiers included, so an annotator can
    add what was missed — plus any other class in ``events``); each annotation's value is the event's evidence
    text and score, so a reviewer sees why it was claimed."""
    eaf = Elan.Eaf(author="microgesture")
    eaf.remove_tier("default")
    if media is not None and Path(media).is_file():  # a video to open beside the tiers in ELAN
        mime = _VIDEO_MIMES.get(Path(media).suffix.lower().lstrip("."), "video/*")
        eaf.add_linked_file(Path(media).resolve().as_uri(), relpath=Path(media).name, mimetype=mime)
    names = list(dict.fromkeys([*(class_names or []), *events.get("label_name", pd.Series(dtype=str)).tolist()]))
    for name in names:
        eaf.add_tier(str(name))
    for r in events.itertuples(index=False):
        begin, end = int(round(float(r.start) * 1000)), int(round(float(r.end) * 1000))
        if end <= begin:
            end = begin + 1
        ev = getattr(r, "evidence", None)
        if isinstance(ev, str) and ev.startswith("{"):
            ev = json.loads(ev)
        text = ev.get("text") if isinstance(ev, dict) else None
        score = getattr(r, "score", None)
        value = "; ".join(p for p in (text, f"score {float(score):.2f}" if score is not None and np.isfinite(score)
                                      else None) if p)
        eaf.add_annotation(str(r.label_name), begin, end, value)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")  # pympi writes by file name: write beside, then rename
    try:
        Elan.to_eaf(str(tmp), eaf, pretty=True)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
