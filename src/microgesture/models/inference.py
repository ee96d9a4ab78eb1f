"""Inference-time rewrites: fold every BatchNorm into the convolution before it, optionally channels-last.

Why: in eval mode a BN is a per-channel affine map, so it can live inside the preceding convolution's
weights for free; on CPU the separate BN passes over the activations cost ~15-20 % of an ST-GCN forward
(profiled in benchmarks/bench_models.py). The rewrite is exact up to float rounding.
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

_CONV = (nn.Conv1d, nn.Conv2d)
_BN = (nn.BatchNorm1d, nn.BatchNorm2d)


def fold_sequential_(seq: nn.Sequential) -> None:
    """Fold each ``(Conv, BatchNorm)`` neighbour pair of ``seq`` in place (the BN becomes Identity)."""
    for i in range(len(seq) - 1):
        if isinstance(seq[i], _CONV) and isinstance(seq[i + 1], _BN):
            seq[i] = fuse_conv_bn_eval(seq[i], seq[i + 1])
            seq[i + 1] = nn.Identity()


def fold_pair(conv: nn.Module, bn: nn.Module) -> tuple[nn.Module, nn.Module]:
    """``(conv, bn)`` -> ``(fused conv, Identity)``; leaves anything else untouched."""
    if isinstance(conv, _CONV) and isinstance(bn, _BN):
        return fuse_conv_bn_eval(conv, bn), nn.Identity()
    return conv, bn


def prepare_for_inference(model: nn.Module, channels_last: bool = False) -> nn.Module:
    """An eval-mode copy of ``model`` with BatchNorms folded (the original is untouched).

    Blocks whose conv and BN sit in different sub-modules define ``fold_batchnorm_()``; every other
    ``(Conv, BN)`` pair inside an ``nn.Sequential`` is folded generically. ``channels_last`` converts the
    convolution weights so oneDNN runs them in NHWC.
    """
    fused = copy.deepcopy(model).eval()
    for mod in list(fused.modules()):
        fold = getattr(mod, "fold_batchnorm_", None)
        if callable(fold):
            fold()
    for mod in list(fused.modules()):
        if isinstance(mod, nn.Sequential):
            fold_sequential_(mod)
    for p in fused.parameters():
        p.requires_grad_(False)
    if channels_last:
        set_channels_last(fused)
    return fused


def set_channels_last(model: nn.Module, enabled: bool = True) -> nn.Module:
    """Switch every graph encoder in ``model`` to NHWC activations and weights (in place)."""
    for mod in model.modules():
        if hasattr(mod, "channels_last") and isinstance(mod.channels_last, bool):
            mod.channels_last = enabled
    return model.to(memory_format=torch.channels_last if enabled else torch.contiguous_format)
