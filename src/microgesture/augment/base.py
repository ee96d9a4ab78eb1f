"""The augmentation base class, the name registry, and vectorised random/time-resampling helpers.

Why this shape: contrastive training augments every batch twice or more, so augmentations run on whole
batches ``x [N, M, T, V, C]`` of torch tensors (CPU or CUDA) with all per-sample random parameters drawn
as tensors in one go from a caller-supplied ``torch.Generator`` (reproducible runs). Missing joints are
NaN and stay NaN: spatial augmentations keep them in place, temporal ones move them with their frame.
Nothing is modified in place, so augmentations can sit inside autograd.
"""

from __future__ import annotations

import inspect
import math

import torch

from ..data.layouts import Layout

Tensor = torch.Tensor

AUGMENTATIONS: dict[str, type[Augmentation]] = {}


def register(name: str):
    """Class decorator: make an augmentation buildable by ``name`` from configs and the command line."""

    def deco(cls: type[Augmentation]) -> type[Augmentation]:
        AUGMENTATIONS[name] = cls
        cls.registry_name = name
        return cls

    return deco


# ---------------------------------------------------------------------------------------------
# random draws: on the generator's device (so a CPU generator drives CUDA batches), then moved


def rand(shape: tuple[int, ...], g: torch.Generator | None, device: torch.device) -> Tensor:
    gdev = g.device if g is not None else device
    return torch.rand(shape, generator=g, device=gdev).to(device)


def randn(shape: tuple[int, ...], g: torch.Generator | None, device: torch.device) -> Tensor:
    gdev = g.device if g is not None else device
    return torch.randn(shape, generator=g, device=gdev).to(device)


def uniform(shape: tuple[int, ...], low: float, high: float, g: torch.Generator | None,
            device: torch.device) -> Tensor:
    return low + (high - low) * rand(shape, g, device)


def randint(shape: tuple[int, ...], low: int, high: int, g: torch.Generator | None,
            device: torch.device) -> Tensor:
    """Integers in ``[low, high)``."""
    return (low + torch.floor(rand(shape, g, device) * (high - low))).long()


def choice(values: tuple[float, ...] | list[float], n: int, g: torch.Generator | None,
           device: torch.device) -> Tensor:
    """``n`` draws from a small set of values (e.g. repeat counts), as a float tensor."""
    table = torch.as_tensor(list(values), dtype=torch.float32, device=device)
    return table[randint((n,), 0, len(values), g, device)]


def random_subset(n: int, v: int, k: int, g: torch.Generator | None, device: torch.device) -> Tensor:
    """``[n, v]`` bool mask choosing ``k`` of ``v`` items per row, uniformly without replacement."""
    k = max(0, min(k, v))
    order = torch.argsort(rand((n, v), g, device), dim=1)
    return order < k  # rank of each item below k


# ---------------------------------------------------------------------------------------------
# time resampling with NaN-aware linear interpolation


def gather_frames(x: Tensor, idx: Tensor) -> Tensor:
    """``out[n, :, t] = x[n, :, idx[n, t]]`` for ``x [N, M, T, V, C]`` and integer ``idx [N, T']``."""
    rows = torch.arange(x.shape[0], device=x.device).view(-1, 1)
    return x[rows, :, idx.to(x.device).long()].permute(0, 2, 1, 3, 4).contiguous()  # [N, M, T', V, C]


def lerp_frames(x: Tensor, lo: Tensor, hi: Tensor, w: Tensor) -> Tensor:
    """Blend frames ``lo`` and ``hi`` (``[N, T']`` each) with weight ``w`` toward ``hi``.

    A missing neighbour does not blank the result: where the blend is NaN, the nearer frame is used
    (halfway: the observed one), so a joint is missing exactly where its nearest source frame lacks it.
    """
    a, b = gather_frames(x, lo), gather_frames(x, hi)
    wt = w.to(x.dtype).view(w.shape[0], 1, -1, 1, 1)
    out = torch.lerp(a, b, wt)
    bad = torch.isnan(out)
    if bool(bad.any()):
        take_b = (wt > 0.5) | ((wt == 0.5) & torch.isnan(a))
        out = torch.where(bad, torch.where(take_b, b, a), out)
    return out


def resample_positions(x: Tensor, pos: Tensor) -> Tensor:
    """Sample ``x`` at fractional source-frame positions ``pos [N, T']`` (clamped to the clip)."""
    t = x.shape[2]
    pos = pos.clamp(0, t - 1)
    lo = torch.floor(pos)
    hi = (lo + 1).clamp(max=t - 1)
    return lerp_frames(x, lo.long(), hi.long(), pos - lo)


def output_grid(t_out: int, device: torch.device) -> Tensor:
    """Half-pixel output frame centres ``[T']`` (``F.interpolate(align_corners=False)`` convention)."""
    return torch.arange(t_out, device=device, dtype=torch.float32) + 0.5


# ---------------------------------------------------------------------------------------------


class Augmentation:
    """Base class: subclasses implement :meth:`apply` on the samples chosen with probability ``p``.

    ``coords`` is the number of leading channels that are coordinates (2 or 3); extra channels (such as a
    confidence score) are carried through spatial augmentations untouched. ``None`` = all channels.
    """

    registry_name = ""

    def __init__(self, p: float = 1.0):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"probability p must be in [0, 1], got {p}")
        self.p = float(p)

    # subclasses override
    def apply(self, x: Tensor, g: torch.Generator | None) -> Tensor:  # pragma: no cover
        raise NotImplementedError

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        if x.dim() != 5:
            raise ValueError(f"{type(self).__name__} expects a batch [N, M, T, V, C], got shape {tuple(x.shape)}")
        if not x.is_floating_point():
            raise ValueError(f"{type(self).__name__} expects floating point input, got {x.dtype}")
        n = x.shape[0]
        if n == 0 or self.p == 0.0:
            return x
        if self.p >= 1.0:
            return self.apply(x, generator)
        chosen = rand((n,), generator, x.device) < self.p
        idx = torch.nonzero(chosen, as_tuple=True)[0]
        if idx.numel() == 0:
            return x
        if idx.numel() == n:
            return self.apply(x, generator)
        return x.index_put((idx,), self.apply(x[idx], generator))

    def __repr__(self) -> str:
        parts = []
        for name in inspect.signature(type(self).__init__).parameters:
            if name in ("self", "args", "kwargs") or not hasattr(self, name):
                continue
            val = getattr(self, name)
            parts.append(f"{name}={val.name if isinstance(val, Layout) else val!r}")
        return f"{type(self).__name__}({', '.join(parts)})"


class SpatialAugmentation(Augmentation):
    """Acts on the coordinate channels only; handles the split from extra channels."""

    def __init__(self, p: float = 1.0, coords: int | None = None):
        super().__init__(p)
        if coords is not None and coords not in (2, 3):
            raise ValueError(f"coords must be 2 or 3, got {coords}")
        self.coords = coords

    def num_coords(self, x: Tensor) -> int:
        c = x.shape[-1] if self.coords is None else self.coords
        if c not in (2, 3) or c > x.shape[-1]:
            raise ValueError(
                f"{type(self).__name__}: {x.shape[-1]} channels; set coords=2 or 3 to say which are coordinates")
        return c

    def apply(self, x: Tensor, g: torch.Generator | None) -> Tensor:
        c = self.num_coords(x)
        if c == x.shape[-1]:
            return self.apply_coords(x, g)
        return torch.cat([self.apply_coords(x[..., :c], g), x[..., c:]], dim=-1)

    def apply_coords(self, x: Tensor, g: torch.Generator | None) -> Tensor:  # pragma: no cover
        raise NotImplementedError


def linear_map(x: Tensor, mat: Tensor) -> Tensor:
    """Per-sample linear map of coordinates: ``x [N, M, T, V, C] @ mat[n]^T`` (``mat [N, C, C]``)."""
    return torch.einsum("nmtvc,ndc->nmtvd", x, mat.to(x.dtype))


def rotation_matrices(angles: Tensor) -> Tensor:
    """Rotation matrices from angles (radians): ``[N]`` → 2-D ``[N, 2, 2]``; ``[N, 3]`` (about x, y, z,
    applied in that order) → 3-D ``[N, 3, 3]``."""
    if angles.dim() == 1:
        c, s = torch.cos(angles), torch.sin(angles)
        return torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2)
    cx, cy, cz = torch.cos(angles).unbind(-1)
    sx, sy, sz = torch.sin(angles).unbind(-1)
    one, zero = torch.ones_like(cx), torch.zeros_like(cx)
    rx = torch.stack([one, zero, zero, zero, cx, -sx, zero, sx, cx], -1).view(-1, 3, 3)
    ry = torch.stack([cy, zero, sy, zero, one, zero, -sy, zero, cy], -1).view(-1, 3, 3)
    rz = torch.stack([cz, -sz, zero, sz, cz, zero, zero, zero, one], -1).view(-1, 3, 3)
    return rz @ ry @ rx


def body_scale_torch(x: Tensor, layout: Layout | None) -> Tensor:
    """``[N]`` per-sample body size (median shoulder width, else median joint spread); 1 where unknown.

    Lets MG perturbations be sized relative to the body even when clips were not scale-normalised.
    """
    n = x.shape[0]
    d = None
    if layout is not None:
        left = [i for i, nm in enumerate(layout.joints) if "Shoulder" in nm and "Left" in nm]
        right = [i for i, nm in enumerate(layout.joints) if "Shoulder" in nm and "Right" in nm]
        if len(left) == 1 and len(right) == 1:
            d = torch.linalg.vector_norm(x[:, :, :, left[0]] - x[:, :, :, right[0]], dim=-1).reshape(n, -1)
    if d is None:
        valid = torch.isfinite(x).all(-1, keepdim=True)
        cnt = valid.sum(3, keepdim=True).clamp(min=1)
        mean = torch.where(valid, x, torch.zeros_like(x)).sum(3, keepdim=True) / cnt
        sq = torch.where(valid, (x - mean) ** 2, torch.zeros_like(x)).sum((3, 4)) / cnt.squeeze(-1).squeeze(-1)
        d = torch.where(valid.any(3).squeeze(-1), sq.sqrt(), torch.full_like(sq, math.nan)).reshape(n, -1)
    d = torch.where(d > 0, d, torch.full_like(d, math.nan))
    med = torch.nanmedian(d, dim=1).values
    return torch.where(torch.isfinite(med), med, torch.ones_like(med))
