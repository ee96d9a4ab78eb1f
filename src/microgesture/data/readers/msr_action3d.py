"""MSR Action3D (Li et al., CVPRW 2010), real-world skeletons ``aAA_sSS_eEE_skeleton3D.txt``.

Each file is ``x y z c`` per line, 20 lines per frame (layout ``msr_action3d``, metres; ``c`` is a
tracking confidence in [0, 1] kept as the score — a low score is *not* a missing joint). Known defects
are reported, not crashed on: ``a13_s09_e02`` is all zeros (skipped with that reason); the ten files
outside the CVPR 2012 list (``files_used_in_cvpr12_paper.txt``) are skipped with that reason when
``subset="cvpr12"``. Splits: cross-subject (odd subjects train), the three action sets AS1–AS3 under
the same subject split, and the 10 random subject splits of ``tr_te_splits.mat``.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import scipy.io

from ...errors import ConfigError, DataError
from ..clip import Clip, ClipMeta
from ..dataset import SkeletonDataset, Skipped
from . import read_each, register_reader

NUM_JOINTS = 20
FPS = 15.0
FILE_PATTERN = re.compile(r"^a(?P<action>\d+)_s(?P<subject>\d+)_e(?P<rep>\d+)_skeleton3D\.txt$")
STANDARD_LIST = "files_used_in_cvpr12_paper.txt"
SPLITS_MAT = "tr_te_splits.mat"
TRAIN_SUBJECTS = frozenset({1, 3, 5, 7, 9})
TEST_SUBJECTS = frozenset({2, 4, 6, 8, 10})
MSR_CLASS_NAMES: tuple[str, ...] = (
    "high arm wave", "horizontal arm wave", "hammer", "hand catch", "forward punch", "high throw", "draw X",
    "draw tick", "draw circle", "hand clap", "two hand wave", "side boxing", "bend", "forward kick",
    "side kick", "jogging", "tennis swing", "tennis serve", "golf swing", "pickup and throw",
)
# Li et al. 2010 action sets (1-based action ids); identical to ``action_sets`` in tr_te_splits.mat.
ACTION_SETS = {
    "AS1": (2, 3, 5, 6, 10, 13, 18, 20),
    "AS2": (1, 4, 7, 8, 9, 11, 12, 14),
    "AS3": (6, 14, 15, 16, 17, 18, 19, 20),
}


def read_joint_rows(path: str | Path, joints_per_frame: int, values_per_joint: int) -> np.ndarray:
    """A whitespace-separated text file of one joint per line as ``[T, joints, values]`` float32.

    Raises ``DataError`` naming the file for an empty file, a malformed or short row, a row count that
    is not a multiple of the joints per frame (truncated file), and NaN/infinite values.
    """

    path = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # loadtxt warns on empty input; handled below
            arr = np.loadtxt(path, dtype=np.float64, ndmin=2)
    except FileNotFoundError:
        raise DataError(path, "does not exist") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise DataError(path, f"malformed row (expected {values_per_joint} numbers per line): {e}") from None
    except OSError as e:
        raise DataError(path, f"cannot be read: {e.strerror or e}") from None
    if arr.size == 0:
        raise DataError(path, "empty file")
    if arr.shape[1] != values_per_joint:
        raise DataError(path, f"rows have {arr.shape[1]} values, expected {values_per_joint}")
    if arr.shape[0] % joints_per_frame:
        raise DataError(path, f"{arr.shape[0]} rows is not a multiple of {joints_per_frame} joints per frame "
                              "(truncated file?)")
    bad = ~np.isfinite(arr).all(axis=1)
    if bad.any():
        raise DataError(path, f"line {int(np.argmax(bad)) + 1} has a NaN or infinite value")
    return arr.astype(np.float32).reshape(-1, joints_per_frame, values_per_joint)


def read_msr_file(path: str | Path) -> Clip:
    path = Path(path)
    m = FILE_PATTERN.match(path.name)
    if m is None:
        raise DataError(path, "file name is not aAA_sSS_eEE_skeleton3D.txt")
    arr = read_joint_rows(path, NUM_JOINTS, 4)
    xyz, conf = arr[..., :3], arr[..., 3]
    missing = (xyz == 0).all(-1)
    if missing.all():
        raise DataError(path, "all coordinates are zero (no skeleton recorded)")
    kp = np.where(missing[..., None], np.nan, xyz)[None]
    action = int(m.group("action"))
    if not 1 <= action <= len(MSR_CLASS_NAMES):
        raise DataError(path, f"action a{action:02d} is not one of MSR Action3D's 20 actions")
    subject = int(m.group("subject"))
    meta = ClipMeta(
        clip_id=path.name[: -len("_skeleton3D.txt")], dataset="msr_action3d", label=action - 1,
        label_name=MSR_CLASS_NAMES[action - 1], subject=str(subject), source=str(path),
        frame_range=(0, kp.shape[1] - 1), fps=FPS, layout="msr_action3d",
        extra={"repetition": int(m.group("rep")), "action_id": action})
    return Clip(kp, meta, np.where(missing, 0, conf)[None])


def read_standard_list(path: str | Path) -> set[str]:
    path = Path(path)
    try:
        names = path.read_text(encoding="utf-8").split()
    except OSError as e:
        raise DataError(path, f"cannot be read: {e.strerror or e}") from None
    if not names:
        raise DataError(path, "is empty")
    return set(names)


def random_subject_splits(mat_path: str | Path) -> list[tuple[list[int], list[int]]]:
    """The 10 random half/half subject splits (train subjects, test subjects) of ``tr_te_splits.mat``."""

    mat_path = Path(mat_path)
    try:
        mat = scipy.io.loadmat(mat_path)
    except (OSError, ValueError, TypeError) as e:
        raise DataError(mat_path, f"is not a readable MATLAB file: {e}") from None
    try:
        tr, te = np.asarray(mat["tr_subjects"], dtype=int), np.asarray(mat["te_subjects"], dtype=int)
    except KeyError as e:
        raise DataError(mat_path, f"has no {e.args[0]} matrix") from None
    if tr.shape != te.shape or tr.ndim != 2:
        raise DataError(mat_path, f"tr_subjects {tr.shape} and te_subjects {te.shape} must be equal 2-D")
    return [(sorted(a.tolist()), sorted(b.tolist())) for a, b in zip(tr, te, strict=True)]


def read_msr_action3d(path: str | Path, *, strict: bool = False, layout: str | None = None,
                      subset: str = "all", progress: bool = True, **_: Any) -> SkeletonDataset:
    """All ``*_skeleton3D.txt`` under ``path`` (recursively); ``subset="cvpr12"`` keeps the 557 standard files.

    Splits: ``train``/``test`` (cross-subject, odd subjects train), ``AS1_train`` … ``AS3_test`` and,
    when ``tr_te_splits.mat`` is present, ``random1_train`` … ``random10_test``.
    """
    if layout not in (None, "msr_action3d"):
        raise DataError(path, f"MSR Action3D is in layout msr_action3d, not {layout!r} (convert afterwards)")
    if subset not in ("all", "cvpr12"):
        raise ConfigError(f"subset must be 'all' or 'cvpr12', not {subset!r}")
    root = Path(path)
    files = sorted(f for f in root.rglob("*_skeleton3D.txt") if FILE_PATTERN.match(f.name))
    if not files:
        raise DataError(root, "no MSR Action3D aAA_sSS_eEE_skeleton3D.txt files")
    standard = None
    if subset == "cvpr12":
        lists = sorted(root.rglob(STANDARD_LIST))
        if not lists:
            raise DataError(root, f"subset='cvpr12' needs {STANDARD_LIST}, which is not under this folder")
        standard = read_standard_list(lists[0])
    clips, skipped = read_each(files, read_msr_file, strict=strict, progress=progress, desc="MSR Action3D")
    if standard is not None:
        skipped += [Skipped(str(c.meta.source), f"not in {STANDARD_LIST} (excluded from the standard protocol)")
                    for c in clips if c.meta.clip_id not in standard]
        clips = [c for c in clips if c.meta.clip_id in standard]
    splits = _subject_splits(clips, TRAIN_SUBJECTS, TEST_SUBJECTS, "")
    for name, actions in ACTION_SETS.items():
        subset_clips = [c for c in clips if c.meta.extra["action_id"] in actions]
        splits |= _subject_splits(subset_clips, TRAIN_SUBJECTS, TEST_SUBJECTS, f"{name}_")
    mats = sorted(root.rglob(SPLITS_MAT)) or sorted(root.parent.glob(SPLITS_MAT))  # beside the txt folder
    if mats:
        for k, (tr, te) in enumerate(random_subject_splits(mats[0]), start=1):
            splits |= _subject_splits(clips, frozenset(tr), frozenset(te), f"random{k}_")
    return SkeletonDataset("msr_action3d", "msr_action3d", clips, list(MSR_CLASS_NAMES), splits, skipped)


def _subject_splits(clips: list[Clip], train: frozenset[int], test: frozenset[int],
                    prefix: str) -> dict[str, list[str]]:
    return {
        f"{prefix}train": [c.meta.clip_id for c in clips if int(c.meta.subject or 0) in train],
        f"{prefix}test": [c.meta.clip_id for c in clips if int(c.meta.subject or 0) in test],
    }


def _detect(path: Path) -> bool:
    return path.is_dir() and (
        any(FILE_PATTERN.match(f.name) for f in path.glob("*_skeleton3D.txt"))
        or any(FILE_PATTERN.match(f.name) for f in path.glob("*/*_skeleton3D.txt")))


def _register() -> None:
    register_reader("msr_action3d", read_msr_action3d, _detect,
                    "MSR Action3D aAA_sSS_eEE_skeleton3D.txt (20 joints × x y z c); cross-subject split")


_register()
