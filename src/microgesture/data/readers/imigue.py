"""iMiGUE (Liu et al., CVPR 2021): annotation tables, official protocols, and clips cut from OpenPose streams.

Why a module of its own: iMiGUE's labels live in three places that must agree (the CSV, per-video
``<video>.txt`` files in seconds, and the MiGA release pickles), its class code 99 ("non-micro-gesture")
must become index 31, and its protocols are subject lists and video lists from the authors'
``evaluation_protocol.pdf``. Everything here is transcribed from ``shared/datasets/imigue/SOURCE.md``.
A dataset root is ``<root>/raw/Label/labels_20200831.csv`` plus OpenPose folders
``<root>/raw/Data/skeleton/raw/<video>/``; annotated videos without a skeleton folder are reported.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ...errors import DataError
from ..clip import DEFAULT_FPS, Clip
from ..convert import convert_clip
from ..dataset import SkeletonDataset, Skipped
from . import register_reader
from .openpose import read_openpose_folder

FPS = DEFAULT_FPS  # iMiGUE's videos and annotations are at 25 fps
NON_MG_CODE = 99
NON_MG_LABEL = 31

# Index -> name (code c -> index c - 1; code 99 -> 31), from the MiGA challenge label file (SOURCE.md).
IMIGUE_CLASS_NAMES: tuple[str, ...] = (
    "turtle neck", "deep breath", "touch hat", "touch face", "touch forehead", "cover face", "rub eyes",
    "touch other face part", "touch ears", "bite nails", "touch chin", "touch neck", "play hair",
    "adjust tie", "touch chest", "scratch back", "fold arm", "tidy sleeve", "put arm back", "move torso",
    "sit straight", "scratch arm", "rub hand", "cross finger", "minaret hand", "play things",
    "withdraw arms", "head up", "bite lip", "arm akimbo", "shake shoulder", "illustrative (non-MG)",
)

# Cross-subject MG recognition protocol (37 training / 35 test subjects).
XSUB_TRAIN_SUBJECTS: frozenset[int] = frozenset({
    2, 4, 5, 6, 9, 10, 12, 13, 14, 15, 17, 18, 20, 21, 22, 23, 25, 28, 29, 30, 31, 35, 36, 38, 39, 41, 42, 43,
    44, 46, 47, 48, 52, 53, 59, 61, 62})
XSUB_TEST_SUBJECTS: frozenset[int] = frozenset({
    1, 3, 7, 8, 11, 16, 19, 24, 26, 27, 32, 33, 34, 37, 40, 45, 49, 50, 51, 54, 55, 56, 57, 58, 60, 63, 64, 65,
    66, 67, 68, 69, 70, 71, 72})

# Video-level emotion protocol (102 training / 100 test videos; every other video is "dev").
EMOTION_TRAIN_VIDEOS: frozenset[int] = frozenset({
    1, 7, 8, 11, 26, 27, 46, 47, 48, 53, 55, 57, 63, 66, 67, 74, 77, 84, 85, 86, 91, 96, 102, 103, 104, 105,
    106, 108, 109, 112, 114, 117, 124, 132, 134, 140, 148, 157, 161, 162, 163, 164, 167, 169, 170, 172, 176,
    186, 196, 216, 233, 236, 237, 239, 240, 241, 242, 243, 249, 252, 266, 290, 297, 300, 306, 310, 314, 318,
    319, 320, 324, 334, 339, 359, 360, 365, 369, 377, 381, 385, 392, 402, 407, 410, 411, 413, 414, 415, 420,
    429, 433, 435, 436, 440, 441, 445, 448, 449, 450, 451, 452, 453})
EMOTION_TEST_VIDEOS: frozenset[int] = frozenset({
    9, 10, 12, 16, 28, 35, 43, 49, 50, 51, 52, 54, 56, 60, 71, 72, 83, 89, 95, 100, 107, 110, 111, 121, 131,
    136, 144, 145, 165, 166, 168, 171, 174, 179, 185, 191, 193, 212, 220, 223, 230, 231, 232, 234, 235, 238,
    244, 246, 254, 258, 262, 263, 268, 270, 276, 280, 282, 303, 304, 311, 312, 313, 315, 316, 317, 322, 323,
    325, 327, 328, 329, 333, 337, 341, 343, 344, 363, 374, 400, 401, 403, 404, 405, 406, 408, 416, 417, 419,
    421, 428, 430, 431, 437, 438, 439, 442, 443, 444, 446, 447})

ANNOTATION_COLUMNS = (
    "video_id", "label_id", "start_time", "start_frame", "end_time", "end_frame", "class_code", "label",
    "label_name", "subject_id", "gender", "nationality", "outcome", "emotion",
)
_CSV_COLUMNS = {
    "video_id", "label_id", "start_time", "start_frame", "end_time", "end_frame", "class", "subject_id",
    "subject_gender", "subject_nationality", "win_or_lose",
}


def code_to_label(codes: Any) -> np.ndarray:
    """Raw class codes (1–31, 99) → label indices 0–31, as the authors' loader does (99 → 32 → 31)."""
    c = np.asarray(codes, dtype=np.int64)
    return np.where(c == NON_MG_CODE, NON_MG_LABEL, c - 1)


def seconds_to_frame(seconds: Any) -> np.ndarray:
    """Seconds → frame index at 25 fps, rounded down (this reproduces every frame number in the CSV)."""
    return np.floor(np.asarray(seconds, dtype=np.float64) * FPS).astype(np.int64)


def emotion_split(video_id: int) -> str:
    """``'train'`` / ``'test'`` for the official emotion protocol's videos, ``'dev'`` for all others."""
    v = int(video_id)
    return "train" if v in EMOTION_TRAIN_VIDEOS else "test" if v in EMOTION_TEST_VIDEOS else "dev"


def xsub_split(subject_id: int) -> str | None:
    s = int(subject_id)
    return "train" if s in XSUB_TRAIN_SUBJECTS else "test" if s in XSUB_TEST_SUBJECTS else None


def _check_codes(codes: np.ndarray, where: Path) -> None:
    bad = ~(((codes >= 1) & (codes <= 31)) | (codes == NON_MG_CODE))
    if bad.any():
        raise DataError(where, f"unknown class codes {sorted(set(codes[bad].tolist()))[:10]} "
                               "(expected 1–31 or 99)")


def load_annotations(csv_path: str | Path) -> Any:
    """``labels_20200831.csv`` as a DataFrame with normalised columns (see ``ANNOTATION_COLUMNS``).

    ``label`` is the 0–31 index, ``outcome`` is ``'win'``/``'lose'`` and ``emotion`` is 1 (win, positive)
    or 0 (lose, negative).
    """

    csv_path = Path(csv_path)
    try:
        raw = pd.read_csv(csv_path)
    except FileNotFoundError:
        raise DataError(csv_path, "does not exist") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise DataError(csv_path, f"is not a readable CSV: {e}") from None
    raw.columns = [str(c).strip() for c in raw.columns]
    missing = _CSV_COLUMNS - set(raw.columns)
    if missing:
        raise DataError(csv_path, f"is missing columns {sorted(missing)} (is it the iMiGUE labels CSV?)")
    try:
        ints = {c: pd.to_numeric(raw[c], errors="raise").astype(np.int64)
                for c in ("video_id", "label_id", "start_frame", "end_frame", "class", "subject_id")}
        times = {c: pd.to_numeric(raw[c], errors="raise").astype(np.float64) for c in ("start_time", "end_time")}
    except (ValueError, TypeError) as e:
        raise DataError(csv_path, f"has a non-numeric id, frame, time or class value: {e}") from None
    codes = ints["class"].to_numpy()
    _check_codes(codes, csv_path)
    outcome = raw["win_or_lose"].astype(str).str.strip().str.lower()
    if not outcome.isin(["win", "lose"]).all():
        bad = sorted(set(outcome[~outcome.isin(["win", "lose"])]))[:5]
        raise DataError(csv_path, f"win_or_lose must be Win or Lose, found {bad}")
    labels = code_to_label(codes)
    df = pd.DataFrame({
        "video_id": ints["video_id"], "label_id": ints["label_id"],
        "start_time": times["start_time"], "start_frame": ints["start_frame"],
        "end_time": times["end_time"], "end_frame": ints["end_frame"],
        "class_code": ints["class"], "label": labels,
        "label_name": [IMIGUE_CLASS_NAMES[i] for i in labels],
        "subject_id": ints["subject_id"],
        "gender": raw["subject_gender"].astype(str).str.strip(),
        "nationality": raw["subject_nationality"].astype(str).str.strip(),
        "outcome": outcome, "emotion": (outcome == "win").astype(np.int64),
    })
    backwards = df["end_frame"] < df["start_frame"]
    if backwards.any():
        r = df[backwards].iloc[0]
        raise DataError(csv_path, f"{int(backwards.sum())} rows end before they start "
                                  f"(first: video {r.video_id}, label {r.label_id})")
    return df


def read_video_labels_txt(path: str | Path) -> Any:
    """A per-video ``raw/Label/raw/<video>.txt`` (``start_s<TAB>end_s<TAB>code``) as a DataFrame.

    Columns: ``video_id`` (from the file name), ``label_id`` (1-based row order, as in the CSV),
    ``start_time``, ``end_time``, ``start_frame``, ``end_frame`` (25 fps), ``class_code``, ``label``,
    ``label_name``.
    """

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(path, "does not exist") from None
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(path, f"cannot be read: {e}") from None
    lines = [ln.split() for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise DataError(path, "is empty (no annotations)")
    bad = next((k for k, ln in enumerate(lines) if len(ln) != 3), None)
    if bad is not None:
        raise DataError(path, f"line {bad + 1} has {len(lines[bad])} fields, expected start_s, end_s, code")
    try:
        arr = np.array(lines, dtype=np.float64)
    except ValueError as e:
        raise DataError(path, f"has a value that is not a number: {e}") from None
    if not np.isfinite(arr).all():
        raise DataError(path, "has NaN or infinite values")
    codes = arr[:, 2].astype(np.int64)
    if (codes != arr[:, 2]).any():
        raise DataError(path, "class codes must be integers")
    _check_codes(codes, path)
    labels = code_to_label(codes)
    try:
        video_id = int(path.stem)
    except ValueError:
        video_id = -1
    return pd.DataFrame({
        "video_id": video_id, "label_id": np.arange(1, len(arr) + 1),
        "start_time": arr[:, 0], "end_time": arr[:, 1],
        "start_frame": seconds_to_frame(arr[:, 0]), "end_frame": seconds_to_frame(arr[:, 1]),
        "class_code": codes, "label": labels, "label_name": [IMIGUE_CLASS_NAMES[i] for i in labels],
    })


def cut_clips(
    stream: Clip, annotations: Any, to_layout: str | None = "imigue22", *,
    skipped: list[Skipped] | None = None, strict: bool = False,
) -> list[Clip]:
    """One clip per annotation row (frames ``start_frame..end_frame`` inclusive, in video frame numbers).

    ``stream.meta.frame_range[0]`` is the video frame of the stream's first frame. Rows reaching outside
    the stream are appended to ``skipped`` (or raise ``DataError`` under ``strict``). The stream is
    converted to ``to_layout`` once, before cutting (``None`` keeps its layout).
    """
    if to_layout and stream.meta.layout != to_layout:
        stream = convert_clip(stream, to_layout)
    offset = stream.meta.frame_range[0] if stream.meta.frame_range else 0
    video = stream.meta.clip_id
    where = stream.meta.source or video
    cols = set(annotations.columns)
    out: list[Clip] = []
    for k, row in enumerate(annotations.itertuples(index=False), start=1):
        label_id = int(row.label_id) if "label_id" in cols else k
        clip_id = f"{int(row.video_id) if 'video_id' in cols else video}_{label_id}"
        start, end = int(row.start_frame) - offset, int(row.end_frame) - offset
        if start < 0 or end >= stream.num_frames or start > end:
            problem = (f"annotation {clip_id} (frames {row.start_frame}–{row.end_frame}) is outside the "
                       f"stream's frames {offset}–{offset + stream.num_frames - 1}")
            if strict:
                raise DataError(where, problem)
            if skipped is not None:
                skipped.append(Skipped(f"{where}#{clip_id}", problem))
            continue
        kp = np.ascontiguousarray(stream.keypoints[:, start:end + 1])
        sc = None if stream.scores is None else np.ascontiguousarray(stream.scores[:, start:end + 1])
        extra = {k2: _plain(getattr(row, k2)) for k2 in
                 ("video_id", "label_id", "class_code", "outcome", "emotion", "gender", "nationality")
                 if k2 in cols}
        meta = type(stream.meta)(
            clip_id=clip_id, dataset="imigue", label=int(row.label), label_name=str(row.label_name),
            subject=str(int(row.subject_id)) if "subject_id" in cols else stream.meta.subject,
            source=stream.meta.source, frame_range=(int(row.start_frame), int(row.end_frame)), fps=FPS,
            layout=stream.meta.layout, img_shape=stream.meta.img_shape, extra=extra)
        out.append(Clip(kp, meta, sc))
    return out


def _plain(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


# -- dataset root -------------------------------------------------------------------------------
def _find(root: Path) -> tuple[Path, Path]:
    """The labels CSV and the skeleton folder under an iMiGUE root (``root`` or ``root/raw``)."""
    for base in (root, root / "raw"):
        csv = base / "Label" / "labels_20200831.csv"
        if csv.is_file():
            return csv, base / "Data" / "skeleton" / "raw"
    raise DataError(root, "is not an iMiGUE root: no Label/labels_20200831.csv (or raw/Label/...)")


def _detect(path: Path) -> bool:
    try:
        _find(path)
        return True
    except DataError:
        return False


def read_imigue(
    path: str | Path, *, strict: bool = False, layout: str | None = None, progress: bool = True,
    max_persons: int = 1, videos: list[int] | None = None, **_: Any,
) -> SkeletonDataset:
    """Clips of every annotated video that has an OpenPose folder, with the cross-subject split.

    Splits: ``train``/``test`` (cross-subject) and ``emotion_train``/``emotion_test``/``emotion_dev`` (by
    video). ``layout`` defaults to ``imigue22``. Annotated videos without skeletons, skeleton folders without
    annotations and annotations outside their stream are listed in ``skipped``.
    """
    root = Path(path)
    csv, skel_dir = _find(root)
    ann = load_annotations(csv)
    layout = layout or "imigue22"
    skipped: list[Skipped] = []
    folders = {p.name: p for p in skel_dir.iterdir() if p.is_dir()} if skel_dir.is_dir() else {}
    wanted = sorted(set(ann["video_id"].tolist()) if videos is None else {int(v) for v in videos})
    clips: list[Clip] = []

    for vid in wanted:
        rows = ann[ann["video_id"] == vid]
        folder = folders.get(str(vid))
        if folder is None:
            skipped.append(Skipped(str(skel_dir / str(vid)),
                                   f"video {vid}: no OpenPose folder ({len(rows)} annotations not imported)"))
            continue
        if rows.empty:
            skipped.append(Skipped(str(folder), f"video {vid} has no annotations in {csv.name}"))
            continue
        try:
            stream, report = read_openpose_folder(folder, max_persons=max_persons, strict=strict,
                                                  progress=progress, video=str(vid))
        except DataError as e:
            if strict:
                raise
            skipped.append(Skipped(str(folder), e.problem))
            continue
        skipped += report.corrupt
        stream.meta.subject = str(int(rows["subject_id"].iloc[0]))
        stream.meta.fps = FPS
        clips += cut_clips(stream, rows, layout, skipped=skipped, strict=strict)
    annotated = set(wanted)
    for name, folder in sorted(folders.items()):
        if videos is None and (not name.isdigit() or int(name) not in annotated):
            skipped.append(Skipped(str(folder), "skeleton folder has no annotations in the labels CSV"))
    return SkeletonDataset("imigue", layout, clips, list(IMIGUE_CLASS_NAMES), imigue_splits(clips), skipped)


def imigue_splits(clips: list[Clip]) -> dict[str, list[str]]:
    """Cross-subject (``train``/``test``) and emotion (``emotion_train/test/dev``) splits of iMiGUE clips."""
    splits: dict[str, list[str]] = {"train": [], "test": [], "emotion_train": [], "emotion_test": [],
                                    "emotion_dev": []}
    for c in clips:
        if c.meta.subject is not None and c.meta.subject.isdigit():
            s = xsub_split(int(c.meta.subject))
            if s:
                splits[s].append(c.meta.clip_id)
        vid = c.meta.extra.get("video_id")
        if vid is None:
            vid = c.meta.clip_id.split("_")[0]
        if str(vid).isdigit():
            splits[f"emotion_{emotion_split(int(vid))}"].append(c.meta.clip_id)
    return splits


def _register() -> None:
    register_reader("imigue", read_imigue, _detect,
                    "iMiGUE root: Label/labels_20200831.csv + Data/skeleton/raw/<video>/ OpenPose folders",
                    priority=5)


_register()
