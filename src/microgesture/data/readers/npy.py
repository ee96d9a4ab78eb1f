"""A bare skeleton array (``.npy``, ``[T, V, C]`` or ``[M, T, V, C]``) as a one-stream dataset.

Why a reader of its own: many pose tools save a recording as one array. Nothing in the file says its
layout or frame rate, so the layout is inferred from the joint count where that is unambiguous (else
``layout=`` is required) and the frame rate is taken from ``fps=`` (else :data:`DEFAULT_FPS`, with a warning).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ...errors import DataError
from ..clip import DEFAULT_FPS, Clip, ClipMeta, zeros_to_nan
from ..dataset import SkeletonDataset
from ..layouts import get_layout
from . import register_reader

#: layouts whose joint count identifies them among the ones a pose tool writes as bare arrays
LAYOUT_BY_JOINTS = {22: "imigue22", 67: "openpose_body25_hands", 75: "mediapipe_holistic", 137: "openpose_full"}


def read_npy(path: str | Path, *, strict: bool = False, layout: str | None = None, fps: float | None = None,
             **_: Any) -> SkeletonDataset:
    path = Path(path)
    try:
        arr = np.load(path, allow_pickle=False, mmap_mode="r")
    except (ValueError, OSError, EOFError) as e:
        raise DataError(path, f"is not a readable .npy array (truncated or corrupt, or holds objects): {e}") \
            from None
    if arr.ndim == 3:
        arr = arr[None]
    if arr.ndim != 4 or arr.shape[-1] not in (2, 3):
        raise DataError(path, f"expected an array [T, V, C] or [M, T, V, C] with C = 2 or 3, got {arr.shape}")
    if not np.issubdtype(arr.dtype, np.floating):
        raise DataError(path, f"expected floating-point coordinates, got {arr.dtype}")
    layout = layout or LAYOUT_BY_JOINTS.get(arr.shape[2])
    if layout is None:
        raise DataError(path, f"cannot tell the layout of {arr.shape[2]} joints; pass --layout")
    if get_layout(layout).num_joints != arr.shape[2]:
        raise DataError(path, f"layout {layout} has {get_layout(layout).num_joints} joints, the array {arr.shape[2]}")
    kp = np.asarray(arr, dtype=np.float32)
    warnings = []
    if not np.isnan(kp).any() and (kp == 0).all(-1).any():
        kp = zeros_to_nan(kp)
        warnings.append("all-zero joints in the .npy array were read as missing")
    if fps is None:
        warnings.append(f"the .npy array states no frame rate; {DEFAULT_FPS:g} fps is assumed (set --fps)")
    meta = ClipMeta(clip_id=path.stem, dataset="npy", source=str(path), frame_range=(0, kp.shape[1] - 1),
                    fps=fps or DEFAULT_FPS, layout=layout)
    return SkeletonDataset("npy", layout, [Clip(kp, meta)], None, {}, [], {"warnings": warnings})


def _detect(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() == ".npy"


register_reader("npy", read_npy, _detect, "one skeleton array .npy [T, V, C] or [M, T, V, C] (layout by joint count)",
                priority=1)
