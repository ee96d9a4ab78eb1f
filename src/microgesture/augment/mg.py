"""Micro-gesture-aware augmentations: small in space, faithful in time, respectful of repetition.

Why: MGs are subtle (a finger rub, a shoulder shrug), brief, and often repetitive, so the strong spatial
distortions of action SSL (shear U(-1, 1), masking 60 % of the joints) can erase the only informative
joints. These augmentations follow the paper's named ideas (coordinate perturbation, viewpoint
perturbation, repeating clips, posterising time; see docs paper-notes §3) with sizes relative to the body:

- ``coordinate_perturbation``: x + N(0, (sigma·body scale)²), optionally on a random joint subset, i.i.d.
  per frame or one constant offset per joint.
- ``viewpoint_perturbation``: a small rotation (2-D: in-plane; 3-D: about every axis) within ±angle°
  and a uniform scale in ``scale``.
- ``temporal_repetition``: repeat the clip or a random sub-segment k times, then resample back to T.
- ``time_posterisation``: hold every s-th frame for s frames, ``x[t] = x[⌊t/s⌋·s]``.
- ``speed_perturbation``: play at a random speed factor, cropping (random start) or looping/holding to T.
- ``limb_perturbation``: perturb only the limb that moves most in each clip (``layout.limbs()``): scale
  its motion amplitude about its own temporal mean and jitter it.
"""

from __future__ import annotations

import math
from typing import Literal

import torch

from ..data.layouts import Layout, get_layout
from .base import (
    Augmentation,
    SpatialAugmentation,
    Tensor,
    body_scale_torch,
    choice,
    gather_frames,
    lerp_frames,
    linear_map,
    output_grid,
    rand,
    randn,
    random_subset,
    register,
    rotation_matrices,
    uniform,
)


def _layout(layout: Layout | str | None) -> Layout | None:
    return get_layout(layout) if isinstance(layout, str) else layout


@register("coordinate_perturbation")
class CoordinatePerturbation(SpatialAugmentation):
    def __init__(self, layout: Layout | str | None = None, sigma: float = 0.01, joint_ratio: float = 1.0,
                 temporal: Literal["iid", "constant"] = "iid", relative: bool = True, p: float = 1.0,
                 coords: int | None = None):
        super().__init__(p, coords)
        if temporal not in ("iid", "constant"):
            raise ValueError(f"temporal must be 'iid' or 'constant', got {temporal!r}")
        self.layout = _layout(layout)
        self.sigma = float(sigma)
        self.joint_ratio = float(joint_ratio)
        self.temporal = temporal
        self.relative = bool(relative)

    def apply_coords(self, x: Tensor, g: torch.Generator | None) -> Tensor:
        n, m, t, v, c = x.shape
        shape = (n, m, t, v, c) if self.temporal == "iid" else (n, m, 1, v, c)
        noise = randn(shape, g, x.device).to(x.dtype) * self.sigma
        if self.relative:
            noise = noise * body_scale_torch(x, self.layout).view(n, 1, 1, 1, 1).to(x.dtype)
        if self.joint_ratio < 1.0:
            picked = random_subset(n, v, max(1, round(self.joint_ratio * v)), g, x.device)
            noise = noise * picked.view(n, 1, 1, v, 1).to(x.dtype)
        return x + noise


@register("viewpoint_perturbation")
class ViewpointPerturbation(SpatialAugmentation):
    def __init__(self, angle: float = 10.0, scale: tuple[float, float] = (0.9, 1.1), p: float = 1.0,
                 coords: int | None = None):
        super().__init__(p, coords)
        self.angle = float(angle)
        self.scale = (float(scale[0]), float(scale[1]))

    def apply_coords(self, x: Tensor, g: torch.Generator | None) -> Tensor:
        n, c = x.shape[0], x.shape[-1]
        a = math.radians(self.angle)
        ang = uniform((n,) if c == 2 else (n, 3), -a, a, g, x.device)
        s = uniform((n, 1, 1), *self.scale, g, x.device)
        return linear_map(x, rotation_matrices(ang) * s)


@register("temporal_repetition")
class TemporalRepetition(Augmentation):
    """Repeat a random sub-segment (``segment`` = its length as a fraction of T; ``(1, 1)`` = the whole
    clip) ``k ∈ repeats`` times in place, then resample the longer sequence back to T (linear)."""

    def __init__(self, repeats: tuple[int, ...] = (2, 3), segment: tuple[float, float] = (0.25, 1.0),
                 p: float = 1.0):
        super().__init__(p)
        if not repeats or min(repeats) < 1:
            raise ValueError(f"repeats must be positive integers, got {repeats}")
        lo, hi = (float(s) for s in segment)
        if not 0 < lo <= hi <= 1:
            raise ValueError(f"segment must satisfy 0 < low <= high <= 1, got {segment}")
        self.repeats = tuple(int(k) for k in repeats)
        self.segment = (lo, hi)

    def apply(self, x: Tensor, g: torch.Generator | None) -> Tensor:
        n, t = x.shape[0], x.shape[2]
        dev = x.device
        k = choice(self.repeats, n, g, dev).view(n, 1)
        seg = torch.floor(uniform((n, 1), *self.segment, g, dev) * t).clamp(min=min(2, t), max=t)
        start = torch.floor(rand((n, 1), g, dev) * (t - seg + 1))
        virtual = t + (k - 1) * seg  # length of the sequence with the segment repeated
        u = (output_grid(t, dev) * (virtual / t) - 0.5).clamp(min=0)
        u = torch.minimum(u, virtual - 1)
        lo = torch.floor(u)
        hi = torch.minimum(lo + 1, virtual - 1)

        def source(j: Tensor) -> Tensor:  # virtual frame -> source frame
            inside = start + torch.remainder(j - start, seg)
            after = j - (k - 1) * seg
            return torch.where(j < start, j, torch.where(j < start + k * seg, inside, after))

        return lerp_frames(x, source(lo).long(), source(hi).long(), u - lo)


@register("time_posterisation")
class TimePosterisation(Augmentation):
    """Hold every s-th frame for s frames (s drawn per sample from ``steps``): a step-function time signal."""

    def __init__(self, steps: tuple[int, ...] = (2, 3, 4), p: float = 1.0):
        super().__init__(p)
        if not steps or min(steps) < 1:
            raise ValueError(f"steps must be positive integers, got {steps}")
        self.steps = tuple(int(s) for s in steps)

    def apply(self, x: Tensor, g: torch.Generator | None) -> Tensor:
        n, t = x.shape[0], x.shape[2]
        s = choice(self.steps, n, g, x.device).long().view(n, 1)
        idx = torch.div(torch.arange(t, device=x.device), s, rounding_mode="floor") * s
        return gather_frames(x, idx)


@register("speed_perturbation")
class SpeedPerturbation(Augmentation):
    """Resample by a speed factor f ~ U(speed): f > 1 plays faster (the clip ends early and is continued
    by looping, or by holding the last frame with ``pad="edge"``); f < 1 plays slower over a random
    window of the clip."""

    def __init__(self, speed: tuple[float, float] = (0.75, 1.33), pad: Literal["loop", "edge"] = "loop",
                 p: float = 1.0):
        super().__init__(p)
        if pad not in ("loop", "edge"):
            raise ValueError(f"pad must be 'loop' or 'edge', got {pad!r}")
        self.speed = (float(speed[0]), float(speed[1]))
        self.pad = pad

    def apply(self, x: Tensor, g: torch.Generator | None) -> Tensor:
        n, t = x.shape[0], x.shape[2]
        f = uniform((n, 1), *self.speed, g, x.device)
        start = rand((n, 1), g, x.device) * (t - t * f).clamp(min=0)
        u = (start + output_grid(t, x.device) * f - 0.5).clamp(min=0)
        lo = torch.floor(u)
        w = u - lo
        lo, hi = lo.long(), lo.long() + 1
        if self.pad == "loop":
            lo, hi = torch.remainder(lo, t), torch.remainder(hi, t)
        else:
            lo, hi = lo.clamp(max=t - 1), hi.clamp(max=t - 1)
        return lerp_frames(x, lo, hi, w)


@register("limb_perturbation")
class LimbPerturbation(SpatialAugmentation):
    """Perturb only the limb with the largest motion energy (mean squared frame-to-frame displacement per
    joint) in each sample: its deviation from its temporal mean is scaled by U(amplitude) (the same MG
    done more or less vigorously) and jittered by N(0, (sigma·body scale)²)."""

    def __init__(self, layout: Layout | str, sigma: float = 0.01, amplitude: tuple[float, float] = (0.8, 1.25),
                 p: float = 1.0, coords: int | None = None):
        super().__init__(p, coords)
        self.layout = _layout(layout)
        if self.layout is None:
            raise ValueError("limb_perturbation needs the layout (to find the limbs)")
        self.sigma = float(sigma)
        self.amplitude = (float(amplitude[0]), float(amplitude[1]))
        limbs = self.layout.limbs()
        member = torch.zeros(len(limbs), self.layout.num_joints)
        for i, idx in enumerate(limbs.values()):
            member[i, idx] = 1.0
        self._members = member  # [P, V]
        self._limb_names = tuple(limbs)

    def most_moving_limb(self, x: Tensor) -> Tensor:
        """``[N]`` index (into ``layout.limbs()``) of each sample's most moving limb."""
        step = (x[:, :, 1:] - x[:, :, :-1]).pow(2).sum(-1)  # [N, M, T-1, V]
        energy = torch.nan_to_num(step, nan=0.0).mean((1, 2))  # [N, V]
        members = self._members.to(x.device, x.dtype)
        # elementwise, not a matmul: TF32 matmuls on GPUs would round enough to flip close calls
        per_limb = (energy.unsqueeze(1) * members).sum(-1) / members.sum(1)  # [N, P] mean per joint
        return per_limb.argmax(1)

    def apply_coords(self, x: Tensor, g: torch.Generator | None) -> Tensor:
        n = x.shape[0]
        if x.shape[3] != self.layout.num_joints:
            raise ValueError(f"limb_perturbation: layout {self.layout.name} has {self.layout.num_joints} "
                             f"joints, data has {x.shape[3]}")
        mask = self._members.to(x.device, x.dtype)[self.most_moving_limb(x)].view(n, 1, 1, -1, 1)
        valid = torch.isfinite(x).all(-1, keepdim=True)
        cnt = valid.sum(2, keepdim=True).clamp(min=1)
        mean = torch.where(valid, x, torch.zeros_like(x)).sum(2, keepdim=True) / cnt
        amp = uniform((n, 1, 1, 1, 1), *self.amplitude, g, x.device).to(x.dtype)
        scale = body_scale_torch(x, self.layout).view(n, 1, 1, 1, 1).to(x.dtype)
        noise = randn(tuple(x.shape), g, x.device).to(x.dtype) * self.sigma * scale
        moved = mean + amp * (x - mean) + noise
        return torch.where(mask.bool(), moved, x)
