"""Preprocessing transforms: invariants on synthetic skeletons (numpy, [M, T, V, C], NaN = missing)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from microgesture.data.clip import Clip, ClipMeta
from microgesture.data.inputs import prepare_clip
from microgesture.data.layouts import get_layout
from microgesture.data.transforms import (
    body_scale,
    bone,
    bone_motion,
    centre,
    crop,
    fill_missing,
    flag_missing,
    make_streams,
    motion,
    pad,
    resize,
    sample_frames,
    scale,
    select_persons,
    stream_channels,
    uniform_indices,
    view_align_3d,
)
from microgesture.errors import ConfigError, DataError


def skeleton(layout_name: str, m: int = 1, t: int = 30, c: int = 3, seed: int = 0) -> np.ndarray:
    """A plausible moving skeleton: random bone offsets along the layout tree plus smooth motion."""
    lay = get_layout(layout_name)
    rng = np.random.default_rng(seed)
    offsets = rng.normal(0, 1, (lay.num_joints, c)).astype(np.float32)
    pos = np.zeros((lay.num_joints, c), np.float32)
    for child, parent in sorted(lay.bones, key=lambda b: lay.depth()[b[0]]):
        pos[child] = pos[parent] + offsets[child]
    time = np.linspace(0, 2 * np.pi, t, dtype=np.float32)
    wiggle = 0.2 * np.sin(time[:, None, None] + np.arange(lay.num_joints)[None, :, None]).astype(np.float32)
    x = pos[None, None] + wiggle[None] + rng.normal(0, 0.01, (m, t, lay.num_joints, c)).astype(np.float32)
    x += 5.0 + np.arange(m, dtype=np.float32)[:, None, None, None]
    return x.astype(np.float32)


def make_clip(layout_name: str = "imigue22", **kw) -> Clip:
    x = skeleton(layout_name, **kw)
    scores = np.random.default_rng(1).uniform(0.2, 1.0, x.shape[:3]).astype(np.float32)
    return Clip(x, ClipMeta("c0", layout=layout_name), scores)


# -- missing -----------------------------------------------------------------------------------

def test_flag_missing_zeros_and_low_scores():
    x = np.ones((1, 3, 4, 2), np.float32)
    x[0, 0, 1] = 0
    scores = np.ones((1, 3, 4), np.float32)
    scores[0, 2, 3] = 0.005
    out = flag_missing(x, scores, threshold=0.01)
    nan = np.isnan(out).all(-1)
    assert nan[0, 0, 1] and nan[0, 2, 3] and nan.sum() == 2
    assert out.dtype == np.float32 and not np.isnan(x).any()


def test_fill_missing_numpy_and_torch_with_mask():
    x = np.ones((1, 2, 3, 2), np.float32)
    x[0, 1, 2] = np.nan
    out, mask = fill_missing(x, 0.0, return_mask=True)
    assert out.dtype == np.float32 and (out[0, 1, 2] == 0).all() and not mask[0, 1, 2] and mask.sum() == 5
    tout, tmask = fill_missing(torch.from_numpy(x), -1.0, return_mask=True)
    assert torch.equal(tmask, torch.from_numpy(mask)) and (tout[0, 1, 2] == -1).all()


# -- centre / scale / align ----------------------------------------------------------------------

def test_centre_per_frame_and_missing_centre_uses_nearest_frame():
    lay = get_layout("imigue22")
    x = skeleton("imigue22", t=10)
    x[0, 3, lay.center_index] = np.nan
    out = centre(x, lay, "frame")
    valid = np.delete(np.arange(10), 3)
    assert np.allclose(out[0, valid, lay.center_index], 0, atol=1e-6)
    assert np.allclose(out[0, 3], x[0, 3] - x[0, 2, lay.center_index], atol=1e-5, equal_nan=True)


def test_centre_first_keeps_relative_motion_and_shared_origin_for_two_persons():
    lay = get_layout("imigue22")
    x = skeleton("imigue22", m=2, t=10)
    x[0, 0, lay.center_index] = np.nan  # first valid centre frame is 1
    out = centre(x, lay, "first")
    origin = x[0, 1, lay.center_index]
    assert np.allclose(out, x - origin, atol=1e-5, equal_nan=True)


def test_centre_without_any_centre_joint_falls_back_to_joint_mean():
    lay = get_layout("imigue22")
    x = skeleton("imigue22", t=5)
    x[:, :, lay.center_index] = np.nan
    out = centre(x, lay, "frame")
    assert np.allclose(np.nanmean(out, axis=2), 0, atol=1e-5)


def test_scale_normalises_median_shoulder_width_and_ignores_missing():
    lay = get_layout("imigue22")
    x = skeleton("imigue22", t=20) * 7.0
    x[0, :5, lay.index["ShoulderLeft"]] = np.nan
    out = scale(centre(x, lay), lay)
    width = np.linalg.norm(out[0, :, lay.index["ShoulderLeft"]] - out[0, :, lay.index["ShoulderRight"]], axis=-1)
    assert np.isclose(np.nanmedian(width), 1.0, atol=1e-5)
    assert np.isnan(out[0, :5, lay.index["ShoulderLeft"]]).all()
    assert np.isfinite(out[0, 5:]).all()


def test_scale_falls_back_for_layouts_without_shoulders_and_leaves_empty_clip():
    hand = skeleton("mediapipe_hand21", t=5)
    assert np.isfinite(body_scale(hand, "mediapipe_hand21"))
    with pytest.raises(ConfigError):
        body_scale(hand, "mediapipe_hand21", by="shoulders")
    empty = np.full((1, 4, 22, 2), np.nan, np.float32)
    assert np.isnan(scale(empty, "imigue22")).all()


def _random_rotation(seed: int) -> np.ndarray:
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] *= -1
    return q.astype(np.float32)


def test_view_align_3d_puts_spine_on_z_and_shoulders_on_x_and_keeps_lengths():
    lay = get_layout("ntu25")
    x = skeleton("ntu25", t=8) @ _random_rotation(3).T
    out = view_align_3d(x, lay)
    spine = out[0, 0, lay.index["SpineMid"]] - out[0, 0, lay.index["SpineBase"]]
    across = out[0, 0, lay.index["ShoulderLeft"]] - out[0, 0, lay.index["ShoulderRight"]]
    assert np.allclose(spine[:2], 0, atol=1e-4) and spine[2] > 0
    assert abs(across[1]) < 1e-4 and across[0] > 0
    b = np.array(lay.bones)
    lengths = lambda a: np.linalg.norm(a[..., b[:, 0], :] - a[..., b[:, 1], :], axis=-1)  # noqa: E731
    assert np.allclose(lengths(out), lengths(x), atol=1e-4)


def test_view_align_3d_errors():
    with pytest.raises(ConfigError, match="3-D"):
        view_align_3d(skeleton("ntu25", c=2), "ntu25")
    with pytest.raises(ConfigError, match="shoulder"):
        view_align_3d(skeleton("mediapipe_hand21"), "mediapipe_hand21")
    out = view_align_3d(skeleton("mediapipe_pose33"), "mediapipe_pose33")  # hips/shoulders midpoints
    assert out.shape == (1, 30, 33, 3)


# -- temporal --------------------------------------------------------------------------------------

def test_uniform_indices_test_mode_deterministic_train_mode_within_segments():
    a = uniform_indices(100, 10)
    assert np.array_equal(a, uniform_indices(100, 10)) and np.array_equal(a, np.arange(5, 100, 10))
    tr = uniform_indices(100, 10, train=True, seed=1)
    assert np.all((tr >= np.arange(0, 100, 10)) & (tr < np.arange(10, 101, 10)))
    assert not np.array_equal(tr, uniform_indices(100, 10, train=True, seed=2))
    short = uniform_indices(4, 10)
    assert short.min() == 0 and short.max() == 3 and np.all(np.diff(short) >= 0)


def test_resize_is_exact_on_linear_motion_and_keeps_ends():
    t = np.arange(11, dtype=np.float32)
    x = np.broadcast_to(t[None, :, None, None], (1, 11, 2, 2)).copy()
    out = resize(x, 21)
    assert out.shape == (1, 21, 2, 2) and out.dtype == np.float32
    assert np.allclose(out[0, :, 0, 0], np.linspace(0, 10, 21))
    x[0, 5] = np.nan
    out = resize(x, 21)
    assert np.isnan(out[0, 10]).all() and np.isfinite(out[0, 9]).all() and np.isfinite(out[0, 11]).all()


def test_pad_modes_and_crop():
    x = np.arange(3, dtype=np.float32).reshape(1, 3, 1, 1)
    assert np.isnan(pad(x, 5, "zero")[0, 3:]).all()
    assert pad(x, 5, "loop")[0, :, 0, 0].tolist() == [0, 1, 2, 0, 1]
    assert pad(x, 5, "edge")[0, :, 0, 0].tolist() == [0, 1, 2, 2, 2]
    y = np.arange(10, dtype=np.float32).reshape(1, 10, 1, 1)
    assert crop(y, 4)[0, :, 0, 0].tolist() == [3, 4, 5, 6]
    assert sample_frames(y, 4, "last")[0, :, 0, 0].tolist() == [6, 7, 8, 9]
    with pytest.raises(ConfigError):
        pad(x, 5, "mirror")  # type: ignore[arg-type]


def test_select_persons_prefers_moving_person_and_pads():
    x = skeleton("imigue22", m=2, t=10)
    x[0] = x[0, :1]  # person 0 frozen
    out, idx = select_persons(x, 3, return_index=True)
    assert idx.tolist() == [1, 0, -1] and np.isnan(out[2]).all()
    assert np.array_equal(out[0], x[1])


# -- streams --------------------------------------------------------------------------------------

def test_bone_motion_streams_numpy_and_torch_agree():
    lay = get_layout("imigue22")
    x = skeleton("imigue22", t=6)
    b = bone(x, lay)
    assert np.allclose(b[..., lay.center_index, :], 0)
    elbow, shoulder = lay.index["ElbowLeft"], lay.index["ShoulderLeft"]
    assert np.allclose(b[..., elbow, :], x[..., elbow, :] - x[..., shoulder, :])
    mo = motion(x)
    assert np.allclose(mo[:, :-1], x[:, 1:] - x[:, :-1]) and (mo[:, -1] == 0).all()
    assert np.allclose(bone_motion(x, lay), motion(b))
    s = make_streams(x, lay, ("joint", "bone", "jm", "bm"))
    assert s.shape == (1, 6, 22, 12) and s.dtype == np.float32
    ts = make_streams(torch.from_numpy(x)[None], lay, "j,b,jm,bm")  # batched [N, M, T, V, C]
    assert torch.allclose(ts[0], torch.from_numpy(s), atol=1e-6)
    assert stream_channels("j,b", 2, with_scores=True) == 5
    with pytest.raises(ConfigError):
        make_streams(x, lay, ("joints",))


# -- prepare_clip ----------------------------------------------------------------------------------

def test_prepare_clip_shape_dtype_and_nan_kept():
    clip = make_clip(t=47)
    clip.keypoints[0, 10:20, 4] = np.nan
    out = prepare_clip(clip, num_frames=32)
    assert out.shape == (1, 32, 22, 3) and out.dtype == np.float32
    assert np.isnan(out).any() and np.isfinite(out[0, 0]).all()
    two = prepare_clip(clip, num_frames=32, max_persons=2, streams=("joint", "bone"), with_scores=True)
    assert two.shape == (2, 32, 22, 7) and np.isnan(two[1, ..., :6]).all() and (two[1, ..., 6] == 0).all()


def test_prepare_clip_test_mode_is_deterministic_and_train_mode_seeded():
    clip = make_clip(t=90)
    for sampling in ("uniform", "crop_pad", "resize"):
        a = prepare_clip(clip, num_frames=20, sampling=sampling)
        b = prepare_clip(clip, num_frames=20, sampling=sampling)
        assert np.array_equal(a, b, equal_nan=True)
    t1 = prepare_clip(clip, num_frames=20, sampling="uniform", train=True, seed=1)
    t1b = prepare_clip(clip, num_frames=20, sampling="uniform", train=True, seed=1)
    t2 = prepare_clip(clip, num_frames=20, sampling="uniform", train=True, seed=2)
    assert np.array_equal(t1, t1b) and not np.array_equal(t1, t2)


def test_prepare_clip_scores_follow_sampling_and_errors():
    clip = make_clip(t=40)
    out = prepare_clip(clip, num_frames=40, center=False, scale=False, with_scores=True)
    assert np.allclose(out[0, :, :, -1], clip.scores[0]) and np.allclose(out[0, ..., :3], clip.keypoints[0])
    with pytest.raises(DataError, match="c0: with_scores"):
        prepare_clip(clip.with_(scores=None), num_frames=10, with_scores=True)
    nolayout = Clip(clip.keypoints, ClipMeta("c1"))
    with pytest.raises(DataError, match="layout"):
        prepare_clip(nolayout, num_frames=10)
    assert prepare_clip(nolayout, num_frames=10, layout="imigue22").shape == (1, 10, 22, 3)
