"""Layout conversion by joint name, and the Clip invariants."""

from __future__ import annotations

import numpy as np
import pytest

from microgesture.data.clip import Clip, ClipMeta, zeros_to_nan
from microgesture.data.convert import convert_clip, convert_keypoints, list_conversions
from microgesture.data.layouts import get_layout
from microgesture.errors import ConfigError, DataError


def _random(layout: str, t: int = 5, c: int = 2, seed: int = 0) -> np.ndarray:
    v = get_layout(layout).num_joints
    return np.random.default_rng(seed).normal(size=(1, t, v, c)).astype(np.float32)


def test_openpose_to_imigue_picks_named_joints():
    src = get_layout("openpose_full")
    kp = _random("openpose_full")
    out, _ = convert_keypoints(kp, "openpose_full", "imigue22")
    dst = get_layout("imigue22")
    assert out.shape == (1, 5, 22, 2)
    np.testing.assert_array_equal(out[..., dst.index["ShoulderCenter"], :], kp[..., src.index["Neck"], :])
    np.testing.assert_array_equal(out[..., dst.index["HandLeft"], :], kp[..., src.index["LeftWrist"], :])
    np.testing.assert_array_equal(out[..., dst.index["RightFinger2"], :], kp[..., src.index["RightIndexTip"], :])
    np.testing.assert_array_equal(out[..., dst.index["LeftFinger5"], :], kp[..., src.index["LeftPinkyTip"], :])


def test_mediapipe_to_imigue_averages_shoulders_and_propagates_missing():
    src = get_layout("mediapipe_holistic")
    kp = _random("mediapipe_holistic", c=3)
    kp[0, 2, src.index["LeftShoulder"]] = np.nan
    scores = np.ones(kp.shape[:3], np.float32)
    scores[0, 1, src.index["RightShoulder"]] = 0.25
    out, sc = convert_keypoints(kp, "mediapipe_holistic", "imigue22", scores)
    dst = get_layout("imigue22")
    sc_idx = dst.index["ShoulderCenter"]
    mean = (kp[0, 0, src.index["LeftShoulder"]] + kp[0, 0, src.index["RightShoulder"]]) / 2
    np.testing.assert_allclose(out[0, 0, sc_idx], mean, rtol=1e-6)
    assert np.isnan(out[0, 2, sc_idx]).all()  # one source missing -> target missing
    assert sc[0, 1, sc_idx] == pytest.approx(0.25)  # score = minimum of sources


def test_kinect_orders_round_trip():
    kp = _random("msr_action3d", c=3)
    k1, _ = convert_keypoints(kp, "msr_action3d", "kinect_v1")
    back, _ = convert_keypoints(k1, "kinect_v1", "msr_action3d")
    np.testing.assert_array_equal(back, kp)
    assert get_layout("kinect_v1").joints[3] == "Head"
    np.testing.assert_array_equal(k1[..., 3, :], kp[..., 19, :])


def test_unknown_conversion_lists_known_ones():
    with pytest.raises(ConfigError, match="no conversion from ntu25 to imigue22"):
        convert_keypoints(_random("ntu25"), "ntu25", "imigue22")
    assert ("openpose_full", "imigue22") in list_conversions()


def test_convert_clip_keeps_meta():
    clip = Clip(_random("openpose_full"), ClipMeta("c1", layout="openpose_full", label=3, fps=25.0))
    out = convert_clip(clip, "imigue22")
    assert out.meta.layout == "imigue22" and out.meta.label == 3 and out.meta.fps == 25.0


def test_clip_validation_errors_name_the_source():
    with pytest.raises(DataError, match="f.json: keypoints must be"):
        Clip(np.zeros((5, 22, 2), np.float32), ClipMeta("x", source="f.json"))
    with pytest.raises(DataError, match="layout 'imigue22' has 22 joints but the data has 21"):
        Clip(np.zeros((1, 5, 21, 2), np.float32), ClipMeta("x", layout="imigue22"))
    with pytest.raises(DataError, match="infinite"):
        Clip(np.full((1, 2, 22, 2), np.inf, np.float32), ClipMeta("x"))
    with pytest.raises(DataError, match="scores shape"):
        Clip(np.zeros((1, 2, 22, 2), np.float32), ClipMeta("x"), scores=np.zeros((1, 3, 22)))


def test_zeros_to_nan_and_slicing():
    kp = np.ones((1, 4, 22, 2), np.float32)
    kp[0, 1, 3] = 0
    out = zeros_to_nan(kp)
    assert np.isnan(out[0, 1, 3]).all() and np.isfinite(out[0, 0]).all()
    clip = Clip(out, ClipMeta("c", layout="imigue22", frame_range=(100, 103)))
    assert clip.missing_rate() == pytest.approx(1 / (4 * 22))
    sub = clip.slice_frames(1, 2)
    assert sub.num_frames == 2 and sub.meta.frame_range == (101, 102)
    with pytest.raises(DataError, match="outside"):
        clip.slice_frames(2, 9)
