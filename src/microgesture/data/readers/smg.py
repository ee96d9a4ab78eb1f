"""SMG (Chen et al., IJCV 2023) in its ST-GCN release layout: ``<split>_data.npy`` + ``<split>_label.pkl``.

Arrays are ``N × 3 × 60 × 25 × 1`` float32 Kinect v2 3-D skeletons (x, y, z; the last 60 frames of
each clip, zero-padded), layout ``ntu25``. Sample names are ``Sample`` + 4-digit subject + clip index
(``Sample00360`` = subject 36, clip 0; ``Sample0040112`` = subject 40, clip 112). The official split is
by subject: 1–35 train, 36–40 test; it is rebuilt here from the names, whatever the file prefixes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ...errors import DataError
from ..dataset import SkeletonDataset
from . import register_reader
from .miga import ReleaseSpec, _release_shape, read_release, read_release_labels

SMG_TRAIN_SUBJECTS = frozenset(range(1, 36))
SMG_TEST_SUBJECTS = frozenset(range(36, 41))
SMG_FPS = 30.0  # Kinect v2

# 17 class names in label order, as listed by Leedeng/Visual-Text-MG ``Sample_data/Clip_label.csv``
# (docs/design-notes.md §3). That the order matches SMG's label ids 0-16 is NOT verified
# against the authors' release; treat the names as descriptive, the integer labels as authoritative.
SMG_CLASS_NAMES: tuple[str, ...] = (
    "Turtling neck and shoulder", "Rubbing eyes and forehead", "Folding arms",
    "Touching or covering suprasternal notch", "Moving legs", "Touching or scratching neck",
    "Folding arms behind body", "Rubbing hands and crossing finger", "Arms akimbo", "Crossing legs",
    "Scratching some part of body", "Scratching or touching facial parts other than eyes",
    "Playing or adjusting hair", "Holding arms", "Pulling shirt collar",
    "Playing with jewelry, and manipulating other objects", "Illustrative hand gestures",
)

_NAME = re.compile(r"^Sample(?P<subject>\d{4})(?P<index>\d+)$")


def smg_subject(name: str) -> int | None:
    """Subject id from a sample name (``Sample0036k`` → 36), or None if the name is not in SMG form."""
    m = _NAME.match(name)
    return int(m.group("subject")) if m else None


def smg_split(subject: int) -> str | None:
    return "train" if subject in SMG_TRAIN_SUBJECTS else "test" if subject in SMG_TEST_SUBJECTS else None


def read_smg_labels(path: str | Path) -> tuple[list[str], list[int], list[int]]:
    """``(names, labels, subjects)`` from an SMG ``*_label.pkl``; every name must be in SMG form."""
    names, labels = read_release_labels(path)
    subjects = [smg_subject(n) for n in names]
    bad = [n for n, s in zip(names, subjects, strict=True) if s is None]
    if bad:
        raise DataError(path, f"{len(bad)} sample names are not Sample<subject:4><index> (e.g. {bad[0]!r})")
    if max(labels, default=0) >= len(SMG_CLASS_NAMES):
        raise DataError(path, f"label {max(labels)} is out of range for SMG's {len(SMG_CLASS_NAMES)} classes")
    return names, labels, [int(s) for s in subjects if s is not None]


def smg_spec() -> ReleaseSpec:
    def subject_of(name: str) -> str | None:
        s = smg_subject(name)
        return None if s is None else str(s)

    def extra_of(name: str) -> dict[str, Any]:
        m = _NAME.match(name)
        return {"clip_index": int(m.group("index"))} if m else {}

    return ReleaseSpec("smg", "ntu25", "xyz", list(SMG_CLASS_NAMES), SMG_FPS, subject_of, extra_of)


def read_smg(path: str | Path, *, strict: bool = False, layout: str | None = None,
             splits: Sequence[str] | None = None, **_: Any) -> SkeletonDataset:
    """An SMG release folder (``train_data.npy``/``train_label.pkl``, ``test_...``); split by subject."""
    if layout not in (None, "ntu25"):
        raise DataError(path, f"SMG release data is in layout ntu25, not {layout!r}")
    ds = read_release(path, smg_spec(), strict=strict, splits=splits)
    by_subject: dict[str, list[str]] = {"train": [], "test": []}
    for ids in ds.splits.values():
        for cid in ids:
            s = smg_subject(cid)
            split = None if s is None else smg_split(s)
            if split:
                by_subject[split].append(cid)
    ds.splits = by_subject
    return ds


def _detect(path: Path) -> bool:
    shape = _release_shape(path)
    return shape is not None and len(shape) == 5 and shape[3] == 25 and shape[1] == 3


def _register() -> None:
    register_reader("smg", read_smg, _detect,
                    "SMG ST-GCN release: <split>_data.npy (N×3×T×25×M, Kinect v2 3-D) + <split>_label.pkl",
                    priority=5)


_register()
