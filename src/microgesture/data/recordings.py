"""One recording → the main person's skeleton stream, whatever form the recording comes in.

Why one function: ``analyze``, a batch of recordings and detector training all start from "a user's
recording": a video, an OpenPose folder, a native store, a PYSKL pickle, a bare array. The reader registry
knows how to read each kind; this module picks the one stream to analyse, follows its main person, keeps its
layout (each consumer converts by joint name to what it needs) and says what a user should know about it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError
from .clip import DEFAULT_FPS, Clip
from .dataset import SkeletonDataset
from .readers import get_reader, locate_dataset, open_dataset
from .tracking import fill_short_gaps, select_main_person


@dataclass
class ReadOptions:
    """How to read a recording (options that a kind does not use are ignored)."""

    kind: str | None = None  # a reader kind (video, openpose, native, pyskl, npy, ...); None: detected
    stride: int = 1  # video: analyse every n-th frame
    max_frames: int | None = None  # video: stop after this many analysed frames
    hands: bool = True  # video: Holistic (pose + hands) or Pose only
    fps: float | None = None  # frame rate for inputs that state none (OpenPose, .npy)
    layout: str | None = None  # .npy input: layout name (else inferred from the joint count)
    clip_index: int = 0  # inputs holding several clips: which one
    gap_fill: int = 0  # bridge missing stretches of at most this many frames (0: off)
    progress: bool = True


@dataclass
class Recording:
    """The main person's stream (``[1, T, V, C]``, layout as read, NaN where unseen), and what was seen."""

    clip: Clip
    kind: str
    info: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def detect_recording_kind(path: str | Path) -> str:
    """The reader kind of ``path`` (``video``, ``openpose``, ``native``, ``pyskl``, ``npy``, ...)."""
    p = Path(path)
    if not p.exists():
        raise DataError(p, "does not exist")
    if p.is_file() and p.stat().st_size == 0:
        raise DataError(p, "is an empty file")
    if p.is_dir() and not any(p.iterdir()):
        raise DataError(p, "is an empty folder: no OpenPose *_keypoints.json files, no native store")
    found = locate_dataset(p, max_depth=0)
    if found is None:
        raise DataError(p, "is not a recording microgesture can read: give a video (.mp4, .mov, .avi, ...), an "
                           "OpenPose JSON folder, a native store folder, a PYSKL .pkl or a .npy skeleton array")
    return found[0]


def read_stream(path: str | Path, opts: ReadOptions, info: dict[str, Any], warnings: list[str]) -> Clip:
    """The stream to analyse from ``path`` (any layout, possibly several persons); fills ``info`` and
    ``warnings`` with what the reader saw."""
    path = Path(path)
    kind = opts.kind or detect_recording_kind(path)
    info["kind"] = kind
    get_reader(kind)  # an unknown kind fails here, with the list of known kinds
    options = {"video": {"stride": opts.stride, "max_frames": opts.max_frames, "hands": opts.hands,
                         "progress": opts.progress},
               "npy": {"fps": opts.fps},
               "openpose": {"max_persons": 1, "progress": opts.progress}}.get(kind, {})
    ds: SkeletonDataset = open_dataset(path, kind, layout=opts.layout, **options)
    n = len(ds)
    if n == 0:
        raise DataError(path, f"holds no clips ({len(ds.skipped)} unreadable)")
    if not -n <= opts.clip_index < n:
        raise DataError(path, f"holds {n} clips; clip index {opts.clip_index} is out of range")
    if n > 1:
        warnings.append(f"the input holds {n} clips; clip {opts.clip_index} is analysed (choose another with --clip)")
    clip = ds.clips[opts.clip_index]
    info[kind] = {"dataset": ds.name, "clips": n, "skipped": len(ds.skipped),
                  **(ds.meta.get("reports") or {}).get(clip.meta.clip_id, {})}
    info[kind].pop("corrupt", None)
    warnings.extend(ds.meta.get("warnings") or [])
    if opts.fps is not None:
        clip.meta.fps = float(opts.fps)
    elif clip.meta.fps is None:
        warnings.append(f"the input states no frame rate; {DEFAULT_FPS:g} fps is assumed (set --fps)")
    return clip


def main_person_stream(clip: Clip, opts: ReadOptions, info: dict[str, Any], warnings: list[str]) -> Clip:
    """The main person (layout kept; NaN where unseen), optionally with short gaps bridged."""
    where = clip.meta.source or clip.meta.clip_id
    if clip.num_frames == 0:
        raise DataError(where, "the skeleton stream has no frames")
    if clip.num_persons > 1:
        clip, track = select_main_person(clip)
        info["tracking"] = track.to_dict()
    if opts.gap_fill:
        clip, filled = fill_short_gaps(clip, opts.gap_fill)
        info["gap_fill"] = {"max_gap": opts.gap_fill, "joint_frames_filled": filled}
        warnings.append(f"gaps of up to {opts.gap_fill} frames were bridged by linear interpolation "
                        f"({filled} joint-frames)")
    seen = np.isfinite(clip.keypoints[0]).all(-1).any(-1)
    info.update(frames=int(clip.num_frames), frames_with_person=int(seen.sum()), visible_rate=float(seen.mean()),
                joint_missing_rate=float(clip.missing_rate()), layout=clip.meta.layout, fps=clip.fps)
    if not seen.any():
        raise DataError(where, f"no person is visible in any of the {clip.num_frames} frames; there is nothing "
                               "to recognise")
    if seen.mean() < 0.5:
        warnings.append(f"the person is visible in only {seen.mean():.0%} of the frames")
    return clip


def read_recording(path: str | Path, opts: ReadOptions | None = None) -> Recording:
    """:func:`read_stream` then :func:`main_person_stream`, for callers that need no partial results."""
    opts = opts or ReadOptions()
    info: dict[str, Any] = {"path": str(path), "name": Path(path).name}
    warnings: list[str] = []
    clip = main_person_stream(read_stream(path, opts, info, warnings), opts, info, warnings)
    return Recording(clip, info["kind"], info, warnings)
