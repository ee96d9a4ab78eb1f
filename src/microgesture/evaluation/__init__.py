"""Evaluation: the standard protocols on frozen or fine-tuned encoders, metrics, official splits, experiments.

* :func:`protocols.run_protocol` — ``linear`` / ``knn`` / ``finetune`` / ``semi`` / ``supervised`` on prepared
  arrays; :func:`runner.evaluate` — the same from a checkpoint and a dataset path (``microgesture evaluate``).
* :func:`metrics.classification_metrics` — top-1/5, mean-class accuracy, macro-F1, confusion matrix.
* :func:`splits.resolve_split` — the official split table; seeded stratified sampling for 1 % / 10 % labels.
* :mod:`experiments` — resumable studies (``microgesture experiment``).

Reported numbers are always the last epoch's; validation-based selection uses data carved from training.
"""

from .knn import KNNConfig, knn_scores
from .linear import LinearProbeConfig, fit_linear_probe
from .metrics import ClassificationMetrics, classification_metrics
from .protocols import PROTOCOLS, ProtocolConfig, ProtocolResult, run_protocol
from .splits import (
    OFFICIAL_SPLITS,
    list_official_splits,
    resolve_split,
    stratified_fraction,
    stratified_holdout,
)

__all__ = [
    "OFFICIAL_SPLITS", "PROTOCOLS", "ClassificationMetrics", "KNNConfig", "LinearProbeConfig", "ProtocolConfig",
    "ProtocolResult", "classification_metrics", "fit_linear_probe", "knn_scores", "list_official_splits",
    "resolve_split", "run_protocol", "stratified_fraction", "stratified_holdout",
]
