"""The person's body in their own units: named joints of any layout → shoulder-width coordinates.

Why body-relative: a rule such as "the hand is within 0.2 of the chin" only means something once distances
are in the person's own size and directions are the person's own up and left. Here every layout's joints
are looked up by *role* (a shoulder is ``RightShoulder`` in OpenPose and ``ShoulderRight`` in Kinect), the
unit is the shoulder width (a robust rolling median per stream, so zooming cameras and turned frames do not
move it), and coordinates are rotated so axis 0 points to the subject's left and axis 1 up (axis 2, for
3-D data, out of the chest). The head is modelled from whatever the layout has (70 face points, or
nose/eyes/ears, or a single head joint); its size comes from face points where present.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ...data.layouts import Layout
from .signals import fill_gaps, rolling_median, smooth

SIDES = ("Right", "Left")
_FINGER_TOKENS = ("Thumb", "Index", "Middle", "Ring", "Pinky", "Finger", "HandTip", "HandWrist")

# role → candidate joint names, first present wins (Right/Left expanded per side)
_ROLES = {
    "shoulder": ("{s}Shoulder", "Shoulder{s}"),
    "elbow": ("{s}Elbow", "Elbow{s}"),
    "wrist": ("{s}Wrist", "Wrist{s}", "{s}HandWrist", "Hand{s}", "{s}Hand"),
    "hip": ("{s}Hip", "Hip{s}"),
    "eye": ("{s}Eye", "Eye{s}", "FacePupil{s}"),
    "ear": ("{s}Ear", "Ear{s}"),
}
_CENTRE_ROLES = {
    "neck": ("Neck", "ShoulderCenter", "SpineShoulder"),
    "nose": ("Nose", "FaceNoseTip"),
    "head": ("Head",),
    "mid_hip": ("MidHip", "HipCenter", "SpineBase"),
    "chin": ("FaceChin",),
}


def side_token(name: str) -> str | None:
    """``Right`` / ``Left`` if the joint name carries a side (and is not a face point), else None."""
    if name.startswith("Face"):
        return None
    for s in SIDES:
        if name.startswith(s) or name.endswith(s):
            return s
    return None


@dataclass(frozen=True)
class JointMap:
    """Which joints of a layout play which role; ``None`` where the layout has no such joint."""

    layout: str
    names: dict[str, str | None]  # role key ('Right.wrist', 'neck', ...) -> joint name
    hands: dict[str, tuple[str, ...]]  # side -> hand points (wrist + fingers), may be empty
    face: tuple[str, ...]  # Face* points
    brows: tuple[str, ...]
    jaw: tuple[str, ...]
    lips_outer: tuple[str, str] | None  # (top, bottom) outer lip
    lips_inner: tuple[str, str] | None

    @classmethod
    def of(cls, layout: Layout) -> JointMap:
        idx = layout.index
        names: dict[str, str | None] = {}
        for s in SIDES:
            for role, cands in _ROLES.items():
                names[f"{s}.{role}"] = next((c.format(s=s) for c in cands if c.format(s=s) in idx), None)
        for role, cands in _CENTRE_ROLES.items():
            names[role] = next((c for c in cands if c in idx), None)
        hands = {}
        for s in SIDES:
            pts = [j for j in layout.joints if side_token(j) == s and any(t in j for t in _FINGER_TOKENS)]
            w = names[f"{s}.wrist"]
            hand_centre = f"Hand{s}" if f"Hand{s}" in idx and f"Wrist{s}" in idx else None  # Kinect hand
            hands[s] = tuple(dict.fromkeys([p for p in (w, hand_centre) if p] + pts))
        face = tuple(j for j in layout.joints if j.startswith("Face"))
        brows = tuple(j for j in face if j.startswith("FaceBrow"))
        jaw = tuple(j for j in face if j.startswith("FaceJaw") or j == "FaceChin")
        lo = ("FaceLipOuterTop", "FaceLipOuterBottom")
        li = ("FaceLipInnerTop", "FaceLipInnerBottom")
        return cls(layout.name, names, hands, face, brows, jaw,
                   lo if all(n in idx for n in lo) else None, li if all(n in idx for n in li) else None)

    def get(self, role: str) -> str | None:
        return self.names.get(role)


@dataclass
class Body:
    """One person's stream in body units. ``pos(name)`` → ``[T, C]`` (NaN = missing) in shoulder widths."""

    layout: Layout
    jm: JointMap
    fps: float
    coords: np.ndarray  # [T, V, C] body axes (0: subject's left, 1: up, 2: forward), shoulder widths
    raw_present: np.ndarray  # [T, V] observed in the input (before gap filling)
    scale: np.ndarray  # [T] shoulder width in input units
    head_size: float  # brow-to-chin height in shoulder widths (face points) or the default ratio
    head_size_source: str
    notes: list[str] = field(default_factory=list)

    @property
    def num_frames(self) -> int:
        return self.coords.shape[0]

    def pos(self, name: str | None) -> np.ndarray:
        if name is None:
            return np.full((self.num_frames, self.coords.shape[2]), np.nan, np.float32)
        return self.coords[:, self.layout.index[name]]

    def pts(self, names: tuple[str, ...] | list[str]) -> np.ndarray:
        """``[T, P, C]`` for several joints (P may be 0)."""
        if not names:
            return np.full((self.num_frames, 0, self.coords.shape[2]), np.nan, np.float32)
        return self.coords[:, [self.layout.index[n] for n in names]]

    def role(self, role: str) -> np.ndarray:
        return self.pos(self.jm.get(role))

    def presence(self, name: str | None) -> float:
        """Fraction of frames in which joint ``name`` was observed (0 if the layout lacks it)."""
        if name is None:
            return 0.0
        return float(self.raw_present[:, self.layout.index[name]].mean()) if self.num_frames else 0.0

    @property
    def shoulder_centre(self) -> np.ndarray:
        c = 0.5 * (self.role("Right.shoulder") + self.role("Left.shoulder"))
        neck = self.role("neck") if self.jm.get("neck") in ("Neck", "ShoulderCenter", "SpineShoulder") else c
        return np.where(np.isfinite(c), c, neck)

    def eye_centre(self) -> np.ndarray:
        """Mid-eye point per frame; falls back to the nose (lifted by 0.42 head sizes) or the head joint."""
        eyes = np.stack([self.role("Right.eye"), self.role("Left.eye")], axis=1)
        with np.errstate(invalid="ignore"), _quiet():
            e = np.nanmean(eyes, axis=1)
        nose = self.role("nose").copy()
        nose[:, 1] += 0.42 * self.head_size
        e = np.where(np.isfinite(e), e, nose)
        return np.where(np.isfinite(e), e, self.role("head"))


class _quiet:
    def __enter__(self):
        import warnings

        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore", category=RuntimeWarning)

    def __exit__(self, *a):
        return self._w.__exit__(*a)


def _unit(v: np.ndarray) -> np.ndarray | None:
    n = float(np.linalg.norm(v))
    return v / n if np.isfinite(n) and n > 1e-9 else None


def body_axes(kp: np.ndarray, jm: JointMap, layout: Layout) -> tuple[np.ndarray, str]:
    """``[C, C]`` rotation whose rows are the subject's left, up (and forward) in input coordinates.

    Left is the median right→left shoulder direction; up is the median direction from the shoulders to
    the head (or away from the hips), made orthogonal to left. Without either, image conventions are
    assumed (2-D: y grows downwards; 3-D: y up) and the returned note says so.
    """
    c = kp.shape[-1]
    ix = layout.index
    note = ""

    def med(name: str | None) -> np.ndarray:
        if name is None:
            return np.full((kp.shape[0], c), np.nan)
        return kp[:, ix[name]].astype(np.float64)

    rs, ls = med(jm.get("Right.shoulder")), med(jm.get("Left.shoulder"))
    with _quiet():
        left = _unit(np.nanmedian(ls - rs, axis=0))
        centre = 0.5 * (rs + ls)
        head_names = [jm.get(r) for r in ("nose", "head", "Right.eye", "Left.eye", "Right.ear", "Left.ear")]
        head = np.nanmean(np.stack([med(n) for n in head_names if n], 1), axis=1) if any(head_names) else None
        up = _unit(np.nanmedian(head - centre, axis=0)) if head is not None else None
        if up is None and (jm.get("mid_hip") or jm.get("Right.hip")):
            hip = med(jm.get("mid_hip") or jm.get("Right.hip"))
            up = _unit(-np.nanmedian(hip - centre, axis=0))
    default_up = np.array([0.0, -1.0] if c == 2 else [0.0, 1.0, 0.0])
    if left is None:
        left = np.eye(c)[0]
        note = "no shoulders: image x taken as the subject's left"
    if up is None:
        up = default_up
        note = note or "no head or hips: image conventions taken for 'up'"
    up = _unit(up - left * float(up @ left))
    if up is None:
        up = default_up
    if c == 2:
        return np.stack([left, up]).astype(np.float32), note
    fwd = np.cross(left, up)
    return np.stack([left, up, fwd]).astype(np.float32), note


def build_body(kp: np.ndarray, layout: Layout, fps: float, cfg) -> Body | str:
    """``kp [T, V, C]`` of one person → :class:`Body`, or a reason string when no body frame exists."""
    jm = JointMap.of(layout)
    present = np.isfinite(kp).all(axis=-1)
    rs_n, ls_n = jm.get("Right.shoulder"), jm.get("Left.shoulder")
    if rs_n is None or ls_n is None:
        return f"layout {layout.name} has no shoulder joints: no body scale"
    ix = layout.index
    sw_raw = np.linalg.norm(kp[:, ix[rs_n]] - kp[:, ix[ls_n]], axis=-1)
    if not np.isfinite(sw_raw).any():
        return "the shoulders are never observed: no body scale"
    with _quiet():
        glob = float(np.nanmedian(sw_raw))
    if not glob > 0:
        return "the shoulders coincide: no body scale"
    window = max(3, int(round(cfg.scale_window_s * fps)))
    # frames where the person is turned (shoulders foreshortened) do not set the unit
    sw = np.where(sw_raw > cfg.min_shoulder_ratio * glob, sw_raw, np.nan)
    scale = rolling_median(sw, window)
    scale = np.where(np.isfinite(scale), scale, glob).astype(np.float32)
    axes, note = body_axes(kp, jm, layout)
    centre = 0.5 * (kp[:, ix[rs_n]] + kp[:, ix[ls_n]])
    with _quiet():
        origin = np.nanmedian(centre, axis=0)
    rot = np.einsum("tvc,dc->tvd", kp - origin, axes) / scale[:, None, None]
    gap = max(0, int(round(cfg.max_gap_s * fps)))
    coords = fill_gaps(rot.astype(np.float32), gap)
    smooth_frames = max(1, int(round(cfg.smooth_s * fps)))
    if smooth_frames > 1:
        coords = smooth(coords, smooth_frames)
    body = Body(layout, jm, fps, coords, present, scale, float(cfg.default_head_size), "default ratio")
    if note:
        body.notes.append(note)
    if jm.brows and jm.get("chin"):
        with _quiet():
            brow = np.nanmean(body.pts(jm.brows)[..., 1], axis=1)
            hs = float(np.nanmedian(brow - body.pos(jm.get("chin"))[:, 1]))
        if np.isfinite(hs) and 0.1 < hs < 1.0:
            body.head_size, body.head_size_source = hs, "face points (brow to chin)"
    return body
