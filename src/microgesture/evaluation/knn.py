"""Weighted k-nearest-neighbour classification on frozen features (the InstDisc / ActCLR monitor protocol).

Why no training: kNN measures how well the embedding *itself* groups classes, with no learned layer that could
hide a poor representation. Features are L2-normalised, similarity is cosine, each of the ``k`` neighbours votes
for its class with weight ``exp(sim / temperature)``; ``k = 1`` is the "retrieval" number UmURL/USDRL report.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import ConfigError


@dataclass(frozen=True)
class KNNConfig:
    k: int = 20
    temperature: float = 0.1
    chunk_size: int = 1024  # test rows scored at once; bounds memory at chunk × n_train floats


def knn_scores(train_features: np.ndarray | torch.Tensor, train_labels: np.ndarray | torch.Tensor,
               test_features: np.ndarray | torch.Tensor, num_classes: int, k: int = 20,
               temperature: float = 0.1, chunk_size: int = 1024) -> np.ndarray:
    """Class votes ``[N_test, num_classes]``; the arg-max is the prediction, the ranking gives top-5."""
    if k < 1:
        raise ConfigError(f"kNN needs k >= 1, got {k}")
    if temperature <= 0:
        raise ConfigError(f"kNN temperature must be > 0, got {temperature}")
    train = F.normalize(torch.as_tensor(np.asarray(train_features), dtype=torch.float32), dim=1)
    test = F.normalize(torch.as_tensor(np.asarray(test_features), dtype=torch.float32), dim=1)
    labels = torch.as_tensor(np.asarray(train_labels), dtype=torch.long)
    if train.shape[0] != labels.shape[0]:
        raise ConfigError(f"{train.shape[0]} training features but {labels.shape[0]} labels")
    if train.shape[0] == 0:
        raise ConfigError("kNN needs at least one training feature")
    if train.shape[1] != test.shape[1]:
        raise ConfigError(f"feature dims differ: train {train.shape[1]}, test {test.shape[1]}")
    k = min(k, train.shape[0])
    out = torch.empty(test.shape[0], num_classes)
    with torch.inference_mode():
        for start in range(0, test.shape[0], chunk_size):
            sim = test[start:start + chunk_size] @ train.T  # cosine similarity
            top_sim, top_idx = sim.topk(k, dim=1)
            if k == 1:
                weights = torch.ones_like(top_sim)
            else:  # subtract the row max before exp: same ranking, no overflow at small temperatures
                weights = ((top_sim - top_sim[:, :1]) / temperature).exp()
            votes = torch.zeros(top_sim.shape[0], num_classes)
            votes.scatter_add_(1, labels[top_idx], weights)
            out[start:start + chunk_size] = votes
    return out.numpy()
