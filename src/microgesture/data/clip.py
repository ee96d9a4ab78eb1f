"""The one in-memory representation of a skeleton clip that every stage reads.

Why one type: readers, transforms, trainers and the online pipeline all agree on
``keypoints[M persons, T frames, V joints, C coords]`` (float32) so no stage reshapes data behind
another's back. Missing joints are NaN (never ``0, 0, 0``), so "not detected" is never mistaken
for "at the image origin"; the mask is derived, not stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..errors import DataError
from .layouts import get_layout

#: Frame rate assumed for inputs that state none (OpenPose JSON, bare arrays): iMiGUE's and most cameras'.
DEFAULT_FPS = 25.0


@dataclass
class ClipMeta:
    """Everything known about a clip besides its numbers. All optional except ``clip_id``."""

    clip_id: str
    dataset: str = ""
    label: int | None = None
    label_name: str | None = None
    subject: str | None = None
    source: str | None = None  # source video / file the clip was read or cut from
    frame_range: tuple[int, int] | None = None  # [start, end] inclusive, in source frames
    fps: float | None = None
    layout: str = ""
    img_shape: tuple[int, int] | None = None  # (H, W) for 2-D pixel coordinates
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        d["frame_range"] = list(self.frame_range) if self.frame_range else None
        d["img_shape"] = list(self.img_shape) if self.img_shape else None
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ClipMeta:
        d = dict(d)
        if d.get("frame_range") is not None:
            d["frame_range"] = tuple(int(x) for x in d["frame_range"])
        if d.get("img_shape") is not None:
            d["img_shape"] = tuple(int(x) for x in d["img_shape"])
        known = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        return cls(**known)


@dataclass
class Clip:
    """A skeleton clip: ``keypoints [M, T, V, C]`` float32 (NaN = missing), ``scores [M, T, V]`` or None."""

    keypoints: np.ndarray
    meta: ClipMeta
    scores: np.ndarray | None = None

    def __post_init__(self) -> None:
        kp = np.asarray(self.keypoints)
        where = self.meta.source or self.meta.clip_id
        if kp.ndim != 4:
            raise DataError(where, f"keypoints must be [M, T, V, C], got shape {kp.shape}")
        if kp.shape[-1] not in (2, 3):
            raise DataError(where, f"keypoints must have 2 or 3 coordinates, got C={kp.shape[-1]}")
        if not np.issubdtype(kp.dtype, np.floating):
            raise DataError(where, f"keypoints must be floating point, got {kp.dtype}")
        if np.isinf(kp).any():
            raise DataError(where, "keypoints contain infinite values")
        self.keypoints = kp.astype(np.float32, copy=False)
        if self.scores is not None:
            sc = np.asarray(self.scores, dtype=np.float32)
            if sc.shape != kp.shape[:3]:
                raise DataError(where, f"scores shape {sc.shape} does not match keypoints {kp.shape[:3]}")
            self.scores = sc
        if self.meta.layout:
            layout = get_layout(self.meta.layout)
            if layout.num_joints != kp.shape[2]:
                raise DataError(
                    where,
                    f"layout {layout.name!r} has {layout.num_joints} joints but the data has {kp.shape[2]}",
                )

    # -- shape helpers -------------------------------------------------------------------------
    @property
    def num_persons(self) -> int:
        return self.keypoints.shape[0]

    @property
    def num_frames(self) -> int:
        return self.keypoints.shape[1]

    @property
    def num_joints(self) -> int:
        return self.keypoints.shape[2]

    @property
    def num_coords(self) -> int:
        return self.keypoints.shape[3]

    @property
    def fps(self) -> float:
        """The clip's frame rate, :data:`DEFAULT_FPS` when its source states none."""
        return float(self.meta.fps or DEFAULT_FPS)

    @property
    def first_frame(self) -> int:
        """Source frame number of frame 0 (streams cut from a longer recording start later)."""
        return int(self.meta.frame_range[0]) if self.meta.frame_range else 0

    def valid_mask(self) -> np.ndarray:
        """``[M, T, V]`` bool: the joint was observed (finite coordinates)."""
        return np.isfinite(self.keypoints).all(axis=-1)

    def missing_rate(self) -> float:
        m = self.valid_mask()
        return float(1.0 - m.mean()) if m.size else 1.0

    def with_(self, **changes: Any) -> Clip:
        """A copy with some fields replaced (``keypoints``, ``scores``, ``meta``)."""
        return replace(self, **changes)

    def slice_frames(self, start: int, end: int) -> Clip:
        """Frames ``start..end`` inclusive (source-frame indices relative to this clip)."""
        if start < 0 or end >= self.num_frames or start > end:
            raise DataError(
                self.meta.source or self.meta.clip_id,
                f"frame range [{start}, {end}] is outside the clip's {self.num_frames} frames",
            )
        sc = None if self.scores is None else self.scores[:, start : end + 1]
        offset = self.meta.frame_range[0] if self.meta.frame_range else 0
        meta = replace(self.meta, frame_range=(offset + start, offset + end))
        return Clip(self.keypoints[:, start : end + 1], meta, sc)


def zeros_to_nan(keypoints: np.ndarray, scores: np.ndarray | None = None) -> np.ndarray:
    """OpenPose/Kinect write undetected joints as all-zero (and confidence 0): flag them as NaN."""
    kp = np.array(keypoints, dtype=np.float32, copy=True)
    missing = (kp == 0).all(axis=-1)
    if scores is not None:
        missing |= np.asarray(scores) <= 0
    kp[missing] = np.nan
    return kp
