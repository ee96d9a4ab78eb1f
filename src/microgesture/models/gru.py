"""Temporal stream: a bidirectional multi-layer GRU over per-frame joint vectors (ISC's sequence encoder).

ISC stepped its GRU one frame at a time from Python (64 length-1 calls per pass, re-reading ~180 MB of
weights each time): 55 % of its step. Here the whole sequence goes through ONE ``nn.GRU`` call, so the
input projections of all frames are a single GEMM and the recurrence runs in ATen. The ISC size
(3 layers x 1024) is available through ``hidden_size``/``num_layers`` (or the ``gru_isc`` entry); the
default (2 x 256) is sized for CPU training.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..errors import ConfigError
from .base import DataNorm, SkeletonEncoder
from .registry import register_model

POOLINGS = ("last", "mean")


class BiGRUEncoder(SkeletonEncoder):
    """``[N, M, T, V, C]`` -> frames ``[N, T, M*V*C]`` -> BiGRU -> ``[N, 2*hidden]``.

    ``pooling="last"`` concatenates the forward direction's final state (it has read the whole clip) with
    the backward direction's final state (it has read the clip backwards down to frame 0) — unlike ISC's
    ``output[:, -1]``, whose backward half has seen only the last frame. ``"mean"`` averages the outputs
    over time instead.
    """

    def __init__(self, layout: str = "ntu25", in_channels: int = 3, num_frames: int | None = None,
                 num_persons: int = 1, hidden_size: int = 256, num_layers: int = 2, pooling: str = "last",
                 dropout: float = 0.0, input_norm: bool = True) -> None:
        super().__init__(layout, in_channels, num_persons, num_frames)
        if pooling not in POOLINGS:
            raise ConfigError(f"unknown GRU pooling {pooling!r}; choose one of {', '.join(POOLINGS)}")
        if hidden_size < 1 or num_layers < 1:
            raise ConfigError(f"hidden_size and num_layers must be >= 1, got {hidden_size}, {num_layers}")
        self.pooling = pooling
        self.input_size = self.num_persons * self.num_joints * self.in_channels
        self.data_norm = DataNorm(self.num_persons, self.num_joints, self.in_channels) if input_norm else None
        self.gru = nn.GRU(self.input_size, hidden_size, num_layers=num_layers, batch_first=True,
                          bidirectional=True, dropout=dropout if num_layers > 1 else 0.0)
        self.out_dim = 2 * hidden_size
        self.token_count = None
        for name, p in self.gru.named_parameters():  # ISC: Xavier-uniform on every matrix
            if p.dim() == 2:
                nn.init.xavier_uniform_(p)
            elif name.startswith("bias"):
                nn.init.zeros_(p)

    def frames(self, x: Tensor) -> Tensor:
        """``[N, M, T, V, C]`` -> ``[N, T, M*V*C]`` per-frame vectors (after data normalisation)."""
        self.check_input(x)
        if self.data_norm is not None:
            x = self.data_norm(x)
        n, m, t, v, c = x.shape
        return x.transpose(1, 2).reshape(n, t, m * v * c)

    def _run(self, x: Tensor) -> tuple[Tensor, Tensor]:
        out, h_n = self.gru(self.frames(x))
        if self.pooling == "mean":
            return out.mean(dim=1), out
        return torch.cat([h_n[-2], h_n[-1]], dim=1), out

    def forward(self, x: Tensor) -> Tensor:
        return self._run(x)[0]

    def forward_features(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return self._run(x)


@register_model("gru")
def gru(layout: str = "ntu25", in_channels: int = 3, num_frames: int | None = None, num_persons: int = 1,
        hidden_size: int = 256, num_layers: int = 2, pooling: str = "last", dropout: float = 0.0,
        input_norm: bool = True) -> BiGRUEncoder:
    """Bidirectional GRU over per-frame joint vectors (default 2 x 256; ISC used 3 x 1024)."""
    return BiGRUEncoder(layout, in_channels, num_frames, num_persons, hidden_size, num_layers, pooling,
                        dropout, input_norm)


@register_model("gru_isc")
def gru_isc(layout: str = "ntu25", in_channels: int = 3, num_frames: int | None = None, num_persons: int = 2,
            hidden_size: int = 1024, num_layers: int = 3, pooling: str = "last", dropout: float = 0.0,
            input_norm: bool = False) -> BiGRUEncoder:
    """ISC's sequence encoder size: 3 x 1024 bidirectional, raw (un-normalised) input, two bodies."""
    return BiGRUEncoder(layout, in_channels, num_frames, num_persons, hidden_size, num_layers, pooling,
                        dropout, input_norm)
