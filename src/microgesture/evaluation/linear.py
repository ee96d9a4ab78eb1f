"""Linear probe on cached frozen features (the SkeletonCLR / AimCLR linear-evaluation protocol).

Why cached features: the encoder (BatchNorm included) is frozen and linear evaluation uses no augmentation,
so every epoch would recompute identical embeddings; extracting them once and training only the linear layer
gives the same optimisation problem at a tiny fraction of the cost. Defaults are the published schedule:
SGD momentum 0.9, lr 3.0 at batch 128 (scaled linearly with the batch size), wd 0, 100 epochs, ×0.1 at 80 %;
features are standardised with training-set statistics first (``feature_norm``, see the config).
The reported numbers are the *last* epoch's; an optional validation split (carved from the training data)
selects an epoch without ever looking at the test set.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.optim.lr_scheduler import MultiStepLR
from tqdm.auto import tqdm

from ..errors import ConfigError

FEATURE_NORMS = ("none", "l2", "standardize")


class SGDStepSchedule:
    """What the linear probe and fine-tuning configs share: SGD with momentum, an lr scaled linearly with the
    batch size (``lr`` is quoted at ``base_batch_size``), and step decay by ``gamma`` at the milestones."""

    lr: float
    batch_size: int
    base_batch_size: int
    momentum: float
    weight_decay: float
    gamma: float

    @property
    def effective_lr(self) -> float:
        return self.lr * self.batch_size / self.base_batch_size

    def resolved_milestones(self) -> list[int]:  # pragma: no cover - each config defines its default
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)  # type: ignore[call-overload]  # the configs using this are dataclasses
        d["effective_lr"] = self.effective_lr
        d["milestones"] = self.resolved_milestones()
        return d

    def optimizer(self, params: Iterable[nn.Parameter]) -> tuple[torch.optim.SGD, MultiStepLR]:
        """The SGD optimiser over ``params`` and its step-decay scheduler."""
        opt = torch.optim.SGD(params, lr=self.effective_lr, momentum=self.momentum, weight_decay=self.weight_decay)
        return opt, MultiStepLR(opt, milestones=self.resolved_milestones(), gamma=self.gamma)


@dataclass
class LinearProbeConfig(SGDStepSchedule):
    epochs: int = 100
    batch_size: int = 128
    lr: float = 3.0  # at ``base_batch_size``; the effective lr is lr * batch_size / base_batch_size
    base_batch_size: int = 128
    momentum: float = 0.9
    weight_decay: float = 0.0
    milestones: list[int] | None = None  # epochs where lr *= gamma; default [round(0.8 * epochs)]
    gamma: float = 0.1
    # "l2" (default) = each feature vector scaled to unit length: the cosine geometry InfoNCE trains the encoder
    # for, so one lr suits every encoder. Chosen on NW-UCLA's view1 -> view2 validation probe (never the test
    # view) over "standardize" for all three pretrained families (docs/results/nw_ucla_cpu.md).
    # "standardize" = BN(affine=False) with training statistics before the linear layer (MAMP's probe);
    # "none" reproduces the SkeletonCLR/AimCLR probe literally (tuned for ST-GCN features; it can stall on other
    # encoders).
    feature_norm: str = "l2"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.feature_norm not in FEATURE_NORMS:
            raise ConfigError(f"feature_norm must be one of {FEATURE_NORMS}, got {self.feature_norm!r}")
        if self.epochs < 1 or self.batch_size < 1:
            raise ConfigError("linear probe needs epochs >= 1 and batch_size >= 1")

    def resolved_milestones(self) -> list[int]:
        return list(self.milestones) if self.milestones is not None else [max(1, round(0.8 * self.epochs))]


@dataclass
class LinearProbe:
    """A trained linear classifier plus the fixed feature normalisation it was trained with."""

    head: nn.Linear
    feature_norm: str
    mean: torch.Tensor | None
    std: torch.Tensor | None
    history: list[dict[str, float]] = field(default_factory=list)
    val_best_head: nn.Linear | None = None
    val_best_epoch: int | None = None

    def _prep(self, x: np.ndarray | torch.Tensor) -> torch.Tensor:
        return _normalize(torch.as_tensor(np.asarray(x), dtype=torch.float32), self.feature_norm,
                          self.mean, self.std)

    def scores(self, features: np.ndarray | torch.Tensor, *, head: str = "last") -> np.ndarray:
        """Logits ``[N, C]`` from the last-epoch head (``head="last"``) or the validation-selected one."""
        lin = self.head if head == "last" else self.val_best_head
        if lin is None:
            raise ConfigError("no validation-selected head: the probe was trained without a validation split")
        with torch.inference_mode():
            return lin(self._prep(features)).numpy()


def _normalize(x: torch.Tensor, how: str, mean: torch.Tensor | None, std: torch.Tensor | None) -> torch.Tensor:
    if how == "l2":
        return F.normalize(x, dim=1)
    if how == "standardize":
        return (x - mean) / std
    return x


def fit_linear_probe(train_features: np.ndarray, train_labels: np.ndarray, num_classes: int,
                     config: LinearProbeConfig | None = None, *,
                     val: tuple[np.ndarray, np.ndarray] | None = None,
                     curve: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
                     progress: bool = False) -> LinearProbe:
    """Train ``nn.Linear(D, num_classes)`` on fixed features; ``curve`` sets get a per-epoch top-1 (for plots)."""
    cfg = config or LinearProbeConfig()
    x = torch.as_tensor(np.asarray(train_features), dtype=torch.float32)
    y = torch.as_tensor(np.asarray(train_labels), dtype=torch.long)
    if x.ndim != 2 or x.shape[0] != y.shape[0] or x.shape[0] == 0:
        raise ConfigError(f"linear probe needs [N, D] features and N labels; got {tuple(x.shape)}, {tuple(y.shape)}")
    if int(y.min()) < 0 or int(y.max()) >= num_classes:
        raise ConfigError(f"training labels must lie in [0, {num_classes})")
    mean = std = None
    if cfg.feature_norm == "standardize":
        mean, std = x.mean(0), x.std(0, unbiased=False).clamp_min(1e-6)
    x = _normalize(x, cfg.feature_norm, mean, std)

    gen = torch.Generator().manual_seed(cfg.seed)
    head = nn.Linear(x.shape[1], num_classes)
    with torch.no_grad():  # N(0, 0.01) weights, zero bias, as the SkeletonCLR / ISC linear evaluation
        head.weight.normal_(0.0, 0.01, generator=gen)
        head.bias.zero_()
    opt, sched = cfg.optimizer(head.parameters())
    probe = LinearProbe(head, cfg.feature_norm, mean, std)
    val_best = -1.0
    epochs = range(cfg.epochs)
    if progress:
        epochs = tqdm(epochs, desc="linear probe", unit="epoch", leave=False)
    n = x.shape[0]
    for epoch in epochs:
        perm = torch.randperm(n, generator=gen)
        total, correct, loss_sum = 0, 0, 0.0
        for start in range(0, n, cfg.batch_size):
            idx = perm[start:start + cfg.batch_size]
            logits = head(x[idx])
            loss = F.cross_entropy(logits, y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += float(loss.detach()) * idx.numel()
            correct += int((logits.argmax(1) == y[idx]).sum())
            total += idx.numel()
        if not np.isfinite(loss_sum):
            raise ConfigError(f"linear probe diverged at epoch {epoch + 1} (loss is not finite); lower the lr "
                              f"(effective {cfg.effective_lr:g}) or normalise the features (feature_norm 'l2' "
                              "or 'standardize')")
        row = {"epoch": epoch + 1, "lr": opt.param_groups[0]["lr"], "train_loss": loss_sum / total,
               "train_top1": correct / total}
        sched.step()
        if val is not None:
            acc = _top1(probe, *val)
            row["val_top1"] = acc
            if acc > val_best:  # ties keep the earlier epoch
                val_best, probe.val_best_epoch = acc, epoch + 1
                probe.val_best_head = copy.deepcopy(head)
        for name, (cx, cy) in (curve or {}).items():
            row[f"{name}_top1"] = _top1(probe, cx, cy)
        probe.history.append(row)
    return probe


def _top1(probe: LinearProbe, features: np.ndarray, labels: np.ndarray) -> float:
    return float((probe.scores(features).argmax(1) == np.asarray(labels)).mean())
