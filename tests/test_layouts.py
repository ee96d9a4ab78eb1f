"""Golden tests for the named-joint layouts: joint counts, centres, bones and mirror pairs derived from names."""

from __future__ import annotations

import numpy as np
import pytest

from microgesture.data.layouts import get_layout, list_layouts
from microgesture.errors import ConfigError

# layout -> (joints, centre, number of left/right pairs)
GOLDEN = {
    "openpose_body25": (25, "Neck", 11),
    "openpose_hand21": (21, "LeftHandWrist", 0),
    "openpose_face70": (70, "FaceChin", 30),
    "openpose_body25_hands": (67, "Neck", 32),
    "openpose_full": (137, "Neck", 62),
    "imigue22": (22, "ShoulderCenter", 10),
    "ntu25": (25, "SpineShoulder", 10),
    "kinect_v1": (20, "ShoulderCenter", 8),
    "msr_action3d": (20, "ShoulderCenter", 8),
    "openni15": (15, "Neck", 6),
    "coco17": (17, "Nose", 8),
    "mediapipe_pose33": (33, "Nose", 16),
    "mediapipe_hand21": (21, "LeftHandWrist", 0),
    "mediapipe_holistic": (75, "Nose", 37),
}


def test_all_layouts_have_golden_entries():
    assert sorted(GOLDEN) == list_layouts()


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_layout_golden(name):
    layout = get_layout(name)
    v, centre, pairs = GOLDEN[name]
    assert layout.num_joints == v
    assert layout.center == centre
    assert len(layout.lr_pairs) == pairs
    # a spanning tree: V-1 bones, every joint reachable from the centre
    assert len(layout.bones) == v - 1
    assert np.isfinite(layout.hop_distance()[layout.center_index]).all()
    # flip permutation is an involution that maps every Left joint to a Right joint
    perm = layout.flip_permutation
    assert (perm[perm] == np.arange(v)).all()
    for a, b in layout.lr_pairs:
        assert layout.joints[a].replace("Left", "Right") == layout.joints[b]
    # the mirrored skeleton has the same bones (the tree is left/right symmetric)
    bones = {frozenset(e) for e in layout.bones}
    mirrored = {frozenset((int(perm[a]), int(perm[b]))) for a, b in layout.bones}
    assert bones == mirrored


def test_imigue22_edges_follow_body_semantics():
    """The authors' published openpose22 graph is mis-indexed; ours must connect nose and fingers correctly."""
    lay = get_layout("imigue22")
    named = {frozenset((lay.joints[a], lay.joints[b])) for a, b in lay.edges}
    expected = [
        ("ShoulderCenter", "Nose"), ("ShoulderCenter", "ShoulderLeft"), ("ShoulderLeft", "ElbowLeft"),
        ("ElbowLeft", "HandLeft"), ("ShoulderCenter", "ShoulderRight"), ("ShoulderRight", "ElbowRight"),
        ("ElbowRight", "HandRight"), ("Nose", "EyeLeft"), ("EyeLeft", "EarLeft"), ("Nose", "EyeRight"),
        ("EyeRight", "EarRight"),
    ] + [("HandLeft", f"LeftFinger{k}") for k in range(1, 6)] + [("HandRight", f"RightFinger{k}") for k in range(1, 6)]
    assert named == {frozenset(e) for e in expected}
    assert lay.joints.index("Nose") == 0 and lay.joints.index("LeftFinger5") == 21


def test_body25_order_matches_openpose():
    lay = get_layout("openpose_body25")
    assert lay.joints[:9] == ("Nose", "Neck", "RightShoulder", "RightElbow", "RightWrist", "LeftShoulder",
                              "LeftElbow", "LeftWrist", "MidHip")
    assert lay.joints[24] == "RightHeel"


def test_face70_mirror_pairs_follow_ibug():
    lay = get_layout("openpose_face70")
    pairs = {frozenset(p) for p in lay.lr_pairs}
    for a, b in [(0, 16), (7, 9), (17, 26), (21, 22), (31, 35), (36, 45), (39, 42), (40, 47), (48, 54),
                 (59, 55), (60, 64), (67, 65), (68, 69)]:
        assert frozenset((a, b)) in pairs, (a, b)
    assert lay.joints[8] == "FaceChin" and lay.joints[33] == "FaceNoseTip"


def test_ntu25_and_kinect_orders():
    ntu = get_layout("ntu25")
    assert ntu.joints[20] == "SpineShoulder" and ntu.joints[3] == "Head" and ntu.joints[24] == "ThumbRight"
    k1, msr = get_layout("kinect_v1"), get_layout("msr_action3d")
    assert set(k1.joints) == set(msr.joints)
    assert msr.joints[19] == "Head" and k1.joints[3] == "Head"


def test_limbs_partition_joints():
    for name in list_layouts():
        lay = get_layout(name)
        groups = lay.limbs()
        flat = sorted(i for v in groups.values() for i in v)
        assert flat == list(range(lay.num_joints)), name
    lay = get_layout("mediapipe_pose33")
    assert lay.index["LeftFootIndex"] in lay.limbs()["left_leg"]
    assert lay.index["LeftIndex"] in lay.limbs()["left_arm"]


def test_unknown_layout_is_a_clear_error():
    with pytest.raises(ConfigError, match="unknown layout 'nope'"):
        get_layout("nope")
