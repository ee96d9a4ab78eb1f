"""Embeddings from a frozen encoder, batched, with BatchNorm and dropout in inference mode.

Why a single function: every frozen-encoder protocol (linear probe, kNN, experiments) must see the same
features. ``encoder.eval()`` freezes BatchNorm running statistics (the "linear evaluation collapses to 46 %"
reports in the SkeletonCLR lineage came from BN drifting), ``torch.inference_mode`` skips autograd
bookkeeping, and the input can be a memory-mapped array that is only read batch by batch.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from ..data.transforms import fill_missing
from ..errors import ConfigError
from ..models.base import embed


@contextlib.contextmanager
def frozen(module: nn.Module) -> Iterator[nn.Module]:
    """Put ``module`` in eval mode for the block and restore its previous train/eval state afterwards."""
    was_training = module.training
    module.eval()
    try:
        yield module
    finally:
        module.train(was_training)


def extract_features(encoder: nn.Module, data: np.ndarray | torch.Tensor, *, batch_size: int = 256,
                     device: str | torch.device = "cpu", progress: bool = False, desc: str = "features",
                     read: Callable[[nn.Module, torch.Tensor], torch.Tensor] = embed) -> np.ndarray:
    """``[N, M, T, V, C]`` clips → ``[N, D]`` float32 embeddings (row order kept); NaN (missing) becomes 0.
    ``read(encoder, batch)`` picks what is returned (default: the encoder's evaluation embedding)."""
    if data.ndim != 5:
        raise ConfigError(f"encoder input must be [N, M, T, V, C], got shape {tuple(data.shape)}")
    n = data.shape[0]
    device = torch.device(device)
    starts = range(0, n, batch_size)
    if progress:
        starts = tqdm(starts, desc=desc, unit="batch", leave=False)
    chunks: list[np.ndarray] = []
    with frozen(encoder), torch.inference_mode():
        encoder.to(device)
        for start in starts:
            batch = data[start:start + batch_size]
            batch = torch.as_tensor(batch if torch.is_tensor(batch) else np.asarray(batch), dtype=torch.float32)
            out = read(encoder, fill_missing(batch).to(device))
            if out.ndim != 2 or out.shape[0] != batch.shape[0]:
                raise ConfigError(f"encoder returned shape {tuple(out.shape)}; expected [N, D] embeddings")
            chunks.append(out.float().cpu().numpy())
    if not chunks:
        return np.zeros((0, int(getattr(encoder, "out_dim", 0))), dtype=np.float32)
    feats = np.concatenate(chunks)
    if not np.isfinite(feats).all():
        raise ConfigError("the encoder produced NaN/inf features (is the input NaN-free, as the contract says?)")
    return feats
