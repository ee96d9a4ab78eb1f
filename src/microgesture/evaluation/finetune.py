"""Fine-tuning (whole network, from a pretrained encoder) and the supervised baseline (same loop, from scratch).

Why one loop for both: a supervised number and a fine-tuned number are only comparable if nothing but the
initial weights differs — same optimiser, schedule, batch order, augmentation and reporting. Defaults are the
AimCLR/ActCLR fine-tune schedule: SGD momentum 0.9, lr 0.1 at batch 128 (scaled linearly), wd 1e-4, 80 epochs,
×0.1 at epochs 10/30/50 (stretched proportionally when ``epochs`` changes). The *last* epoch is reported; a
validation split from the training data can select an epoch instead, never the test set.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from ..augment import build_augmentation
from ..data.transforms import fill_missing
from ..errors import ConfigError
from .features import frozen
from .linear import SGDStepSchedule

Augment = Callable[[Tensor], Tensor]
_DEFAULT_STEPS = (10 / 80, 30 / 80, 50 / 80)


@dataclass
class FinetuneConfig(SGDStepSchedule):
    epochs: int = 80
    batch_size: int = 128
    lr: float = 0.1  # at ``base_batch_size``; effective lr = lr * batch_size / base_batch_size
    base_batch_size: int = 128
    momentum: float = 0.9
    weight_decay: float = 1e-4
    milestones: list[int] | None = None  # default: 10/30/50 of 80 epochs, scaled to ``epochs``
    gamma: float = 0.1
    dropout: float = 0.0
    label_smoothing: float = 0.0
    augment: Any = None  # augmentation spec applied to each training batch (None or 'none': no augmentation)
    eval_batch_size: int = 256
    seed: int = 0
    device: str = "cpu"

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1:
            raise ConfigError("fine-tuning needs epochs >= 1 and batch_size >= 1")

    def resolved_milestones(self) -> list[int]:
        if self.milestones is not None:
            return list(self.milestones)
        return sorted({max(1, round(f * self.epochs)) for f in _DEFAULT_STEPS})


@dataclass
class FitResult:
    model: nn.Module
    history: list[dict[str, float]] = field(default_factory=list)
    val_best_state: dict[str, Tensor] | None = None
    val_best_epoch: int | None = None


def predict_scores(model: nn.Module, x: np.ndarray | Tensor, *, batch_size: int = 256,
                   device: str | torch.device = "cpu") -> np.ndarray:
    """Logits ``[N, C]`` in eval mode (BatchNorm/dropout frozen), batched."""
    out = []
    with frozen(model), torch.inference_mode():
        model.to(device)
        for start in range(0, x.shape[0], batch_size):
            b = torch.as_tensor(np.asarray(x[start:start + batch_size]), dtype=torch.float32)
            out.append(model(fill_missing(b).to(device)).float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 0), np.float32)


def fit_classifier(model: nn.Module, train_x: np.ndarray, train_y: np.ndarray, config: FinetuneConfig | None = None,
                   *, augment: Augment | None = None, val: tuple[np.ndarray, np.ndarray] | None = None,
                   progress: bool = False) -> FitResult:
    """Train every parameter of ``model`` (an encoder + linear head) with cross-entropy; returns the last-epoch
    model, its per-epoch history and, with ``val``, the validation-selected weights."""
    cfg = config or FinetuneConfig()
    y_all = torch.as_tensor(np.asarray(train_y), dtype=torch.long)
    n = int(train_x.shape[0])
    if n == 0 or y_all.shape[0] != n:
        raise ConfigError(f"fine-tuning needs matching inputs and labels, got {n} and {y_all.shape[0]}")
    device = torch.device(cfg.device)
    model.to(device)
    opt, sched = cfg.optimizer(p for p in model.parameters() if p.requires_grad)
    gen = torch.Generator().manual_seed(cfg.seed)
    result = FitResult(model)
    best = -1.0
    epochs: Any = range(cfg.epochs)
    if progress:
        epochs = tqdm(epochs, desc="fine-tune", unit="epoch", leave=False)
    for epoch in epochs:
        model.train()
        perm = torch.randperm(n, generator=gen).numpy()
        loss_sum, correct, seen = 0.0, 0, 0
        for start in range(0, n, cfg.batch_size):
            idx = np.sort(perm[start:start + cfg.batch_size])  # sorted reads are friendlier to memmaps
            if idx.size < 2 and n >= 2:  # a lone last sample breaks BatchNorm statistics; skip it this epoch
                continue
            xb = torch.as_tensor(np.asarray(train_x[idx]), dtype=torch.float32)
            if augment is not None:
                xb = augment(xb)
            xb = fill_missing(xb).to(device)
            yb = y_all[idx].to(device)
            logits = model(xb)
            loss = F.cross_entropy(logits, yb, label_smoothing=cfg.label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += float(loss.detach()) * idx.size
            correct += int((logits.detach().argmax(1) == yb).sum())
            seen += idx.size
        if not np.isfinite(loss_sum):
            raise ConfigError(f"fine-tuning diverged at epoch {epoch + 1} (loss is not finite); lower the lr "
                              f"(effective {cfg.effective_lr:g})")
        row: dict[str, float] = {"epoch": epoch + 1, "lr": opt.param_groups[0]["lr"],
                                 "train_loss": loss_sum / max(seen, 1), "train_top1": correct / max(seen, 1)}
        sched.step()
        if val is not None:
            scores = predict_scores(model, val[0], batch_size=cfg.eval_batch_size, device=device)
            acc = float((scores.argmax(1) == np.asarray(val[1])).mean())
            row["val_top1"] = acc
            if acc > best:
                best, result.val_best_epoch = acc, epoch + 1
                result.val_best_state = copy.deepcopy(model.state_dict())
        result.history.append(row)
    return result


def build_batch_augment(spec: Any, layout: str, *, seed: int = 0, coords: int | None = None) -> Augment | None:
    """The training-batch augmentation ``spec`` (a preset such as ``"mg"``, augmentation names, or config
    dicts; see :func:`microgesture.augment.build_augmentation`) driven by its own seeded generator."""
    if not spec or spec == "none":
        return None

    pipeline = build_augmentation(spec, layout=layout or None, coords=coords)
    gen = torch.Generator().manual_seed(seed)
    return lambda x: pipeline(x, gen)
