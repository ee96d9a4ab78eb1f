"""What the pretraining and supervised LightningModules share: batch preparation on the device,
per-step seeding, the optimiser and schedule, and the checkpoint metadata.

Per-step seeding: every training step seeds the global torch RNG (dropout) and a fresh augmentation
generator from ``(seed, rank, global_step)``. Nothing random then depends on history, so a run resumed
from a checkpoint continues exactly as the uninterrupted run would have.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import lightning as L
import numpy as np
import torch
from omegaconf import OmegaConf
from torch import nn

from ..data.transforms import fill_missing, make_streams
from .checkpoint import FORMAT, FORMAT_VERSION, META_KEY, package_versions

log = logging.getLogger(__name__)


class EpochSchedule:
    """LR multiplier per epoch: linear warmup, then cosine to 0 or steps of ``gamma`` at ``milestones``.

    A plain object (not a lambda) so ``LambdaLR`` stores its settings as plain numbers in the checkpoint.
    """

    def __init__(self, kind: str, total_epochs: int, warmup_epochs: int = 0, milestones: list[int] | None = None,
                 gamma: float = 0.1):
        self.kind = kind
        self.total_epochs = max(int(total_epochs), 1)
        self.warmup_epochs = int(warmup_epochs)
        self.milestones = sorted(int(m) for m in (milestones or []))
        self.gamma = float(gamma)

    def __call__(self, epoch: int) -> float:
        if epoch < self.warmup_epochs:
            return (epoch + 1) / (self.warmup_epochs + 1)
        if self.kind == "cosine":
            span = max(self.total_epochs - self.warmup_epochs, 1)
            return 0.5 * (1.0 + math.cos(math.pi * min(epoch - self.warmup_epochs, span) / span))
        if self.kind == "step":
            return self.gamma ** sum(epoch >= m for m in self.milestones)
        return 1.0


def step_seed(seed: int, rank: int, step: int, stream: int = 0) -> int:
    return int(np.random.SeedSequence([int(seed), int(rank), int(step), stream]).generate_state(1)[0])


class SkeletonModule(L.LightningModule):
    """Base class; subclasses build ``self.augment`` and implement ``training_step``."""

    task = ""

    def __init__(self, config: dict[str, Any], data_info: dict[str, Any]):
        super().__init__()
        self.save_hyperparameters({"config": config, "data_info": data_info})
        self.cfg = OmegaConf.create(config)
        self.data_info = data_info
        self.streams = list(data_info.get("streams") or ["joint"])
        self.layout_name = data_info["layout"]
        self._metrics: dict[str, float] = {}

    # -- batches ---------------------------------------------------------------------------------------
    def augmentation_generator(self) -> torch.Generator:
        g = torch.Generator()  # CPU generator: the augmentations draw on it and move draws to the batch device
        g.manual_seed(step_seed(self.cfg.seed, self.global_rank, self.global_step, 1))
        return g

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        torch.manual_seed(step_seed(self.cfg.seed, self.global_rank, self.global_step, 0))

    def to_model_input(self, x: torch.Tensor) -> torch.Tensor:
        """The configured streams (joint / bone / motion...) on the device, then NaN → 0.

        Streams are derived before filling, exactly as ``prepare_clip(streams=...)`` does at evaluation
        time, so a bone touching a missing joint is 0 in both places.
        """
        if self.streams != ["joint"]:
            x = make_streams(x, self.layout_name, self.streams)
        return fill_missing(x)

    # -- optimisation ------------------------------------------------------------------------------
    def parameter_groups(self) -> list[dict[str, Any]]:
        """Weight decay on weights; none on biases, norms and loss-balancing log-variances."""
        decay, no_decay = [], []
        for name, p in self.named_parameters():
            if not p.requires_grad:
                continue
            (no_decay if p.ndim <= 1 or name.endswith("log_vars") else decay).append(p)
        wd = float(self.cfg.optim.weight_decay)
        return [{"params": decay, "weight_decay": wd}, {"params": no_decay, "weight_decay": 0.0}]

    def schedule_horizon(self) -> int:
        return int(self.cfg.optim.total_epochs or self.cfg.trainer.max_epochs)

    def configure_optimizers(self) -> Any:
        o = self.cfg.optim
        groups = self.parameter_groups()
        if o.name == "sgd":
            opt = torch.optim.SGD(groups, lr=float(o.lr), momentum=float(o.momentum), nesterov=bool(o.nesterov))
        else:
            opt = torch.optim.AdamW(groups, lr=float(o.lr))
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, EpochSchedule(o.schedule, self.schedule_horizon(), o.warmup_epochs, list(o.milestones), o.gamma))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "epoch"}}

    def on_train_start(self) -> None:
        """After a resume with a new ``max_epochs``, stretch the restored schedule to the new horizon."""
        horizon = self.schedule_horizon()
        for conf in self.trainer.lr_scheduler_configs:
            sched = conf.scheduler
            fns = getattr(sched, "lr_lambdas", [])
            if any(isinstance(f, EpochSchedule) and f.total_epochs != horizon for f in fns):
                before = [f.total_epochs for f in fns]
                old_lr = sched.base_lrs[0] * fns[0](sched.last_epoch)
                for f in fns:
                    f.total_epochs = horizon
                for group, base, f in zip(sched.optimizer.param_groups, sched.base_lrs, fns, strict=True):
                    group["lr"] = base * f(sched.last_epoch)
                if fns[0].kind == "cosine":  # a step schedule's milestones do not move with the horizon
                    log.warning("resumed with a new schedule horizon (%d -> %d epochs): the cosine lr is stretched "
                                "to it (next epoch %.4g instead of %.4g), so the run differs from an uninterrupted "
                                "one; set optim.total_epochs to keep a fixed horizon", before[0], horizon,
                                sched.optimizer.param_groups[0]["lr"], old_lr)

    # -- checkpoint metadata -------------------------------------------------------------------------
    def inference_model(self) -> nn.Module:  # pragma: no cover - overridden
        raise NotImplementedError

    def encoder_model(self) -> nn.Module:  # pragma: no cover - overridden
        raise NotImplementedError

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        metrics = {k: float(v) for k, v in self.trainer.callback_metrics.items()
                   if torch.is_tensor(v) and v.numel() == 1} if self._trainer is not None else {}
        checkpoint[META_KEY] = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "task": self.task,
            "model_config": dict(self.inference_model().config),
            "encoder_config": dict(self.encoder_model().config),
            "config": OmegaConf.to_container(self.cfg, resolve=True),
            "data": self.data_info,
            "versions": package_versions(),
            "epoch": int(checkpoint.get("epoch", self.current_epoch)),
            "global_step": int(checkpoint.get("global_step", self.global_step)),
            "metrics": metrics,
        }
