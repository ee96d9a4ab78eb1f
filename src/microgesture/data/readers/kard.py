"""KARD (Gaglio et al., IEEE THMS 2015): OpenNI/NiTE 15-joint skeletons in two coordinate systems.

``aAA_sSS_eEE_realworld.txt`` holds ``x y z`` in millimetres; ``aAA_sSS_eEE_screen.txt`` holds ``u v d``
(pixels of the 640 × 480 Kinect image, depth in mm). 15 lines per frame, layout ``openni15``.
``coords="screen"`` gives a 2-D (u, v) skeleton with ``img_shape = (480, 640)`` — the closest analogue
here to OpenPose-style 2-D input. Split: KARD has no single official split; ``train``/``test`` here is
odd/even subjects (a "new-person" test), and ``loso<k>_train/test`` are the leave-one-subject-out folds.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import ConfigError, DataError
from ..clip import Clip, ClipMeta
from ..dataset import SkeletonDataset
from . import read_each, register_reader
from .msr_action3d import read_joint_rows

NUM_JOINTS = 15
FPS = 30.0  # Kinect v1 / OpenNI
IMG_SHAPE = (480, 640)
FILE_PATTERN = re.compile(r"^a(?P<action>\d+)_s(?P<subject>\d+)_e(?P<rep>\d+)_(?P<coords>realworld|screen)\.txt$")
KARD_CLASS_NAMES: tuple[str, ...] = (
    "Horizontal arm wave", "High arm wave", "Two hand wave", "Catch Cap", "High throw", "Draw X", "Draw Tick",
    "Toss Paper", "Forward Kick", "Side Kick", "Take Umbrella", "Bend", "Hand Clap", "Walk", "Phone Call",
    "Drink", "Sit down", "Stand up",
)
TRAIN_SUBJECTS = frozenset({1, 3, 5, 7, 9})
TEST_SUBJECTS = frozenset({2, 4, 6, 8, 10})


def read_kard_file(path: str | Path) -> Clip:
    """One KARD sequence; real-world files give 3-D mm coordinates, screen files 2-D pixels (u, v)."""
    path = Path(path)
    m = FILE_PATTERN.match(path.name)
    if m is None:
        raise DataError(path, "file name is not aAA_sSS_eEE_realworld.txt or aAA_sSS_eEE_screen.txt")
    arr = read_joint_rows(path, NUM_JOINTS, 3)
    coords = m.group("coords")
    missing = (arr == 0).all(-1)
    if missing.all():
        raise DataError(path, "all coordinates are zero (no skeleton recorded)")
    xyz = arr if coords == "realworld" else arr[..., :2]
    kp = np.where(missing[..., None], np.nan, xyz)[None]
    action, subject = int(m.group("action")), int(m.group("subject"))
    if not 1 <= action <= len(KARD_CLASS_NAMES):
        raise DataError(path, f"activity a{action:02d} is not one of KARD's 18 activities")
    extra: dict[str, Any] = {"repetition": int(m.group("rep")), "coords": coords,
                             "units": "mm" if coords == "realworld" else "px"}
    meta = ClipMeta(
        clip_id=path.name[: -len(f"_{coords}.txt")], dataset="kard", label=action - 1,
        label_name=KARD_CLASS_NAMES[action - 1], subject=str(subject), source=str(path),
        frame_range=(0, kp.shape[1] - 1), fps=FPS, layout="openni15",
        img_shape=IMG_SHAPE if coords == "screen" else None, extra=extra)
    return Clip(kp, meta)


def read_kard(path: str | Path, *, strict: bool = False, layout: str | None = None,
              coords: str = "realworld", progress: bool = True, **_: Any) -> SkeletonDataset:
    """Every ``*_<coords>.txt`` under ``path`` (recursively), with subject splits."""
    if coords not in ("realworld", "screen"):
        raise ConfigError(f"KARD coords must be 'realworld' or 'screen', not {coords!r}")
    if layout not in (None, "openni15"):
        raise DataError(path, f"KARD is in layout openni15, not {layout!r} (convert afterwards)")
    root = Path(path)
    files = sorted(f for f in root.rglob(f"*_{coords}.txt") if FILE_PATTERN.match(f.name))
    if not files:
        raise DataError(root, f"no KARD aAA_sSS_eEE_{coords}.txt files")
    clips, skipped = read_each(files, read_kard_file, strict=strict, progress=progress, desc=f"KARD {coords}")
    subj = {c.meta.clip_id: int(c.meta.subject or 0) for c in clips}
    splits = {
        "train": [cid for cid, s in subj.items() if s in TRAIN_SUBJECTS],
        "test": [cid for cid, s in subj.items() if s in TEST_SUBJECTS],
    }
    for k in sorted(set(subj.values())):
        splits[f"loso{k}_train"] = [cid for cid, s in subj.items() if s != k]
        splits[f"loso{k}_test"] = [cid for cid, s in subj.items() if s == k]
    return SkeletonDataset(f"kard_{coords}", "openni15", clips, list(KARD_CLASS_NAMES), splits, skipped)


def _detect(path: Path) -> bool:
    if not path.is_dir():
        return False
    for pattern in ("*.txt", "*/*.txt"):
        if any(FILE_PATTERN.match(f.name) for f in path.glob(pattern)):
            return True
    return False


def _register() -> None:
    register_reader("kard", read_kard, _detect,
                    "KARD aAA_sSS_eEE_realworld.txt / _screen.txt (OpenNI 15 joints); coords=realworld|screen")


_register()
