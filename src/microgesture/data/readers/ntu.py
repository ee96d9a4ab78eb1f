"""NTU RGB+D 60 / 120 ``.skeleton`` text files (Shahroudy et al., CVPR 2016; Liu et al., TPAMI 2019).

Format: frame count; per frame a body count; per body one line of 10 values (bodyID, clipedEdges,
handLeftConfidence, handLeftState, handRightConfidence, handRightState, isRestricted, leanX, leanY,
trackingState), the joint count (25) and 25 lines of 12 values (x y z depthX depthY colorX colorY
orientationW X Y Z trackingState). File names ``SsssCcccPpppRrrrAaaa`` (setup, camera, performer,
replication, action). Why parsed as one token array: a file is ~30k numbers; they are converted to
float in one call and the joint blocks are gathered with one fancy index, so Python only walks the
frame/body structure. Bodies are identified by bodyID; up to ``max_bodies`` are kept, ranked by motion
(the summed per-joint variance of x, y, z over the frames where the body is seen), as in the usual
NTU preprocessing. Scores are the Kinect joint tracking state / 2 (tracked 1, inferred 0.5, not tracked 0).
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import ConfigError, DataError
from ..clip import Clip, ClipMeta
from ..dataset import SkeletonDataset, Skipped
from . import read_each, register_reader

NUM_JOINTS = 25
FPS = 30.0
FILE_PATTERN = re.compile(r"^S(?P<setup>\d{3})C(?P<camera>\d{3})P(?P<performer>\d{3})R(?P<rep>\d{3})"
                          r"A(?P<action>\d{3})\.skeleton$")
_BODY_INFO, _JOINT_VALUES = 10, 12
# (columns, image shape) of each coordinate system in a joint line
COORDS = {"3d": ((0, 1, 2), None), "depth": ((3, 4), (424, 512)), "color": ((5, 6), (1080, 1920))}

# NTU-60 cross-subject training performers (Shahroudy et al. 2016, Sec. 4.2).
NTU60_XSUB_TRAIN = frozenset({1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38})
# NTU-120 cross-subject training performers (Liu et al., TPAMI 2019, Sec. 4.2: 53 of 106 subjects). Same list
# as the official release's evaluation protocol; cross-checked against public NTU-120 loaders (code search).
NTU120_XSUB_TRAIN = NTU60_XSUB_TRAIN | frozenset({
    45, 46, 47, 49, 50, 52, 53, 54, 55, 56, 57, 58, 59, 70, 74, 78, 80, 81, 82, 83, 84, 85, 86, 89, 91, 92, 93,
    94, 95, 97, 98, 100, 103})
NTU60_XVIEW_TRAIN_CAMERAS = frozenset({2, 3})
# Class names A1-A120 as listed in the dataset authors' README (github.com/shahroudy/NTURGB-D, "Action
# Classes"; A1-A60 are NTU-60). Spelling kept as published ("hush (quite)"), curly apostrophes made ASCII.
NTU_CLASS_NAMES: tuple[str, ...] = (
    'drink water', 'eat meal/snack', 'brushing teeth', 'brushing hair', 'drop', 'pickup', 'throw', 'sitting down',
    'standing up (from sitting position)', 'clapping', 'reading', 'writing', 'tear up paper', 'wear jacket',
    'take off jacket', 'wear a shoe', 'take off a shoe', 'wear on glasses', 'take off glasses',
    'put on a hat/cap', 'take off a hat/cap', 'cheer up', 'hand waving', 'kicking something',
    'put something inside pocket / take out something from pocket', 'hopping (one foot jumping)', 'jump up',
    'make a phone call/answer phone', 'playing with phone/tablet', 'typing on a keyboard',
    'pointing to something with finger', 'taking a selfie', 'check time (from watch)', 'rub two hands together',
    'nod head/bow', 'shake head', 'wipe face', 'salute', 'put the palms together',
    'cross hands in front (say stop)', 'sneeze/cough', 'staggering', 'falling', 'touch head (headache)',
    'touch chest (stomachache/heart pain)', 'touch back (backache)', 'touch neck (neckache)',
    'nausea or vomiting condition', 'use a fan (with hand or paper)/feeling warm',
    'punching/slapping other person', 'kicking other person', 'pushing other person',
    'pat on back of other person', 'point finger at the other person', 'hugging other person',
    'giving something to other person', "touch other person's pocket", 'handshaking',
    'walking towards each other', 'walking apart from each other', 'put on headphone', 'take off headphone',
    'shoot at the basket', 'bounce ball', 'tennis bat swing', 'juggling table tennis balls', 'hush (quite)',
    'flick hair', 'thumb up', 'thumb down', 'make ok sign', 'make victory sign', 'staple book', 'counting money',
    'cutting nails', 'cutting paper (using scissors)', 'snapping fingers', 'open bottle', 'sniff (smell)',
    'squat down', 'toss a coin', 'fold paper', 'ball up paper', 'play magic cube', 'apply cream on face',
    'apply cream on hand back', 'put on bag', 'take off bag', 'put something into a bag',
    'take something out of a bag', 'open a box', 'move heavy objects', 'shake fist', 'throw up cap/hat',
    'hands up (both hands)', 'cross arms', 'arm circles', 'arm swings', 'running on the spot',
    'butt kicks (kick backward)', 'cross toe touch', 'side kick', 'yawn', 'stretch oneself', 'blow nose',
    'hit other person with something', 'wield knife towards other person',
    'knock over other person (hit with body)', "grab other person's stuff", 'shoot at other person with a gun',
    'step on foot', 'high-five', 'cheers and drink', 'carry something with other person',
    'take a photo of other person', 'follow other person', "whisper in other person's ear",
    'exchange things with other person', "support somebody with one's hand (someone is sick, help him to walk)",
    'finger-guessing game (playing rock-paper-scissors)',
)
NTU60_CLASSES = 60


def parse_ntu_skeleton(text: str, where: str | Path) -> tuple[int, list[tuple[int, str, int]], np.ndarray]:
    """``(frames, [(frame, bodyID, joint block offset)], values)`` from the text of a ``.skeleton`` file.

    ``values`` is every token as float64; a body's joints are ``values[offset:offset + 300]``.
    """
    tokens = text.split()
    if not tokens:
        raise DataError(where, "empty file")
    try:
        values = np.array(tokens, dtype=np.float64)
    except ValueError:
        bad = next(t for t in tokens if not _is_number(t))
        raise DataError(where, f"non-numeric value {bad[:20]!r}") from None
    if not np.isfinite(values).all():
        raise DataError(where, "contains NaN or infinite values")
    n = len(tokens)
    frames = _int(tokens[0], where, "frame count")
    bodies: list[tuple[int, str, int]] = []
    pos = 1
    block = NUM_JOINTS * _JOINT_VALUES
    for f in range(frames):
        if pos >= n:
            raise DataError(where, f"file ends before frame {f + 1} of {frames} (truncated)")
        count = _int(tokens[pos], where, f"body count of frame {f + 1}")
        pos += 1
        for b in range(count):
            if pos + _BODY_INFO + 1 > n:
                raise DataError(where, f"file ends inside body {b + 1} of frame {f + 1} (truncated)")
            body_id = tokens[pos]
            joints = _int(tokens[pos + _BODY_INFO], where, f"joint count of frame {f + 1}")
            if joints != NUM_JOINTS:
                raise DataError(where, f"frame {f + 1} body {b + 1} has {joints} joints, expected {NUM_JOINTS}")
            start = pos + _BODY_INFO + 1
            if start + block > n:
                raise DataError(where, f"file ends inside the joints of frame {f + 1} (truncated)")
            bodies.append((f, body_id, start))
            pos = start + block
    if pos != n:
        raise DataError(where, f"{n - pos} unexpected values after the last of {frames} frames")
    return frames, bodies, values


def _is_number(t: str) -> bool:
    try:
        float(t)
        return True
    except ValueError:
        return False


def _int(token: str, where: str | Path, what: str) -> int:
    try:
        v = int(token)
    except ValueError:
        raise DataError(where, f"{what} {token!r} is not an integer") from None
    if v < 0:
        raise DataError(where, f"{what} is negative ({v})")
    return v


def read_ntu_file(path: str | Path, *, max_bodies: int = 2, coords: str = "3d") -> Clip:
    """One ``.skeleton`` file as a clip ``[M ≤ max_bodies, T, 25, C]`` (bodies ranked by motion)."""
    path = Path(path)
    m = FILE_PATTERN.match(path.name)
    if m is None:
        raise DataError(path, "file name is not SsssCcccPpppRrrrAaaa.skeleton")
    if coords not in COORDS:
        raise ConfigError(f"NTU coords must be one of {sorted(COORDS)}, not {coords!r}")
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(path, f"cannot be read: {getattr(e, 'strerror', None) or e}") from None
    frames, bodies, values = parse_ntu_skeleton(text, path)
    if frames == 0 or not bodies:
        raise DataError(path, "no skeleton bodies in any frame (missing skeleton)")
    ids = list(dict.fromkeys(b for _, b, _ in bodies))  # in order of appearance
    slot = {b: k for k, b in enumerate(ids)}
    frame_of = np.array([f for f, _, _ in bodies])
    body_of = np.array([slot[b] for _, b, _ in bodies])
    offsets = np.array([s for _, _, s in bodies])
    joints = values[offsets[:, None] + np.arange(NUM_JOINTS * _JOINT_VALUES)].reshape(
        len(bodies), NUM_JOINTS, _JOINT_VALUES)
    if (np.bincount(frame_of * len(ids) + body_of) > 1).any():
        raise DataError(path, "a body ID appears twice in the same frame")
    xyz = np.full((len(ids), frames, NUM_JOINTS, 3), np.nan)
    xyz[body_of, frame_of] = joints[..., :3]
    xyz[(xyz == 0).all(-1)] = np.nan
    with np.errstate(invalid="ignore"), _quiet():
        motion = np.nan_to_num(np.nanvar(xyz, axis=1)).sum(axis=(1, 2))
    keep = np.argsort(-motion, kind="stable")[:max_bodies]
    cols, img_shape = COORDS[coords]
    kp = np.full((len(keep), frames, NUM_JOINTS, len(cols)), np.nan, dtype=np.float32)
    sc = np.zeros((len(keep), frames, NUM_JOINTS), dtype=np.float32)
    rank = np.full(len(ids), -1)
    rank[keep] = np.arange(len(keep))
    sel = rank[body_of] >= 0
    kept = joints[sel]
    missing = (kept[..., :3] == 0).all(-1)  # Kinect writes an untracked joint as 0, 0, 0
    kp[rank[body_of[sel]], frame_of[sel]] = np.where(missing[..., None], np.nan, kept[..., list(cols)])
    sc[rank[body_of[sel]], frame_of[sel]] = np.where(missing, 0.0, kept[..., 11] / 2.0)
    action = int(m.group("action"))
    meta = ClipMeta(
        clip_id=path.name[: -len(".skeleton")], dataset="ntu", label=action - 1,
        label_name=NTU_CLASS_NAMES[action - 1] if action <= len(NTU_CLASS_NAMES) else None,
        subject=str(int(m.group("performer"))), source=str(path), frame_range=(0, frames - 1), fps=FPS,
        layout="ntu25", img_shape=img_shape,
        extra={"setup": int(m.group("setup")), "camera": int(m.group("camera")),
               "replication": int(m.group("rep")), "action_id": action, "bodies_seen": len(ids),
               "coords": coords})
    return Clip(kp, meta, sc)


class _quiet:
    def __enter__(self) -> None:
        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN joints of absent bodies

    def __exit__(self, *exc: object) -> None:
        self._ctx.__exit__(*exc)


def ntu_splits(clips: list[Clip]) -> dict[str, list[str]]:
    """Official protocols: ``xsub`` (NTU-120 list, equal to NTU-60's for performers ≤ 40), ``xview``
    (NTU-60: cameras 2, 3 train) and ``xset`` (NTU-120: even setup ids train); ``train``/``test`` = xsub."""
    out: dict[str, list[str]] = {k: [] for k in (
        "train", "test", "xsub_train", "xsub_test", "xview_train", "xview_test", "xset_train", "xset_test")}
    for c in clips:
        cid, e = c.meta.clip_id, c.meta.extra
        xsub = "train" if int(c.meta.subject or 0) in NTU120_XSUB_TRAIN else "test"
        out[xsub].append(cid)
        out[f"xsub_{xsub}"].append(cid)
        out["xview_train" if e["camera"] in NTU60_XVIEW_TRAIN_CAMERAS else "xview_test"].append(cid)
        out["xset_train" if e["setup"] % 2 == 0 else "xset_test"].append(cid)
    return out


def read_ntu(path: str | Path, *, strict: bool = False, layout: str | None = None, max_bodies: int = 2,
             coords: str = "3d", exclude: str | Path | None = None, progress: bool = True,
             **_: Any) -> SkeletonDataset:
    """Every ``.skeleton`` under ``path`` (recursively). ``exclude`` is a text file of sample names to skip
    (e.g. the official ``NTU_RGBD_samples_with_missing_skeletons.txt``); they are reported as skipped."""
    if layout not in (None, "ntu25"):
        raise DataError(path, f"NTU is in layout ntu25, not {layout!r} (convert afterwards)")
    if max_bodies < 1:
        raise ConfigError(f"max_bodies must be at least 1, got {max_bodies}")
    root = Path(path)
    files = sorted(f for f in root.rglob("*.skeleton") if FILE_PATTERN.match(f.name))
    if not files:
        raise DataError(root, "no NTU SsssCcccPpppRrrrAaaa.skeleton files")
    excluded: set[str] = set()
    if exclude is not None:
        try:
            excluded = set(Path(exclude).read_text(encoding="utf-8").split())
        except OSError as e:
            raise DataError(exclude, f"cannot be read: {e.strerror or e}") from None
    skipped = [Skipped(str(f), f"listed in {Path(str(exclude)).name}") for f in files if f.stem in excluded]
    clips, unreadable = read_each((f for f in files if f.stem not in excluded),
                                  lambda f: read_ntu_file(f, max_bodies=max_bodies, coords=coords),
                                  strict=strict, progress=progress, desc="NTU")
    skipped += unreadable
    # NTU-60 (every action <= A60) gets a 60-way label space, NTU-120 the full one: a head sized for 120
    # classes on NTU-60 would carry 60 never-seen outputs into top-5 and the confusion matrix
    n_classes = NTU60_CLASSES if all(c.meta.label < NTU60_CLASSES for c in clips) else len(NTU_CLASS_NAMES)
    return SkeletonDataset("ntu", "ntu25", clips, list(NTU_CLASS_NAMES[:n_classes]), ntu_splits(clips), skipped)


def _detect(path: Path) -> bool:
    if not path.is_dir():
        return False
    return any(FILE_PATTERN.match(f.name) for f in path.glob("*.skeleton")) or any(
        FILE_PATTERN.match(f.name) for f in path.glob("*/*.skeleton"))


def _register() -> None:
    register_reader("ntu", read_ntu, _detect,
                    "NTU RGB+D 60/120 .skeleton text files (Kinect v2 25 joints, ≤ 2 bodies); xsub/xview/xset")


_register()
