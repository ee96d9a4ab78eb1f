"""Read and write PYSKL's annotation pickle, the field's exchange format for skeleton datasets.

Format (PYSKL ``tools/data/README.md``; mmaction2 uses the same)::
    {'split': {name: [frame_dir, ...]},
     'annotations': [{'frame_dir': str,            # or 'filename'
                      'label': int,
                      'keypoint': ndarray [M, T, V, C],   # float32, or float16 in PYSKL's NTU 3-D files
                      'keypoint_score': ndarray [M, T, V], # 2-D files only
                      'total_frames': int,
                      'img_shape': (H, W), 'original_shape': (H, W)}, ...]}

PYSKL marks an undetected joint with zeros; here it becomes NaN on read (all coordinates 0, or score 0)
and is written back as zeros with score 0. Files are read through ``safepickle`` so a pickle carrying
anything but arrays and plain containers is refused, not executed. Each annotation is validated; a bad
one is reported as skipped (or raises under ``strict``) instead of sinking the whole file.
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from ..errors import ConfigError, DataError
from ..utils.io import atomic_write
from .clip import Clip, ClipMeta, zeros_to_nan
from .dataset import SkeletonDataset, Skipped
from .layouts import get_layout, list_layouts
from .safepickle import safe_load

_NTU_ID = re.compile(r"S(\d{3})C(\d{3})P(\d{3})R(\d{3})A(\d{3})")


def infer_layout(num_joints: int, num_coords: int, where: str | Path | None = None) -> str:
    """The one registered layout with ``num_joints`` joints whose sources provide ``num_coords`` dims."""
    fits = [n for n in list_layouts()
            if get_layout(n).num_joints == num_joints and num_coords in get_layout(n).dims]
    prefix = f"{where}: " if where else ""
    if len(fits) == 1:
        return fits[0]
    if not fits:
        raise ConfigError(f"{prefix}no known layout has {num_joints} joints with {num_coords}-D coordinates; "
                          f"pass --layout (known: {', '.join(list_layouts())})")
    raise ConfigError(f"{prefix}{num_joints} joints with {num_coords}-D coordinates could be any of "
                      f"{', '.join(fits)}; pass --layout to say which")


def read_pyskl(
    path: str | Path, layout: str | None = None, *, strict: bool = False, name: str | None = None,
    fps: float | None = None, class_names: list[str] | None = None, **_: Any,
) -> SkeletonDataset:
    """Read a PYSKL annotation pickle into a ``SkeletonDataset`` (NaN for missing joints)."""


    path = Path(path)
    data = safe_load(path)
    if isinstance(data, list) and data and all(isinstance(a, dict) for a in data[:10]):  # a bare annotation list, as some PYSKL/mmaction tools write
        data = {"annotations": data}
    if not isinstance(data, dict) or not isinstance(data.get("annotations"), list):
        raise DataError(path, "is not a PYSKL annotation file: expected a dict with an 'annotations' list")
    annotations = data["annotations"]
    if not annotations:
        raise DataError(path, "has an empty 'annotations' list")
    split = data.get("split") or {}
    if not isinstance(split, dict) or not all(isinstance(v, (list, tuple)) for v in split.values()):
        raise DataError(path, "'split' must map split names to lists of frame_dir ids")
    if class_names is None and isinstance(data.get("class_names"), list):
        class_names = [str(c) for c in data["class_names"]]

    first = _first_keypoints(path, annotations)
    layout = layout or infer_layout(first.shape[2], first.shape[3], path)
    lay = get_layout(layout)
    dataset_name = name or path.stem
    clips: list[Clip] = []
    skipped: list[Skipped] = []
    seen: set[str] = set()
    for i, ann in enumerate(tqdm(annotations, desc=f"reading {path.name}", unit="clip", disable=None)):
        where = f"{path}:annotations[{i}]"
        try:
            clip = _clip_from_annotation(ann, where, lay.name, lay.num_joints, dataset_name, fps, class_names,
                                         str(path))
            if clip.meta.clip_id in seen:
                raise DataError(where, f"repeats frame_dir {clip.meta.clip_id!r}")
        except DataError as e:
            if strict:
                raise
            skipped.append(Skipped(e.path or where, e.problem))
            continue
        seen.add(clip.meta.clip_id)
        clips.append(clip)

    named = {a.get("frame_dir", a.get("filename")) for a in annotations if isinstance(a, dict)}
    splits: dict[str, list[str]] = {}
    for split_name, ids in split.items():
        ids = [str(x) for x in ids]
        unknown = [x for x in ids if x not in seen]
        splits[str(split_name)] = [x for x in ids if x in seen]
        never = [x for x in unknown if x not in named]
        if unknown:
            skipped.append(Skipped(f"{path}:split[{split_name}]",
                                   f"{len(unknown)} listed clip(s) were not imported (e.g. {unknown[:3]}); "
                                   f"{len(never)} of them have no annotation at all"))
    return SkeletonDataset(dataset_name, lay.name, clips, class_names, splits, skipped)


def _first_keypoints(path: Path, annotations: list) -> np.ndarray:
    for ann in annotations:
        kp = ann.get("keypoint") if isinstance(ann, dict) else None
        if isinstance(kp, np.ndarray) and kp.ndim == 4:
            return kp
    raise DataError(path, "no annotation has a 'keypoint' array of shape [M, T, V, C]")


def _clip_from_annotation(
    ann: Any, where: str, layout: str, num_joints: int, dataset: str, fps: float | None,
    class_names: list[str] | None, source: str,
) -> Clip:
    if not isinstance(ann, dict):
        raise DataError(where, f"is a {type(ann).__name__}, not a dict")
    cid = ann.get("frame_dir", ann.get("filename"))
    if not isinstance(cid, str) or not cid:
        raise DataError(where, "has no 'frame_dir' (or 'filename') string")
    where = f"{where} ({cid})"
    kp = ann.get("keypoint")
    if not isinstance(kp, np.ndarray):
        raise DataError(where, "has no 'keypoint' array")
    if kp.ndim != 4 or kp.shape[-1] not in (2, 3):
        raise DataError(where, f"'keypoint' has shape {kp.shape}; expected [M, T, V, C] with C = 2 or 3")
    if not (np.issubdtype(kp.dtype, np.floating) or np.issubdtype(kp.dtype, np.integer)):
        raise DataError(where, f"'keypoint' has dtype {kp.dtype}; expected numbers")
    m, t, v, _ = kp.shape
    if v != num_joints:
        raise DataError(where, f"has {v} joints but layout {layout!r} has {num_joints}")
    if m == 0 or t == 0:
        raise DataError(where, f"has no persons or no frames (keypoint shape {kp.shape})")
    total = ann.get("total_frames", t)
    if not _is_int(total) or int(total) != t:
        raise DataError(where, f"total_frames={total!r} but 'keypoint' has {t} frames")
    label = ann.get("label")
    if label is not None and (not _is_int(label) or int(label) < 0):
        raise DataError(where, f"label {label!r} is not a non-negative integer")
    if label is not None and class_names is not None and int(label) >= len(class_names):
        raise DataError(where, f"label {label} is outside the {len(class_names)} class names")
    scores = ann.get("keypoint_score")
    if scores is not None:
        if not isinstance(scores, np.ndarray) or scores.shape != (m, t, v):
            shape = getattr(scores, "shape", type(scores).__name__)
            raise DataError(where, f"'keypoint_score' has shape {shape}; expected {(m, t, v)}")
        scores = scores.astype(np.float32)
        if not np.isfinite(scores).all():
            raise DataError(where, "'keypoint_score' has NaN or infinite values")
    kp32 = kp.astype(np.float32)
    if np.isinf(kp32).any():
        raise DataError(where, "'keypoint' has infinite values")
    kp32 = zeros_to_nan(kp32, scores)
    img_shape = _shape2(ann.get("img_shape"), where, "img_shape")
    extra: dict[str, Any] = {}
    original = _shape2(ann.get("original_shape"), where, "original_shape")
    if original is not None:
        extra["original_shape"] = list(original)
    subject = ann.get("subject")
    ntu = _NTU_ID.search(cid)
    if subject is None and ntu:
        subject = f"P{ntu.group(3)}"
        extra.update(setup=int(ntu.group(1)), camera=int(ntu.group(2)), replication=int(ntu.group(4)))
    lbl = None if label is None else int(label)
    label_name = ann.get("label_name")
    if label_name is None and class_names is not None and lbl is not None:
        label_name = class_names[lbl]
    meta = ClipMeta(
        clip_id=cid, dataset=dataset, label=lbl, label_name=None if label_name is None else str(label_name),
        subject=None if subject is None else str(subject), source=source, frame_range=(0, t - 1), fps=fps,
        layout=layout, img_shape=img_shape, extra=extra,
    )
    return Clip(kp32, meta, scores)


def _is_int(x: Any) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_))


def _shape2(value: Any, where: str, key: str) -> tuple[int, int] | None:
    if value is None:
        return None
    if (isinstance(value, (tuple, list, np.ndarray)) and len(value) == 2
            and all(_is_int(x) or (isinstance(x, float) and x.is_integer()) for x in value)):
        return int(value[0]), int(value[1])
    raise DataError(where, f"{key} {value!r} is not an (H, W) pair of integers")


# -- writing -------------------------------------------------------------------------------------------
def to_annotation(clip: Clip) -> dict[str, Any]:
    """One PYSKL annotation dict for ``clip`` (NaN written as 0 with score 0)."""
    kp = clip.keypoints
    missing = ~np.isfinite(kp).all(axis=-1)
    ann: dict[str, Any] = {
        "frame_dir": clip.meta.clip_id,
        "total_frames": int(clip.num_frames),
        "keypoint": np.where(missing[..., None], np.float32(0), kp).astype(np.float32),
    }
    if clip.meta.label is not None:
        ann["label"] = int(clip.meta.label)
    if clip.scores is not None or clip.num_coords == 2 or missing.any():
        sc = clip.scores if clip.scores is not None else np.ones(kp.shape[:3], np.float32)
        ann["keypoint_score"] = np.where(missing, np.float32(0), sc).astype(np.float32)
    if clip.meta.img_shape is not None:
        ann["img_shape"] = tuple(int(x) for x in clip.meta.img_shape)
        original = clip.meta.extra.get("original_shape", clip.meta.img_shape)
        ann["original_shape"] = tuple(int(x) for x in original)
    if clip.meta.subject is not None:
        ann["subject"] = str(clip.meta.subject)
    if clip.meta.label_name is not None:
        ann["label_name"] = str(clip.meta.label_name)
    return ann


def write_pyskl(dataset: SkeletonDataset, path: str | Path, progress: bool = False) -> Path:
    """Write ``dataset`` as a PYSKL pickle (atomically); ``class_names`` go in an extra top-level key."""

    path = Path(path)
    if len(dataset) == 0:
        raise DataError(path, f"dataset {dataset.name!r} has no clips; nothing to write")
    clips = tqdm(dataset.clips, total=len(dataset), desc=f"writing {path.name}", unit="clip",
                 disable=not progress)
    data: dict[str, Any] = {
        "split": {k: list(v) for k, v in dataset.splits.items()},
        "annotations": [to_annotation(c) for c in clips],
    }
    if dataset.class_names is not None:
        data["class_names"] = list(dataset.class_names)
    with atomic_write(path, "wb") as fh:
        pickle.dump(data, fh, protocol=4)
    return path
