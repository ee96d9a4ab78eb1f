"""A procedurally generated micro-gesture set — SYNTHETIC, for demos, tests and smoke runs only.

Why: the real MG datasets (iMiGUE, SMG) are licence-gated, so a fresh install has nothing to train on.
This module renders seated "interview" skeletons in the iMiGUE-22 layout (2-D pixel x, y plus a
confidence score) performing a handful of MG classes, with varied synthetic subjects (body proportions,
camera scale/offset/roll, handedness, speed, amplitude), idle motion (breathing, sway, head drift),
sensor-like jitter, repetitions (scratching, rubbing, shrugging) and occasional missing joints (NaN,
score 0). Nothing here is a person or was recorded; every clip says so (``meta.dataset ==
"synthetic-mg"``, ``meta.extra["synthetic"] is True``). Numbers from this set say only that the
code runs and learns, never how a method does on real micro-gestures.

Generation is deterministic: each clip draws from ``np.random.default_rng([seed, kind, index])``, so the
same seed gives identical arrays regardless of how many clips are asked for. Per clip, everything is
vectorised over frames and joints.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.ndimage import gaussian_filter1d

from ..errors import ConfigError
from .clip import DEFAULT_FPS, Clip, ClipMeta
from .dataset import SkeletonDataset
from .layouts import get_layout

DATASET_NAME = "synthetic-mg"
LAYOUT = "imigue22"
IMG_SHAPE = (720, 1280)  # (H, W) of the imaginary camera, pixels

CLASS_NAMES: tuple[str, ...] = (
    "touching face",
    "scratching head",
    "folding arms",
    "rubbing hands",
    "shaking shoulders",
    "touching nose or chin",
    "adjusting collar",
    "crossing fingers",
    "illustrative gesture (non-MG)",
)

# Body frame: x to the image right (the subject's LEFT, facing the camera), y down, one unit = shoulder
# width; the shoulder centre at rest is the origin. Side +1 is the subject's left hand, -1 the right.
_REST_HAND = {+1: np.array([0.30, 1.02]), -1: np.array([-0.30, 1.02])}
_FACE = {  # face points relative to the neck pivot (0, -0.3)
    "Nose": (0.0, -0.25), "EyeLeft": (0.09, -0.33), "EyeRight": (-0.09, -0.33),
    "EarLeft": (0.19, -0.28), "EarRight": (-0.19, -0.28),
}
_FINGER_ANGLE = np.array([-0.75, -0.28, 0.0, 0.2, 0.4])  # thumb..little, for the subject's right hand
_FINGER_LEN = np.array([0.10, 0.16, 0.17, 0.16, 0.13])


@dataclass(frozen=True)
class SyntheticSubject:
    """One imaginary person and camera set-up."""

    subject_id: str
    scale: float  # pixels per shoulder width
    origin: tuple[float, float]  # pixel position of the shoulder centre
    roll: float  # camera roll, radians
    shoulder_width: float
    upper_arm: float
    forearm: float
    hand_size: float
    head_size: float
    dominant: int  # +1 left-handed, -1 right-handed
    speed: float  # >1 = faster gestures (shorter clips)
    amplitude: float
    jitter: float  # keypoint noise, body units
    breathing_hz: float


def make_subjects(seed: int, num_subjects: int) -> list[SyntheticSubject]:
    rng = np.random.default_rng([seed, 0])
    out = []
    for k in range(num_subjects):
        scale = float(rng.uniform(150, 260))
        out.append(SyntheticSubject(
            subject_id=f"synth-{k:02d}",
            scale=scale,
            origin=(float(IMG_SHAPE[1] / 2 + rng.uniform(-200, 200)), float(rng.uniform(0.30, 0.42) * IMG_SHAPE[0])),
            roll=float(rng.normal(0, 0.04)),
            shoulder_width=float(rng.uniform(0.92, 1.08)),
            upper_arm=float(rng.uniform(0.58, 0.68)),
            forearm=float(rng.uniform(0.54, 0.62)),
            hand_size=float(rng.uniform(0.85, 1.15)),
            head_size=float(rng.uniform(0.9, 1.1)),
            dominant=-1 if rng.random() < 0.75 else +1,
            speed=float(rng.uniform(0.75, 1.35)),
            amplitude=float(rng.uniform(0.75, 1.3)),
            jitter=float(rng.uniform(0.006, 0.016)),
            breathing_hz=float(rng.uniform(0.18, 0.35)),
        ))
    return out


# -- per-class motion -----------------------------------------------------------------------------
@dataclass
class _Motion:
    """Targets for one gesture segment, each ``[L, 2]`` (or ``[L]``), in body units."""

    hands: dict[int, np.ndarray]  # side -> wrist target over the segment (absent side stays at rest)
    shoulder_dy: np.ndarray | None = None  # shrug (negative = up), applied without the envelope
    head: np.ndarray | None = None  # head offset
    curl: dict[int, float] | None = None  # finger length factor (1 open, ~0.5 fist)
    finger_dir: dict[int, tuple[np.ndarray, float]] | None = None  # side -> (unit direction [2], weight)


def _osc(u: np.ndarray, reps: float, phase: float = 0.0) -> np.ndarray:
    return np.sin(2 * np.pi * reps * u + phase)


def _hold(base: np.ndarray, n: int) -> np.ndarray:
    return np.broadcast_to(base, (n, 2)).copy()


_UP = np.array([0.0, -1.0])
_JITTER = 0.065  # per-clip spread of gesture targets (body units): classes overlap at the edges


def _touch_face(u, s, a, rng):
    tgt = np.array([s * 0.21, -0.26]) + rng.normal(0, _JITTER, 2)
    drift = 0.015 * a * np.stack([_osc(u, rng.uniform(0.5, 1.5)), _osc(u, rng.uniform(0.5, 1.5), 1.0)], -1)
    return _Motion({s: _hold(tgt, len(u)) + drift}, curl={s: 0.9}, finger_dir={s: (_UP, 0.5)},
                   head=np.outer(np.ones_like(u), [s * -0.02, 0.0]))


def _scratch_head(u, s, a, rng):
    tgt = np.array([s * 0.22, -0.60]) + rng.normal(0, _JITTER, 2)
    stroke = np.array([0.3 * s, 1.0]) / np.hypot(0.3, 1.0)
    osc = 0.065 * a * _osc(u, rng.integers(3, 7))[:, None] * stroke
    return _Motion({s: _hold(tgt, len(u)) + osc}, curl={s: 0.7}, finger_dir={s: (_UP, 0.7)},
                   head=np.outer(np.ones_like(u), [s * -0.03, 0.01]))


def _fold_arms(u, s, a, rng):
    d = np.array([-s * 0.36, 0.62]) + rng.normal(0, _JITTER, 2)
    n = np.array([s * 0.34, 0.70]) + rng.normal(0, _JITTER, 2)
    return _Motion({s: _hold(d, len(u)), -s: _hold(n, len(u))}, curl={s: 0.5, -s: 0.5},
                   shoulder_dy=-0.02 * np.sin(np.pi * u) ** 2)


def _rub_hands(u, s, a, rng):
    c = np.array([0.0, 0.78]) + rng.normal(0, _JITTER, 2)
    reps = rng.integers(4, 9)
    rub = 0.05 * a * _osc(u, reps)[:, None] * np.array([1.0, 0.35])
    gap = np.array([s * 0.045, 0.0])
    across = np.array([-s * 1.0, 0.0])
    return _Motion({s: _hold(c + gap, len(u)) + rub, -s: _hold(c - gap, len(u)) - rub},
                   curl={s: 0.85, -s: 0.85}, finger_dir={s: (across, 0.5), -s: (-across, 0.5)})


def _shake_shoulders(u, s, a, rng):
    reps = rng.integers(1, 4)
    shrug = -0.11 * a * np.abs(np.sin(np.pi * reps * u))
    hands = {k: _REST_HAND[k] + np.outer(shrug, [0.0, 0.4]) for k in (+1, -1)}
    return _Motion(hands, shoulder_dy=shrug, head=np.outer(shrug, [0.0, 0.8]))


def _touch_nose_chin(u, s, a, rng):
    tgt = np.array([s * 0.05, -0.20]) + rng.normal(0, _JITTER, 2)
    tap = 0.02 * a * _osc(u, rng.integers(1, 4))[:, None] * np.array([0.0, 1.0])
    return _Motion({s: _hold(tgt, len(u)) + tap}, curl={s: 0.8}, finger_dir={s: (_UP, 0.6)})


def _adjust_collar(u, s, a, rng):
    d = np.array([s * 0.10, 0.30]) + rng.normal(0, 0.04, 2)
    tug = 0.04 * a * _osc(u, rng.integers(1, 4))[:, None] * np.array([1.0, 0.0])
    hands = {s: _hold(d, len(u)) + tug}
    if rng.random() < 0.5:
        hands[-s] = _hold(np.array([-s * 0.10, 0.30]) + rng.normal(0, 0.04, 2), len(u)) - tug
    return _Motion(hands, curl=dict.fromkeys(hands, 0.6), finger_dir={k: (_UP, 0.8) for k in hands},
                   head=np.outer(np.ones_like(u), [0.0, -0.035]))


def _cross_fingers(u, s, a, rng):
    c = np.array([0.0, 0.82]) + rng.normal(0, _JITTER, 2)
    gap = np.array([s * 0.09, 0.0])
    twiddle = 0.008 * _osc(u, rng.integers(2, 5))[:, None] * np.array([0.0, 1.0])
    across = np.array([-s * 1.0, -0.25])
    return _Motion({s: _hold(c + gap, len(u)) + twiddle, -s: _hold(c - gap, len(u)) - twiddle},
                   curl={s: 1.0, -s: 1.0}, finger_dir={s: (across, 0.9), -s: (across * [-1, 1], 0.9)})


def _illustrative(u, s, a, rng):
    hands = {}
    for side in (s, -s) if rng.random() < 0.6 else (s,):
        k = int(rng.integers(2, 5))
        via = np.stack([side * rng.uniform(-0.05, 0.55, k), rng.uniform(0.35, 0.9, k)], -1)
        knots = np.linspace(0, 1, k + 2)
        pts = np.concatenate([_REST_HAND[side][None], via, _REST_HAND[side][None]])
        path = np.stack([np.interp(u, knots, pts[:, 0]), np.interp(u, knots, pts[:, 1])], -1)
        hands[side] = gaussian_filter1d(path, sigma=max(1.0, len(u) / 25), axis=0, mode="nearest")
    return _Motion(hands, curl=dict.fromkeys(hands, 1.1))


_CLASS_MOTION: tuple[Callable[..., _Motion], ...] = (
    _touch_face, _scratch_head, _fold_arms, _rub_hands, _shake_shoulders, _touch_nose_chin,
    _adjust_collar, _cross_fingers, _illustrative,
)
assert len(_CLASS_MOTION) == len(CLASS_NAMES)


# -- rendering ------------------------------------------------------------------------------------
def _envelope(n: int, rise: float) -> np.ndarray:
    u = np.linspace(0.0, 1.0, n)
    ramp = np.clip(np.minimum(u, 1.0 - u) / rise, 0.0, 1.0)
    return ramp * ramp * (3 - 2 * ramp)  # smoothstep in and out


def _rot(v: np.ndarray, ang: np.ndarray | float) -> np.ndarray:
    c, s = np.cos(ang), np.sin(ang)
    return np.stack([v[..., 0] * c - v[..., 1] * s, v[..., 0] * s + v[..., 1] * c], -1)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-6)


def _place_elbow(shoulder, hand, a, b, side):
    """Elbow positions for a 2-D projected arm; all ``[T, 2]``; the hand is clamped to the arm's reach.

    A seated person's elbow hangs down and out and comes forward (towards the camera) as the hand rises,
    so its projection is foreshortened: the upper arm points between "down and out" and the hand, its
    projected length shrinks with the hand's distance, and the forearm is capped near its true length.
    """
    d_vec = hand - shoulder
    dist = np.linalg.norm(d_vec, axis=-1, keepdims=True)
    reach = a + b - 1e-3
    hand = shoulder + _unit(d_vec) * np.minimum(dist, reach)
    direction = _unit(np.array([0.35 * side, 1.0]) + 0.8 * _unit(d_vec))
    elbow = shoulder + direction * a * (0.6 + 0.4 * np.minimum(dist / reach, 1.0))
    fore = elbow - hand
    fore_len = np.linalg.norm(fore, axis=-1, keepdims=True)
    elbow = hand + fore * np.minimum(1.0, 1.1 * b / np.maximum(fore_len, 1e-6))
    return elbow, hand


def _add_fidget(hands: dict[int, np.ndarray], m: _Motion, sl: slice, n: int, rng: np.random.Generator) -> None:
    free = [k for k in (+1, -1) if k not in m.hands]
    if not free or n < 8:
        return
    side = free[int(rng.integers(len(free)))]
    length = int(rng.integers(n // 4, n // 2 + 1))
    start = int(rng.integers(0, n - length + 1))
    target = np.array([side * rng.uniform(0.0, 0.45), rng.uniform(0.55, 0.95)])
    env = _envelope(length, 0.35)[:, None]
    seg = hands[side][sl][start:start + length]
    hands[side][sl.start + start:sl.start + start + length] = seg * (1 - env) + target * env


def _render(
    subj: SyntheticSubject, num_frames: int, segments: list[tuple[int, int, int]], fps: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Keypoints ``[1, T, 22, 2]`` (pixels, NaN = missing) and scores ``[1, T, 22]`` for a timeline.

    ``segments`` are non-overlapping ``(class, start, end)`` (inclusive frames); the rest is idle.
    """
    T = num_frames
    t = np.arange(T) / fps
    # idle motion: breathing, torso sway, head drift (low-pass noise)
    breath = 0.012 * np.sin(2 * np.pi * subj.breathing_hz * t + rng.uniform(0, 2 * np.pi))
    smooth = max(2.0, fps * 0.8)
    sway = gaussian_filter1d(rng.normal(0, 0.12, (T, 2)), smooth, axis=0, mode="wrap") * [1.0, 0.3]
    head = gaussian_filter1d(rng.normal(0, 0.15, (T, 2)), smooth, axis=0, mode="wrap") * 0.6
    roll = gaussian_filter1d(rng.normal(0, 0.5, T), smooth, mode="wrap")
    hands = {k: np.tile(_REST_HAND[k], (T, 1)) + gaussian_filter1d(rng.normal(0, 0.1, (T, 2)), smooth, axis=0)
             for k in (+1, -1)}
    shrug = np.zeros(T)
    curl = {k: np.ones(T) for k in (+1, -1)}
    fdir = {k: np.zeros((T, 2)) for k in (+1, -1)}
    fdir_w = {k: np.zeros(T) for k in (+1, -1)}

    for cls, start, end in segments:
        n = end - start + 1
        sl = slice(start, end + 1)
        u = np.linspace(0.0, 1.0, n)
        # a hesitant or partial performance, and sometimes the other hand does it
        env = _envelope(n, rng.uniform(0.15, 0.3)) * rng.uniform(0.65, 1.0)
        side = subj.dominant if rng.random() > 0.25 else -subj.dominant
        m = _CLASS_MOTION[cls](u, side, subj.amplitude, rng)
        if rng.random() < 0.35:  # a fidget of the free hand: the gesture is not the only motion
            _add_fidget(hands, m, sl, n, rng)
        for side, target in m.hands.items():
            hands[side][sl] = hands[side][sl] * (1 - env[:, None]) + target * env[:, None]
        if m.shoulder_dy is not None:
            shrug[sl] += m.shoulder_dy
        if m.head is not None:
            head[sl] += m.head * env[:, None]
        for side, c in (m.curl or {}).items():
            curl[side][sl] = 1 + (c - 1) * env
        for side, (direction, w) in (m.finger_dir or {}).items():
            fdir[side][sl] = _unit(np.asarray(direction, float))
            fdir_w[side][sl] = w * env

    body = sway + np.stack([np.zeros(T), breath], -1)
    center = body + np.stack([np.zeros(T), 0.6 * shrug], -1)
    half = subj.shoulder_width / 2
    pts: dict[str, np.ndarray] = {"ShoulderCenter": center}
    for side, name in ((+1, "Left"), (-1, "Right")):
        shoulder = body + np.stack([np.full(T, side * half), 0.03 + shrug], -1)
        elbow, hand = _place_elbow(shoulder, hands[side] + body, subj.upper_arm, subj.forearm, side)
        pts[f"Shoulder{name}"], pts[f"Elbow{name}"], pts[f"Hand{name}"] = shoulder, elbow, hand
        arm_dir = _unit(hand - elbow)
        w = fdir_w[side][:, None]
        fd = _unit(arm_dir * (1 - w) + fdir[side] * w)
        ang = np.arctan2(fd[:, 1], fd[:, 0])
        for k in range(5):
            tip_ang = ang + _FINGER_ANGLE[k] * (-side)
            length = _FINGER_LEN[k] * subj.hand_size * curl[side]
            pts[f"{name}Finger{k + 1}"] = hand + length[:, None] * np.stack([np.cos(tip_ang), np.sin(tip_ang)], -1)
    pivot = center + np.array([0.0, -0.3]) + head
    for joint, off in _FACE.items():
        pts[joint] = pivot + _rot(np.asarray(off) * subj.head_size, 0.08 * roll)

    layout = get_layout(LAYOUT)
    kp = np.stack([pts[j] for j in layout.joints], axis=1)  # [T, V, 2] body units
    is_finger = np.array(["Finger" in j for j in layout.joints])
    kp = kp + rng.normal(0, subj.jitter, kp.shape) * np.where(is_finger, 2.0, 1.0)[None, :, None]
    kp = _rot(kp, subj.roll) * subj.scale + np.asarray(subj.origin)

    base = np.where(is_finger, rng.uniform(0.45, 0.75), rng.uniform(0.75, 0.95))
    scores = np.clip(base[None] + gaussian_filter1d(rng.normal(0, 0.25, kp.shape[:2]), 2.0, axis=0), 0.05, 1.0)
    missing = _missing_mask(T, layout.joints, is_finger, rng)
    kp[missing] = np.nan
    scores[missing] = 0.0
    return kp[None].astype(np.float32), scores[None].astype(np.float32)


def _missing_mask(T: int, joints: tuple[str, ...], is_finger: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Occasional dropouts: a run of frames losing one hand's fingertips or an ear, plus rare blips."""
    miss = (rng.random((T, len(joints))) < 0.004) & is_finger[None]
    for _ in range(rng.poisson(0.5 + T / 400)):
        if rng.random() < 0.7:
            side = "Left" if rng.random() < 0.5 else "Right"
            cols = np.array([j.startswith(f"{side}Finger") for j in joints])
        else:
            cols = np.array([j == ("EarLeft" if rng.random() < 0.5 else "EarRight") for j in joints])
        start = int(rng.integers(0, T))
        length = int(rng.integers(3, max(4, T // 4)))
        miss[start:start + length, cols] = True
    return miss


# -- public API -----------------------------------------------------------------------------------
def _meta(cid: str, subj: SyntheticSubject, fps: float, T: int, **kw) -> ClipMeta:
    return ClipMeta(clip_id=cid, dataset=DATASET_NAME, subject=subj.subject_id, source="synthetic",
                    frame_range=(0, T - 1), fps=fps, layout=LAYOUT, img_shape=IMG_SHAPE,
                    extra={"synthetic": True, "dominant_hand": "left" if subj.dominant > 0 else "right"}, **kw)


def make_mg_clip(
    seed: int, index: int, label: int, subj: SyntheticSubject, num_frames: tuple[int, int] = (40, 120),
    fps: float = DEFAULT_FPS,
) -> Clip:
    """One labelled clip: a little idle, the gesture, a little idle."""
    rng = np.random.default_rng([seed, 1, index])
    lo, hi = num_frames
    T = int(np.clip(round(rng.uniform(lo, hi) / subj.speed), lo, hi))
    pre, post = (int(rng.uniform(0, 0.15) * T) for _ in range(2))
    kp, sc = _render(subj, T, [(label, pre, T - 1 - post)], fps, rng)
    cid = f"syn-{subj.subject_id}-c{label:02d}-{index:05d}"
    return Clip(kp, _meta(cid, subj, fps, T, label=label, label_name=CLASS_NAMES[label]), sc)


def make_mg_dataset(
    seed: int = 0, clips_per_class: int = 40, num_subjects: int = 12, num_frames: tuple[int, int] = (40, 120),
    test_fraction: float = 0.3, fps: float = DEFAULT_FPS,
) -> SkeletonDataset:
    """The synthetic MG classification set with subject-disjoint ``train``/``test`` splits."""
    if clips_per_class < 1 or num_subjects < 2:
        raise ConfigError("synthetic set needs clips_per_class >= 1 and num_subjects >= 2")
    if not 0 < test_fraction < 1:
        raise ConfigError(f"test_fraction must be in (0, 1), got {test_fraction}")
    if num_frames[0] < 8 or num_frames[1] < num_frames[0]:
        raise ConfigError(f"num_frames must be (lo, hi) with 8 <= lo <= hi, got {num_frames}")
    subjects = make_subjects(seed, num_subjects)
    order = np.random.default_rng([seed, 2]).permutation(num_subjects)
    n_test = min(num_subjects - 1, max(1, round(test_fraction * num_subjects)))
    test_subjects = {subjects[i].subject_id for i in order[:n_test]}
    clips: list[Clip] = []
    for label in range(len(CLASS_NAMES)):
        for k in range(clips_per_class):
            subj = subjects[(k + label) % num_subjects]  # every subject performs every class
            clips.append(make_mg_clip(seed, label * clips_per_class + k, label, subj, num_frames, fps))
    splits = {
        "train": [c.meta.clip_id for c in clips if c.meta.subject not in test_subjects],
        "test": [c.meta.clip_id for c in clips if c.meta.subject in test_subjects],
    }
    return SkeletonDataset(DATASET_NAME, LAYOUT, clips, list(CLASS_NAMES), splits, [])


def make_interview_stream(
    seed: int = 0, duration_s: float = 120.0, fps: float = DEFAULT_FPS, events: int | None = None,
    classes: list[int] | None = None, subject: int = 0,
):
    """A long seated "interview" with MG events at known, non-overlapping times.

    Returns ``(clip, events)`` where ``events`` is a DataFrame ``[start_frame, end_frame, label,
    label_name]`` (inclusive frames, sorted), the ground truth for online recognition.
    """

    T = int(round(duration_s * fps))
    if T < fps * 4:
        raise ConfigError(f"interview stream must last at least 4 s, got {duration_s}")
    rng = np.random.default_rng([seed, 3])
    subj = make_subjects(seed, subject + 1)[subject]
    pool = list(range(len(CLASS_NAMES))) if classes is None else list(classes)
    if not pool or any(not 0 <= c < len(CLASS_NAMES) for c in pool):
        raise ConfigError(f"classes must be indices into {len(CLASS_NAMES)} synthetic classes, got {classes}")
    n = max(1, int(duration_s // 10)) if events is None else int(events)
    lengths = np.round(rng.uniform(1.5, 4.0, n) * fps / subj.speed).astype(int)
    min_gap = int(fps)
    slack = T - lengths.sum() - min_gap * (n + 1)
    if slack < 0:
        raise ConfigError(f"{n} events do not fit in {duration_s} s; ask for fewer events or a longer stream")
    gaps = min_gap + np.floor(rng.dirichlet(np.ones(n + 1)) * slack).astype(int)
    starts = gaps[:-1].cumsum() + np.concatenate([[0], lengths[:-1].cumsum()])
    labels = rng.choice(pool, size=n)
    segments = [(int(c), int(s), int(s + L - 1)) for c, s, L in zip(labels, starts, lengths, strict=True)]
    kp, sc = _render(subj, T, segments, fps, rng)
    meta = _meta(f"interview-{seed:04d}", subj, fps, T)
    table = pd.DataFrame({
        "start_frame": [s for _, s, _ in segments],
        "end_frame": [e for _, _, e in segments],
        "label": [c for c, _, _ in segments],
        "label_name": [CLASS_NAMES[c] for c, _, _ in segments],
    })
    return Clip(kp, meta, sc), table
