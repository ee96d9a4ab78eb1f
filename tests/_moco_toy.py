"""Tiny real encoders for the MoCo tests (linear maps over the flattened clip; no BatchNorm so that a
2-process DDP run and a single-process run with the same global batch are mathematically identical)."""

from __future__ import annotations

import torch
from torch import nn


class FlatEncoder(nn.Module):
    def __init__(self, in_features: int, out_dim: int = 16):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(1), nn.Linear(in_features, 32), nn.ReLU(), nn.Linear(32, out_dim))
        self.out_dim = out_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class ToyDualStream(nn.Module):
    """Spatial stream pools over time, temporal stream pools over joints; fused = concatenation."""

    def __init__(self, T: int, V: int, C: int, dim: int = 8):
        super().__init__()
        self.spatial = nn.Linear(V * C, dim)
        self.temporal = nn.Linear(T * C, dim + 4)
        self.spatial.out_dim, self.temporal.out_dim = dim, dim + 4
        self.out_dim = 2 * dim + 4
        self.stream_dims = {"spatial": dim, "temporal": dim + 4, "fused": 2 * dim + 4}

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        n = x.shape[0]
        s = self.spatial(x.mean(dim=(1, 2)).reshape(n, -1))
        t = self.temporal(x.mean(dim=(1, 3)).reshape(n, -1))
        return {"spatial": s, "temporal": t, "fused": torch.cat([s, t], dim=1)}
