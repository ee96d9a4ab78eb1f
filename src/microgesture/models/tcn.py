"""A light temporal stream: dilated 1-D convolutions over per-frame joint vectors, mean-pooled over time.

Why an alternative to the GRU: convolutions over time parallelise across frames (the GRU's recurrence
cannot), so this stream runs near the machine's GEMM peak; dilations 1, 2, 4, ... give a receptive field
covering a whole short micro-gesture with few layers.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from ..errors import ConfigError
from .base import DataNorm, SkeletonEncoder, init_conv_bn
from .registry import register_model


class TemporalBlock(nn.Module):
    """Conv1d(kernel, dilation) -> BN -> ReLU -> Conv1d -> BN, plus a residual, then ReLU."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, dilation: int,
                 dropout: float = 0.0) -> None:
        super().__init__()
        pad = dilation * (kernel_size // 2)
        layers: list[nn.Module] = [
            nn.Conv1d(in_channels, out_channels, kernel_size, padding=pad, dilation=dilation, bias=False),
            nn.BatchNorm1d(out_channels), nn.ReLU(inplace=True),
            nn.Conv1d(out_channels, out_channels, kernel_size, padding=pad, dilation=dilation, bias=False),
            nn.BatchNorm1d(out_channels),
        ]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        self.body = nn.Sequential(*layers)
        self.skip: nn.Module = nn.Identity() if in_channels == out_channels else nn.Sequential(
            nn.Conv1d(in_channels, out_channels, 1, bias=False), nn.BatchNorm1d(out_channels))
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.relu(self.body(x) + self.skip(x))


class TCNEncoder(SkeletonEncoder):
    """``[N, M, T, V, C]`` -> ``[N, M*V*C, T]`` -> dilated temporal blocks -> mean over T -> ``[N, D]``."""

    def __init__(self, layout: str = "ntu25", in_channels: int = 3, num_frames: int | None = None,
                 num_persons: int = 1, channels: Sequence[int] = (128, 128, 256, 256), kernel_size: int = 3,
                 dilations: Sequence[int] | None = None, dropout: float = 0.0) -> None:
        super().__init__(layout, in_channels, num_persons, num_frames)
        channels = tuple(int(c) for c in channels)
        dilations = tuple(2 ** i for i in range(len(channels))) if dilations is None else tuple(dilations)
        if not channels or len(dilations) != len(channels):
            raise ConfigError(f"channels {channels} and dilations {dilations} must be non-empty, equally long")
        if kernel_size % 2 != 1:
            raise ConfigError(f"kernel_size must be odd, got {kernel_size}")
        self.data_norm = DataNorm(self.num_persons, self.num_joints, self.in_channels)
        c_in = self.num_persons * self.num_joints * self.in_channels
        blocks = []
        for c_out, d in zip(channels, dilations, strict=True):
            blocks.append(TemporalBlock(c_in, c_out, kernel_size, int(d), dropout))
            c_in = c_out
        self.blocks = nn.Sequential(*blocks)
        self.out_dim = channels[-1]
        self.token_count = None
        init_conv_bn(self)

    def _frames(self, x: Tensor) -> Tensor:
        self.check_input(x)
        n, m, t, v, c = x.shape
        x = self.data_norm(x)  # [N, M, T, V, C] view of [N, M, V, C, T] storage
        return x.permute(0, 1, 3, 4, 2).reshape(n, m * v * c, t)

    def _run(self, frames: Tensor) -> Tensor:
        if frames.shape[0] == 1 and not self.training:
            # ATen sends 1-D convs with batch 1 to its slow reference kernel (~100x slower than oneDNN,
            # measured in benchmarks/bench_models.py); two identical rows take the oneDNN path.
            return self.blocks(frames.expand(2, -1, -1))[:1]
        return self.blocks(frames)

    def forward(self, x: Tensor) -> Tensor:
        return self._run(self._frames(x)).mean(dim=2)

    def forward_features(self, x: Tensor) -> tuple[Tensor, Tensor]:
        y = self._run(self._frames(x))
        return y.mean(dim=2), y.transpose(1, 2)


@register_model("tcn")
def tcn(layout: str = "ntu25", in_channels: int = 3, num_frames: int | None = None, num_persons: int = 1,
        channels: Sequence[int] = (128, 128, 256, 256), kernel_size: int = 3,
        dilations: Sequence[int] | None = None, dropout: float = 0.0) -> TCNEncoder:
    """Dilated temporal CNN over per-frame joint vectors (dilations 1, 2, 4, 8 by default)."""
    return TCNEncoder(layout, in_channels, num_frames, num_persons, channels, kernel_size, dilations, dropout)
