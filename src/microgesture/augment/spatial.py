"""Spatial augmentations from the ordinary-action SSL literature (ISC, CrosSCLR, AimCLR, PYSKL).

Defaults follow the published code (see docs: anchors §4): shear off-diagonals U(-s, s) (ISC s = 1,
CrosSCLR/AimCLR s = 0.5), AimCLR rotation (one random main axis up to 30°, the others up to 1°), Gaussian
noise σ = 0.01, axis mask, ISC joint corruption (15 of 25 joints → ratio 0.6: zeroed or mixed by a random
matrix with entries U(-1, 1)). All keep missing joints (NaN) missing.
"""

from __future__ import annotations

import math

import torch

from ..data.layouts import Layout, get_layout
from .base import (
    SpatialAugmentation,
    Tensor,
    linear_map,
    rand,
    randint,
    randn,
    random_subset,
    register,
    rotation_matrices,
    uniform,
)


@register("shear")
class Shear(SpatialAugmentation):
    """``x @ A^T`` with A = identity plus off-diagonal entries U(-s, s) (ISC ``pose_augmentation``)."""

    def __init__(self, s: float = 0.5, p: float = 1.0, coords: int | None = None):
        super().__init__(p, coords)
        self.s = float(s)

    def apply_coords(self, x: Tensor, g: torch.Generator | None) -> Tensor:
        n, c = x.shape[0], x.shape[-1]
        eye = torch.eye(c, device=x.device)
        off = uniform((n, c, c), -self.s, self.s, g, x.device) * (1 - eye)
        return linear_map(x, eye + off)


@register("rotation")
class Rotation(SpatialAugmentation):
    """Random rotation about the origin (the centre joint after centring).

    3-D: one random main axis gets U(-angle, angle) degrees, the other two U(-other_angle, other_angle)
    (AimCLR ``random_rotate`` with symmetric ranges). 2-D: in-plane U(-angle, angle).
    """

    def __init__(self, angle: float = 30.0, other_angle: float = 1.0, p: float = 1.0,
                 coords: int | None = None):
        super().__init__(p, coords)
        self.angle = float(angle)
        self.other_angle = float(other_angle)

    def apply_coords(self, x: Tensor, g: torch.Generator | None) -> Tensor:
        n, c = x.shape[0], x.shape[-1]
        big = math.radians(self.angle)
        if c == 2:
            return linear_map(x, rotation_matrices(uniform((n,), -big, big, g, x.device)))
        small = math.radians(self.other_angle)
        main = randint((n,), 0, 3, g, x.device)
        ang = torch.where(
            torch.nn.functional.one_hot(main, 3).bool(),
            uniform((n, 3), -big, big, g, x.device),
            uniform((n, 3), -small, small, g, x.device),
        )
        return linear_map(x, rotation_matrices(ang))


@register("flip")
class Flip(SpatialAugmentation):
    """Left/right mirror: swap left and right joints (``layout.flip_permutation``) *and* mirror x about the
    centre joint's mean x, so the result is a plausible mirrored body (AimCLR only permutes indices).
    Applying it twice is the identity."""

    def __init__(self, layout: Layout | str, p: float = 0.5, coords: int | None = None):
        super().__init__(p, coords)
        self.layout = get_layout(layout) if isinstance(layout, str) else layout
        self._perm = torch.as_tensor(self.layout.flip_permutation)

    def apply(self, x: Tensor, g: torch.Generator | None) -> Tensor:
        self.num_coords(x)
        return self.apply_coords(x, g)  # all channels follow the permutation; only x is mirrored

    def apply_coords(self, x: Tensor, g: torch.Generator | None) -> Tensor:
        if x.shape[3] != self.layout.num_joints:
            raise ValueError(f"flip: layout {self.layout.name} has {self.layout.num_joints} joints, "
                             f"data has {x.shape[3]}")
        cx = x[:, :, :, self.layout.center_index, 0]  # [N, M, T]
        ok = torch.isfinite(cx)
        mean = torch.where(ok, cx, torch.zeros_like(cx)).sum((1, 2)) / ok.sum((1, 2)).clamp(min=1)
        y = x[:, :, :, self._perm.to(x.device)]
        mirrored = 2 * mean.view(-1, 1, 1, 1) - y[..., 0]
        return torch.cat([mirrored.unsqueeze(-1), y[..., 1:]], dim=-1)


@register("joint_corruption")
class JointCorruption(SpatialAugmentation):
    """ISC joint corruption: pick ``ratio`` of the joints per sample; with ``zero_prob`` set them to the
    origin, otherwise map their coordinates by a random matrix with entries U(-1, 1). Missing joints stay
    missing (they are never turned into zeros)."""

    def __init__(self, ratio: float = 0.6, zero_prob: float = 0.5, p: float = 1.0, coords: int | None = None):
        super().__init__(p, coords)
        self.ratio = float(ratio)
        self.zero_prob = float(zero_prob)

    def apply_coords(self, x: Tensor, g: torch.Generator | None) -> Tensor:
        n, v, c = x.shape[0], x.shape[3], x.shape[-1]
        picked = random_subset(n, v, round(self.ratio * v), g, x.device).view(n, 1, 1, v, 1)
        zero = (rand((n,), g, x.device) < self.zero_prob).view(n, 1, 1, 1, 1)
        mixed = linear_map(x, uniform((n, c, c), -1.0, 1.0, g, x.device))
        corrupted = torch.where(zero, x * 0.0, mixed)  # x * 0 keeps NaN
        return torch.where(picked, corrupted, x)


@register("joint_mask")
class JointMask(JointCorruption):
    """Joint masking: ``ratio`` of the joints set to the origin (joint corruption without the mixing)."""

    def __init__(self, ratio: float = 0.6, p: float = 1.0, coords: int | None = None):
        super().__init__(ratio=ratio, zero_prob=1.0, p=p, coords=coords)


@register("gaussian_noise")
class GaussianNoise(SpatialAugmentation):
    """Additive i.i.d. N(0, sigma²) noise on every coordinate (AimCLR ``gaus_noise``, σ = 0.01)."""

    def __init__(self, sigma: float = 0.01, p: float = 0.5, coords: int | None = None):
        super().__init__(p, coords)
        self.sigma = float(sigma)

    def apply_coords(self, x: Tensor, g: torch.Generator | None) -> Tensor:
        return x + self.sigma * randn(tuple(x.shape), g, x.device).to(x.dtype)


@register("axis_mask")
class AxisMask(SpatialAugmentation):
    """Zero one random coordinate axis per sample (AimCLR ``axis_mask``)."""

    def __init__(self, p: float = 0.5, coords: int | None = None):
        super().__init__(p, coords)

    def apply_coords(self, x: Tensor, g: torch.Generator | None) -> Tensor:
        n, c = x.shape[0], x.shape[-1]
        keep = 1.0 - torch.nn.functional.one_hot(randint((n,), 0, c, g, x.device), c).to(x.dtype)
        return x * keep.view(n, 1, 1, 1, c)
