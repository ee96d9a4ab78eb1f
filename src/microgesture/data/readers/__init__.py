"""Dataset readers, found by kind or by sniffing the path.

Why a registry: ``microgesture data check/convert`` and the trainers open any supported dataset with one
call, ``open_dataset(path)``; each reader module registers itself (``register_reader``) so adding a
dataset is one new module plus one import line at the bottom of this file, never an ``if`` chain.
"""

from __future__ import annotations

import mmap
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from ...errors import DataError
from ...utils.paths import data_root, resolve_data_path
from ..clip import Clip
from ..dataset import SkeletonDataset, Skipped
from ..native import NativeStore, is_native_store
from ..pyskl import read_pyskl

ReadFn = Callable[..., SkeletonDataset]  # read_fn(path, *, strict=False, layout=None, **options)
DetectFn = Callable[[Path], bool]


@dataclass(frozen=True)
class ReaderInfo:
    kind: str
    read: ReadFn
    detect: DetectFn
    description: str
    priority: int = 0  # detectors are tried from high to low; catch-all readers use a negative priority


_READERS: dict[str, ReaderInfo] = {}


def read_each(files: Iterable[Path], read_one: Callable[[Path], Clip], *, strict: bool, progress: bool,
              desc: str) -> tuple[list[Clip], list[Skipped]]:
    """Read one clip per file; a file that raises ``DataError`` is reported as skipped (re-raised when strict)."""

    clips: list[Clip] = []
    skipped: list[Skipped] = []
    for f in tqdm(list(files), desc=desc, unit="file", disable=not progress, mininterval=0.5):
        try:
            clips.append(read_one(f))
        except DataError as e:
            if strict:
                raise
            skipped.append(Skipped(str(f), e.problem))
    return clips, skipped


def register_reader(
    kind: str, read_fn: ReadFn, detect_fn: DetectFn, description: str, *, priority: int = 0
) -> None:
    """Make ``kind`` known to ``open_dataset``; ``detect_fn(path)`` must be cheap and never raise."""
    _READERS[kind] = ReaderInfo(kind, read_fn, detect_fn, description, priority)


def list_readers() -> list[dict[str, str]]:
    return [{"kind": r.kind, "description": r.description} for r in _READERS.values()]


def get_reader(kind: str) -> ReaderInfo:
    try:
        return _READERS[kind]
    except KeyError:
        raise DataError(None, f"unknown dataset kind {kind!r}; known kinds: {', '.join(sorted(_READERS))}") \
            from None


def detect_kind(path: str | Path) -> str | None:
    """The first registered kind whose detector recognises ``path`` (specific readers before catch-alls)."""
    path = Path(path)
    for info in sorted(_READERS.values(), key=lambda r: -r.priority):  # sorted() is stable
        try:
            if info.detect(path):
                return info.kind
        except (OSError, ValueError):
            continue
    return None


def locate_dataset(path: str | Path, max_depth: int = 5, max_dirs: int = 500) -> tuple[str, Path] | None:
    """``(kind, folder)`` of the dataset at ``path`` or, failing that, in the shallowest folder below it that
    a reader recognises (a dataset's root often holds only ``SOURCE.md`` and ``raw/...``). Catch-all readers
    (negative priority) only claim ``path`` itself, never a folder found below it."""
    path = Path(path)
    kind = detect_kind(path)
    if kind is not None or not path.is_dir():
        return (kind, path) if kind is not None else None
    specific = [r for r in sorted(_READERS.values(), key=lambda r: -r.priority) if r.priority >= 0]
    level, seen = [path], 0
    for _ in range(max_depth):
        below: list[Path] = []
        for folder in level:
            try:
                subs = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
            except OSError:
                continue
            below.extend(subs)
        for folder in below:
            seen += 1
            if seen > max_dirs:
                return None
            for info in specific:
                try:
                    if info.detect(folder):
                        return info.kind, folder
                except (OSError, ValueError):
                    continue
        level = below
        if not level:
            break
    return None


def open_dataset(
    path: str | Path, kind: str | None = None, *, strict: bool = False, layout: str | None = None,
    **options: Any,
) -> SkeletonDataset:
    """Read the dataset at ``path`` with the reader for ``kind`` (sniffed from the path when not given)."""
    path = resolve_data_path(path)  # a path that is not here is looked for inside the data root
    if not path.exists():
        raise DataError(path, f"does not exist (here or inside the data root {data_root()})")
    if kind is None:
        found = locate_dataset(path)
        if found is None:
            raise DataError(path, "could not tell what kind of dataset this is (nor of any folder below it); "
                                  f"pass --kind (known kinds: {', '.join(sorted(_READERS))})")
        kind, path = found
    return get_reader(kind).read(path, strict=strict, layout=layout, **options)


# -- built-in formats ------------------------------------------------------------------------------
def _file_contains(path: Path, needles: tuple[bytes, ...]) -> bool:
    with open(path, "rb") as fh:
        if fh.read(1) != b"\x80":  # pickle protocol >= 2 starts with PROTO
            return False
        fh.seek(0)
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            return all(mm.find(n) >= 0 for n in needles)


def _detect_pyskl(path: Path) -> bool:
    return (path.is_file() and path.suffix in (".pkl", ".pickle")
            and _file_contains(path, (b"annotations", b"keypoint")))


def _read_pyskl(path: Path, *, strict: bool = False, layout: str | None = None, **options: Any):
    return read_pyskl(path, layout=layout, strict=strict, **options)


def _detect_native(path: Path) -> bool:
    return is_native_store(path)


def _read_native(path: Path, *, strict: bool = False, layout: str | None = None, **options: Any):
    store = NativeStore(path)
    if layout is not None and layout != store.layout:
        raise DataError(path, f"store has layout {store.layout!r}, not {layout!r} (use convert --to-layout)")
    return store.as_dataset()


register_reader("pyskl", _read_pyskl, _detect_pyskl,
                "PYSKL annotation pickle: {'split', 'annotations': [{frame_dir, label, keypoint, ...}]}",
                priority=10)
register_reader("native", _read_native, _detect_native,
                "microgesture native store: keypoints.npy (+ scores.npy) + index.json, memory-mapped",
                priority=10)

# Reader modules register themselves on import (each calls register_reader); keep these lines last.
from . import generic, imigue, kard, miga, msr_action3d, npy, ntu, nw_ucla, openpose, smg, video  # noqa: E402,F401
