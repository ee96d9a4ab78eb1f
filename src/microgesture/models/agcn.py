"""Adaptive-graph GCN (2s-AGCN, Shi et al. 2019): the graph stream of ISC.

Each of the K = 3 subsets (identity / inward / outward) uses ``A_k + B_k + C_k``: the fixed skeleton,
a learned offset ``B_k`` (initialised at 1e-6 as in 2s-AGCN) and a per-sample graph
``C_k = softmax(theta(x)^T phi(x))`` that lets two joints far apart on the skeleton (a hand touching the
face) talk directly — the relation micro-gestures are made of. As in :mod:`.stgcn`, the aggregation is one
batched GEMM against all subsets side by side followed by a ``(1, K)``-strided convolution, instead of
2s-AGCN's K separate matmul + conv pairs.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from ..errors import ConfigError
from .base import DataNorm, GraphBlock, GraphEncoder, block_plan, block_residual, init_conv_bn
from .graph import build_adjacency
from .inference import fold_pair
from .registry import register_model
from .stgcn import FULL_CHANNELS, STRIDES, aggregate


class AdaptiveGraphConv(nn.Module):
    """``y = BN(sum_k W_k x (A_k + B_k + C_k(x))) + down(x)``, then ReLU (2s-AGCN's ``unit_gcn``)."""

    def __init__(self, in_channels: int, out_channels: int, adjacency: Tensor, adaptive: bool = True,
                 embed_ratio: int = 4) -> None:
        super().__init__()
        k = adjacency.shape[0]
        self.num_subsets = k
        self.register_buffer("adjacency", adjacency.clone())
        self.offset = nn.Parameter(torch.full_like(adjacency, 1e-6))  # B_k
        self.adaptive = adaptive
        self.inter = max(out_channels // embed_ratio, 1)
        if adaptive:
            self.theta = nn.Conv2d(in_channels, k * self.inter, 1)
            self.phi = nn.Conv2d(in_channels, k * self.inter, 1)
        self.mix = nn.Conv2d(in_channels, out_channels, kernel_size=(1, k), stride=(1, k))
        self.bn = nn.BatchNorm2d(out_channels)
        if in_channels == out_channels:
            self.down: nn.Module = nn.Identity()
        else:
            self.down = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1), nn.BatchNorm2d(out_channels))
        self.relu = nn.ReLU(inplace=True)

    def graphs(self, x: Tensor) -> Tensor:
        """Per-sample graphs ``[B, K, V, V]`` (or ``[K, V, V]`` when not adaptive), rows = output joints."""
        a = self.adjacency + self.offset
        if not self.adaptive:
            return a
        b, _, t, v = x.shape
        th = self.theta(x).reshape(b, self.num_subsets, self.inter * t, v)
        ph = self.phi(x).reshape(b, self.num_subsets, self.inter * t, v)
        logits = torch.matmul(th.transpose(2, 3), ph) / (self.inter * t)  # [B, K, V(out), V(in)]
        return a + logits.softmax(dim=-1)

    def forward(self, x: Tensor) -> Tensor:
        b, c, t, v = x.shape
        a = self.graphs(x)
        op = a.transpose(-1, -3).reshape(*a.shape[:-3], v, v * self.num_subsets)  # [.., V(in), V(out)*K]
        if op.dim() == 2:
            z = aggregate(x, op)
        elif x.is_contiguous():
            z = torch.matmul(x.reshape(b, c * t, v), op).view(b, c, t, v * self.num_subsets)
        else:  # channels-last: per-sample graphs applied from the left to physical [B, T, V, C]
            z = torch.matmul(op.transpose(1, 2).unsqueeze(1), x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        return self.relu(self.bn(self.mix(z)) + self.down(x))

    def fold_batchnorm_(self) -> None:
        """Eval-only: fold the BN into the (channel, subset) mixing conv."""
        self.mix, self.bn = fold_pair(self.mix, self.bn)


class AGCNBlock(GraphBlock):
    """Adaptive graph conv -> temporal conv (kernel 9) + BN, plus the block residual, then ReLU."""

    def __init__(self, in_channels: int, out_channels: int, adjacency: Tensor, stride: int = 1,
                 residual: bool = True, adaptive: bool = True, temporal_kernel: int = 9,
                 dropout: float = 0.0) -> None:
        super().__init__()
        self.gcn = AdaptiveGraphConv(in_channels, out_channels, adjacency, adaptive)
        layers: list[nn.Module] = [
            nn.Conv2d(out_channels, out_channels, (temporal_kernel, 1), (stride, 1), (temporal_kernel // 2, 0)),
            nn.BatchNorm2d(out_channels),
        ]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        self.tcn = nn.Sequential(*layers)
        self.residual = block_residual(in_channels, out_channels, stride, residual)
        self.relu = nn.ReLU(inplace=True)


class AGCN(GraphEncoder):
    """2s-AGCN backbone (one stream): data BN, 10 adaptive blocks, mean pooling over T, V and persons."""

    def __init__(self, layout: str = "ntu25", in_channels: int = 3, num_frames: int | None = None,
                 num_persons: int = 1, channels: Sequence[int] = FULL_CHANNELS,
                 strides: Sequence[int] | None = None, adaptive: bool = True, partition: str = "agcn",
                 temporal_kernel: int = 9, dropout: float = 0.0) -> None:
        super().__init__(layout, in_channels, num_persons, num_frames)
        channels, strides = block_plan(channels, strides, STRIDES)
        if temporal_kernel % 2 != 1:
            raise ConfigError(f"temporal_kernel must be odd, got {temporal_kernel}")
        adjacency = build_adjacency(self.layout, partition)
        self.data_norm = DataNorm(self.num_persons, self.num_joints, self.in_channels)
        blocks, c_in = [], self.in_channels
        for i, (c_out, s) in enumerate(zip(channels, strides, strict=True)):
            blocks.append(AGCNBlock(c_in, c_out, adjacency, s, residual=i > 0, adaptive=adaptive,
                                    temporal_kernel=temporal_kernel, dropout=dropout))
            c_in = c_out
        self.blocks = nn.Sequential(*blocks)
        self.out_dim = channels[-1]
        self.token_count = self.num_joints
        init_conv_bn(self)
        for blk in self.blocks:  # 2s-AGCN: the graph conv's BN starts tiny so each block starts near identity
            nn.init.constant_(blk.gcn.bn.weight, 1e-6)


@register_model("agcn")
def agcn(layout: str = "ntu25", in_channels: int = 3, num_frames: int | None = None, num_persons: int = 1,
         channels: Sequence[int] = FULL_CHANNELS, strides: Sequence[int] | None = None, adaptive: bool = True,
         partition: str = "agcn", temporal_kernel: int = 9, dropout: float = 0.0) -> AGCN:
    """2s-AGCN joint stream at full width (ISC's graph encoder); pass ``channels`` for a narrower one."""
    return AGCN(layout, in_channels, num_frames, num_persons, channels, strides, adaptive, partition,
                temporal_kernel, dropout)
