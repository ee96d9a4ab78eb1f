"""Fixed-length windows of long skeleton streams: where online recognition looks, and what it learns from.

Why here, in ``data``: both the training stage (windows cut around annotated events, plus background windows
from stretches nobody annotated) and the pipeline (every window of a stream, strided) need the same windows,
and the pipeline must never be imported by training. Windows are gathered from a strided *view* of the stream
(no copy per window, no Python loop over windows).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from ..errors import ConfigError, DataError
from .clip import Clip, ClipMeta
from .dataset import SkeletonDataset

BACKGROUND = "background"


def window_starts(num_frames: int, window: int, stride: int) -> np.ndarray:
    """Start frames of the windows; the last window is aligned to the stream's end so every frame is covered."""
    if num_frames <= window:
        return np.zeros(1, dtype=np.int64)
    starts = np.arange(0, num_frames - window + 1, stride, dtype=np.int64)
    if starts[-1] != num_frames - window:
        starts = np.append(starts, num_frames - window)
    return starts


def extract_windows(x: np.ndarray, starts: np.ndarray, window: int) -> np.ndarray:
    """``x [T, V, C]`` → ``[N, W, V, C]`` windows at ``starts`` (one gather from a strided view); a stream
    shorter than the window is padded with missing (NaN) frames."""
    x = np.asarray(x, dtype=np.float32)
    if x.shape[0] < window:
        pad = np.full((window - x.shape[0],) + x.shape[1:], np.nan, dtype=np.float32)
        x = np.concatenate([x, pad], axis=0)
    view = sliding_window_view(x, window, axis=0)  # [T-W+1, V, C, W], no copy
    return np.ascontiguousarray(view[starts].transpose(0, 3, 1, 2))


def observed_fraction(w: np.ndarray) -> np.ndarray:
    """``[N]`` fraction of each window's frames in which any joint is observed."""
    return np.isfinite(w).all(-1).any(-1).mean(-1)


def training_windows(
    x: np.ndarray,
    events: pd.DataFrame,
    window: int,
    *,
    per_event: int = 4,
    background_stride: int | None = None,
    jitter: float = 0.25,
    frame_offset: int = 0,
    rng: np.random.Generator | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Window starts and labels from one annotated stream ``x [T, V, C]``.

    Positives: ``per_event`` windows per annotated event (``start_frame``/``end_frame`` inclusive, in the
    stream's source frames — ``frame_offset`` is the source frame of ``x[0]``), centred on the event with a
    jitter of ``± jitter × window``. Background (label -1): windows every ``background_stride`` frames that
    overlap no event. Returns ``(starts [N], labels [N])``.
    """
    rng = rng or np.random.default_rng(0)
    t = x.shape[0]
    if t < window:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    s = events["start_frame"].to_numpy(np.int64) - frame_offset
    e = events["end_frame"].to_numpy(np.int64) - frame_offset
    lab = events["label"].to_numpy(np.int64)
    inside = (e >= 0) & (s < t)
    s, e, lab = s[inside], np.minimum(e[inside], t - 1), lab[inside]
    centre = (s + e) / 2.0
    jit = rng.uniform(-jitter, jitter, size=(len(s), per_event)) * window
    pos = np.clip(np.round(centre[:, None] - window / 2 + jit), 0, t - window).astype(np.int64).ravel()
    pos_lab = np.repeat(lab, per_event)
    covered = np.zeros(t + 1, dtype=np.int64)
    np.add.at(covered, np.clip(s, 0, t), 1)
    np.add.at(covered, e + 1, -1)
    busy = np.cumsum(covered)[:t] > 0
    busy_c = np.concatenate([[0], np.cumsum(busy)])
    bstride = background_stride or max(window // 2, 1)
    bg = np.arange(0, t - window + 1, bstride, dtype=np.int64)
    bg = bg[(busy_c[bg + window] - busy_c[bg]) == 0]
    return np.concatenate([pos, bg]), np.concatenate([pos_lab, np.full(len(bg), -1, np.int64)])


def window_dataset(
    streams: Sequence[tuple[Clip, pd.DataFrame]],
    class_names: Mapping[int, str] | Sequence[str],
    *,
    window: int,
    per_event: int = 6,
    background_stride: int | None = None,
    max_background_ratio: float = 3.0,
    min_observed: float = 0.5,
    label_space: str | None = None,
    seed: int = 0,
) -> SkeletonDataset:
    """Windows from annotated single-person streams as a labelled :class:`SkeletonDataset`.

    Classes are the annotated ones that occur in ``streams`` (in label order) plus ``background`` (last);
    background windows are subsampled to at most ``max_background_ratio`` per positive window; windows in
    which the person is seen in fewer than ``min_observed`` of the frames are dropped. ``meta["window"]``
    records the window length, the dataset label of each class (-1 = background) and the label space, so
    the checkpoint of a model trained on it can be used on streams.
    """
    if not streams:
        raise ConfigError("no annotated streams to cut training windows from")
    names = dict(enumerate(class_names)) if not isinstance(class_names, Mapping) else dict(class_names)
    layout = streams[0][0].meta.layout
    rng = np.random.default_rng(seed)
    parts: list[tuple[Clip, np.ndarray, np.ndarray]] = []
    for clip, ev in streams:
        where = clip.meta.source or clip.meta.clip_id
        if clip.meta.layout != layout:
            raise DataError(where, f"layout {clip.meta.layout!r} differs from the first stream's {layout!r}")
        if clip.num_persons != 1:
            raise DataError(where, f"training windows need one person per stream, got {clip.num_persons}")
        starts, labels = training_windows(clip.keypoints[0], ev, window, per_event=per_event,
                                          background_stride=background_stride, frame_offset=clip.first_frame,
                                          rng=rng)
        if len(starts):
            parts.append((clip, starts, labels))
    if not parts:
        raise ConfigError(f"the annotated streams yield no training windows (streams shorter than {window} frames?)")
    windows = [extract_windows(c.keypoints[0], s, window) for c, s, _ in parts]
    keep = [observed_fraction(w) >= min_observed for w in windows]
    y = np.concatenate([lab[k] for (_, _, lab), k in zip(parts, keep, strict=True)])
    pos, bgi = np.flatnonzero(y >= 0), np.flatnonzero(y < 0)
    if not len(pos):
        raise ConfigError("no annotated MG event falls inside the training streams")
    if len(bgi) > int(max_background_ratio * len(pos)):
        bgi = np.sort(rng.choice(bgi, int(max_background_ratio * len(pos)), replace=False))
    present = sorted(int(v) for v in np.unique(y[pos]))
    class_labels = present + [-1]
    lut = {c: i for i, c in enumerate(class_labels)}
    clips: list[Clip] = []
    selected = set(np.concatenate([pos, bgi]).tolist())
    k = 0
    for (clip, starts, labels), w, kp in zip(parts, windows, keep, strict=True):
        for j in np.flatnonzero(kp):
            if k in selected:
                start = clip.first_frame + int(starts[j])
                lab = lut[int(labels[j])]
                meta = ClipMeta(clip_id=f"{clip.meta.clip_id}@{start}", dataset="windows", label=lab,
                                label_name=names.get(class_labels[lab], BACKGROUND) if class_labels[lab] >= 0
                                else BACKGROUND, source=clip.meta.source, fps=clip.meta.fps,
                                frame_range=(start, start + window - 1), layout=layout)
                clips.append(Clip(w[j][None], meta))
            k += 1
    class_list = [names.get(c, str(c)) for c in present] + [BACKGROUND]
    meta = {"window": {"window": int(window), "class_labels": class_labels, "background": len(class_labels) - 1,
                       "label_space": label_space, "streams": [c.meta.clip_id for c, _ in streams],
                       "positive_windows": int(len(pos)), "background_windows": int(len(bgi))}}
    ids = [c.meta.clip_id for c in clips]
    return SkeletonDataset("windows", layout, clips, class_list, {"train": ids}, [], meta)


def stream_windows(streams: Sequence[Clip], *, window: int, stride: int, min_observed: float = 0.5) -> SkeletonDataset:
    """Every ``stride``-th window of unlabelled single-person streams, as an unlabelled dataset (the input of
    self-supervised pretraining on a user's own recordings); windows that mostly miss the person are dropped."""
    if not streams:
        raise ConfigError("no streams to cut windows from")
    layout = streams[0].meta.layout
    clips: list[Clip] = []
    for clip in streams:
        where = clip.meta.source or clip.meta.clip_id
        if clip.meta.layout != layout:
            raise DataError(where, f"layout {clip.meta.layout!r} differs from the first stream's {layout!r}")
        if clip.num_persons != 1:
            raise DataError(where, f"windows need one person per stream, got {clip.num_persons}")
        starts = window_starts(clip.num_frames, window, stride)
        w = extract_windows(clip.keypoints[0], starts, window)
        for j in np.flatnonzero(observed_fraction(w) >= min_observed):
            start = clip.first_frame + int(starts[j])
            meta = ClipMeta(clip_id=f"{clip.meta.clip_id}@{start}", dataset="windows", source=clip.meta.source,
                            fps=clip.meta.fps, frame_range=(start, start + window - 1), layout=layout)
            clips.append(Clip(w[j][None], meta))
    if not clips:
        raise ConfigError(f"the streams yield no {window}-frame window in which the person is seen")
    ids = [c.meta.clip_id for c in clips]
    return SkeletonDataset("stream-windows", layout, clips, None, {"train": ids}, [],
                           {"windows": {"window": int(window), "stride": int(stride),
                                        "streams": [c.meta.clip_id for c in streams]}})
