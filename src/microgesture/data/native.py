"""The native on-disk format: one memory-mapped array for all clips, plus a JSON index.

Why: PYSKL-style pickles must be unpickled whole (slow, memory-hungry, and a code-execution risk), and a
folder of one file per clip costs a syscall per clip. Here every clip is a contiguous run of rows in
``keypoints.npy`` (shape ``[sum_i M_i*T_i, V, C]``, float32; clip ``i`` is rows ``offset_i ..
offset_i + M_i*T_i`` reshaped to ``[M_i, T_i, V, C]``), so ``NativeStore`` opens the arrays with
``mmap_mode="r"`` and a clip costs one slice copy, read on demand. ``scores.npy`` (``[rows, V]``) is
present when any clip has scores. ``index.json`` holds the per-clip offsets, shapes and ``ClipMeta``,
the dataset's name, layout, class names, splits, skipped files, a format version and a sha256
fingerprint of the arrays (so caches and experiment records can tell two stores apart).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ..errors import DataError
from ..utils.io import _json_default
from .clip import Clip, ClipMeta
from .dataset import LazyClips, SkeletonDataset, Skipped

FORMAT_NAME = "microgesture-native"
FORMAT_VERSION = 1
INDEX_FILE = "index.json"
KEYPOINTS_FILE = "keypoints.npy"
SCORES_FILE = "scores.npy"
_HASH_CHUNK_ROWS = 1 << 16


def is_native_store(path: str | Path) -> bool:
    """True when ``path`` is a directory whose index says it is a native store (cheap: reads 256 bytes)."""
    index = Path(path) / INDEX_FILE
    if not index.is_file():
        return False
    with open(index, "rb") as fh:
        head = fh.read(256)
    return FORMAT_NAME.encode() in head


# -- writing -----------------------------------------------------------------------------------------
def write_native(
    dataset: SkeletonDataset, out_dir: str | Path, overwrite: bool = False, progress: bool = False
) -> Path:
    """Write ``dataset`` as a native store at ``out_dir`` (atomically: a temp dir renamed into place)."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not overwrite:
        raise DataError(out_dir, "already exists; pass overwrite=True (--overwrite) to replace it")
    if len(dataset) == 0:
        raise DataError(out_dir, f"dataset {dataset.name!r} has no clips; nothing to write")
    kps, scs, metas = _collect(dataset, progress)
    v, c = kps[0].shape[1:]
    rows = np.array([k.shape[0] for k in kps], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(rows)[:-1]]).astype(np.int64)
    total = int(rows.sum())
    any_scores = any(s is not None for s in scs)

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp", dir=out_dir.parent))
    try:
        kp_mm = np.lib.format.open_memmap(tmp / KEYPOINTS_FILE, mode="w+", dtype=np.float32, shape=(total, v, c))
        np.concatenate(kps, axis=0, out=kp_mm)
        kp_mm.flush()
        sc_mm = None
        if any_scores:
            sc_mm = np.lib.format.open_memmap(tmp / SCORES_FILE, mode="w+", dtype=np.float32, shape=(total, v))
            filled = [s if s is not None else np.full((k.shape[0], v), np.nan, np.float32)
                      for k, s in zip(kps, scs, strict=True)]
            np.concatenate(filled, axis=0, out=sc_mm)
            sc_mm.flush()
        index = {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "name": dataset.name,
            "layout": dataset.layout,
            "num_joints": int(v),
            "num_coords": int(c),
            "num_rows": total,
            "fingerprint": _fingerprint(kp_mm, sc_mm, offsets, metas),
            "class_names": list(dataset.class_names) if dataset.class_names is not None else None,
            "splits": {k: list(v_) for k, v_ in dataset.splits.items()},
            "skipped": [s.to_dict() for s in dataset.skipped],
            "clips": {
                "offset": offsets.tolist(),
                "num_persons": [int(k) for k in (m["_M"] for m in metas)],
                "num_frames": [int(k) for k in (m["_T"] for m in metas)],
                "has_scores": [s is not None for s in scs],
                "meta": [m["meta"] for m in metas],
            },
        }
        del kp_mm, sc_mm  # close the memmaps before the directory is renamed
        text = json.dumps(index, default=_json_default)  # dumps (C encoder) is ~5x faster than dump
        with open(tmp / INDEX_FILE, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        _replace_dir(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir


def _collect(dataset: SkeletonDataset, progress: bool):
    """Flatten every clip to ``[M*T, V, C]`` rows (views, no copies) and check they share V and C."""

    kps: list[np.ndarray] = []
    scs: list[np.ndarray | None] = []
    metas: list[dict[str, Any]] = []
    shape_vc: tuple[int, int] | None = None
    it: Iterable[Clip] = dataset.clips
    if progress:
        it = tqdm(it, total=len(dataset), desc=f"writing {dataset.name}", unit="clip")
    for clip in it:
        m, t, v, c = clip.keypoints.shape
        if m * t == 0:
            raise DataError(clip.meta.source or clip.meta.clip_id, f"clip has no frames or persons ({m}x{t})")
        if shape_vc is None:
            shape_vc = (v, c)
        elif (v, c) != shape_vc:
            raise DataError(clip.meta.source or clip.meta.clip_id,
                            f"clip has {v} joints x {c} coords but the dataset's first clip has "
                            f"{shape_vc[0]} x {shape_vc[1]}; a native store holds one layout")
        kps.append(clip.keypoints.reshape(m * t, v, c))
        scs.append(None if clip.scores is None else clip.scores.reshape(m * t, v))
        metas.append({"_M": m, "_T": t, "meta": clip.meta.to_dict()})
    return kps, scs, metas


def _fingerprint(kp: np.ndarray, sc: np.ndarray | None, offsets: np.ndarray, metas: list[dict]) -> str:
    """sha256 over the clip boundaries, labels and every byte of the arrays (hashed in chunks)."""
    h = hashlib.sha256()
    h.update(np.asarray(offsets, dtype="<i8").tobytes())
    shapes = np.array([[m["_M"], m["_T"]] for m in metas], dtype="<i8")
    h.update(shapes.tobytes())
    labels = np.array([-1 if m["meta"].get("label") is None else m["meta"]["label"] for m in metas], "<i8")
    h.update(labels.tobytes())
    for arr in (kp, sc):
        if arr is None:
            continue
        h.update(str(arr.shape).encode())
        for start in range(0, arr.shape[0], _HASH_CHUNK_ROWS):
            h.update(np.ascontiguousarray(arr[start:start + _HASH_CHUNK_ROWS]).tobytes())
    return h.hexdigest()


def _replace_dir(tmp: Path, out_dir: Path) -> None:
    if not out_dir.exists():
        os.replace(tmp, out_dir)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".old", dir=out_dir.parent))
    old.rmdir()
    os.replace(out_dir, old)
    try:
        os.replace(tmp, out_dir)
    except BaseException:
        os.replace(old, out_dir)
        raise
    shutil.rmtree(old, ignore_errors=True)


# -- reading -----------------------------------------------------------------------------------------
class NativeStore(LazyClips):
    """A read-only, memory-mapped ``Sequence[Clip]``; each ``store[i]`` copies only clip ``i``'s rows."""

    def __init__(self, path: str | Path, _rows: np.ndarray | None = None):
        self.path = Path(path)
        self._open()
        self._sel = np.arange(len(self._offsets)) if _rows is None else np.asarray(_rows, dtype=np.int64)

    # -- opening and validation -------------------------------------------------------------------
    def _open(self) -> None:
        p = self.path
        if not p.exists():
            raise DataError(p, "does not exist")
        if not p.is_dir():
            raise DataError(p, "is not a directory; a native store is a directory with index.json")
        index_path = p / INDEX_FILE
        try:
            index = json.loads(index_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise DataError(index_path, "is missing; this directory is not a native store") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise DataError(index_path, f"is not valid JSON (truncated or corrupt): {e}") from None
        if not isinstance(index, dict) or index.get("format") != FORMAT_NAME:
            raise DataError(index_path, f"is not a {FORMAT_NAME} index")
        if index.get("version") != FORMAT_VERSION:
            raise DataError(index_path, f"has format version {index.get('version')}; this microgesture reads "
                                        f"version {FORMAT_VERSION}")
        try:
            clips = index["clips"]
            self._offsets = np.asarray(clips["offset"], dtype=np.int64)
            self._persons = np.asarray(clips["num_persons"], dtype=np.int64)
            self._frames = np.asarray(clips["num_frames"], dtype=np.int64)
            self._has_scores = np.asarray(clips["has_scores"], dtype=bool)
            self._metas: list[dict[str, Any]] = clips["meta"]
            v, c, rows = int(index["num_joints"]), int(index["num_coords"]), int(index["num_rows"])
            self.name: str = index["name"]
            self.layout: str = index["layout"]
            self.fingerprint: str = index["fingerprint"]
        except (KeyError, TypeError, ValueError) as e:
            raise DataError(index_path, f"is missing or has a malformed field: {e}") from None
        n = len(self._offsets)
        if not (len(self._persons) == len(self._frames) == len(self._has_scores) == len(self._metas) == n):
            raise DataError(index_path, "per-clip columns have different lengths (corrupt index)")
        ends = self._offsets + self._persons * self._frames
        if n and (self._offsets[0] != 0 or (ends[:-1] != self._offsets[1:]).any() or ends[-1] != rows):
            raise DataError(index_path, "clip offsets do not tile the keypoint rows (corrupt index)")
        self.class_names: list[str] | None = index.get("class_names")
        self.splits: dict[str, list[str]] = index.get("splits") or {}
        self.skipped = [Skipped(**s) for s in index.get("skipped") or []]
        self._keypoints = self._load_array(p / KEYPOINTS_FILE, (rows, v, c))
        self._scores = None
        if self._has_scores.any():
            self._scores = self._load_array(p / SCORES_FILE, (rows, v))

    @staticmethod
    def _load_array(path: Path, shape: tuple[int, ...]) -> np.ndarray:
        try:
            arr = np.load(path, mmap_mode="r", allow_pickle=False)
        except FileNotFoundError:
            raise DataError(path, "is missing from the native store") from None
        except (ValueError, OSError, EOFError) as e:
            raise DataError(path, f"cannot be memory-mapped (truncated or corrupt): {e}") from None
        if arr.dtype != np.float32 or arr.shape != shape:
            raise DataError(path, f"has dtype {arr.dtype} shape {arr.shape}; the index expects float32 {shape}")
        return arr

    # -- pickling: send the path, not the arrays (DataLoader workers reopen the memmaps) -------------
    def __getstate__(self) -> dict[str, Any]:
        return {"path": str(self.path), "sel": self._sel}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.path = Path(state["path"])
        self._open()
        self._sel = state["sel"]

    # -- Sequence protocol ---------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._sel)

    def _get(self, i: int) -> Clip:
        return self._clip(int(self._sel[i]))

    def _clip(self, j: int) -> Clip:
        o, m, t = int(self._offsets[j]), int(self._persons[j]), int(self._frames[j])
        kp = np.array(self._keypoints[o:o + m * t]).reshape(m, t, *self._keypoints.shape[1:])
        sc = None
        if self._scores is not None and self._has_scores[j]:
            sc = np.array(self._scores[o:o + m * t]).reshape(m, t, -1)
        return Clip(kp, ClipMeta.from_dict(self._metas[j]), sc)

    # -- dataset-level views ---------------------------------------------------------------------------
    def select(self, positions: Sequence[int] | np.ndarray) -> NativeStore:
        """A store over a subset of this one's clips (positions in this store), sharing the memmaps."""
        view = object.__new__(NativeStore)
        view.__dict__.update({k: v for k, v in self.__dict__.items() if k not in ("index",)})
        view._sel = self._sel[np.asarray(positions, dtype=np.int64)]
        return view

    @cached_property
    def index(self):
        """One row per clip: clip_id, label, label_name, subject, num_frames, num_persons, offset, ..."""

        metas = [self._metas[j] for j in self._sel]
        return pd.DataFrame({
            "clip_id": [m["clip_id"] for m in metas],
            "label": [-1 if m.get("label") is None else int(m["label"]) for m in metas],
            "label_name": [m.get("label_name") for m in metas],
            "subject": [m.get("subject") for m in metas],
            "num_frames": self._frames[self._sel],
            "num_persons": self._persons[self._sel],
            "offset": self._offsets[self._sel],
            "has_scores": self._has_scores[self._sel],
            "source": [m.get("source") for m in metas],
        })

    def labels(self) -> np.ndarray:
        return np.array([-1 if self._metas[j].get("label") is None else self._metas[j]["label"]
                         for j in self._sel], dtype=np.int64)

    def clip_ids(self) -> list[str]:
        return [self._metas[j]["clip_id"] for j in self._sel]

    def rows(self) -> tuple[np.ndarray, np.ndarray | None, np.ndarray, np.ndarray]:
        """``(keypoints memmap, scores memmap or None, row start, row count)`` of the selected clips.

        For vectorised whole-store statistics (``data check``) without building Clip objects.
        """
        return (self._keypoints, self._scores, self._offsets[self._sel],
                self._persons[self._sel] * self._frames[self._sel])

    def verify(self) -> None:
        """Recompute the fingerprint and raise ``DataError`` if the arrays no longer match the index."""
        metas = [{"_M": m, "_T": t, "meta": meta}
                 for m, t, meta in zip(self._persons, self._frames, self._metas, strict=True)]
        actual = _fingerprint(self._keypoints, self._scores, self._offsets, metas)
        if actual != self.fingerprint:
            raise DataError(self.path, f"content fingerprint {actual[:12]}… does not match the index's "
                                       f"{self.fingerprint[:12]}… (modified or corrupt)")

    def as_dataset(self) -> SkeletonDataset:
        """A ``SkeletonDataset`` whose clips are this store: nothing is loaded until a clip is indexed."""
        ids = set(self.clip_ids()) if len(self._sel) != len(self._offsets) else None
        splits = self.splits if ids is None else {k: [c for c in v if c in ids] for k, v in self.splits.items()}
        return SkeletonDataset(self.name, self.layout, self, self.class_names, splits, list(self.skipped))

    def __repr__(self) -> str:
        return f"NativeStore({str(self.path)!r}, name={self.name!r}, layout={self.layout!r}, clips={len(self)})"
