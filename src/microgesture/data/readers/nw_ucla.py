"""NW-UCLA Multiview Action 3D (Wang et al., CVPR 2014), the ``all_sqe`` JSON release used by CTR-GCN.

One file per clip, ``aAA_sSS_eEE_vVV.json`` = ``{"file_name", "skeletons": [T][20][3], "label": 1..10}``
in Kinect v1 SDK joint order (layout ``kinect_v1``), metres. Standard protocol: cross-view, train on
views 1 + 2, test on view 3. Decision on degenerate clips: the two known clips with fewer than
``MIN_FRAMES`` frames are *kept* (they are part of the 1,484-clip protocol every paper reports on) and
flagged with ``meta.extra["too_short"] = True`` plus a logged warning, so a user can drop them knowingly.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import DataError
from ..clip import Clip, ClipMeta, zeros_to_nan
from ..dataset import SkeletonDataset
from . import read_each, register_reader

try:
    from orjson import JSONDecodeError as _JSONDecodeError
    from orjson import loads as _loads
except ImportError:  # pragma: no cover - orjson is a declared dependency
    from json import JSONDecodeError as _JSONDecodeError
    from json import loads as _loads

log = logging.getLogger(__name__)

NUM_JOINTS = 20
MIN_FRAMES = 5
FPS = 30.0  # Kinect v1
FILE_PATTERN = re.compile(r"^a(?P<action>\d+)_s(?P<subject>\d+)_e(?P<rep>\d+)_v(?P<view>\d+)\.json$")
# JSON label 1..10 -> action id in the file name (ids are non-contiguous) and name (SOURCE.md).
ACTION_IDS = (1, 2, 3, 4, 5, 6, 8, 9, 11, 12)
NW_UCLA_CLASS_NAMES: tuple[str, ...] = (
    "pick up with one hand", "pick up with two hands", "drop trash", "walk around", "sit down",
    "stand up", "donning", "doffing", "throw", "carry",
)
TRAIN_VIEWS = frozenset({1, 2})
TEST_VIEWS = frozenset({3})


def read_nw_ucla_file(path: str | Path) -> Clip:
    """One NW-UCLA JSON clip; raises ``DataError`` naming the file if it is unreadable or inconsistent."""
    path = Path(path)
    m = FILE_PATTERN.match(path.name)
    if m is None:
        raise DataError(path, "file name is not aAA_sSS_eEE_vVV.json")
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise DataError(path, f"cannot be read: {e.strerror or e}") from None
    if not raw.strip():
        raise DataError(path, "empty file")
    try:
        doc = _loads(raw)
    except _JSONDecodeError as e:
        raise DataError(path, f"not valid JSON (truncated or corrupt): {e}") from None
    if not isinstance(doc, dict) or "skeletons" not in doc or "label" not in doc:
        raise DataError(path, "expected an object with 'skeletons' and 'label'")
    try:
        kp = np.array(doc["skeletons"], dtype=np.float32)
    except (ValueError, TypeError):
        raise DataError(path, "'skeletons' is not a regular T × 20 × 3 array of numbers") from None
    if kp.ndim != 3 or kp.shape[1:] != (NUM_JOINTS, 3) or kp.shape[0] == 0:
        raise DataError(path, f"'skeletons' has shape {kp.shape}, expected T × {NUM_JOINTS} × 3 with T ≥ 1")
    if not np.isfinite(kp).all():
        raise DataError(path, "'skeletons' contains NaN or infinite values")
    label = doc["label"]
    if not isinstance(label, int) or not 1 <= label <= len(ACTION_IDS):
        raise DataError(path, f"label {label!r} is not an integer 1..{len(ACTION_IDS)}")
    action = int(m.group("action"))
    if ACTION_IDS[label - 1] != action:
        raise DataError(path, f"label {label} ({NW_UCLA_CLASS_NAMES[label - 1]}) contradicts the file name's "
                              f"action a{action:02d}")
    kp = zeros_to_nan(kp[None])
    if np.isnan(kp).all():
        raise DataError(path, "every joint is zero (no skeleton)")
    view, subject = int(m.group("view")), int(m.group("subject"))
    meta = ClipMeta(
        clip_id=path.stem, dataset="nw_ucla", label=label - 1, label_name=NW_UCLA_CLASS_NAMES[label - 1],
        subject=str(subject), source=str(path), frame_range=(0, kp.shape[1] - 1), fps=FPS, layout="kinect_v1",
        extra={"view": view, "repetition": int(m.group("rep")), "action_id": action,
               "too_short": kp.shape[1] < MIN_FRAMES})
    return Clip(kp, meta)


def read_nw_ucla(path: str | Path, *, strict: bool = False, layout: str | None = None,
                 progress: bool = True, **_: Any) -> SkeletonDataset:
    """Every ``*.json`` clip under ``path`` (searched recursively) with the cross-view split (``train``/``test``)
    and one split per view (``view1``..``view3``)."""
    if layout not in (None, "kinect_v1"):
        raise DataError(path, f"NW-UCLA is in layout kinect_v1, not {layout!r} (convert afterwards)")
    root = Path(path)
    files = sorted(f for f in root.rglob("*.json") if FILE_PATTERN.match(f.name))
    if not files:
        raise DataError(root, "no NW-UCLA aAA_sSS_eEE_vVV.json files")
    clips, skipped = read_each(files, read_nw_ucla_file, strict=strict, progress=progress, desc="NW-UCLA")
    short = [c.meta.clip_id for c in clips if c.meta.extra["too_short"]]
    if short:
        log.warning("NW-UCLA: %d clips have fewer than %d frames (kept, flagged too_short): %s",
                    len(short), MIN_FRAMES, ", ".join(short))
    splits = {
        "train": [c.meta.clip_id for c in clips if c.meta.extra["view"] in TRAIN_VIEWS],
        "test": [c.meta.clip_id for c in clips if c.meta.extra["view"] in TEST_VIEWS],
    }
    # one split per camera, so choices can be validated across training views (``--split view1,view2``: probe
    # trained on view 1, scored on view 2) without ever looking at the test view
    for v in sorted({c.meta.extra["view"] for c in clips}):
        splits[f"view{v}"] = [c.meta.clip_id for c in clips if c.meta.extra["view"] == v]
    return SkeletonDataset("nw_ucla", "kinect_v1", clips, list(NW_UCLA_CLASS_NAMES), splits, skipped)


def _detect(path: Path) -> bool:
    if not path.is_dir():
        return False
    return any(FILE_PATTERN.match(f.name) for f in path.glob("*.json")) or any(
        FILE_PATTERN.match(f.name) for f in path.glob("*/*.json"))


def _register() -> None:
    register_reader("nw_ucla", read_nw_ucla, _detect,
                    "NW-UCLA all_sqe JSON (aAA_sSS_eEE_vVV.json, Kinect v1 20 joints); cross-view split")


_register()
