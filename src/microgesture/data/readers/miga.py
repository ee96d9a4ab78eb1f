"""The ST-GCN "release layout" used by MiGA/iMiGUE and SMG: ``<split>_data.npy`` + ``<split>_label.pkl``.

``<split>_data.npy`` is ``N × C × T × V × M`` float32 (fixed T, zero-padded); ``<split>_label.pkl`` is a
pickled ``(names, labels)`` tuple of two plain lists. Why this module is careful: the label pickles come
from file-sharing links, so they are read with the restricted unpickler (``safepickle.safe_load``), never
``pickle.load``; the arrays are memory-mapped and clips are built lazily, so opening a 10,000-clip split
costs one scan for the true lengths (leading/trailing all-zero frames are padding), not gigabytes of RAM.
For iMiGUE (MiGA) the layout is ``imigue22`` with channels x, y, confidence and names ``VVVV_k`` (video,
clip index); SMG lives in ``smg.py`` and reuses the functions here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import DataError
from ..clip import Clip, ClipMeta, zeros_to_nan
from ..dataset import LazyClips, SkeletonDataset, Skipped
from ..layouts import get_layout
from ..safepickle import safe_load
from . import register_reader
from .imigue import FPS, IMIGUE_CLASS_NAMES, emotion_split, load_annotations

SPLIT_NAMES = ("train", "val", "test")
_MIGA_NAME = re.compile(r"^(?P<video>\d+)_(?P<index>\d+)$")


def read_release_labels(path: str | Path) -> tuple[list[str], list[int]]:
    """``(names, labels)`` from a release ``*_label.pkl``, checked to be two equally long plain lists."""
    obj = safe_load(path)
    if not (isinstance(obj, (tuple, list)) and len(obj) == 2):
        raise DataError(path, f"expected a pickled (names, labels) pair, got {type(obj).__name__}")
    names, labels = obj
    try:
        names = [str(n) for n in names]
        labels_arr = np.asarray(labels)
    except TypeError:
        raise DataError(path, "names and labels must be sequences") from None
    if labels_arr.ndim != 1 or not np.issubdtype(labels_arr.dtype, np.integer):
        raise DataError(path, f"labels must be a flat list of integers, got dtype {labels_arr.dtype} "
                              f"shape {labels_arr.shape}")
    if len(names) != len(labels_arr):
        raise DataError(path, f"{len(names)} names but {len(labels_arr)} labels")
    if (labels_arr < 0).any():
        raise DataError(path, f"negative label {int(labels_arr.min())}")
    if len(set(names)) != len(names):
        raise DataError(path, "sample names are not unique")
    return names, labels_arr.astype(np.int64).tolist()


def open_release_data(path: str | Path, *, mmap: bool = True) -> np.ndarray:
    """The ``N × C × T × V × M`` array of a release ``*_data.npy``, memory-mapped (object arrays refused)."""
    path = Path(path)
    try:
        data = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except FileNotFoundError:
        raise DataError(path, "does not exist") from None
    except ValueError as e:  # object arrays, bad header
        raise DataError(path, f"is not a plain numeric .npy array: {e}") from None
    except OSError as e:
        raise DataError(path, f"cannot be read (truncated or not a .npy file): {e}") from None
    if data.ndim != 5:
        raise DataError(path, f"expected N × C × T × V × M (5 axes), got shape {data.shape}")
    if not np.issubdtype(data.dtype, np.floating):
        raise DataError(path, f"expected floating-point data, got {data.dtype}")
    return data


def frame_ranges(data: np.ndarray, chunk: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """First and last non-padding frame of every sample (an all-zero frame over C, V, M is padding).

    Samples that are entirely zero get ``first = 0, last = -1`` (length 0). Scans in chunks so a
    memory-mapped array is never loaded whole.
    """
    n, t = data.shape[0], data.shape[2]
    first = np.zeros(n, dtype=np.int64)
    last = np.full(n, -1, dtype=np.int64)
    for a in range(0, n, chunk):
        block = np.asarray(data[a:a + chunk])
        used = (block != 0).any(axis=(1, 3, 4))  # [n, T]
        has = used.any(axis=1)
        first[a:a + chunk] = np.where(has, used.argmax(axis=1), 0)
        last[a:a + chunk] = np.where(has, t - 1 - used[:, ::-1].argmax(axis=1), -1)
    return first, last


@dataclass
class ReleaseSpec:
    """How to interpret one release layout's arrays."""

    dataset: str
    layout: str
    coords: str  # "xy_conf" (2-D + confidence channel) or "xyz" (3-D, no scores)
    class_names: list[str] | None = None
    fps: float | None = None
    subject_of: Callable[[str], str | None] = lambda name: None
    extra_of: Callable[[str], dict[str, Any]] = lambda name: {}


class ReleaseClips(LazyClips):
    """Clips of one release split, built on access from the memory-mapped array (padding trimmed)."""

    def __init__(self, data: np.ndarray, names: list[str], labels: list[int], rows: np.ndarray,
                 first: np.ndarray, last: np.ndarray, spec: ReleaseSpec, source: str):
        self._data, self._names, self._labels = data, names, labels
        self._rows, self._first, self._last = rows, first, last
        self._spec, self._source = spec, source

    def __len__(self) -> int:
        return len(self._rows)

    def _get(self, i: int) -> Clip:
        return self._clip(int(self._rows[i]))

    def _clip(self, r: int) -> Clip:
        spec, name = self._spec, self._names[r]
        a, b = int(self._first[r]), int(self._last[r])
        arr = np.asarray(self._data[r, :, a:b + 1], dtype=np.float32).transpose(3, 1, 2, 0)  # M,T,V,C
        persons = (arr != 0).any(axis=(1, 2, 3))
        arr = arr[: max(1, int(np.flatnonzero(persons).max()) + 1 if persons.any() else 1)]
        if spec.coords == "xy_conf":
            scores = np.ascontiguousarray(arr[..., 2])
            kp, sc = zeros_to_nan(arr[..., :2], scores), scores
        else:
            kp, sc = zeros_to_nan(arr), None
        label = int(self._labels[r])
        names = spec.class_names
        meta = ClipMeta(
            clip_id=name, dataset=spec.dataset, label=label,
            label_name=names[label] if names and label < len(names) else None,
            subject=spec.subject_of(name), source=f"{self._source}#{r}", frame_range=(a, b), fps=spec.fps,
            layout=spec.layout, extra={"row": r, **spec.extra_of(name)})
        return Clip(kp, meta, sc)


def read_release_split(
    data_npy: str | Path, label_pkl: str | Path, spec: ReleaseSpec, *, strict: bool = False,
) -> tuple[ReleaseClips, list[Skipped]]:
    """One split of a release layout as lazily built clips, plus the samples that had to be skipped."""

    names, labels = read_release_labels(label_pkl)
    data = open_release_data(data_npy)
    n, c, _, v, _ = data.shape
    if n != len(names):
        raise DataError(data_npy, f"has {n} samples but {Path(label_pkl).name} has {len(names)} labels")
    if c != 3:
        raise DataError(data_npy, f"expected 3 channels ({'x, y, confidence' if spec.coords == 'xy_conf' else 'x, y, z'}), "
                                  f"got C={c}")
    lay = get_layout(spec.layout)
    if v != lay.num_joints:
        raise DataError(data_npy, f"has V={v} joints but layout {lay.name} has {lay.num_joints}")
    if spec.class_names and max(labels, default=0) >= len(spec.class_names):
        raise DataError(label_pkl, f"label {max(labels)} is out of range for {len(spec.class_names)} classes")
    first, last = frame_ranges(data)
    finite = np.ones(n, dtype=bool)
    for a in range(0, n, 512):
        finite[a:a + 512] = np.isfinite(np.asarray(data[a:a + 512])).all(axis=(1, 2, 3, 4))
    skipped: list[Skipped] = []
    for r in np.flatnonzero((last < 0) | ~finite):
        reason = ("sample is all zeros (no skeleton)" if last[r] < 0
                  else "sample contains NaN or infinite values")
        if strict:
            raise DataError(f"{data_npy}#{r}", f"{names[r]}: {reason}")
        skipped.append(Skipped(f"{data_npy}#{r} ({names[r]})", reason))
    rows = np.flatnonzero((last >= 0) & finite)
    return ReleaseClips(data, names, labels, rows, first, last, spec, str(data_npy)), skipped


def find_release_splits(folder: str | Path) -> dict[str, tuple[Path, Path]]:
    """``{split: (data.npy, label.pkl)}`` for every ``<split>_data.npy`` with a matching ``<split>_label.pkl``."""
    folder = Path(folder)
    found = {}
    for npy in sorted(folder.glob("*_data.npy")):
        split = npy.name[: -len("_data.npy")]
        pkl = folder / f"{split}_label.pkl"
        if pkl.is_file():
            found[split] = (npy, pkl)
    order = {name: k for k, name in enumerate(SPLIT_NAMES)}  # train, val, test first, then the rest by name
    return dict(sorted(found.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0])))


class _Chain(LazyClips):
    """Several lazy clip sequences seen as one."""

    def __init__(self, parts: list[Sequence[Clip]]):
        self._parts = parts
        self._ends = np.cumsum([len(p) for p in parts])

    def __len__(self) -> int:
        return int(self._ends[-1]) if len(self._ends) else 0

    def _get(self, i: int) -> Clip:
        p = int(np.searchsorted(self._ends, i, side="right"))
        return self._parts[p][i - (int(self._ends[p - 1]) if p else 0)]


def read_release(folder: str | Path, spec: ReleaseSpec, *, strict: bool = False,
                 splits: Sequence[str] | None = None) -> SkeletonDataset:
    """Every split found in ``folder`` as one dataset; split names are the file prefixes."""
    folder = Path(folder)
    found = find_release_splits(folder)
    if splits is not None:
        missing = [s for s in splits if s not in found]
        if missing:
            raise DataError(folder, f"has no {', '.join(f'{s}_data.npy + {s}_label.pkl' for s in missing)}")
        found = {s: found[s] for s in splits}
    if not found:
        raise DataError(folder, "no <split>_data.npy with a matching <split>_label.pkl")
    parts, skipped, split_ids = [], [], {}
    for split, (npy, pkl) in found.items():
        clips, skip = read_release_split(npy, pkl, spec, strict=strict)
        parts.append(clips)
        skipped += skip
        split_ids[split] = [clips._names[r] for r in clips._rows]
    return SkeletonDataset(spec.dataset, spec.layout, _Chain(parts), spec.class_names, split_ids, skipped)


# -- MiGA / iMiGUE ------------------------------------------------------------------------------
def _miga_video(name: str) -> int | None:
    m = _MIGA_NAME.match(name)
    return int(m.group("video")) if m else None


def miga_spec(subject_of_video: dict[int, int] | None = None) -> ReleaseSpec:
    def subject_of(name: str) -> str | None:
        v = _miga_video(name)
        if subject_of_video is None or v is None or v not in subject_of_video:
            return None
        return str(subject_of_video[v])

    def extra_of(name: str) -> dict[str, Any]:
        v = _miga_video(name)
        return {} if v is None else {"video_id": v, "clip_index": int(name.split("_")[1])}

    return ReleaseSpec("imigue", "imigue22", "xy_conf", list(IMIGUE_CLASS_NAMES), FPS, subject_of, extra_of)


def read_miga(path: str | Path, *, strict: bool = False, layout: str | None = None,
              annotations: str | Path | None = None, splits: Sequence[str] | None = None,
              **_: Any) -> SkeletonDataset:
    """A MiGA/iMiGUE release folder (``train_data.npy``/``train_label.pkl``, ``test_...``).

    Split names are the file prefixes (the release's train/test is the cross-subject split);
    ``emotion_train/test/dev`` are added from the video ids in the names. ``annotations`` (the
    ``labels_20200831.csv``) adds subject ids.
    """

    if layout not in (None, "imigue22"):
        raise DataError(path, f"MiGA release data is in layout imigue22, not {layout!r}")
    subject_of_video = None
    if annotations is not None:
        ann = load_annotations(annotations)
        subject_of_video = dict(zip(ann["video_id"].tolist(), ann["subject_id"].tolist(), strict=True))
    ds = read_release(path, miga_spec(subject_of_video), strict=strict, splits=splits)
    emo: dict[str, list[str]] = {"emotion_train": [], "emotion_test": [], "emotion_dev": []}
    for ids in list(ds.splits.values()):
        for cid in ids:
            v = _miga_video(cid)
            if v is not None:
                emo[f"emotion_{emotion_split(v)}"].append(cid)
    ds.splits.update(emo)
    return ds


def _release_shape(path: Path) -> tuple[int, ...] | None:
    found = find_release_splits(path) if path.is_dir() else {}
    for npy, _ in found.values():
        return np.load(npy, mmap_mode="r", allow_pickle=False).shape
    return None


def _detect(path: Path) -> bool:
    shape = _release_shape(path)
    return shape is not None and len(shape) == 5 and shape[3] == 22


def _register() -> None:
    register_reader("miga", read_miga, _detect,
                    "MiGA/iMiGUE ST-GCN release: <split>_data.npy (N×3×T×22×M) + <split>_label.pkl (names, labels)",
                    priority=5)


_register()
