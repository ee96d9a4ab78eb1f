"""Constructed skeleton streams for the kinematic-detector tests: a neutral seated pose in the real
``openpose_full`` layout (BODY_25 + 2x21 hand points + 70 face points, image pixels, y down, shoulder width
200 px) with 0.3 px keypoint noise, blended into a gesture pose over chosen frames (25 fps)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from microgesture.data.clip import Clip, ClipMeta
from microgesture.data.convert import convert_clip
from microgesture.data.layouts import get_layout
from microgesture.models.kinematic import DetectionResult

LAYOUT = get_layout("openpose_full")
SW, T, FPS = 200.0, 250, 25.0
G0, G1 = 100, 175  # gesture frames
EYES = np.array([500.0, 205.0])
H = 0.34 * SW  # head size (brow to chin), px


# ---------------------------------------------------------------------------------------------------------
# A neutral seated pose and gesture poses, by joint name

def _face() -> dict[str, np.ndarray]:
    """70 face points from a template in head sizes around the eye centre (y down)."""
    pts: dict[int, tuple[float, float]] = {}
    for k in range(17):  # jaw: right top -> chin -> left top
        a = np.pi * k / 16
        pts[k] = (-0.55 * np.cos(a), 0.8 * np.sin(a))
    for k in range(5):
        pts[17 + k] = (-0.45 + 0.0875 * k, -0.2)  # right brow, outer -> inner
        pts[26 - k] = (0.45 - 0.0875 * k, -0.2)  # left brow, outer -> inner
    for k in range(4):
        pts[27 + k] = (0.0, -0.1 + 0.13 * k)
    for k, x in enumerate((-0.12, -0.06, 0.0, 0.06, 0.12)):
        pts[31 + k] = (x, 0.42)
    for k in range(6):
        a = 2 * np.pi * k / 6
        pts[36 + k] = (-0.25 - 0.1 * np.cos(a), -0.04 * np.sin(a))
        pts[42 + k] = (0.25 - 0.1 * np.cos(a), -0.04 * np.sin(a))
    for j in range(12):
        a = 2 * np.pi * j / 12
        pts[48 + j] = (-0.22 * np.cos(a), 0.6 - 0.08 * np.sin(a))
    for j in range(8):
        a = 2 * np.pi * j / 8
        pts[60 + j] = (-0.15 * np.cos(a), 0.6 - 0.02 * np.sin(a))
    pts[68], pts[69] = (-0.25, 0.0), (0.25, 0.0)
    names = [n for n in LAYOUT.joints if n.startswith("Face")]
    return {names[i]: EYES + H * np.array(p) for i, p in pts.items()}


def _hand(side: str, wrist, direction) -> dict[str, np.ndarray]:
    """21 hand points: fingers 0.45 SW long along ``direction``, spread across it."""
    w = np.asarray(wrist, float)
    d = np.asarray(direction, float)
    d /= np.linalg.norm(d)
    perp = np.array([-d[1], d[0]])
    out = {f"{side}Wrist": w, f"{side}HandWrist": w}
    parts = {"Thumb": ("CMC", "MCP", "IP", "Tip"), "Index": ("MCP", "PIP", "DIP", "Tip"),
             "Middle": ("MCP", "PIP", "DIP", "Tip"), "Ring": ("MCP", "PIP", "DIP", "Tip"),
             "Pinky": ("MCP", "PIP", "DIP", "Tip")}
    for k, (f, ps) in enumerate(parts.items()):
        off = (k - 2) * 0.035 * SW
        length = 0.3 * SW if f == "Thumb" else 0.45 * SW
        for j, p in enumerate(ps):
            out[f"{side}{f}{p}"] = w + d * length * (0.35 + 0.2 * j) + perp * off
    return out


def neutral() -> dict[str, np.ndarray]:
    p = {
        "Neck": (500, 300), "RightShoulder": (400, 300), "LeftShoulder": (600, 300),
        "RightElbow": (385, 450), "LeftElbow": (615, 450), "MidHip": (500, 560),
        "RightHip": (455, 560), "LeftHip": (545, 560),
    }
    pose = {k: np.array(v, float) for k, v in p.items()}
    pose["Nose"] = EYES + H * np.array([0.0, 0.42])
    pose["RightEye"], pose["LeftEye"] = EYES + H * np.array([-0.25, 0.0]), EYES + H * np.array([0.25, 0.0])
    pose["RightEar"], pose["LeftEar"] = EYES + H * np.array([-0.62, 0.05]), EYES + H * np.array([0.62, 0.05])
    pose.update(_face())
    pose.update(_hand("Right", (420, 560), (0.1, 1)))
    pose.update(_hand("Left", (580, 560), (-0.1, 1)))
    return pose


def _array(pose: dict[str, np.ndarray]) -> np.ndarray:
    a = np.full((LAYOUT.num_joints, 2), np.nan)
    for k, v in pose.items():
        a[LAYOUT.index[k]] = v
    return a


def _weight(ramp: int = 8) -> np.ndarray:
    t = np.arange(T)
    w = np.clip(np.minimum(t - G0, G1 - t) / ramp, 0, 1)
    return 0.5 - 0.5 * np.cos(np.pi * w)


def stream(target: dict[str, np.ndarray] | None = None, *, drop: tuple[str, ...] = (), drop_during: tuple[str, ...] = (),
           extra=None, seed: int = 0, layout: str = "openpose_full") -> Clip:
    """Neutral pose, blended into ``target`` (joint -> xy) over the gesture frames; ``drop`` joints are never
    seen, ``drop_during`` not seen during the gesture; ``extra(kp)`` may add motion."""
    p0 = neutral()
    p1 = dict(p0)
    p1.update({k: np.asarray(v, float) for k, v in (target or {}).items()})
    a0, a1 = _array(p0), _array(p1)
    kp = a0[None] + _weight()[:, None, None] * (a1 - a0)[None]
    kp += np.random.default_rng(seed).normal(0, 0.3, kp.shape)
    if extra is not None:
        extra(kp)
    for n in drop:
        kp[:, LAYOUT.index[n]] = np.nan
    for n in drop_during:
        kp[G0:G1 + 1, LAYOUT.index[n]] = np.nan
    clip = Clip(kp[None].astype(np.float32), ClipMeta("constructed", layout="openpose_full", fps=FPS,
                                                      frame_range=(1000, 1000 + T - 1)))
    if layout == "openpose_body25":  # BODY_25 is the first 25 joints of openpose_full
        return Clip(clip.keypoints[:, :, :25], ClipMeta("constructed", layout=layout, fps=FPS,
                                                        frame_range=clip.meta.frame_range))
    return convert_clip(clip, layout) if layout != "openpose_full" else clip


def events_of(res: DetectionResult, name: str) -> pd.DataFrame:
    return res.events[res.events["label_name"] == name]


def overlaps_gesture(ev: pd.DataFrame, offset: int = 1000) -> bool:
    s, e = ev["start_frame"].to_numpy() - offset, ev["end_frame"].to_numpy() - offset
    inter = np.minimum(e, G1) - np.maximum(s, G0) + 1
    iou = inter / ((e - s + 1) + (G1 - G0 + 1) - inter)
    return bool(len(ev)) and bool((iou >= 0.3).any())


HEAD = ("Nose", "RightEye", "LeftEye", "RightEar", "LeftEar") + tuple(n for n in LAYOUT.joints if n.startswith("Face"))
RHAND = tuple(n for n in LAYOUT.joints if n.startswith("Right") and any(
    t in n for t in ("Wrist", "Thumb", "Index", "Middle", "Ring", "Pinky")))
LHAND = tuple(n.replace("Right", "Left") for n in RHAND)
ELBOWS = ("RightElbow", "LeftElbow")
HIPS = ("MidHip", "RightHip", "LeftHip")


def shake(amplitude: float):
    def f(kp):
        t = np.arange(T)
        on = (t >= G0) & (t < G0 + 35)
        dy = amplitude * np.sin(2 * np.pi * 2.0 * t / FPS) * on
        for n in ("Neck", "RightShoulder", "LeftShoulder"):
            kp[:, LAYOUT.index[n], 1] += dy
    return f


def shift(dx: float):
    def f(kp):
        t = np.arange(T)
        w = np.clip((t - G0) / 30, 0, 1)  # move over 1.2 s, stay there
        kp[..., 0] += dx * w[:, None]
    return f


def wave(kp):
    t = np.arange(T)
    w = _weight()
    for n in RHAND:
        kp[:, LAYOUT.index[n], 0] += 30 * np.sin(2 * np.pi * 1.5 * t / FPS) * w


def head_pitch(rise: float):
    def f(kp):
        w = _weight()
        for n in ("Nose", "FaceNoseTip") + tuple(n for n in LAYOUT.joints if n.startswith("FaceNostril")):
            kp[:, LAYOUT.index[n], 1] -= rise * H * w
    return f




def multi_stream(segments, n_frames: int, *, seed: int = 0, offset: int = 0) -> Clip:
    """A neutral stream of ``n_frames`` with several gestures: ``segments`` = [(start, end, target, extra)],
    ``target`` joint -> xy blended in with 8-frame ramps, ``extra(kp, start, end)`` adding motion."""
    p0 = _array(neutral())
    kp = np.repeat(p0[None], n_frames, axis=0)
    t = np.arange(n_frames)
    for a, b, target, extra in segments:
        if target:
            p1 = neutral()
            p1.update({k: np.asarray(v, float) for k, v in target.items()})
            w = np.clip(np.minimum(t - a, b - t) / 8, 0, 1)
            w = 0.5 - 0.5 * np.cos(np.pi * w)
            kp += w[:, None, None] * (_array(p1) - p0)[None]
        if extra is not None:
            extra(kp, a, b)
    kp += np.random.default_rng(seed).normal(0, 0.3, kp.shape)
    return Clip(kp[None].astype(np.float32), ClipMeta("constructed", layout="openpose_full", fps=FPS,
                                                      frame_range=(offset, offset + n_frames - 1)))


def slow_shift(dx_per_s: float):
    """The whole body slides sideways at ``dx_per_s`` pixels per second between start and end, and stays."""
    def f(kp, a, b):
        t = np.arange(kp.shape[0])
        kp[..., 0] += (dx_per_s / FPS * np.clip(t - a, 0, b - a))[:, None]
    return f
