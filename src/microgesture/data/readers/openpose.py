"""OpenPose per-frame JSON folders (``<video>_<frame:012d>_keypoints.json``) → one stream ``Clip``.

Why this shape: OpenPose writes one small JSON file per video frame; a 14-minute interview is 21,068
files. They are read in one pass with orjson into flat per-person rows (no per-joint Python work),
stacked once into a float32 array, and the persons are assigned to slots with a light tracker so the
*same* person stays in slot 0 for the whole stream even when someone else walks into the picture.
Missing numbers in the file sequence and files with an empty ``people`` list become NaN frames; a
truncated or corrupt file becomes a NaN frame that is reported by name (``strict`` raises instead).
"""

from __future__ import annotations

import gc
import math
import os
import re
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from ...errors import ConfigError, DataError
from ..clip import Clip, ClipMeta
from ..convert import convert_clip, list_conversions
from ..dataset import SkeletonDataset, Skipped
from ..layouts import get_layout
from . import register_reader

try:  # orjson parses these files several times faster than the standard library
    from orjson import JSONDecodeError as _JSONDecodeError
    from orjson import loads as _loads
except ImportError:  # pragma: no cover - orjson is a declared dependency
    from json import JSONDecodeError as _JSONDecodeError
    from json import loads as _loads

FILE_PATTERN = re.compile(r"^(?P<video>.*)_(?P<frame>\d+)_keypoints\.json$")

# The parts of an OpenPose person record, in the order of the ``openpose_full`` layout.
_PARTS: tuple[tuple[str, int], ...] = (
    ("pose_keypoints_2d", 25),
    ("hand_left_keypoints_2d", 21),
    ("hand_right_keypoints_2d", 21),
    ("face_keypoints_2d", 70),
)
_NATIVE_LAYOUTS = {"openpose_body25": 1, "openpose_body25_hands": 3, "openpose_full": 4}  # -> parts read
_NECK = 1  # BODY_25 index of the neck (the tracker's anchor)
_BODY = 25


@dataclass
class OpenPoseReport:
    """What was found in an OpenPose folder, beyond the numbers themselves."""

    folder: str
    video: str
    files: int = 0
    frames: int = 0  # length of the stream (first..last file number)
    first_frame: int = 0
    last_frame: int = -1
    gap_frames: int = 0  # frame numbers with no file
    empty_frames: int = 0  # files whose ``people`` list is empty
    multi_person_frames: int = 0  # files with more than one person
    dropped_detections: int = 0  # person detections not assigned to any kept slot
    corrupt: list[Skipped] = field(default_factory=list)  # unreadable files (their frames are NaN)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["corrupt"] = [s.to_dict() for s in self.corrupt]
        return d


def list_openpose_files(folder: str | Path) -> dict[str, list[tuple[int, str]]]:
    """``{video name: [(frame number, path), ...]}`` sorted by frame number, for every keypoints file."""
    folder = Path(folder)
    videos: dict[str, list[tuple[int, str]]] = {}
    try:
        entries = list(os.scandir(folder))
    except NotADirectoryError:
        raise DataError(folder, "is not a folder of OpenPose *_keypoints.json files") from None
    except OSError as e:
        raise DataError(folder, f"cannot be listed: {e.strerror or e}") from None
    for entry in entries:
        m = FILE_PATTERN.match(entry.name)
        if m:
            videos.setdefault(m.group("video"), []).append((int(m.group("frame")), entry.path))
    for files in videos.values():
        files.sort()
    return videos


def _parse_people(data: bytes, parts: tuple[tuple[str, int], ...]) -> list[list[list[float]]]:
    """Per person, one flat ``[x, y, c] * V`` list per part; raises ValueError describing what is wrong."""
    if not data.strip():
        raise ValueError("empty file")
    try:
        doc = _loads(data)
    except _JSONDecodeError as e:
        raise ValueError(f"not valid JSON (truncated or corrupt): {e}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("people"), list):
        raise ValueError("has no 'people' list (not an OpenPose keypoints file)")
    people = []
    for person in doc["people"]:
        if not isinstance(person, dict):
            raise ValueError("a 'people' entry is not an object")
        row = []
        for key, joints in parts:
            values = person.get(key)
            if not values:  # part not estimated (e.g. face disabled): all missing
                values = _ZEROS[joints]
            elif len(values) != 3 * joints:
                raise ValueError(f"{key} has {len(values)} values, expected {3 * joints} "
                                 f"({joints} joints × x, y, confidence)")
            row.append(values)
        people.append(row)
    return people


_ZEROS = {n: [0.0] * (3 * n) for _, n in _PARTS}


def read_openpose_folder(
    path: str | Path,
    *,
    max_persons: int = 1,
    layout: str = "openpose_full",
    strict: bool = False,
    progress: bool = True,
    video: str | None = None,
    gate: float = 1.0,
    max_gap: int = 25,
) -> tuple[Clip, OpenPoseReport]:
    """Read one video's OpenPose output into a stream clip ``[M, T, V, 2]`` with scores ``[M, T, V]``.

    ``layout`` is one of ``openpose_body25``, ``openpose_body25_hands``, ``openpose_full`` (only those
    parts are parsed) or any layout with a registered conversion from them (e.g. ``imigue22``).
    ``video`` picks one video when the folder holds several. ``gate`` and ``max_gap`` tune the person
    tracker (see ``assign_persons``). Frame ``t`` of the clip is file number ``first_frame + t``.
    """

    path = Path(path)
    if max_persons < 1:
        raise DataError(path, f"max_persons must be at least 1, got {max_persons}")
    read_layout, convert_to = _plan_layout(layout)
    parts = _PARTS[: _NATIVE_LAYOUTS[read_layout]]

    videos = list_openpose_files(path)
    if not videos:
        raise DataError(path, "no OpenPose *_keypoints.json files")
    if video is None:
        if len(videos) > 1:
            names = ", ".join(sorted(videos)[:5])
            raise DataError(path, f"holds keypoint files of {len(videos)} videos ({names}, ...); pass video=")
        video = next(iter(videos))
    elif video not in videos:
        raise DataError(path, f"has no keypoint files for video {video!r}")
    files = videos[video]
    first, last = files[0][0], files[-1][0]
    report = OpenPoseReport(str(path), video, files=len(files), frames=last - first + 1,
                            first_frame=first, last_frame=last)
    report.gap_frames = report.frames - len(files)

    columns: list[list[list[float]]] = [[] for _ in parts]  # per part: one flat list per detection
    row_frame: list[int] = []
    gc_was_enabled = gc.isenabled()
    gc.disable()  # millions of new lists and no cycles: the collector would only rescan them again and again
    try:
        _read_files(files, first, parts, columns, row_frame, report, strict, progress)
    finally:
        if gc_was_enabled:
            gc.enable()

    frame_idx = np.asarray(row_frame, dtype=np.int64)
    kp = _stack_columns(columns, parts, files, frame_idx, first)
    keypoints, scores, dropped = assign_persons(
        kp[..., :2], kp[..., 2], frame_idx, report.frames, max_persons, gate=gate, max_gap=max_gap)
    report.dropped_detections = dropped
    meta = ClipMeta(clip_id=video, dataset="openpose", source=str(path), frame_range=(first, last),
                    layout=read_layout, extra={"openpose": report.to_dict()})
    clip = Clip(keypoints, meta, scores)
    if convert_to is not None:
        clip = convert_clip(clip, convert_to)
    return clip, report


def _read_files(files: list[tuple[int, str]], first: int, parts: tuple[tuple[str, int], ...],
                columns: list[list[list[float]]], row_frame: list[int], report: OpenPoseReport, strict: bool,
                progress: bool) -> None:
    """Parse every file into ``columns`` (per part, one list per detection) and ``row_frame``."""

    video = report.video
    for frame_no, file in tqdm(files, desc=f"OpenPose {video}", unit="frame", disable=not progress,
                               mininterval=0.5):
        try:
            with open(file, "rb") as fh:
                people = _parse_people(fh.read(), parts)
        except (ValueError, TypeError, OSError) as e:
            reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
            if strict:
                raise DataError(file, reason) from None
            report.corrupt.append(Skipped(file, reason))
            continue
        if not people:
            report.empty_frames += 1
            continue
        if len(people) > 1:
            report.multi_person_frames += 1
        for person in people:
            for column, values in zip(columns, person, strict=True):
                column.append(values)
        row_frame += [frame_no - first] * len(people)


def _plan_layout(layout: str) -> tuple[str, str | None]:
    """Which OpenPose parts to parse, and the layout to convert to afterwards (if any)."""
    if layout in _NATIVE_LAYOUTS:
        return layout, None

    get_layout(layout)  # unknown name -> ConfigError listing the known ones
    for src in ("openpose_body25", "openpose_body25_hands", "openpose_full"):  # cheapest parse first
        if (src, layout) in list_conversions():
            return src, layout

    raise ConfigError(f"OpenPose data cannot be read as layout {layout!r}: no conversion from "
                      f"{', '.join(_NATIVE_LAYOUTS)}")


def _stack_columns(columns: list[list[list[float]]], parts: tuple[tuple[str, int], ...],
                   files: list[tuple[int, str]], frame_idx: np.ndarray, first: int) -> np.ndarray:
    """``[N, V, 3]`` float32 of all detections; a non-number names its file (null becomes NaN = missing)."""
    n_joints = sum(j for _, j in parts)
    if not columns[0]:
        return np.zeros((0, n_joints, 3), dtype=np.float32)
    arrays = []
    for column, (key, joints) in zip(columns, parts, strict=True):
        try:
            arrays.append(np.array(column, dtype=np.float32).reshape(-1, joints, 3))
        except (ValueError, TypeError):
            by_frame = dict(files)
            for values, f in zip(column, frame_idx.tolist(), strict=True):
                try:
                    np.array(values, dtype=np.float32)
                except (ValueError, TypeError):
                    raise DataError(by_frame[f + first], f"{key} contains a value that is not a number") \
                        from None
            raise
    return np.concatenate(arrays, axis=1) if len(arrays) > 1 else arrays[0]


def _person_features(xy: np.ndarray, conf: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per detection: anchor point (neck, else mean of body joints), body size (bbox diagonal), quality.

    Detections without any body joint fall back to the mean of their other joints (hands/face) and size 0.
    """
    bxy, bconf = xy[:, :_BODY], conf[:, :_BODY]
    body = (bconf > 0) & np.isfinite(bxy).all(-1) & ~(bxy == 0).all(-1)
    count = body.sum(1)
    safe = np.where(body[..., None], bxy, 0)
    centre = safe.sum(1) / np.maximum(count, 1)[:, None]
    neck_ok = body[:, _NECK]
    centre[neck_ok] = bxy[neck_ok, _NECK]
    lo = np.where(body[..., None], bxy, np.inf).min(1)
    hi = np.where(body[..., None], bxy, -np.inf).max(1)
    size = np.where(count > 0, np.hypot(*(hi - lo).T), 0.0)
    mean_conf = np.where(body, bconf, 0).sum(1) / np.maximum(count, 1)
    no_body = np.flatnonzero(count == 0)
    if len(no_body):
        rest_xy, rest_conf = xy[no_body], conf[no_body]
        ok = (rest_conf > 0) & np.isfinite(rest_xy).all(-1) & ~(rest_xy == 0).all(-1)
        n_ok = ok.sum(1)
        mean = np.where(ok[..., None], rest_xy, 0).sum(1) / np.maximum(n_ok, 1)[:, None]
        centre[no_body] = np.where((n_ok > 0)[:, None], mean, np.nan)
    return centre, size, size * mean_conf


def assign_persons(
    xy: np.ndarray, conf: np.ndarray, frame_idx: np.ndarray, num_frames: int, max_persons: int,
    *, gate: float = 1.0, max_gap: int = 25,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Place detections (rows of ``xy [N, V, 2]``, ``conf [N, V]`` at ``frame_idx [N]``) into person slots.

    1. Detections are linked into tracklets frame by frame: a detection continues the nearest live
       tracklet whose anchor is within ``gate`` × body size (a tracklet dies after ``max_gap`` frames unseen).
    2. Tracklets are ranked by total quality (Σ body size × mean body confidence): the largest, most
       confident, longest-visible person comes first.
    3. Each tracklet joins the first slot whose frames it does not overlap and whose person it is near
       (anchor within ``gate`` × body size of the slot's median anchor); slot 0 is the main person.

    Returns keypoints ``[M, T, V, 2]`` (NaN where missing), scores ``[M, T, V]`` and the number of
    detections not kept. Trailing all-empty slots are trimmed (at least one slot is returned).
    """
    n, v = conf.shape
    out_xy = np.full((max_persons, num_frames, v, 2), np.nan, dtype=np.float32)
    out_sc = np.zeros((max_persons, num_frames, v), dtype=np.float32)
    if n == 0:
        return out_xy[:1], out_sc[:1], 0
    counts = np.bincount(frame_idx, minlength=num_frames)
    if counts.max() == 1 and max_persons == 1:
        slot = np.zeros(n, dtype=np.int64)  # one detection per frame: nothing to decide
    else:
        centre, size, quality = _person_features(xy, conf)
        track = _link_tracklets(frame_idx, centre, size, gate, max_gap)
        slot = _fill_slots(track, frame_idx, centre, size, quality, num_frames, max_persons, gate)
    keep = slot >= 0
    kxy, kconf = xy[keep], conf[keep]  # copies: the caller's arrays are not modified
    missing = ~(kconf > 0) | ~np.isfinite(kxy).all(-1) | (kxy == 0).all(-1)
    kxy[missing] = np.nan
    kconf[missing] = 0
    out_xy[slot[keep], frame_idx[keep]] = kxy
    out_sc[slot[keep], frame_idx[keep]] = kconf
    used = max(1, int(slot.max()) + 1) if keep.any() else 1
    return out_xy[:used], out_sc[:used], int((~keep).sum())


def _link_tracklets(frame_idx: np.ndarray, centre: np.ndarray, size: np.ndarray, gate: float,
                    max_gap: int) -> np.ndarray:
    """Tracklet id per detection (greedy nearest-anchor association, frame by frame)."""
    n = len(frame_idx)
    track = np.empty(n, dtype=np.int64)
    frames, cx, cy, sz = frame_idx.tolist(), centre[:, 0].tolist(), centre[:, 1].tolist(), size.tolist()
    live: list[list[float]] = []  # [track id, last frame, x, y, size]
    next_id, i = 0, 0
    while i < n:
        f, j = frames[i], i
        while j < n and frames[j] == f:
            j += 1
        live = [t for t in live if f - t[1] <= max_gap]
        pairs = []
        for r in range(i, j):
            for k, t in enumerate(live):
                d = math.hypot(cx[r] - t[2], cy[r] - t[3])
                if d <= gate * max(t[4], sz[r]):  # NaN anchors never match
                    pairs.append((d, r, k))
        pairs.sort()
        taken_r: set[int] = set()
        taken_t: set[int] = set()
        for _, r, k in pairs:
            if r in taken_r or k in taken_t:
                continue
            taken_r.add(r)
            taken_t.add(k)
            t = live[k]
            track[r] = int(t[0])
            t[1], t[2], t[3] = f, cx[r], cy[r]
            if sz[r] > 0:
                t[4] = sz[r]
        for r in range(i, j):
            if r not in taken_r:
                track[r] = next_id
                if math.isfinite(cx[r]):
                    live.append([next_id, f, cx[r], cy[r], sz[r]])
                next_id += 1
        i = j
    return track


def _fill_slots(track: np.ndarray, frame_idx: np.ndarray, centre: np.ndarray, size: np.ndarray,
                quality: np.ndarray, num_frames: int, max_persons: int, gate: float) -> np.ndarray:
    """Slot per detection (-1 = not kept): best tracklets first, no slot holds two people at once."""
    n_tracks = int(track.max()) + 1
    total = np.bincount(track, weights=quality, minlength=n_tracks)
    occupied = np.zeros((max_persons, num_frames), dtype=bool)
    anchor: list[tuple[np.ndarray, float] | None] = [None] * max_persons
    slot_of_track = np.full(n_tracks, -1, dtype=np.int64)
    order = np.argsort(-total, kind="stable")
    rows_of = np.split(np.argsort(track, kind="stable"), np.cumsum(np.bincount(track, minlength=n_tracks))[:-1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # tracklets without an anchor: nanmedian of NaN
        for t in order:
            rows = rows_of[t]
            frames = frame_idx[rows]
            where = np.nanmedian(centre[rows], axis=0)
            for s in range(max_persons):
                if occupied[s, frames].any():
                    continue
                if anchor[s] is not None:
                    ref, ref_size = anchor[s]
                    if not np.hypot(*(where - ref)) <= gate * max(ref_size, float(np.median(size[rows]))):
                        continue
                else:
                    if not np.isfinite(where).all():
                        continue
                    anchor[s] = (where, float(np.median(size[rows])))
                occupied[s, frames] = True
                slot_of_track[t] = s
                break
    return slot_of_track[track]


# -- as a dataset (one clip per video folder) ----------------------------------------------------
def _detect(path: Path) -> bool:
    if not path.is_dir():
        return False
    with os.scandir(path) as it:
        for k, entry in enumerate(it):
            if FILE_PATTERN.match(entry.name):
                return True
            if k > 50:
                return False
    return False


def read_openpose_dataset(path: str | Path, *, strict: bool = False, layout: str | None = None,
                          max_persons: int = 1, progress: bool = True, gate: float = 1.0, max_gap: int = 25,
                          **_: Any) -> SkeletonDataset:
    """A folder of OpenPose JSON as a one-clip-per-video dataset (unlabelled streams); each stream's reading
    report is in ``meta["reports"][clip_id]``, what a user should know in ``meta["warnings"]``."""
    path = Path(path)
    videos = list_openpose_files(path)
    if not videos:
        raise DataError(path, "no OpenPose *_keypoints.json files")
    clips, skipped, reports, warnings = [], [], {}, []
    for name in sorted(videos):
        clip, report = read_openpose_folder(path, video=name, layout=layout or "openpose_full", strict=strict,
                                            max_persons=max_persons, progress=progress, gate=gate,
                                            max_gap=max_gap)
        clips.append(clip)
        skipped += report.corrupt
        reports[clip.meta.clip_id] = report.to_dict()
        if report.corrupt:
            warnings.append(f"{name}: {len(report.corrupt)} OpenPose files could not be read and count as missing "
                            f"frames (first: {report.corrupt[0].path}: {report.corrupt[0].reason})")
        if report.multi_person_frames and max_persons == 1:
            warnings.append(f"{name}: {report.multi_person_frames} frames show more than one person; the main "
                            "person was kept (largest, most confident, most continuous)")
    return SkeletonDataset("openpose", clips[0].meta.layout, clips, None, {}, skipped,
                           {"reports": reports, "warnings": warnings})


def _register() -> None:
    register_reader("openpose", read_openpose_dataset, _detect,
                    "OpenPose per-frame JSON folder (<video>_<frame>_keypoints.json); one stream per video")


_register()
