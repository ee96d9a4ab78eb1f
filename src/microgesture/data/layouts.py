"""Skeleton layouts as *named* joints; bones, centre and left/right pairs are derived from the names.

Why names: the field's worst silent bugs are index tables that drift from the data (the iMiGUE
``openpose22`` graph published 1-based pairs on 0-based nodes; COCO flip pairs were applied to 22-joint
data). Here a layout is the joint order plus a parent *by name* for every non-root joint; the edge list,
bone pairs and flip permutation are computed from those names and checked by golden tests.
Left/right always mean the *subject's* left/right, and names carry a ``Left``/``Right`` token so the
mirror partner is found by swapping it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from scipy.sparse.csgraph import shortest_path

from ..errors import ConfigError


@dataclass(frozen=True)
class Layout:
    name: str
    joints: tuple[str, ...]
    parents: dict[str, str]  # child -> parent, a tree over all joints rooted at ``center``
    center: str
    dims: tuple[int, ...] = (2, 3)  # coordinate counts this layout's sources provide
    description: str = ""
    extra_edges: tuple[tuple[str, str], ...] = field(default=())  # non-tree edges for the graph only

    def __post_init__(self) -> None:
        names = set(self.joints)
        if len(names) != len(self.joints):
            dup = sorted({j for j in self.joints if self.joints.count(j) > 1})
            raise ConfigError(f"layout {self.name}: duplicate joint names {dup}")
        if self.center not in names:
            raise ConfigError(f"layout {self.name}: centre {self.center!r} is not a joint")
        for child, parent in self.parents.items():
            if child not in names or parent not in names:
                raise ConfigError(f"layout {self.name}: bone {child}->{parent} names an unknown joint")
        unparented = names - set(self.parents) - {self.center}
        if unparented:
            raise ConfigError(f"layout {self.name}: joints without a parent {sorted(unparented)}")
        if self.center in self.parents:
            raise ConfigError(f"layout {self.name}: the centre joint must be the root")
        for j in self.joints:  # every joint must reach the root (no cycles)
            seen, cur = set(), j
            while cur != self.center:
                if cur in seen:
                    raise ConfigError(f"layout {self.name}: cycle through {cur}")
                seen.add(cur)
                cur = self.parents[cur]

    # -- derived structure ---------------------------------------------------------------------
    @property
    def num_joints(self) -> int:
        return len(self.joints)

    @cached_property
    def index(self) -> dict[str, int]:
        return {n: i for i, n in enumerate(self.joints)}

    @property
    def center_index(self) -> int:
        return self.index[self.center]

    @cached_property
    def bones(self) -> tuple[tuple[int, int], ...]:
        """(child, parent) index pairs in joint order: the tree the bone stream is computed on."""
        return tuple((self.index[c], self.index[self.parents[c]]) for c in self.joints if c in self.parents)

    @cached_property
    def edges(self) -> tuple[tuple[int, int], ...]:
        """Undirected graph edges (tree bones plus any extra edges), as index pairs."""
        extra = tuple((self.index[a], self.index[b]) for a, b in self.extra_edges)
        return self.bones + extra

    @cached_property
    def parent_index(self) -> np.ndarray:
        """``[V]`` parent index per joint; the root is its own parent (its bone is zero)."""
        p = np.arange(self.num_joints)
        for c, par in self.bones:
            p[c] = par
        return p

    @cached_property
    def lr_pairs(self) -> tuple[tuple[int, int], ...]:
        """Left/right mirror pairs found by swapping the ``Left``/``Right`` token in joint names."""
        pairs = []
        for name in self.joints:
            if "Left" in name:
                partner = name.replace("Left", "Right")
                if partner in self.index:
                    pairs.append((self.index[name], self.index[partner]))
        return tuple(pairs)

    @cached_property
    def flip_permutation(self) -> np.ndarray:
        """``[V]`` index permutation that swaps every left joint with its right partner."""
        perm = np.arange(self.num_joints)
        for a, b in self.lr_pairs:
            perm[a], perm[b] = b, a
        return perm

    def adjacency(self, self_loops: bool = False) -> np.ndarray:
        a = np.zeros((self.num_joints, self.num_joints), dtype=np.float32)
        for i, j in self.edges:
            a[i, j] = a[j, i] = 1.0
        if self_loops:
            a += np.eye(self.num_joints, dtype=np.float32)
        return a

    def hop_distance(self) -> np.ndarray:
        """Graph hop distance between all joint pairs (inf where unreachable)."""

        return shortest_path(self.adjacency(), unweighted=True, directed=False)

    def depth(self) -> np.ndarray:
        """Hops from the centre joint, per joint (used for ST-GCN's spatial partition)."""
        return self.hop_distance()[self.center_index]

    def joint_indices(self, names: list[str] | tuple[str, ...]) -> list[int]:
        missing = [n for n in names if n not in self.index]
        if missing:
            raise ConfigError(f"layout {self.name} has no joints {missing}")
        return [self.index[n] for n in names]

    def limbs(self) -> dict[str, list[int]]:
        """Body parts by name token, for body-part-local augmentations and reports."""
        groups = {
            "left_arm": ("Left", ("Shoulder", "Elbow", "Wrist", "Hand", "Finger", "Thumb", "Index",
                                  "Middle", "Ring", "Pinky")),
            "right_arm": ("Right", ("Shoulder", "Elbow", "Wrist", "Hand", "Finger", "Thumb", "Index",
                                    "Middle", "Ring", "Pinky")),
            "left_leg": ("Left", ("Hip", "Knee", "Ankle", "Foot", "Heel", "Toe")),
            "right_leg": ("Right", ("Hip", "Knee", "Ankle", "Foot", "Heel", "Toe")),
        }
        out: dict[str, list[int]] = {}
        for part, (side, tokens) in groups.items():
            leg_tokens = groups["left_leg"][1]
            idx = [
                i for i, n in enumerate(self.joints)
                if side in n and any(t in n for t in tokens) and not n.startswith("Face")
                and (part.endswith("leg") or not any(t in n for t in leg_tokens))
            ]
            if idx:
                out[part] = idx
        used = {i for v in out.values() for i in v}
        head = [i for i in range(self.num_joints) if i not in used]
        if head:
            out["head_torso"] = head
        return out


# ---------------------------------------------------------------------------------------------
# Registry
_LAYOUTS: dict[str, Layout] = {}


def register_layout(layout: Layout) -> Layout:
    _LAYOUTS[layout.name] = layout
    return layout


def get_layout(name: str) -> Layout:
    try:
        return _LAYOUTS[name]
    except KeyError:
        raise ConfigError(f"unknown layout {name!r}; known: {', '.join(sorted(_LAYOUTS))}") from None


def list_layouts() -> list[str]:
    return sorted(_LAYOUTS)


def _chain(*names: str) -> dict[str, str]:
    """Parents along a chain: each name's parent is the one before it."""
    return {names[i]: names[i - 1] for i in range(1, len(names))}


# ---------------------------------------------------------------------------------------------
# Hands (OpenPose and MediaPipe share the 21-point hand model)
_FINGERS = ("Thumb", "Index", "Middle", "Ring", "Pinky")
_FINGER_PARTS = {
    "Thumb": ("CMC", "MCP", "IP", "Tip"),
    "Index": ("MCP", "PIP", "DIP", "Tip"),
    "Middle": ("MCP", "PIP", "DIP", "Tip"),
    "Ring": ("MCP", "PIP", "DIP", "Tip"),
    "Pinky": ("MCP", "PIP", "DIP", "Tip"),
}


def hand_joints(side: str) -> tuple[str, ...]:
    """21 hand keypoints: wrist, then 4 per finger from thumb to pinky (base to tip)."""
    names = [f"{side}HandWrist"]
    for f in _FINGERS:
        names += [f"{side}{f}{p}" for p in _FINGER_PARTS[f]]
    return tuple(names)


def hand_parents(side: str, root: str | None = None) -> dict[str, str]:
    wrist = f"{side}HandWrist"
    parents: dict[str, str] = {}
    if root is not None:
        parents[wrist] = root
    for f in _FINGERS:
        chain = [wrist] + [f"{side}{f}{p}" for p in _FINGER_PARTS[f]]
        parents.update(_chain(*chain))
    return parents


# ---------------------------------------------------------------------------------------------
# OpenPose BODY_25 (subject's left = "L" in OpenPose's own names)
BODY25_JOINTS = (
    "Nose", "Neck", "RightShoulder", "RightElbow", "RightWrist", "LeftShoulder", "LeftElbow",
    "LeftWrist", "MidHip", "RightHip", "RightKnee", "RightAnkle", "LeftHip", "LeftKnee", "LeftAnkle",
    "RightEye", "LeftEye", "RightEar", "LeftEar", "LeftBigToe", "LeftSmallToe", "LeftHeel",
    "RightBigToe", "RightSmallToe", "RightHeel",
)
BODY25_PARENTS = {
    "Nose": "Neck", "RightShoulder": "Neck", "RightElbow": "RightShoulder", "RightWrist": "RightElbow",
    "LeftShoulder": "Neck", "LeftElbow": "LeftShoulder", "LeftWrist": "LeftElbow", "MidHip": "Neck",
    "RightHip": "MidHip", "RightKnee": "RightHip", "RightAnkle": "RightKnee", "LeftHip": "MidHip",
    "LeftKnee": "LeftHip", "LeftAnkle": "LeftKnee", "RightEye": "Nose", "LeftEye": "Nose",
    "RightEar": "RightEye", "LeftEar": "LeftEye", "LeftBigToe": "LeftAnkle",
    "LeftSmallToe": "LeftBigToe", "LeftHeel": "LeftAnkle", "RightBigToe": "RightAnkle",
    "RightSmallToe": "RightBigToe", "RightHeel": "RightAnkle",
}


def _face70() -> tuple[tuple[str, ...], dict[str, str]]:
    """OpenPose's 70-point face (68 iBUG points + 2 pupils), named so mirror partners swap Left/Right.

    Order follows OpenPose: jaw 0-16 (subject's right to left), right brow 17-21, left brow 22-26,
    nose bridge 27-30, lower nose 31-35, right eye 36-41, left eye 42-47, outer lip 48-59,
    inner lip 60-67, right pupil 68, left pupil 69. Mirror pairs follow the iBUG convention.
    """
    n: list[str] = [""] * 70
    for k in range(8):  # jaw: 0..7 right (outer->inner), 8 chin, 9..16 left (inner->outer)
        n[k] = f"FaceJawRight{8 - k}"
        n[16 - k] = f"FaceJawLeft{8 - k}"
    n[8] = "FaceChin"
    for k in range(5):  # brows: 17..21 right outer->inner; 26..22 left outer->inner
        n[17 + k] = f"FaceBrowRight{k + 1}"
        n[26 - k] = f"FaceBrowLeft{k + 1}"
    for k in range(4):
        n[27 + k] = f"FaceNoseBridge{k + 1}"
    n[31], n[32], n[33], n[34], n[35] = (
        "FaceNostrilRight2", "FaceNostrilRight1", "FaceNoseTip", "FaceNostrilLeft1", "FaceNostrilLeft2")
    right_eye = range(36, 42)
    left_eye_mirror = (45, 44, 43, 42, 47, 46)  # iBUG mirror of 36..41
    for k, (r, left) in enumerate(zip(right_eye, left_eye_mirror, strict=True)):
        n[r] = f"FaceEyeRight{k + 1}"
        n[left] = f"FaceEyeLeft{k + 1}"
    outer_mirror = {48: 54, 49: 53, 50: 52, 59: 55, 58: 56}
    for k, (r, left) in enumerate(outer_mirror.items()):
        n[r] = f"FaceLipOuterRight{k + 1}"
        n[left] = f"FaceLipOuterLeft{k + 1}"
    n[51], n[57] = "FaceLipOuterTop", "FaceLipOuterBottom"
    inner_mirror = {60: 64, 61: 63, 67: 65}
    for k, (r, left) in enumerate(inner_mirror.items()):
        n[r] = f"FaceLipInnerRight{k + 1}"
        n[left] = f"FaceLipInnerLeft{k + 1}"
    n[62], n[66] = "FaceLipInnerTop", "FaceLipInnerBottom"
    n[68], n[69] = "FacePupilRight", "FacePupilLeft"
    assert all(n) and len(set(n)) == 70
    par: dict[str, str] = {}
    par.update(_chain(*[n[i] for i in range(8, -1, -1)]))  # chin -> right jaw outward
    par.update(_chain(*[n[i] for i in range(8, 17)]))  # chin -> left jaw outward
    par[n[27]] = n[8]  # nose bridge top hangs off the chin so the face is one tree rooted at the chin
    par.update(_chain(*[n[i] for i in range(27, 31)]))
    par[n[33]] = n[30]
    par.update({n[32]: n[33], n[31]: n[32], n[34]: n[33], n[35]: n[34]})
    par[n[21]] = n[27]
    par.update(_chain(*[n[i] for i in range(21, 16, -1)]))
    par[n[22]] = n[27]
    par.update(_chain(*[n[i] for i in range(22, 27)]))
    par[n[39]] = n[27]
    par.update({n[38]: n[39], n[37]: n[38], n[36]: n[37], n[40]: n[39], n[41]: n[40], n[68]: n[39]})
    par[n[42]] = n[27]
    par.update({n[43]: n[42], n[44]: n[43], n[45]: n[44], n[47]: n[42], n[46]: n[47], n[69]: n[42]})
    par[n[51]] = n[33]
    par.update({n[50]: n[51], n[49]: n[50], n[48]: n[49], n[52]: n[51], n[53]: n[52], n[54]: n[53]})
    par[n[57]] = n[8]  # lower lip hangs off the chin: keeps the tree mirror-symmetric
    par.update({n[58]: n[57], n[59]: n[58], n[56]: n[57], n[55]: n[56]})
    par[n[62]] = n[51]
    par.update({n[61]: n[62], n[60]: n[61], n[63]: n[62], n[64]: n[63]})
    par[n[66]] = n[57]
    par.update({n[67]: n[66], n[65]: n[66]})
    return tuple(n), par


FACE70_JOINTS, FACE70_PARENTS = _face70()

register_layout(Layout(
    "openpose_body25", BODY25_JOINTS, BODY25_PARENTS, center="Neck", dims=(2,),
    description="OpenPose BODY_25 body model (pose_keypoints_2d)."))
register_layout(Layout(
    "openpose_hand21", hand_joints("Left"), hand_parents("Left"), center="LeftHandWrist", dims=(2,),
    description="OpenPose/MediaPipe 21-point hand (one hand; named as the left hand)."))
register_layout(Layout(
    "openpose_face70", FACE70_JOINTS, FACE70_PARENTS, center="FaceChin", dims=(2,),
    description="OpenPose 70-point face (68 iBUG landmarks + pupils)."))
register_layout(Layout(
    "openpose_body25_hands",
    BODY25_JOINTS + hand_joints("Left") + hand_joints("Right"),
    {**BODY25_PARENTS, **hand_parents("Left", "LeftWrist"), **hand_parents("Right", "RightWrist")},
    center="Neck", dims=(2,),
    description="BODY_25 followed by the left and right 21-point hands (67 joints)."))
register_layout(Layout(
    "openpose_full",
    BODY25_JOINTS + hand_joints("Left") + hand_joints("Right") + FACE70_JOINTS,
    {**BODY25_PARENTS, **hand_parents("Left", "LeftWrist"), **hand_parents("Right", "RightWrist"),
     **FACE70_PARENTS, "FaceChin": "Nose"},
    center="Neck", dims=(2,),
    description="Everything OpenPose writes: BODY_25 + left hand + right hand + face (137 joints)."))

# iMiGUE 22-joint upper-body selection, in the dataset authors' order. Edges from body semantics.
IMIGUE22_JOINTS = (
    "Nose", "ShoulderCenter", "ShoulderLeft", "ElbowLeft", "HandLeft", "ShoulderRight", "ElbowRight",
    "HandRight", "EyeLeft", "EyeRight", "EarLeft", "EarRight",
    "RightFinger1", "RightFinger2", "RightFinger3", "RightFinger4", "RightFinger5",
    "LeftFinger1", "LeftFinger2", "LeftFinger3", "LeftFinger4", "LeftFinger5",
)
register_layout(Layout(
    "imigue22", IMIGUE22_JOINTS,
    {
        "Nose": "ShoulderCenter", "ShoulderLeft": "ShoulderCenter", "ElbowLeft": "ShoulderLeft",
        "HandLeft": "ElbowLeft", "ShoulderRight": "ShoulderCenter", "ElbowRight": "ShoulderRight",
        "HandRight": "ElbowRight", "EyeLeft": "Nose", "EarLeft": "EyeLeft", "EyeRight": "Nose",
        "EarRight": "EyeRight",
        **{f"LeftFinger{k}": "HandLeft" for k in range(1, 6)},
        **{f"RightFinger{k}": "HandRight" for k in range(1, 6)},
    },
    center="ShoulderCenter", dims=(2, 3),
    description="iMiGUE 22 upper-body joints (body + 5 fingertips per hand); channels x, y[, conf]."))

# Kinect v2 / NTU RGB+D 25 (0-based Kinect SDK v2 order)
NTU25_JOINTS = (
    "SpineBase", "SpineMid", "Neck", "Head", "ShoulderLeft", "ElbowLeft", "WristLeft", "HandLeft",
    "ShoulderRight", "ElbowRight", "WristRight", "HandRight", "HipLeft", "KneeLeft", "AnkleLeft",
    "FootLeft", "HipRight", "KneeRight", "AnkleRight", "FootRight", "SpineShoulder", "HandTipLeft",
    "ThumbLeft", "HandTipRight", "ThumbRight",
)
register_layout(Layout(
    "ntu25", NTU25_JOINTS,
    {
        "SpineBase": "SpineMid", "SpineMid": "SpineShoulder", "Neck": "SpineShoulder", "Head": "Neck",
        "ShoulderLeft": "SpineShoulder", "ElbowLeft": "ShoulderLeft", "WristLeft": "ElbowLeft",
        "HandLeft": "WristLeft", "HandTipLeft": "HandLeft", "ThumbLeft": "HandLeft",
        "ShoulderRight": "SpineShoulder", "ElbowRight": "ShoulderRight", "WristRight": "ElbowRight",
        "HandRight": "WristRight", "HandTipRight": "HandRight", "ThumbRight": "HandRight",
        "HipLeft": "SpineBase", "KneeLeft": "HipLeft", "AnkleLeft": "KneeLeft", "FootLeft": "AnkleLeft",
        "HipRight": "SpineBase", "KneeRight": "HipRight", "AnkleRight": "KneeRight",
        "FootRight": "AnkleRight",
    },
    center="SpineShoulder", dims=(3, 2),
    description="Kinect v2 25 joints (NTU RGB+D 60/120, SMG)."))

# Kinect v1 20 (Kinect SDK v1 order, as in NW-UCLA); MSR Action3D uses the same joints in its own order.
KINECT1_PARENTS = {
    "HipCenter": "Spine", "Spine": "ShoulderCenter", "Head": "ShoulderCenter",
    "ShoulderLeft": "ShoulderCenter", "ElbowLeft": "ShoulderLeft", "WristLeft": "ElbowLeft",
    "HandLeft": "WristLeft", "ShoulderRight": "ShoulderCenter", "ElbowRight": "ShoulderRight",
    "WristRight": "ElbowRight", "HandRight": "WristRight", "HipLeft": "HipCenter", "KneeLeft": "HipLeft",
    "AnkleLeft": "KneeLeft", "FootLeft": "AnkleLeft", "HipRight": "HipCenter", "KneeRight": "HipRight",
    "AnkleRight": "KneeRight", "FootRight": "AnkleRight",
}
register_layout(Layout(
    "kinect_v1", (
        "HipCenter", "Spine", "ShoulderCenter", "Head", "ShoulderLeft", "ElbowLeft", "WristLeft",
        "HandLeft", "ShoulderRight", "ElbowRight", "WristRight", "HandRight", "HipLeft", "KneeLeft",
        "AnkleLeft", "FootLeft", "HipRight", "KneeRight", "AnkleRight", "FootRight",
    ),
    KINECT1_PARENTS, center="ShoulderCenter", dims=(3,),
    description="Kinect v1 20 joints in SDK order (NW-UCLA)."))
register_layout(Layout(
    "msr_action3d", (
        "ShoulderLeft", "ShoulderRight", "ShoulderCenter", "Spine", "HipLeft", "HipRight", "HipCenter",
        "ElbowLeft", "ElbowRight", "WristLeft", "WristRight", "HandLeft", "HandRight", "KneeLeft",
        "KneeRight", "AnkleLeft", "AnkleRight", "FootLeft", "FootRight", "Head",
    ),
    KINECT1_PARENTS, center="ShoulderCenter", dims=(3,),
    description="Kinect v1 20 joints in MSR Action3D file order."))

# OpenNI/NiTE 15 (KARD)
register_layout(Layout(
    "openni15", (
        "Head", "Neck", "RightShoulder", "RightElbow", "RightHand", "LeftShoulder", "LeftElbow",
        "LeftHand", "Torso", "RightHip", "RightKnee", "RightFoot", "LeftHip", "LeftKnee", "LeftFoot",
    ),
    {
        "Head": "Neck", "RightShoulder": "Neck", "RightElbow": "RightShoulder", "RightHand": "RightElbow",
        "LeftShoulder": "Neck", "LeftElbow": "LeftShoulder", "LeftHand": "LeftElbow", "Torso": "Neck",
        "RightHip": "Torso", "RightKnee": "RightHip", "RightFoot": "RightKnee", "LeftHip": "Torso",
        "LeftKnee": "LeftHip", "LeftFoot": "LeftKnee",
    },
    center="Neck", dims=(3, 2),
    description="OpenNI/NiTE 15 joints (KARD; 3-D real-world or 2-D screen)."))

# COCO-17
_COCO = (
    "Nose", "LeftEye", "RightEye", "LeftEar", "RightEar", "LeftShoulder", "RightShoulder", "LeftElbow",
    "RightElbow", "LeftWrist", "RightWrist", "LeftHip", "RightHip", "LeftKnee", "RightKnee",
    "LeftAnkle", "RightAnkle",
)
register_layout(Layout(
    "coco17", _COCO,
    {
        "LeftEye": "Nose", "RightEye": "Nose", "LeftEar": "LeftEye", "RightEar": "RightEye",
        "LeftShoulder": "Nose", "RightShoulder": "Nose", "LeftElbow": "LeftShoulder",
        "RightElbow": "RightShoulder", "LeftWrist": "LeftElbow", "RightWrist": "RightElbow",
        "LeftHip": "LeftShoulder", "RightHip": "RightShoulder", "LeftKnee": "LeftHip",
        "RightKnee": "RightHip", "LeftAnkle": "LeftKnee", "RightAnkle": "RightKnee",
    },
    center="Nose", dims=(2,),
    description="COCO 17 keypoints (PYSKL 'coco' graph; centre = nose)."))

# MediaPipe pose 33 (BlazePose)
MP_POSE_JOINTS = (
    "Nose", "LeftEyeInner", "LeftEye", "LeftEyeOuter", "RightEyeInner", "RightEye", "RightEyeOuter",
    "LeftEar", "RightEar", "MouthLeft", "MouthRight", "LeftShoulder", "RightShoulder", "LeftElbow",
    "RightElbow", "LeftWrist", "RightWrist", "LeftPinky", "RightPinky", "LeftIndex", "RightIndex",
    "LeftThumb", "RightThumb", "LeftHip", "RightHip", "LeftKnee", "RightKnee", "LeftAnkle",
    "RightAnkle", "LeftHeel", "RightHeel", "LeftFootIndex", "RightFootIndex",
)
MP_POSE_PARENTS = {
    "LeftEyeInner": "Nose", "LeftEye": "LeftEyeInner", "LeftEyeOuter": "LeftEye", "LeftEar": "LeftEyeOuter",
    "RightEyeInner": "Nose", "RightEye": "RightEyeInner", "RightEyeOuter": "RightEye",
    "RightEar": "RightEyeOuter", "MouthLeft": "Nose", "MouthRight": "Nose",
    "LeftShoulder": "Nose", "RightShoulder": "Nose", "LeftElbow": "LeftShoulder",
    "RightElbow": "RightShoulder", "LeftWrist": "LeftElbow", "RightWrist": "RightElbow",
    "LeftPinky": "LeftWrist", "RightPinky": "RightWrist", "LeftIndex": "LeftWrist",
    "RightIndex": "RightWrist", "LeftThumb": "LeftWrist", "RightThumb": "RightWrist",
    "LeftHip": "LeftShoulder", "RightHip": "RightShoulder", "LeftKnee": "LeftHip", "RightKnee": "RightHip",
    "LeftAnkle": "LeftKnee", "RightAnkle": "RightKnee", "LeftHeel": "LeftAnkle", "RightHeel": "RightAnkle",
    "LeftFootIndex": "LeftHeel", "RightFootIndex": "RightHeel",
}
register_layout(Layout(
    "mediapipe_pose33", MP_POSE_JOINTS, MP_POSE_PARENTS, center="Nose", dims=(2, 3),
    description="MediaPipe BlazePose 33 landmarks (normalised image x, y; relative z).",
    extra_edges=(("LeftShoulder", "RightShoulder"), ("LeftHip", "RightHip"))))
register_layout(Layout(
    "mediapipe_hand21", hand_joints("Left"), hand_parents("Left"), center="LeftHandWrist", dims=(2, 3),
    description="MediaPipe 21 hand landmarks (one hand; named as the left hand)."))
register_layout(Layout(
    "mediapipe_holistic",
    MP_POSE_JOINTS + hand_joints("Left") + hand_joints("Right"),
    {**MP_POSE_PARENTS, **hand_parents("Left", "LeftWrist"), **hand_parents("Right", "RightWrist")},
    center="Nose", dims=(2, 3),
    description="MediaPipe pose 33 followed by the left and right 21-point hands (75 joints)."))
