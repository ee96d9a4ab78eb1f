"""Preprocessing steps on skeleton arrays ``[M, T, V, C]`` (NaN = missing joint).

Why these and in this form: every consumer (trainers, evaluation, the online pipeline) must turn a
:class:`~microgesture.data.clip.Clip` into the *same* fixed-size model input, so the recipe lives in one
place, :mod:`microgesture.data.inputs` (``InputSpec`` and ``prepare_clip``), built from these steps. They
are plain vectorised numpy functions (no loops over frames or joints) that keep NaN for missing joints,
because the augmentations that run afterwards must know what was never observed; :func:`fill_missing` is
the last step before a model.

Joint semantics come from the layout's joint *names* (shoulders, spine, neck), never from indices.

The stream helpers (:func:`bone`, :func:`motion`, :func:`bone_motion`, :func:`make_streams`) work on numpy
arrays and torch tensors alike, on ``[..., T, V, C]``, so trainers can derive bone/motion streams on the
GPU *after* augmenting joint coordinates (as AimCLR/CrosSCLR do).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Literal

import numpy as np
import torch

from ..errors import ConfigError, DataError
from .layouts import Layout, get_layout

Array = np.ndarray
RngLike = int | np.random.Generator | None

__all__ = [
    "body_scale", "bone", "bone_motion", "centre", "crop", "fill_missing", "flag_missing", "make_streams", "motion",
    "motion_energy", "pad", "resize", "sample_frames", "scale", "select_persons", "shoulder_pair", "stream_channels",
    "uniform_indices", "view_align_3d", "STREAM_ALIASES", "TORSO_PARTNERS",
]


def _rng(seed: RngLike) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def _check(x: Array, what: str = "keypoints") -> Array:
    x = np.asarray(x)
    if x.ndim != 4:
        raise DataError(None, f"{what} must be [M, T, V, C], got shape {x.shape}")
    return x.astype(np.float32, copy=False)


@contextmanager
def _quiet_nan() -> Iterator[None]:
    """numpy warns on all-NaN slices; here an all-missing slice legitimately yields NaN."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


# ---------------------------------------------------------------------------------------------
# missing joints


def flag_missing(x: Array, scores: Array | None = None, threshold: float = 0.0) -> Array:
    """Mark joints as missing (NaN): all-zero coordinates, or a confidence ``<= threshold``.

    PYSKL zeroes joints scoring below 0.01; OpenPose/Kinect write undetected joints as zeros.
    """
    x = _check(x).copy()
    missing = (x == 0).all(axis=-1)
    if scores is not None:
        sc = np.asarray(scores, dtype=np.float32)
        if sc.shape != x.shape[:3]:
            raise DataError(None, f"scores shape {sc.shape} does not match keypoints {x.shape[:3]}")
        missing |= sc <= threshold
    x[missing] = np.nan
    return x


def fill_missing(x: Any, value: float = 0.0, return_mask: bool = False) -> Any:
    """Replace NaN by ``value`` (the last step before a model). Works on numpy arrays and torch tensors.

    With ``return_mask=True`` also returns the validity mask ``[..., V]`` (True = observed joint).
    """
    if _is_torch(x):
        mask = torch.isfinite(x).all(dim=-1)
        out = torch.nan_to_num(x, nan=value)
    else:
        x = np.asarray(x, dtype=np.float32)
        mask = np.isfinite(x).all(axis=-1)
        out = np.where(np.isnan(x), np.float32(value), x).astype(np.float32, copy=False)
    return (out, mask) if return_mask else out


# ---------------------------------------------------------------------------------------------
# spatial normalisation

CentreMode = Literal["frame", "first"]


def _track(values: Array, valid: Array) -> Array:
    """Fill invalid frames of ``values [T, ...]`` from the nearest earlier (else later) valid frame."""
    t = np.arange(valid.shape[0])
    fwd = np.maximum.accumulate(np.where(valid, t, -1))
    bwd = np.minimum.accumulate(np.where(valid, t, valid.shape[0])[::-1])[::-1]
    idx = np.where(fwd >= 0, fwd, bwd)
    return values[np.clip(idx, 0, valid.shape[0] - 1)]


def _reference_person(valid_pt: Array) -> int | None:
    """First person with any valid centre joint (persons are ordered main actor first)."""
    has = valid_pt.any(axis=1)
    return int(np.argmax(has)) if has.any() else None


def centre(x: Array, layout: Layout | str, mode: CentreMode = "frame") -> Array:
    """Subtract the layout's centre joint.

    ``mode="frame"``: per frame (CrosSCLR/ISC style; removes body sway). Frames where the centre joint is
    missing use the nearest frame where it was seen. ``mode="first"``: one fixed origin, the centre joint
    at its first valid frame (PYSKL style; keeps whole-body movements such as body shaking, which are MG
    classes). Either way all persons share the origin of the first person that has a visible centre joint,
    so their relative positions are kept. If no person ever shows the centre joint, the per-frame mean of
    the observed joints is used.
    """
    x = _check(x)
    lay = get_layout(layout) if isinstance(layout, str) else layout
    c = x[:, :, lay.center_index]  # [M, T, C]
    valid = np.isfinite(c).all(axis=-1)  # [M, T]
    ref = _reference_person(valid)
    if ref is None:
        with _quiet_nan():
            origin = np.nanmean(x, axis=(0, 2))  # [T, C]
        if mode == "first":
            fin = np.isfinite(origin).all(axis=-1)
            origin = origin[np.argmax(fin)][None] if fin.any() else np.zeros((1, x.shape[-1]), np.float32)
        origin = np.nan_to_num(origin)
    elif mode == "frame":
        origin = _track(c[ref], valid[ref])  # [T, C]
    elif mode == "first":
        origin = c[ref, np.argmax(valid[ref])][None]  # [1, C]
    else:
        raise ConfigError(f"centre mode must be 'frame' or 'first', got {mode!r}")
    return (x - origin[None, :, None, :]).astype(np.float32, copy=False)


def _side_joint(lay: Layout, token: str, side: str) -> int | None:
    hits = [i for i, n in enumerate(lay.joints) if token in n and side in n and "Center" not in n]
    return hits[0] if len(hits) == 1 else None


def shoulder_pair(lay: Layout) -> tuple[int, int] | None:
    left, right = _side_joint(lay, "Shoulder", "Left"), _side_joint(lay, "Shoulder", "Right")
    return None if left is None or right is None else (left, right)


TORSO_PARTNERS = ("Head", "Nose", "Neck", "SpineShoulder", "ShoulderCenter")
ScaleBy = Literal["auto", "shoulders", "torso", "spread"]


def body_scale(x: Array, layout: Layout | str, by: ScaleBy = "auto") -> float:
    """A body-size measure for the whole clip (all persons, all frames), robust to missing joints.

    ``shoulders``: median shoulder width. ``torso``: median centre→head/nose/neck length. ``spread``: median
    RMS distance of the observed joints from their per-frame centroid (works for any layout, e.g. hands).
    ``auto`` tries them in that order and takes the first that the layout and data provide. Returns NaN
    when the clip has no usable joints.
    """
    x = _check(x)
    lay = get_layout(layout) if isinstance(layout, str) else layout
    order = ("shoulders", "torso", "spread") if by == "auto" else (by,)
    if by not in ("auto", "shoulders", "torso", "spread"):
        raise ConfigError(f"scale measure must be auto, shoulders, torso or spread, got {by!r}")
    with _quiet_nan():
        for measure in order:
            if measure == "shoulders":
                pair = shoulder_pair(lay)
                if pair is None:
                    if by != "auto":
                        raise ConfigError(f"layout {lay.name} has no left/right shoulder joints")
                    continue
                d = np.linalg.norm(x[:, :, pair[0]] - x[:, :, pair[1]], axis=-1)
            elif measure == "torso":
                partner = next((n for n in TORSO_PARTNERS if n in lay.index and n != lay.center), None)
                if partner is None:
                    if by != "auto":
                        raise ConfigError(f"layout {lay.name} has no head/nose/neck joint for a torso length")
                    continue
                d = np.linalg.norm(x[:, :, lay.index[partner]] - x[:, :, lay.center_index], axis=-1)
            else:
                mean = np.nanmean(x, axis=2, keepdims=True)
                d = np.sqrt(np.nanmean(np.sum((x - mean) ** 2, axis=-1), axis=2))
            d = d[np.isfinite(d) & (d > 0)]
            if d.size:
                return float(np.median(d))
    return float("nan")


def scale(x: Array, layout: Layout | str, by: ScaleBy = "auto") -> Array:
    """Divide by :func:`body_scale` so clips of near and far subjects are comparable.

    Usually applied after :func:`centre`. A clip without any usable measure (no observed joints) is
    returned unchanged.
    """
    x = _check(x)
    s = body_scale(x, layout, by)
    if not np.isfinite(s) or s <= 1e-8:
        return x.copy()
    return (x / np.float32(s)).astype(np.float32, copy=False)


_SPINE_BOTTOM = ("SpineBase", "HipCenter", "MidHip", "Torso")
_SPINE_TOP = ("SpineMid", "Spine", "SpineShoulder", "ShoulderCenter", "Neck")


def _spine_points(lay: Layout, x: Array) -> tuple[Array, Array]:
    """Bottom and top of the spine ``[M, T, 3]`` from joint names (hip/shoulder midpoints as fallback)."""
    bottom_name = next((n for n in _SPINE_BOTTOM if n in lay.index), None)
    if bottom_name is not None:
        bottom = x[:, :, lay.index[bottom_name]]
        top_name = next((n for n in _SPINE_TOP if n in lay.index and n != bottom_name), None)
    else:
        hips = (_side_joint(lay, "Hip", "Left"), _side_joint(lay, "Hip", "Right"))
        if None in hips:
            raise ConfigError(
                f"view_align_3d: layout {lay.name} has no spine base ({', '.join(_SPINE_BOTTOM)}) or hips")
        bottom = x[:, :, list(hips)].mean(axis=2)
        top_name = next((n for n in _SPINE_TOP if n in lay.index), None)
    if top_name is not None:
        top = x[:, :, lay.index[top_name]]
    else:
        sh = shoulder_pair(lay)
        if sh is None:
            raise ConfigError(f"view_align_3d: layout {lay.name} has no spine top or shoulder joints")
        top = x[:, :, list(sh)].mean(axis=2)
    return bottom, top


def view_align_3d(x: Array, layout: Layout | str) -> Array:
    """Rotate 3-D skeletons so the spine points along +z and the shoulders (right→left) along +x.

    The 2s-AGCN / PYSKL ``PreNormalize3D`` recipe, done as one exact rotation: an orthonormal frame
    z = spine, x = shoulder direction made orthogonal to z, y = z × x, measured on the first person at the
    first frame where all four reference points are observed. Raises ``ConfigError`` for 2-D data or a
    layout without spine/hip and shoulder joints; returns the input unchanged if those joints are never
    observed together.
    """
    x = _check(x)
    lay = get_layout(layout) if isinstance(layout, str) else layout
    if x.shape[-1] != 3:
        raise ConfigError(f"view_align_3d needs 3-D coordinates, got C={x.shape[-1]}")
    sh = shoulder_pair(lay)
    if sh is None:
        raise ConfigError(f"view_align_3d: layout {lay.name} has no left/right shoulder joints")
    bottom, top = _spine_points(lay, x)
    spine = top - bottom  # [M, T, 3]
    across = x[:, :, sh[0]] - x[:, :, sh[1]]  # right -> left shoulder
    ok = np.isfinite(spine).all(-1) & np.isfinite(across).all(-1)
    ok &= (np.linalg.norm(np.nan_to_num(spine), axis=-1) > 1e-8)
    if not ok.any():
        return x.copy()
    m, t = np.argwhere(ok)[0]
    z = spine[m, t] / np.linalg.norm(spine[m, t])
    a = across[m, t] - np.dot(across[m, t], z) * z
    if np.linalg.norm(a) < 1e-8:
        return x.copy()
    xa = a / np.linalg.norm(a)
    rot = np.stack([xa, np.cross(z, xa), z]).astype(np.float32)  # rows: new axes
    return (x @ rot.T).astype(np.float32, copy=False)


# ---------------------------------------------------------------------------------------------
# temporal sampling


def uniform_indices(num_in: int, num_out: int, train: bool = False, seed: RngLike = None) -> Array:
    """PYSKL ``UniformSample``-style frame indices: split the clip into ``num_out`` equal segments and take
    one frame from each: a random one in train mode, the segment's middle frame in test mode
    (deterministic, no seed needed). Shorter clips repeat frames (a stretched, not looped, clip).
    """
    if num_in <= 0 or num_out <= 0:
        raise DataError(None, f"cannot sample {num_out} frames from a clip of {num_in}")
    edges = np.arange(num_out + 1, dtype=np.float64) * (num_in / num_out)
    width = edges[1:] - edges[:-1]
    offset = _rng(seed).random(num_out) * width if train else width / 2
    return np.clip(np.floor(edges[:-1] + offset).astype(np.int64), 0, num_in - 1)


def resize(x: Array, num_frames: int) -> Array:
    """Linear interpolation along time to ``num_frames`` (end frames aligned).

    A missing joint does not blank its neighbours: where one of the two source frames is missing, the
    nearer source frame is used (NaN if that one is missing; halfway, the observed one).
    """
    x = _check(x)
    t_in = x.shape[1]
    if t_in == 0:
        raise DataError(None, "cannot resize an empty clip (0 frames)")
    pos = np.linspace(0.0, t_in - 1, num_frames, dtype=np.float64)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, t_in - 1)
    w = (pos - lo).astype(np.float32)[None, :, None, None]
    a, b = x[:, lo], x[:, hi]
    out = a * (1 - w) + b * w
    bad = np.isnan(out)
    if bad.any():
        tie = np.where(np.isnan(a), b, a)  # halfway: prefer the observed neighbour
        nearest = np.where(w < 0.5, a, np.where(w > 0.5, b, tie))
        out = np.where(bad, nearest, out)
    return out.astype(np.float32, copy=False)


PadMode = Literal["zero", "loop", "edge"]


def pad(x: Array, num_frames: int, mode: PadMode = "zero") -> Array:
    """Pad along time to ``num_frames``. ``zero``: appended frames are *missing* (NaN now, zeros after
    :func:`fill_missing`, and excluded from validity masks); ``loop``: repeat the clip from its start
    (PYSKL ``PadTo``); ``edge``: hold the last frame. Longer clips are returned unchanged.
    """
    x = _check(x)
    t_in = x.shape[1]
    if t_in >= num_frames:
        return x
    if t_in == 0:
        raise DataError(None, "cannot pad an empty clip (0 frames)")
    if mode == "zero":
        fill = np.full((x.shape[0], num_frames - t_in, *x.shape[2:]), np.nan, np.float32)
        return np.concatenate([x, fill], axis=1)
    idx = np.arange(num_frames)
    if mode == "loop":
        return x[:, idx % t_in]
    if mode == "edge":
        return x[:, np.minimum(idx, t_in - 1)]
    raise ConfigError(f"pad mode must be zero, loop or edge, got {mode!r}")


def crop(x: Array, num_frames: int, train: bool = False, seed: RngLike = None) -> Array:
    """A window of ``num_frames``: random start in train mode, centred in test mode (shorter clips as-is)."""
    x = _check(x)
    extra = x.shape[1] - num_frames
    if extra <= 0:
        return x
    start = int(_rng(seed).integers(0, extra + 1)) if train else extra // 2
    return x[:, start : start + num_frames]


Sampling = Literal["resize", "uniform", "crop_pad", "last"]


def sample_frames(x: Array, num_frames: int, sampling: Sampling = "resize", train: bool = False,
                  seed: RngLike = None, pad_mode: PadMode = "zero") -> Array:
    """Bring a clip to exactly ``num_frames`` frames.

    ``resize``: linear interpolation of the whole clip (deterministic). ``uniform``: segment sampling
    (random per segment when training, middle frames at test). ``crop_pad``: a window (random when
    training, centred at test) or padding with ``pad_mode``. ``last``: the last ``num_frames`` frames,
    padded if shorter (the iMiGUE/SMG baselines' convention).
    """
    x = _check(x)
    if num_frames <= 0:
        raise ConfigError(f"num_frames must be positive, got {num_frames}")
    if x.shape[1] == 0:
        raise DataError(None, "cannot sample frames from an empty clip (0 frames)")
    if sampling == "resize":
        return resize(x, num_frames)
    if sampling == "uniform":
        return x[:, uniform_indices(x.shape[1], num_frames, train, seed)]
    if sampling == "crop_pad":
        return pad(crop(x, num_frames, train, seed), num_frames, pad_mode)
    if sampling == "last":
        return pad(x[:, -num_frames:], num_frames, pad_mode)
    raise ConfigError(f"sampling must be resize, uniform, crop_pad or last, got {sampling!r}")


# ---------------------------------------------------------------------------------------------
# persons


def motion_energy(x: Array) -> Array:
    """``[M]`` how much each person moves: summed per-joint variance over time (PYSKL ranks bodies so)."""
    x = _check(x)
    with _quiet_nan():
        var = np.nanvar(x, axis=1)  # [M, V, C]
    return np.nansum(var, axis=(1, 2)).astype(np.float32)


def select_persons(x: Array, max_persons: int, by: Literal["motion", "order"] = "motion",
                   return_index: bool = False) -> Array | tuple[Array, Array]:
    """Keep ``max_persons`` persons (most moving first, or in the given order) and pad with missing persons.

    Persons with no observed joint at all rank last. With ``return_index`` also returns the kept source
    indices (``-1`` for padding), so scores can follow.
    """
    x = _check(x)
    if max_persons <= 0:
        raise ConfigError(f"max_persons must be positive, got {max_persons}")
    m = x.shape[0]
    if by == "motion" and m > 1:
        present = np.isfinite(x).any(axis=(1, 2, 3))
        key = np.where(present, motion_energy(x), -1.0)
        order = np.argsort(-key, kind="stable")
    elif by in ("order", "motion"):
        order = np.arange(m)
    else:
        raise ConfigError(f"person selection must be 'motion' or 'order', got {by!r}")
    keep = order[:max_persons]
    out = x[keep]
    if len(keep) < max_persons:
        fill = np.full((max_persons - len(keep), *x.shape[1:]), np.nan, np.float32)
        out = np.concatenate([out, fill], axis=0)
        keep = np.concatenate([keep, -np.ones(max_persons - len(keep), np.int64)])
    return (out, keep) if return_index else out


# ---------------------------------------------------------------------------------------------
# streams (numpy or torch, on [..., T, V, C])


def _is_torch(x: Any) -> bool:
    return type(x).__module__.startswith("torch")


def bone(x: Any, layout: Layout | str) -> Any:
    """Bone vectors ``x - x[parent]`` (the root's bone is zero). Axis order ``[..., T, V, C]``."""
    lay = get_layout(layout) if isinstance(layout, str) else layout
    if x.shape[-2] != lay.num_joints:
        raise ConfigError(f"bone stream: layout {lay.name} has {lay.num_joints} joints, data has {x.shape[-2]}")
    parent = lay.parent_index
    if _is_torch(x):
        return x - x[..., torch.as_tensor(parent, device=x.device), :]
    return (x - x[..., parent, :]).astype(np.float32, copy=False)


def motion(x: Any) -> Any:
    """Frame differences ``x[t+1] - x[t]`` with a zero last frame. Axis order ``[..., T, V, C]``."""
    diff = x[..., 1:, :, :] - x[..., :-1, :, :]
    if _is_torch(x):
        return torch.cat([diff, torch.zeros_like(x[..., :1, :, :])], dim=-3)
    return np.concatenate([diff, np.zeros_like(x[..., :1, :, :])], axis=-3).astype(np.float32, copy=False)


def bone_motion(x: Any, layout: Layout | str) -> Any:
    return motion(bone(x, layout))


STREAM_ALIASES = {
    "joint": "joint", "j": "joint", "bone": "bone", "b": "bone",
    "motion": "motion", "joint_motion": "motion", "jm": "motion",
    "bone_motion": "bone_motion", "bm": "bone_motion",
}


def _stream_names(streams: Sequence[str] | str) -> list[str]:
    names = [s.strip() for s in streams.split(",")] if isinstance(streams, str) else list(streams)
    if not names:
        raise ConfigError("at least one stream is needed (joint, bone, motion, bone_motion)")
    bad = [s for s in names if s not in STREAM_ALIASES]
    if bad:
        raise ConfigError(f"unknown stream(s) {bad}; known: joint/j, bone/b, motion/jm, bone_motion/bm")
    return [STREAM_ALIASES[s] for s in names]


def stream_channels(streams: Sequence[str] | str, num_coords: int, with_scores: bool = False) -> int:
    """Channels of the model input for these streams (so models can be built before seeing data)."""
    return len(_stream_names(streams)) * num_coords + int(with_scores)


def make_streams(x: Any, layout: Layout | str, streams: Sequence[str] | str = ("joint",)) -> Any:
    """Concatenate the requested streams (joint, bone, motion, bone_motion) on the channel axis."""
    names = _stream_names(streams)
    parts = []
    b = None
    for name in names:
        if name == "joint":
            parts.append(x)
        elif name == "motion":
            parts.append(motion(x))
        else:
            b = bone(x, layout) if b is None else b
            parts.append(b if name == "bone" else motion(b))
    if len(parts) == 1:
        return parts[0]
    if _is_torch(x):
        return torch.cat(parts, dim=-1)
    return np.concatenate(parts, axis=-1)
