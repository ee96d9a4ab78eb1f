"""Temporal augmentations from the ordinary-action SSL literature.

- ``temporal_crop``: CrosSCLR/AimCLR ``temperal_crop`` — mirror-pad ``T·padding_ratio`` frames at both ends
  (1/6 in the original) and take a random window of length T.
- ``temporal_crop_resize``: ISC/UmURL — a window of ``⌊T·U(ratio)⌋`` frames (ratio U(0.1, 1) in ISC) at a
  random start, linearly interpolated back to T. ISC crops the *raw* clip (min 64 frames); here the input
  is the prepared clip, so the crop is relative to its T; raise the minimum ratio (≥ 0.5) for brief MGs.
- ``gaussian_blur``: AimCLR ``GaussianBlurConv`` over time, kernel 15, σ U(0.1, 2); missing-aware
  (normalised convolution over observed frames), kernels built for the whole batch in one shot.
- ``time_reversal``: play the clip backwards.
"""

from __future__ import annotations

import torch

from .base import (
    Augmentation,
    Tensor,
    gather_frames,
    output_grid,
    rand,
    register,
    resample_positions,
    uniform,
)


@register("temporal_crop")
class TemporalCrop(Augmentation):
    def __init__(self, padding_ratio: float = 1 / 6, p: float = 1.0):
        super().__init__(p)
        self.padding_ratio = float(padding_ratio)

    def apply(self, x: Tensor, g: torch.Generator | None) -> Tensor:
        n, t = x.shape[0], x.shape[2]
        pad = min(int(t * self.padding_ratio), t - 1)
        start = torch.floor(rand((n, 1), g, x.device) * (2 * pad + 1)).long()
        idx = (start - pad + torch.arange(t, device=x.device)).abs()  # reflect below 0
        idx = torch.where(idx > t - 1, 2 * (t - 1) - idx, idx)  # reflect above T-1
        return gather_frames(x, idx)


@register("temporal_crop_resize")
class TemporalCropResize(Augmentation):
    def __init__(self, ratio: tuple[float, float] = (0.1, 1.0), min_frames: int = 2, p: float = 1.0):
        super().__init__(p)
        lo, hi = (float(r) for r in ratio)
        if not 0 < lo <= hi <= 1:
            raise ValueError(f"crop ratio must satisfy 0 < low <= high <= 1, got {ratio}")
        self.ratio = (lo, hi)
        self.min_frames = int(min_frames)

    def apply(self, x: Tensor, g: torch.Generator | None) -> Tensor:
        n, t = x.shape[0], x.shape[2]
        r = uniform((n, 1), *self.ratio, g, x.device)
        length = torch.floor(r * t).clamp(min=min(self.min_frames, t), max=t)
        start = torch.floor(rand((n, 1), g, x.device) * (t - length + 1))
        pos = start + output_grid(t, x.device) * (length / t) - 0.5
        return resample_positions(x, pos.clamp(min=start, max=start + length - 1))


@register("gaussian_blur")
class GaussianBlur(Augmentation):
    """Temporal Gaussian blur with a per-sample σ ~ U(sigma); missing joints stay missing and do not leak."""

    def __init__(self, kernel: int = 15, sigma: tuple[float, float] = (0.1, 2.0), p: float = 0.5):
        super().__init__(p)
        if kernel < 1 or kernel % 2 == 0:
            raise ValueError(f"blur kernel must be a positive odd number, got {kernel}")
        self.kernel = int(kernel)
        self.sigma = (float(sigma[0]), float(sigma[1]))

    def apply(self, x: Tensor, g: torch.Generator | None) -> Tensor:
        n, r = x.shape[0], self.kernel // 2
        sigma = uniform((n, 1), *self.sigma, g, x.device)
        offsets = torch.arange(-r, r + 1, device=x.device, dtype=torch.float32)
        weights = torch.exp(-(offsets**2) / (2 * sigma**2)).to(x.dtype)  # [N, K]
        valid = torch.isfinite(x).all(-1)  # [N, M, T, V]
        x0 = torch.where(valid.unsqueeze(-1), x, torch.zeros_like(x))
        pad = (0, 0, 0, 0, r, r)  # pad T
        win = torch.nn.functional.pad(x0, pad).unfold(2, self.kernel, 1)  # [N, M, T, V, C, K]
        vwin = torch.nn.functional.pad(valid.to(x.dtype), pad[2:]).unfold(2, self.kernel, 1)  # [N, M, T, V, K]
        num = torch.einsum("nmtvck,nk->nmtvc", win, weights)
        den = torch.einsum("nmtvk,nk->nmtv", vwin, weights).clamp(min=1e-12)
        out = num / den.unsqueeze(-1)
        return torch.where(valid.unsqueeze(-1), out, x)


@register("time_reversal")
class TimeReversal(Augmentation):
    def __init__(self, p: float = 0.5):
        super().__init__(p)

    def apply(self, x: Tensor, g: torch.Generator | None) -> Tensor:
        return torch.flip(x, dims=(2,))
