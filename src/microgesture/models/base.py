"""Shared pieces of every skeleton encoder: input checking, data normalisation, the encoder interface.

Interface (what training, evaluation and fusion rely on): an encoder takes ``[N, M, T, V, C]`` float32 and
``forward`` returns ``[N, out_dim]``; ``embed`` is the same for plain encoders (wrappers override it);
``forward_features`` also returns per-token features ``[N, L, out_dim]`` (per joint for graph encoders,
per frame for sequence encoders) so fusion modules can build graphs over them. ``token_count`` is ``L``
when it is fixed by the architecture, ``None`` when it follows the clip length.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from ..data.layouts import get_layout
from ..errors import ConfigError


class SkeletonEncoder(nn.Module):
    """Base class: stores the input geometry and checks every batch against it."""

    out_dim: int
    token_count: int | None = None
    channels_last: bool = False  # graph encoders: run convolutions in NHWC (see inference.py)

    def __init__(self, layout: str, in_channels: int, num_persons: int, num_frames: int | None) -> None:
        super().__init__()
        if in_channels < 1 or num_persons < 1:
            raise ConfigError(f"in_channels and num_persons must be >= 1, got {in_channels}, {num_persons}")
        self.layout_name = layout
        self.layout = get_layout(layout)
        self.num_joints = self.layout.num_joints
        self.in_channels = int(in_channels)
        self.num_persons = int(num_persons)
        self.num_frames = num_frames

    def check_input(self, x: Tensor) -> None:
        if x.dim() != 5 or x.shape[1] != self.num_persons or x.shape[3] != self.num_joints \
                or x.shape[4] != self.in_channels:
            raise ConfigError(
                f"{type(self).__name__} expects input [N, M={self.num_persons}, T, V={self.num_joints}, "
                f"C={self.in_channels}] (layout {self.layout_name}), got {tuple(x.shape)}")

    def forward_features(self, x: Tensor) -> tuple[Tensor, Tensor]:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_features(x)[0]

    def embed(self, x: Tensor) -> Tensor:
        """The inference embedding ``[N, out_dim]``."""
        return self(x)


class DataNorm(nn.Module):
    """BatchNorm over every (person, joint, coordinate) channel, statistics over batch and time.

    Why: ST-GCN's ``data_bn`` — coordinates of different joints live on very different scales (a wrist
    moves far more than the neck); normalising each one lets the first layer see comparable inputs.
    """

    def __init__(self, num_persons: int, num_joints: int, channels: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm1d(num_persons * num_joints * channels)

    def forward(self, x: Tensor) -> Tensor:
        n, m, t, v, c = x.shape
        y = self.bn(x.permute(0, 1, 3, 4, 2).reshape(n, m * v * c, t))
        return y.view(n, m, v, c, t).permute(0, 1, 4, 2, 3)  # back to [N, M, T, V, C] (a view)


def init_conv_bn(module: nn.Module) -> None:
    """Kaiming-normal convs, unit BN, zero biases (the ST-GCN / 2s-AGCN initialisation)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv1d, nn.Conv2d)):
            nn.init.kaiming_normal_(m.weight, mode="fan_out")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def to_nmctv(x: Tensor, channels_last: bool = False) -> Tensor:
    """``[N, M, T, V, C]`` -> ``[N*M, C, T, V]``: the one layout copy a graph encoder makes.

    ``channels_last`` returns the same logical tensor in NHWC memory order (physically ``[N*M, T, V, C]``).
    """
    n, m, t, v, c = x.shape
    if channels_last:
        return x.reshape(n * m, t, v, c).contiguous().permute(0, 3, 1, 2)
    return x.permute(0, 1, 4, 2, 3).reshape(n * m, c, t, v).contiguous()


def pool_graph_features(y: Tensor, n: int, m: int) -> tuple[Tensor, Tensor]:
    """``[N*M, D, T, V]`` -> pooled ``[N, D]`` (mean over T, V, M) and per-joint tokens ``[N, V, D]``."""
    _, d, _, v = y.shape
    joints = y.mean(dim=2).view(n, m, d, v).mean(dim=1)  # [N, D, V]
    return joints.mean(dim=2), joints.transpose(1, 2)


def mean_over_frames_and_joints(y: Tensor) -> Tensor:
    """``y.mean(dim=(2, 3))``, bit for bit, with a cheaper backward while autograd records.

    Why: the backward of ``mean`` writes ``grad / N`` over the whole last activation before the last ReLU's
    backward reads it; the backward of a ``sum`` is an expand (a view), so the division happens on the pooled
    ``[B, D]`` gradient and one full pass over the widest activation is saved (about 4 % of an ST-GCN
    training step). Without autograd (inference, export) it is a plain ``mean``, so traced graphs stay
    independent of the clip length.
    """
    if torch.is_grad_enabled() and y.requires_grad:
        return y.sum(dim=(2, 3)) / (y.shape[2] * y.shape[3])
    return y.mean(dim=(2, 3))


def block_residual(in_channels: int, out_channels: int, stride: int, enabled: bool) -> nn.Module | None:
    """The ST-GCN / 2s-AGCN block shortcut: none, identity, or a strided 1x1 conv + BN where the shape changes."""
    if not enabled:
        return None
    if in_channels == out_channels and stride == 1:
        return nn.Identity()
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, (stride, 1)), nn.BatchNorm2d(out_channels))


class GraphBlock(nn.Module):
    """``ReLU(tcn(gcn(x)) + residual(x))``: subclasses build ``gcn``, ``tcn``, ``residual`` and ``relu``."""

    gcn: nn.Module
    tcn: nn.Module
    residual: nn.Module | None
    relu: nn.Module

    def forward(self, x: Tensor) -> Tensor:
        y = self.tcn(self.gcn(x))
        if self.residual is not None:
            y = y + self.residual(x)
        return self.relu(y)


def block_plan(channels: Sequence[int], strides: Sequence[int] | None,
               default_strides: Sequence[int]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Validated per-block widths and temporal strides (``strides`` defaults to a prefix of ``default_strides``)."""
    widths = tuple(int(c) for c in channels)
    steps = tuple(default_strides[: len(widths)]) if strides is None else tuple(int(s) for s in strides)
    if len(widths) != len(steps) or not widths:
        raise ConfigError(f"channels {widths} and strides {steps} must be non-empty and equally long")
    return widths, steps


class GraphEncoder(SkeletonEncoder):
    """A graph encoder: ``data_norm`` then a stack of ``blocks`` on ``[N*M, C, T, V]``, mean-pooled over T, V, M."""

    data_norm: nn.Module
    blocks: nn.Module

    def feature_map(self, x: Tensor) -> Tensor:
        """``[N, M, T, V, C]`` -> last block's activations ``[N*M, D, T', V]``."""
        self.check_input(x)
        return self.blocks(to_nmctv(self.data_norm(x), self.channels_last))

    def forward(self, x: Tensor) -> Tensor:
        n, m = x.shape[:2]
        return mean_over_frames_and_joints(self.feature_map(x)).view(n, m, -1).mean(dim=1)

    def forward_features(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return pool_graph_features(self.feature_map(x), x.shape[0], x.shape[1])


def embed(model: nn.Module, x: Tensor) -> Tensor:
    """The model's inference embedding: ``model.embed`` where defined (dual-stream encoders return a dict from
    ``forward``; a classifier's embedding is its encoder's), otherwise ``model(x)``."""
    fn = getattr(model, "embed", None)
    return fn(x) if callable(fn) else model(x)
