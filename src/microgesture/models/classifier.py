"""Encoder + linear head: the supervised baseline, fine-tuning and the online pipeline all use this."""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from ..errors import ConfigError
from .registry import COMMON_KEYS, create_model, register_model, sub_config


class Classifier(nn.Module):
    """``logits = head(dropout(encoder.embed(x)))``; ``embed`` exposes the encoder's embedding."""

    def __init__(self, encoder: nn.Module, num_classes: int, dropout: float = 0.0) -> None:
        super().__init__()
        if num_classes < 1:
            raise ConfigError(f"num_classes must be >= 1, got {num_classes}")
        self.encoder = encoder
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.head = nn.Linear(encoder.out_dim, num_classes)
        nn.init.normal_(self.head.weight, std=0.01)
        nn.init.zeros_(self.head.bias)
        self.num_classes = int(num_classes)
        self.out_dim = self.num_classes

    def embed(self, x: Tensor) -> Tensor:
        return self.encoder.embed(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.dropout(self.embed(x)))


@register_model("classifier")
def classifier(encoder: Any = "stgcn_quarter", num_classes: int = 32, dropout: float = 0.0,
               layout: str | None = None, in_channels: int | None = None, num_frames: int | None = None,
               num_persons: int | None = None) -> Classifier:
    """``create_model("classifier", encoder={"name": "dual_stream", ...}, num_classes=K)``.

    Top-level ``layout`` / ``in_channels`` / ``num_frames`` / ``num_persons`` are passed to the encoder
    unless its own spec sets them.
    """
    parent = dict(zip(COMMON_KEYS, (layout, in_channels, num_frames, num_persons), strict=True))
    name, cfg = sub_config(encoder, parent, "encoder")
    return Classifier(create_model(name, **cfg), num_classes, dropout)
