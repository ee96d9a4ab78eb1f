"""Conversions between layouts where joints correspond, by joint *name*.

Why by name: a conversion table written as indices silently breaks when either order changes; here each
target joint names the source joint(s) it comes from (several names = their mean, e.g. the shoulder
centre from two shoulders), and a joint that is missing in any source stays missing (NaN).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import ConfigError
from .clip import Clip
from .dataset import LazyClips, SkeletonDataset
from .layouts import Layout, get_layout

# target layout -> source layout -> {target joint: source joints}
_MAPS: dict[tuple[str, str], dict[str, tuple[str, ...]]] = {}

_TIPS = ("ThumbTip", "IndexTip", "MiddleTip", "RingTip", "PinkyTip")


def register_conversion(src: str, dst: str, mapping: dict[str, tuple[str, ...] | str]) -> None:
    s, d = get_layout(src), get_layout(dst)
    norm = {k: (v,) if isinstance(v, str) else tuple(v) for k, v in mapping.items()}
    missing = [j for j in d.joints if j not in norm]
    if missing:
        raise ConfigError(f"conversion {src}->{dst} leaves joints unmapped: {missing}")
    s.joint_indices([n for v in norm.values() for n in v])
    _MAPS[(src, dst)] = norm


def _imigue_from(body_prefix: str = "", shoulder_center: tuple[str, ...] = ("Neck",)) -> dict:
    m: dict[str, tuple[str, ...] | str] = {
        "Nose": "Nose", "ShoulderCenter": shoulder_center,
        "ShoulderLeft": "LeftShoulder", "ElbowLeft": "LeftElbow", "HandLeft": "LeftWrist",
        "ShoulderRight": "RightShoulder", "ElbowRight": "RightElbow", "HandRight": "RightWrist",
        "EyeLeft": "LeftEye", "EyeRight": "RightEye", "EarLeft": "LeftEar", "EarRight": "RightEar",
    }
    # iMiGUE's "Finger1..5" are taken as the five fingertips, thumb to little finger.
    for k, tip in enumerate(_TIPS, start=1):
        m[f"LeftFinger{k}"] = f"Left{tip}"
        m[f"RightFinger{k}"] = f"Right{tip}"
    return m


def _register_builtin() -> None:
    register_conversion("openpose_body25_hands", "imigue22", _imigue_from())
    register_conversion("openpose_full", "imigue22", _imigue_from())
    register_conversion(
        "mediapipe_holistic", "imigue22", _imigue_from(shoulder_center=("LeftShoulder", "RightShoulder")))
    register_conversion("openpose_full", "openpose_body25_hands",
                        {j: j for j in get_layout("openpose_body25_hands").joints})
    register_conversion("openpose_body25_hands", "openpose_body25",
                        {j: j for j in get_layout("openpose_body25").joints})
    register_conversion("mediapipe_holistic", "mediapipe_pose33",
                        {j: j for j in get_layout("mediapipe_pose33").joints})
    coco = {j: j for j in get_layout("coco17").joints}
    register_conversion("mediapipe_pose33", "coco17", coco)
    register_conversion("openpose_body25", "coco17", coco)
    # Kinect v1 orders (NW-UCLA SDK order <-> MSR Action3D order): same joints, permuted.
    register_conversion("msr_action3d", "kinect_v1", {j: j for j in get_layout("kinect_v1").joints})
    register_conversion("kinect_v1", "msr_action3d", {j: j for j in get_layout("msr_action3d").joints})


def conversion_matrix(src: Layout, dst: Layout) -> np.ndarray:
    """``[V_dst, V_src]`` averaging matrix implementing the registered mapping."""
    mapping = _MAPS.get((src.name, dst.name))
    if mapping is None:
        known = ", ".join(f"{a}->{b}" for a, b in sorted(_MAPS))
        raise ConfigError(f"no conversion from {src.name} to {dst.name}; known: {known}")
    w = np.zeros((dst.num_joints, src.num_joints), dtype=np.float32)
    for t, sources in mapping.items():
        for s in sources:
            w[dst.index[t], src.index[s]] = 1.0 / len(sources)
    return w


def convert_keypoints(
    keypoints: np.ndarray, src: str, dst: str, scores: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Map ``[..., V_src, C]`` keypoints (and ``[..., V_src]`` scores) onto layout ``dst``.

    A target joint is NaN if any of its sources is NaN; its score is the minimum of its sources' scores.
    """
    s, d = get_layout(src), get_layout(dst)
    if keypoints.shape[-2] != s.num_joints:
        raise ConfigError(f"{src} has {s.num_joints} joints, data has {keypoints.shape[-2]}")
    w = conversion_matrix(s, d)
    # Only the source joints the mapping uses take part (0 * NaN is NaN: an unused missing joint must not
    # blank every target). Average the finite values with a matmul, then mark targets with a missing source.
    used = np.flatnonzero(w.any(axis=0))
    w_used = w[:, used]
    src = np.asarray(keypoints, dtype=np.float32)[..., used, :]
    finite = np.isfinite(src)
    out = (w_used @ np.where(finite, src, 0)).astype(np.float32)
    src_missing = (~finite.all(-1)).astype(np.float32)[..., None]
    out[((w_used > 0).astype(np.float32) @ src_missing)[..., 0] > 0] = np.nan
    sc = None
    if scores is not None:
        sc = np.full(scores.shape[:-1] + (d.num_joints,), np.inf, dtype=np.float32)
        for di, si in zip(*np.nonzero(w), strict=True):
            sc[..., di] = np.minimum(sc[..., di], scores[..., si])
    return out, sc


def convert_clip(clip: Clip, dst: str) -> Clip:
    if not clip.meta.layout:
        raise ConfigError(f"clip {clip.meta.clip_id} has no layout; cannot convert to {dst}")
    kp, sc = convert_keypoints(clip.keypoints, clip.meta.layout, dst, clip.scores)
    meta = type(clip.meta)(**{**clip.meta.__dict__, "layout": dst})
    return Clip(kp, meta, sc)


def list_conversions() -> list[tuple[str, str]]:
    return sorted(_MAPS)


_register_builtin()


class ConvertedClips(LazyClips):
    """Clips converted to another layout one at a time on access, so a store is never loaded whole."""

    def __init__(self, clips: Sequence[Clip], layout: str):
        self._clips, self._layout = clips, layout

    def __len__(self) -> int:
        return len(self._clips)

    def _get(self, i: int) -> Clip:
        return convert_clip(self._clips[i], self._layout)


def convert_dataset(dataset: SkeletonDataset, layout: str) -> SkeletonDataset:
    """``dataset`` in ``layout`` (lazily, clip by clip); fails at once when no conversion exists."""
    if layout == dataset.layout:
        return dataset
    conversion_matrix(get_layout(dataset.layout), get_layout(layout))
    return SkeletonDataset(dataset.name, layout, ConvertedClips(dataset.clips, layout), dataset.class_names,
                           dataset.splits, dataset.skipped, dict(dataset.meta))
