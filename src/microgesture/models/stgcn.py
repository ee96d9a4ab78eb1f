"""ST-GCN encoder (Yan et al. 2018) in full width and the ¼-width variant of SkeletonCLR / AimCLR.

Speed by design (the reference spends ~20 % of a step on layout copies and its einsum): activations stay
in one ``[N*M, C, T, V]`` layout from the first block to the pooling; the graph step aggregates over joints
*first* — a single GEMM of the activations with all K adjacency subsets side by side, ``[V, V*K]`` — and
then mixes (channel, subset) pairs with one strided ``(1, K)`` convolution. That is
``y = sum_k W_k (x A_k)``, the same linear map as ST-GCN's ``sum_k (W_k x) A_k`` (up to where the bias
enters), with no permute between them and the cheaper side of the product on the narrower input width.
Dropout, which costs the reference 10–13 % of a pretraining step, is off unless asked for.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import ConfigError
from .base import DataNorm, GraphBlock, GraphEncoder, block_plan, block_residual, init_conv_bn
from .graph import build_adjacency
from .inference import fold_pair
from .registry import register_model

FULL_CHANNELS = (64, 64, 64, 64, 128, 128, 128, 256, 256, 256)
QUARTER_CHANNELS = (16, 16, 16, 16, 32, 32, 32, 64, 64, 256)
STRIDES = (1, 1, 1, 1, 2, 1, 1, 2, 1, 1)


class GraphConv(nn.Module):
    """Spatial graph convolution ``y = sum_k W_k (x A_k)`` over a fixed partition ``A: [K, V, V]``."""

    def __init__(self, in_channels: int, out_channels: int, adjacency: Tensor, edge_importance: bool) -> None:
        super().__init__()
        k = adjacency.shape[0]
        self.register_buffer("adjacency", adjacency.clone())
        # ST-GCN's learnable edge-importance mask, multiplied into the partition
        self.edge_importance = nn.Parameter(torch.ones_like(adjacency)) if edge_importance else None
        self.mix = nn.Conv2d(in_channels, out_channels, kernel_size=(1, k), stride=(1, k))

    def operator(self) -> Tensor:
        """``[V, V*K]`` with column ``w*K + k`` = how output joint ``w`` reads each input joint in subset k."""
        a = self.adjacency if self.edge_importance is None else self.adjacency * self.edge_importance
        k, v, _ = a.shape
        return a.permute(2, 1, 0).reshape(v, v * k)

    def forward(self, x: Tensor) -> Tensor:  # [B, C, T, V] -> [B, O, T, V]
        return self.mix(aggregate(x, self.operator()))


# Widest input for which the channels-last aggregation runs as a oneDNN 1 x 1 convolution rather than one
# batched GEMM, with and without autograd recording. Measured per shape on the project's AVX-512 CPU (one
# thread): with gradients the convolution wins up to 16 channels, the batched GEMM from 32 on; forward-only
# (inference, MoCo's key encoder) the convolution wins below 16 channels and the batched GEMM from 16 on.
CONV_AGGREGATION_MAX_CHANNELS = {"grad": 16, "no_grad": 8}


def aggregate(x: Tensor, op: Tensor) -> Tensor:
    """``[B, C, T, V] @ [V, V*K] -> [B, C, T, V*K]`` in one library call, without copying the activations.

    Contiguous (NCHW) activations make this one GEMM over ``B*C*T`` rows. Channels-last activations are
    physically ``[B*T, V, C]``: the result ``op^T @ x[b, t]`` for every frame is either one batched GEMM
    (``op`` broadcast, no copy) or, for narrow inputs, a 1 x 1 convolution of the same rows read as an NCHW
    batch with the joints as channels. Either output ``[B*T, V*K, C]`` is the channels-last result. The
    broadcast ``torch.matmul`` this replaces (:func:`aggregate_matmul`) copied the activations to fold them into
    one GEMM whenever autograd was recording (its backward then copied again): about a tenth of a CPU pretraining
    step (``benchmarks/bench_pretrain.py``, "reference paths" row).
    """
    if x.is_contiguous():
        return torch.matmul(x, op)
    b, c, t, v = x.shape
    rows = x.permute(0, 2, 3, 1).reshape(b * t, v, c)  # a view for channels-last x
    grad = torch.is_grad_enabled() and (x.requires_grad or op.requires_grad)
    if c <= CONV_AGGREGATION_MAX_CHANNELS["grad" if grad else "no_grad"]:
        y = F.conv2d(rows.unsqueeze(2), op.t().reshape(-1, v, 1, 1))
    else:
        y = torch.bmm(op.t().unsqueeze(0).expand(b * t, -1, -1), rows)
    return y.reshape(b, t, -1, c).permute(0, 3, 1, 2)


def aggregate_matmul(x: Tensor, op: Tensor) -> Tensor:
    """The reference form of :func:`aggregate` (one broadcast ``torch.matmul`` in either memory format)."""
    if x.is_contiguous():
        return torch.matmul(x, op)
    return torch.matmul(op.t(), x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class STGCNBlock(GraphBlock):
    """Graph conv -> BN -> ReLU -> temporal conv (kernel 9) -> BN [-> dropout] (+ residual) -> ReLU."""

    def __init__(self, in_channels: int, out_channels: int, adjacency: Tensor, stride: int = 1,
                 residual: bool = True, edge_importance: bool = True, temporal_kernel: int = 9,
                 dropout: float = 0.0) -> None:
        super().__init__()
        if temporal_kernel % 2 != 1:
            raise ConfigError(f"temporal_kernel must be odd, got {temporal_kernel}")
        self.gcn = GraphConv(in_channels, out_channels, adjacency, edge_importance)
        layers: list[nn.Module] = [
            nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, (temporal_kernel, 1), (stride, 1), (temporal_kernel // 2, 0)),
            nn.BatchNorm2d(out_channels),
        ]
        if dropout > 0:
            layers.append(nn.Dropout(dropout, inplace=True))
        self.tcn = nn.Sequential(*layers)
        self.residual = block_residual(in_channels, out_channels, stride, residual)
        self.relu = nn.ReLU(inplace=True)

    def fold_batchnorm_(self) -> None:
        """Eval-only: fold the BN after the graph conv into its (channel, subset) mixing conv."""
        self.gcn.mix, self.tcn[0] = fold_pair(self.gcn.mix, self.tcn[0])


class STGCN(GraphEncoder):
    """ST-GCN backbone: data BN, a stack of ST-GCN blocks, mean pooling over T, V and persons."""

    def __init__(self, layout: str = "ntu25", in_channels: int = 3, num_frames: int | None = None,
                 num_persons: int = 1, channels: Sequence[int] = FULL_CHANNELS,
                 strides: Sequence[int] | None = None, partition: str = "spatial",
                 edge_importance: bool = True, temporal_kernel: int = 9, dropout: float = 0.0) -> None:
        super().__init__(layout, in_channels, num_persons, num_frames)
        channels, strides = block_plan(channels, strides, STRIDES)
        adjacency = build_adjacency(self.layout, partition)
        self.data_norm = DataNorm(self.num_persons, self.num_joints, self.in_channels)
        blocks = []
        c_in = self.in_channels
        for i, (c_out, s) in enumerate(zip(channels, strides, strict=True)):
            blocks.append(STGCNBlock(c_in, c_out, adjacency, s, residual=i > 0,
                                     edge_importance=edge_importance, temporal_kernel=temporal_kernel,
                                     dropout=dropout))
            c_in = c_out
        self.blocks = nn.Sequential(*blocks)
        self.out_dim = channels[-1]
        self.token_count = self.num_joints
        init_conv_bn(self)


@register_model("stgcn")
def stgcn(layout: str = "ntu25", in_channels: int = 3, num_frames: int | None = None, num_persons: int = 1,
          channels: Sequence[int] = FULL_CHANNELS, strides: Sequence[int] | None = None,
          partition: str = "spatial", edge_importance: bool = True, temporal_kernel: int = 9,
          dropout: float = 0.0) -> STGCN:
    """Full-width ST-GCN (64 -> 128 -> 256 channels, 10 blocks, ~3.1 M parameters)."""
    return STGCN(layout, in_channels, num_frames, num_persons, channels, strides, partition,
                 edge_importance, temporal_kernel, dropout)


@register_model("stgcn_quarter")
def stgcn_quarter(layout: str = "ntu25", in_channels: int = 3, num_frames: int | None = None,
                  num_persons: int = 1, channels: Sequence[int] = QUARTER_CHANNELS,
                  strides: Sequence[int] | None = None, partition: str = "spatial",
                  edge_importance: bool = True, temporal_kernel: int = 9, dropout: float = 0.0) -> STGCN:
    """SkeletonCLR / AimCLR encoder: ¼ width (16 -> 32 -> 64) with a last 64 -> 256 block."""
    return STGCN(layout, in_channels, num_frames, num_persons, channels, strides, partition,
                 edge_importance, temporal_kernel, dropout)
