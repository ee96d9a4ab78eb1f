"""Video → skeleton stream with MediaPipe Holistic, keeping nothing of the picture.

Why this shape: the toolkit promises *identity-free* analysis, so a frame lives only as long as one
``process()`` call. Frames are decoded one at a time by PyAV, turned into keypoints and dropped; no image,
crop or face landmark is ever written or returned (MediaPipe Holistic computes a face mesh internally; it
is read from no field here). The result is a ``mediapipe_holistic`` stream (pose 33 + left hand 21 +
right hand 21, the *subject's* left/right) in pixel coordinates, which ``data.convert`` maps onto the
iMiGUE 22-joint layout the recognition models are trained on.

Coordinates: ``x, y`` are pixels (MediaPipe's normalised ``x * W``, ``y * H``), like OpenPose's, so a
model trained on iMiGUE's OpenPose streams sees the same kind of numbers. MediaPipe's ``z`` is a relative
depth on a different scale from x/y and has no OpenPose counterpart; it is dropped unless ``keep_z``
(then ``z * W`` is stored as a third channel, MediaPipe's own convention for its scale).
Scores: pose landmarks carry MediaPipe's ``visibility``; landmarks below ``min_visibility`` are NaN
(MediaPipe always returns all 33, guessing occluded or off-screen ones). Hand landmarks have no
per-landmark confidence in MediaPipe, so a detected hand's landmarks get score 1.0 and an undetected hand
is NaN. Only ``model_complexity=1`` is used: it is the only pose model bundled in the mediapipe 0.10.21
wheel (0 and 2 try to download).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from ...errors import ConfigError, DataError
from ...utils.quiet import native_stderr_silenced
from ..clip import DEFAULT_FPS, Clip, ClipMeta
from ..dataset import SkeletonDataset
from ..layouts import get_layout
from . import register_reader

log = logging.getLogger(__name__)

POSE_EXTRA_HINT = "install the pose extra: pip install 'microgesture[pose]'"
VIDEO_EXTRA_HINT = "install the video extra: pip install 'microgesture[video]'"
VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv", ".flv", ".ts")

_N_POSE, _N_HAND = 33, 21
HOLISTIC = "mediapipe_holistic"


@dataclass
class VideoStats:
    """What the extractor saw: enough for a report to say how much of the video it could use."""

    path: str
    width: int = 0
    height: int = 0
    fps: float = 0.0  # of the container's video stream
    codec: str = ""
    duration_s: float | None = None
    frames_decoded: int = 0
    frames_processed: int = 0  # after the stride
    frames_with_person: int = 0
    frames_with_left_hand: int = 0
    frames_with_right_hand: int = 0
    stride: int = 1
    decode_error: str | None = None  # set when the stream broke off part-way (the frames before it are kept)
    extractor: str = "mediapipe holistic (model_complexity=1)"
    wall_s: float = 0.0
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def person_rate(self) -> float:
        return self.frames_with_person / self.frames_processed if self.frames_processed else 0.0


def is_video_file(path: str | Path) -> bool:
    return Path(path).is_file() and Path(path).suffix.lower() in VIDEO_SUFFIXES


def _import_mediapipe():
    try:
        import mediapipe as mp  # heavy (TensorFlow Lite, protobuf); only the video path needs it
    except ImportError as e:
        raise ConfigError(f"reading videos needs MediaPipe ({e}); {POSE_EXTRA_HINT}") from None
    if not hasattr(mp, "solutions"):
        raise ConfigError(f"mediapipe {getattr(mp, '__version__', '?')} has no bundled legacy solutions; "
                          f"microgesture needs mediapipe==0.10.21 ({POSE_EXTRA_HINT})")
    return mp


def _import_av():
    try:
        import av
    except ImportError as e:
        raise ConfigError(f"reading videos needs PyAV ({e}); {VIDEO_EXTRA_HINT}") from None
    return av


def _landmarks(lms, n: int) -> np.ndarray:
    """``[n, 4]`` (x, y, z, visibility) from a MediaPipe landmark list; NaN when not detected."""
    if lms is None:
        return np.full((n, 4), np.nan, dtype=np.float32)
    return np.array([(p.x, p.y, p.z, p.visibility) for p in lms.landmark], dtype=np.float32)


class HolisticExtractor:
    """One MediaPipe Holistic graph in tracking mode; ``__call__(rgb) -> [75, 4]`` raw landmarks."""

    def __init__(self, min_detection_confidence: float = 0.5, min_tracking_confidence: float = 0.5,
                 hands: bool = True):
        mp = _import_mediapipe()
        self.hands = hands
        if hands:
            self._graph = mp.solutions.holistic.Holistic(
                static_image_mode=False, model_complexity=1, smooth_landmarks=True,
                refine_face_landmarks=False, min_detection_confidence=min_detection_confidence,
                min_tracking_confidence=min_tracking_confidence)
        else:  # pose only: faster, no hands (fingers become NaN in imigue22)
            self._graph = mp.solutions.pose.Pose(
                static_image_mode=False, model_complexity=1, smooth_landmarks=True,
                min_detection_confidence=min_detection_confidence,
                min_tracking_confidence=min_tracking_confidence)

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        res = self._graph.process(rgb)
        out = np.empty((_N_POSE + 2 * _N_HAND, 4), dtype=np.float32)
        out[:_N_POSE] = _landmarks(res.pose_landmarks, _N_POSE)
        out[_N_POSE:_N_POSE + _N_HAND] = _landmarks(getattr(res, "left_hand_landmarks", None), _N_HAND)
        out[_N_POSE + _N_HAND:] = _landmarks(getattr(res, "right_hand_landmarks", None), _N_HAND)
        return out

    def close(self) -> None:
        self._graph.close()

    def __enter__(self) -> HolisticExtractor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def landmarks_to_clip(raw: np.ndarray, width: int, height: int, *, fps: float, clip_id: str,
                      source: str, keep_z: bool = False, min_visibility: float = 0.1,
                      frame_stride: int = 1) -> Clip:
    """Raw ``[T, 75, 4]`` normalised landmarks → a ``mediapipe_holistic`` clip ``[1, T, 75, 2|3]`` in pixels."""
    layout = get_layout(HOLISTIC)
    if raw.ndim != 3 or raw.shape[1:] != (layout.num_joints, 4):
        raise ConfigError(f"expected raw landmarks [T, {layout.num_joints}, 4], got {raw.shape}")
    scale = np.array([width, height, width], dtype=np.float32)
    xyz = raw[..., :3] * scale
    score = raw[..., 3].copy()
    hand = np.zeros(layout.num_joints, dtype=bool)
    hand[_N_POSE:] = True
    detected = np.isfinite(raw[..., :3]).all(-1)
    score = np.where(hand, np.where(detected, 1.0, np.nan), score).astype(np.float32)
    missing = ~detected | (~hand & ~(score >= min_visibility))
    xyz[missing] = np.nan
    score[missing] = 0.0
    kp = xyz if keep_z else xyz[..., :2]
    meta = ClipMeta(clip_id=clip_id, dataset="video", source=source, frame_range=(0, max(len(raw) - 1, 0)),
                    fps=fps / frame_stride if fps else None, layout=HOLISTIC, img_shape=(height, width),
                    extra={"frame_stride": frame_stride, "coords": "x,y pixels" + (", z*W" if keep_z else ""),
                           "extractor": "mediapipe holistic (model_complexity=1)"})
    return Clip(kp[None].astype(np.float32), meta, score[None])


def extract_video(
    path: str | Path,
    *,
    stride: int = 1,
    max_frames: int | None = None,
    hands: bool = True,
    keep_z: bool = False,
    min_visibility: float = 0.1,
    min_detection_confidence: float = 0.5,
    progress: bool = True,
) -> tuple[Clip, VideoStats]:
    """Read ``path`` frame by frame and return its ``mediapipe_holistic`` stream and what was seen.

    ``stride`` keeps every n-th decoded frame (the clip's fps is divided accordingly); ``max_frames``
    stops after that many *processed* frames. A file PyAV cannot open, or with no video stream, or
    whose first frame cannot be decoded raises ``DataError``; a stream that breaks off part-way keeps the
    frames before the break and records ``decode_error``. A video in which no person is ever found
    gives an all-NaN stream and a warning in ``stats.warnings`` (never an error: the caller reports it).
    """
    path = Path(path)
    if stride < 1:
        raise ConfigError(f"frame stride must be at least 1, got {stride}")
    if not path.exists():
        raise DataError(path, "does not exist")
    if not path.is_file():
        raise DataError(path, "is not a file")
    av = _import_av()
    t0 = time.perf_counter()
    try:
        container = av.open(str(path), mode="r")
    except (av.FFmpegError, OSError, ValueError) as e:
        raise DataError(path, f"cannot be opened as a video (corrupt or not a video file): {e}") from None
    stats = VideoStats(str(path), stride=stride)
    raw: list[np.ndarray] = []
    with container:
        if not container.streams.video:
            raise DataError(path, "has no video stream")
        vs = container.streams.video[0]
        vs.thread_type = "AUTO"
        cc = vs.codec_context
        stats.width, stats.height = int(cc.width or 0), int(cc.height or 0)
        rate = vs.average_rate or vs.guessed_rate or vs.base_rate
        stats.fps = float(rate) if rate else 0.0
        stats.codec = cc.name or ""
        if vs.duration is not None and vs.time_base is not None:
            stats.duration_s = float(vs.duration * vs.time_base)
        elif container.duration:
            stats.duration_s = container.duration / 1e6
        total = vs.frames or (int(stats.duration_s * stats.fps) if stats.duration_s and stats.fps else None)
        if total and max_frames:
            total = min(total, max_frames * stride)
        bar_opts = {"total": total, "desc": f"pose {path.name}", "unit": "frame", "disable": not progress,
                    "mininterval": 0.5}
        with native_stderr_silenced(), tqdm(**bar_opts) as bar, \
                HolisticExtractor(min_detection_confidence=min_detection_confidence, hands=hands) as extract:
            frames = container.decode(vs)
            while True:
                try:
                    frame = next(frames)
                except StopIteration:
                    break
                except (av.FFmpegError, OSError, ValueError) as e:
                    if stats.frames_decoded == 0:
                        raise DataError(path, f"no frame could be decoded (corrupt or truncated video): "
                                              f"{e}") from None
                    stats.decode_error = f"decoding stopped after frame {stats.frames_decoded}: {e}"
                    break
                k = stats.frames_decoded
                stats.frames_decoded += 1
                bar.update(1)
                if k % stride:
                    continue
                rgb = frame.to_ndarray(format="rgb24")
                if not stats.width:
                    stats.height, stats.width = rgb.shape[:2]
                raw.append(extract(rgb))
                del rgb, frame  # the picture goes no further than the pose graph
                if max_frames and len(raw) >= max_frames:
                    break
    if not raw:
        raise DataError(path, "contains no decodable video frames")
    arr = np.stack(raw)
    stats.frames_processed = len(arr)
    pose_seen = np.isfinite(arr[:, :_N_POSE, 0]).any(1)
    stats.frames_with_person = int(pose_seen.sum())
    stats.frames_with_left_hand = int(np.isfinite(arr[:, _N_POSE, 0]).sum())
    stats.frames_with_right_hand = int(np.isfinite(arr[:, _N_POSE + _N_HAND, 0]).sum())
    stats.wall_s = time.perf_counter() - t0
    if not stats.fps or not math.isfinite(stats.fps):
        stats.warnings.append(f"the container states no frame rate; {DEFAULT_FPS:g} fps is assumed for timings")
        stats.fps = DEFAULT_FPS
    if stats.decode_error:
        stats.warnings.append(f"the video is damaged: {stats.decode_error}; the frames before it are used")
    if stats.frames_with_person == 0:
        stats.warnings.append(f"no person was found in any of the {stats.frames_processed} frames analysed; "
                              "the skeleton stream is empty (all missing)")
    elif stats.person_rate < 0.5:
        stats.warnings.append(f"a person was found in only {stats.frames_with_person} of "
                              f"{stats.frames_processed} frames ({stats.person_rate:.0%})")
    if hands and stats.frames_with_person and not (stats.frames_with_left_hand or stats.frames_with_right_hand):
        stats.warnings.append("no hand was detected in any frame: finger joints are missing")
    for w in stats.warnings:
        log.warning("%s: %s", path.name, w)
    clip = landmarks_to_clip(arr, stats.width, stats.height, fps=stats.fps, clip_id=path.stem,
                             source=str(path), keep_z=keep_z, min_visibility=min_visibility,
                             frame_stride=stride)
    clip.meta.extra["video"] = stats.to_dict()
    return clip, stats


def read_video_dataset(path: str | Path, *, strict: bool = False, layout: str | None = None, stride: int = 1,
                       max_frames: int | None = None, hands: bool = True, progress: bool = True,
                       **_: Any) -> SkeletonDataset:
    """A video as a one-stream dataset (``mediapipe_holistic``); what the extractor saw is in
    ``meta["reports"][clip_id]`` and its warnings in ``meta["warnings"]``."""
    if layout not in (None, HOLISTIC):
        raise DataError(path, f"videos are read as {HOLISTIC}; convert afterwards instead of layout={layout!r}")
    clip, stats = extract_video(path, stride=stride, max_frames=max_frames, hands=hands, progress=progress)
    return SkeletonDataset("video", HOLISTIC, [clip], None, {}, [],
                           {"reports": {clip.meta.clip_id: stats.to_dict()}, "warnings": list(stats.warnings)})


def _register() -> None:
    register_reader("video", read_video_dataset, is_video_file,
                    f"a video file ({', '.join(VIDEO_SUFFIXES[:4])}, ...): poses by MediaPipe Holistic, frames dropped",
                    priority=8)


_register()
