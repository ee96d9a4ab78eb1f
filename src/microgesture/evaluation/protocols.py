"""The five evaluation protocols behind one call, so the CLI and every experiment run them identically.

``linear`` (frozen encoder + linear layer on cached features), ``knn`` (weighted k-NN and 1-NN on frozen
features), ``finetune`` (whole network from the pretrained weights), ``semi`` (fine-tune on a seeded,
class-stratified 1 % / 10 % of the training labels) and ``supervised`` (the same loop from random weights).
Test metrics are always the last epoch's; with ``val_fraction`` a seeded stratified validation split is carved
from the training data and the validation-selected epoch's test metrics are reported *as well*, labelled so.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import ConfigError
from ..models.classifier import Classifier
from .data import LabelledArrays
from .features import extract_features
from .finetune import FinetuneConfig, build_batch_augment, fit_classifier, predict_scores
from .knn import KNNConfig, knn_scores
from .linear import LinearProbeConfig, fit_linear_probe
from .metrics import ClassificationMetrics, classification_metrics
from .splits import stratified_fraction, stratified_holdout

PROTOCOLS = ("linear", "knn", "finetune", "semi", "supervised")


@dataclass
class ProtocolConfig:
    linear: LinearProbeConfig = field(default_factory=LinearProbeConfig)
    knn: KNNConfig = field(default_factory=KNNConfig)
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)
    label_fraction: float = 0.01  # semi-supervised only
    val_fraction: float | None = None  # carve a validation split from the training data
    seed: int = 0
    feature_batch_size: int = 256
    device: str = "cpu"
    progress: bool = False


@dataclass
class ProtocolResult:
    protocol: str
    metrics: ClassificationMetrics  # the reported (last-epoch) test metrics
    scores: np.ndarray  # test class scores of the reported model
    extra_metrics: dict[str, ClassificationMetrics] = field(default_factory=dict)  # knn_k1, val_selected
    history: list[dict[str, float]] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)  # sizes, configs, selected epoch
    model: nn.Module | None = None  # the fine-tuned classifier (finetune / semi / supervised)

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"protocol": self.protocol, **self.metrics.to_dict(), **self.info}
        for name, m in self.extra_metrics.items():
            out[name] = m.to_dict()
        return out


def _classifier(encoder: nn.Module, num_classes: int, dropout: float) -> nn.Module:
    return Classifier(encoder, num_classes, dropout)


def run_protocol(protocol: str, encoder: nn.Module | None, train: LabelledArrays, test: LabelledArrays,
                 num_classes: int, config: ProtocolConfig | None = None, *, layout: str = "",
                 coords: int | None = None, fresh_encoder: Callable[[], nn.Module] | None = None,
                 features: tuple[np.ndarray, np.ndarray] | None = None) -> ProtocolResult:
    """Run ``protocol``; ``encoder`` is the pretrained encoder (unused by ``supervised``, which builds a randomly
    initialised one with ``fresh_encoder`` under the configured seed). ``layout`` / ``coords`` (coordinate
    channels) are passed to the fine-tuning augmentation. ``features`` = frozen (train, test) embeddings
    already extracted from ``encoder`` (linear / kNN), so several frozen protocols share one extraction."""
    cfg = config or ProtocolConfig()
    if protocol not in PROTOCOLS:
        raise ConfigError(f"unknown protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}")
    if protocol != "supervised" and encoder is None:
        raise ConfigError(f"protocol {protocol!r} needs a pretrained encoder (--checkpoint)")
    tr_idx = np.arange(train.y.size)
    val_idx = np.zeros(0, dtype=np.int64)
    info: dict[str, Any] = {"seed": cfg.seed, "num_test": int(test.y.size)}
    if protocol == "semi":
        tr_idx = stratified_fraction(train.y, cfg.label_fraction, cfg.seed)
        info["label_fraction"] = cfg.label_fraction
    if cfg.val_fraction:
        keep, val_local = stratified_holdout(train.y[tr_idx], cfg.val_fraction, cfg.seed)
        tr_idx, val_idx = tr_idx[keep], tr_idx[val_local]
    info["num_train"] = int(tr_idx.size)
    info["num_val"] = int(val_idx.size)

    if protocol in ("linear", "knn"):
        if features is not None:
            all_train, f_test = features
        else:
            all_train = extract_features(encoder, train.x, batch_size=cfg.feature_batch_size, device=cfg.device,
                                         progress=cfg.progress, desc="train features")
            f_test = extract_features(encoder, test.x, batch_size=cfg.feature_batch_size, device=cfg.device,
                                      progress=cfg.progress, desc="test features")
        if all_train.shape[0] != train.y.size or f_test.shape[0] != test.y.size:
            raise ConfigError("precomputed features do not match the train/test clips")
        f_train = all_train[tr_idx]
        f_val = all_train[val_idx] if val_idx.size else None
        y_train, y_val = train.y[tr_idx], train.y[val_idx]
        info["feature_dim"] = int(f_train.shape[1])
        if protocol == "knn":
            k = cfg.knn
            scores = knn_scores(f_train, y_train, f_test, num_classes, k.k, k.temperature, k.chunk_size)
            s1 = knn_scores(f_train, y_train, f_test, num_classes, 1, k.temperature, k.chunk_size)
            info.update(k=k.k, temperature=k.temperature)
            return ProtocolResult(protocol, classification_metrics(test.y, scores, num_classes), scores,
                                  {"knn_k1": classification_metrics(test.y, s1, num_classes)}, [], info)
        lin_cfg = copy.copy(cfg.linear)
        lin_cfg.seed = cfg.seed
        probe = fit_linear_probe(f_train, y_train, num_classes, lin_cfg,
                                 val=(f_val, y_val) if val_idx.size else None, progress=cfg.progress)
        scores = probe.scores(f_test)
        extra = {}
        if probe.val_best_head is not None:
            extra["val_selected"] = classification_metrics(test.y, probe.scores(f_test, head="val"), num_classes)
            info["val_selected_epoch"] = probe.val_best_epoch
        info["config"] = lin_cfg.to_dict()
        return ProtocolResult(protocol, classification_metrics(test.y, scores, num_classes), scores, extra,
                              probe.history, info)

    # finetune / semi / supervised: the whole network trains
    ft = copy.copy(cfg.finetune)
    ft.seed, ft.device = cfg.seed, cfg.device
    torch.manual_seed(cfg.seed)  # head (and, for supervised, encoder) initialisation
    if protocol == "supervised":
        if fresh_encoder is None:
            raise ConfigError("the supervised baseline needs an architecture to build (a checkpoint or --model)")
        enc = fresh_encoder()
    else:
        enc = copy.deepcopy(encoder)
        for p in enc.parameters():
            p.requires_grad_(True)
    model = _classifier(enc, num_classes, ft.dropout)
    augment = build_batch_augment(ft.augment, layout, seed=cfg.seed, coords=coords)
    fit = fit_classifier(model, train.x[tr_idx], train.y[tr_idx], ft, augment=augment,
                         val=(train.x[val_idx], train.y[val_idx]) if val_idx.size else None,
                         progress=cfg.progress)
    scores = predict_scores(model, test.x, batch_size=ft.eval_batch_size, device=cfg.device)
    extra = {}
    if fit.val_best_state is not None:
        selected = copy.deepcopy(model)
        selected.load_state_dict(fit.val_best_state)
        extra["val_selected"] = classification_metrics(
            test.y, predict_scores(selected, test.x, batch_size=ft.eval_batch_size, device=cfg.device), num_classes)
        info["val_selected_epoch"] = fit.val_best_epoch
    info["config"] = ft.to_dict()
    return ProtocolResult(protocol, classification_metrics(test.y, scores, num_classes), scores, extra,
                          fit.history, info, model)
