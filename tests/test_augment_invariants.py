"""Augmentation invariants on synthetic batches [N, M, T, V, C] (NaN = missing joint)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from microgesture.augment import (
    AUGMENTATIONS,
    CoordinatePerturbation,
    Flip,
    GaussianBlur,
    LimbPerturbation,
    Rotation,
    Shear,
    SpeedPerturbation,
    TemporalCrop,
    TemporalCropResize,
    TemporalRepetition,
    TimePosterisation,
    ViewpointPerturbation,
    build_augmentation,
)
from microgesture.data.layouts import get_layout

LAYOUT = get_layout("imigue22")
DETERMINISTIC = {"time_reversal", "flip", "identity"}
TEMPORAL = {"temporal_crop", "temporal_crop_resize", "gaussian_blur", "time_reversal", "temporal_repetition",
            "time_posterisation", "speed_perturbation"}


def batch(n: int = 6, m: int = 1, t: int = 32, c: int = 3, layout=LAYOUT, seed: int = 0) -> torch.Tensor:
    """Skeletons built along the layout tree, with smooth per-joint motion."""
    g = np.random.default_rng(seed)
    offsets = g.normal(0, 1, (n, m, 1, layout.num_joints, c))
    pos = np.zeros_like(offsets)
    for child, parent in sorted(layout.bones, key=lambda b: layout.depth()[b[0]]):
        pos[..., child, :] = pos[..., parent, :] + offsets[..., child, :]
    time = np.linspace(0, 2 * np.pi, t)[None, None, :, None, None]
    phase = g.uniform(0, 2 * np.pi, (n, m, 1, layout.num_joints, c))
    return torch.tensor(pos + 0.3 * np.sin(time + phase), dtype=torch.float32)


def make(name: str, **params):
    cls = AUGMENTATIONS[name]
    if name == "one_of":
        return cls([Shear(p=1.0), Rotation(p=1.0)])
    if name == "identity":
        return cls()
    if "layout" in cls.__init__.__code__.co_varnames:
        params.setdefault("layout", LAYOUT)
    if "p" in cls.__init__.__code__.co_varnames:
        params.setdefault("p", 1.0)
    return cls(**params)


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


NAMES = sorted(AUGMENTATIONS)


def bone_lengths(x: torch.Tensor) -> torch.Tensor:
    b = torch.tensor(LAYOUT.bones)
    return torch.linalg.vector_norm(x[..., b[:, 0], :] - x[..., b[:, 1], :], dim=-1)


# -- generic contracts for every registered augmentation ----------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_shape_dtype_determinism(name):
    aug = make(name)
    x = batch(n=8)
    a, b = aug(x, gen(1)), aug(x, gen(1))
    assert a.shape == x.shape and a.dtype == torch.float32
    assert torch.equal(a, b)
    if name not in DETERMINISTIC:
        assert not torch.equal(a, aug(x, gen(2))), f"{name}: different seeds gave the same output"
    assert repr(aug).startswith(type(aug).__name__)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("n,m", [(1, 1), (3, 2)])
def test_single_sample_and_two_persons(name, n, m):
    x = batch(n=n, m=m)
    assert make(name)(x, gen(0)).shape == x.shape


@pytest.mark.parametrize("name", NAMES)
def test_missing_joints_stay_missing_and_no_new_nan(name):
    x = batch(n=4)
    x[0, 0, :, 4] = float("nan")  # HandLeft never seen in sample 0
    x[1, 0, 5:9, 10] = float("nan")  # EarLeft missing for a few frames in sample 1
    out = make(name)(x, gen(3))
    nan_in, nan_out = torch.isnan(x), torch.isnan(out)
    assert bool((torch.isnan(out).any(-1) == torch.isnan(out).all(-1)).all()), "partial NaN joint"
    assert not nan_out[2:].any()
    if name == "flip":
        assert torch.equal(nan_out, nan_in[:, :, :, torch.as_tensor(LAYOUT.flip_permutation)])
        return
    assert not nan_out[1, ..., [j for j in range(22) if j != 10], :].any()
    if name in TEMPORAL:
        assert nan_out[0, 0, :, 4].all() and nan_out[0].sum() == nan_in[0].sum()
    else:
        assert torch.equal(nan_out, nan_in)


@pytest.mark.parametrize("name", NAMES)
def test_no_grad_and_autograd(name):
    aug = make(name)
    with torch.no_grad():
        aug(batch(n=2), gen(0))
    x = batch(n=2).requires_grad_(True)
    y = aug(x, gen(0))
    (y * y).sum().backward()
    assert x.grad is not None and x.grad.shape == x.shape


def test_scores_channel_untouched_with_coords_2():
    x = batch(n=4, c=3)
    for aug in (Shear(p=1.0, coords=2), Rotation(p=1.0, coords=2), Flip(LAYOUT, p=1.0, coords=2),
                ViewpointPerturbation(coords=2), CoordinatePerturbation(LAYOUT, coords=2)):
        out = aug(x, gen(0))
        if isinstance(aug, Flip):
            assert torch.equal(out[..., 2], x[..., torch.as_tensor(LAYOUT.flip_permutation), 2])
        else:
            assert torch.equal(out[..., 2], x[..., 2]) and not torch.equal(out[..., :2], x[..., :2])


def test_probability_applies_per_sample():
    x = batch(n=64)
    out = Shear(s=0.5, p=0.5)(x, gen(0))
    changed = (out != x).flatten(1).any(1)
    assert 16 < int(changed.sum()) < 48


# -- specific invariants ------------------------------------------------------------------------------

def test_flip_twice_is_identity_and_swaps_sides():
    x = batch(n=3, m=2)
    flip = Flip(LAYOUT, p=1.0)
    once = flip(x, gen(0))
    assert torch.allclose(flip(once, gen(0)), x, atol=1e-5)
    hl, hr = LAYOUT.index["HandLeft"], LAYOUT.index["HandRight"]
    assert torch.allclose(once[..., hr, 1:], x[..., hl, 1:])
    assert torch.allclose(bone_lengths(once).sort(-1).values, bone_lengths(x).sort(-1).values, atol=1e-4)


@pytest.mark.parametrize("c", [2, 3])
def test_rotations_keep_bone_lengths(c):
    x = batch(n=5, c=c)
    for aug in (Rotation(angle=90, other_angle=45, p=1.0), ViewpointPerturbation(angle=30, scale=(1, 1))):
        out = aug(x, gen(1))
        assert not torch.allclose(out, x)
        assert torch.allclose(bone_lengths(out), bone_lengths(x), atol=1e-4)


def test_viewpoint_scale_scales_bone_lengths_uniformly():
    x = batch(n=4)
    out = ViewpointPerturbation(angle=0, scale=(0.9, 1.1))(x, gen(0))
    ratio = bone_lengths(out) / bone_lengths(x)
    assert torch.allclose(ratio, ratio[..., :1].expand_as(ratio), atol=1e-4)
    assert float(ratio.min()) >= 0.9 - 1e-4 and float(ratio.max()) <= 1.1 + 1e-4


def test_shear_zero_is_identity():
    x = batch()
    assert torch.allclose(Shear(s=0.0, p=1.0)(x, gen(0)), x)


def periodic(t: int = 64, period: int = 16) -> torch.Tensor:
    s = torch.sin(2 * math.pi * torch.arange(t) / period)
    return s.view(1, 1, t, 1, 1).expand(2, 1, t, 22, 3).contiguous()


def test_temporal_repetition_keeps_period_structure():
    x = periodic()
    out = TemporalRepetition(repeats=(2,), segment=(1.0, 1.0))(x, gen(0))
    assert torch.allclose(out[:, :, 8:], out[:, :, :-8], atol=1e-5)  # period 16 played twice as fast
    sub = TemporalRepetition(repeats=(2, 3), segment=(0.25, 0.25))(x, gen(0))  # segment = one period
    assert float(sub.min()) >= -1 - 1e-5 and float(sub.max()) <= 1 + 1e-5


def test_time_posterisation_holds_frames():
    x = batch(n=2, t=30)
    out = TimePosterisation(steps=(3,))(x, gen(0))
    held = (torch.arange(30) // 3) * 3
    assert torch.equal(out, x[:, :, held])
    assert torch.equal(out[:, :, 4], out[:, :, 3]) and torch.equal(out[:, :, 3], x[:, :, 3])


def test_temporal_crop_resize_keeps_t_and_stays_inside_the_clip():
    t = 40
    ramp = torch.arange(t, dtype=torch.float32).view(1, 1, t, 1, 1).expand(8, 1, t, 22, 3).contiguous()
    out = TemporalCropResize(ratio=(0.1, 1.0))(ramp, gen(0))
    assert out.shape == ramp.shape
    assert float(out.min()) >= 0 and float(out.max()) <= t - 1
    assert bool((out[:, :, 1:] >= out[:, :, :-1] - 1e-5).all())  # order preserved
    assert torch.allclose(TemporalCropResize(ratio=(1.0, 1.0))(ramp, gen(0)), ramp)


def test_temporal_crop_takes_input_frames_and_zero_padding_is_identity():
    x = batch(n=4)
    out = TemporalCrop()(x, gen(0))
    frames = x[:, 0].flatten(2)  # [N, T, V*C]
    for n in range(4):
        dist = (out[n, 0].flatten(1)[:, None] - frames[n][None]).abs().amax(-1)  # [T_out, T_in]
        assert bool((dist.min(1).values == 0).all())
    assert torch.equal(TemporalCrop(padding_ratio=0.0)(x, gen(0)), x)


def test_speed_one_is_identity_and_loops_when_faster():
    x = batch(n=3)
    assert torch.allclose(SpeedPerturbation(speed=(1.0, 1.0))(x, gen(0)), x, atol=1e-6)
    ramp = torch.arange(32, dtype=torch.float32).view(1, 1, 32, 1, 1).expand(2, 1, 32, 22, 3).contiguous()
    fast = SpeedPerturbation(speed=(2.0, 2.0), pad="loop")(ramp, gen(0))
    assert torch.allclose(fast[0, 0, 16:, 0, 0], fast[0, 0, :16, 0, 0], atol=1e-5)  # wrapped around


def test_blur_of_constant_is_constant_even_with_holes():
    x = torch.full((3, 1, 30, 22, 3), 2.5)
    x[0, 0, 10:13, 5] = float("nan")
    out = GaussianBlur(p=1.0)(x, gen(0))
    ok = ~torch.isnan(x)
    assert torch.allclose(out[ok], x[ok]) and torch.equal(torch.isnan(out), ~ok)


def test_blur_smooths_noise():
    x = torch.randn(4, 1, 64, 22, 3, generator=gen(5))
    out = GaussianBlur(sigma=(2.0, 2.0), p=1.0)(x, gen(0))
    assert float(out.diff(dim=2).abs().mean()) < 0.5 * float(x.diff(dim=2).abs().mean())


def test_limb_perturbation_touches_only_the_most_moving_limb():
    x = batch(n=2) * 0.0 + batch(n=1)[:, :, :1]  # a still body
    right = LAYOUT.limbs()["right_arm"]
    wave = torch.sin(torch.linspace(0, 6.28, 32)).view(1, 1, 32, 1, 1)
    x[:, :, :, right] = x[:, :, :, right] + wave
    aug = LimbPerturbation(LAYOUT, sigma=0.01)
    assert list(LAYOUT.limbs())[int(aug.most_moving_limb(x)[0])] == "right_arm"
    out = aug(x, gen(0))
    changed = (out != x).any(-1).any(2).any(1)  # [N, V]
    assert changed[:, right].all() and int(changed.sum()) == 2 * len(right)


def test_coordinate_perturbation_is_small_relative_to_body_and_subset():
    x = batch(n=4) * 100.0  # big units: the noise must scale with the body
    aug = CoordinatePerturbation(LAYOUT, sigma=0.01, joint_ratio=0.25)
    out = aug(x, gen(0))
    width = torch.linalg.vector_norm(x[..., 2, :] - x[..., 5, :], dim=-1).median()
    delta = (out - x)
    assert 0.001 * width < delta.abs().max() < 0.1 * width
    moved = (delta != 0).any(-1).any(2).any(1)  # [N, V]
    assert bool((moved.sum(1) == round(0.25 * 22)).all())


def test_presets_preserve_missing_and_run_on_2d_and_3d_layouts():
    for layout_name, c in (("imigue22", 2), ("ntu25", 3)):
        lay = get_layout(layout_name)
        x = batch(n=4, c=c, layout=lay)
        x[0, 0, :, 1] = float("nan")
        for preset in ("action", "mg", "aimclr", "crossclr"):
            out = build_augmentation(preset, lay)(x, gen(0))
            assert out.shape == x.shape and out.dtype == torch.float32
            nan = torch.isnan(out)
            assert not nan[1:].any() and nan[0, 0, :, 1].all() or preset == "aimclr"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", NAMES)
def test_cuda_matches_cpu_with_a_cpu_generator(name):
    """Parameters drawn from a CPU generator are moved to the batch's device: same result on CUDA."""
    aug = make(name)
    x = batch(n=8) * torch.linspace(0.5, 2.0, 22).view(1, 1, 1, 22, 1)  # no ties between limbs' motion
    x[0, 0, :, 4] = float("nan")
    cpu = aug(x, gen(7))
    cuda = aug(x.cuda(), gen(7))
    assert cuda.device.type == "cuda" and cuda.dtype == torch.float32
    assert torch.allclose(cuda.cpu(), cpu, atol=1e-4, equal_nan=True)
    g = torch.Generator(device="cuda").manual_seed(3)
    g2 = torch.Generator(device="cuda").manual_seed(3)
    assert torch.allclose(aug(x.cuda(), g), aug(x.cuda(), g2), equal_nan=True)
