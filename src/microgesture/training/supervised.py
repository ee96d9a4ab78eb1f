"""Supervised classifier baseline (encoder + linear head, cross-entropy) as a LightningModule.

Reports top-1 and mean-class accuracy on the validation split at every epoch (micro-gesture classes are
long-tailed, so mean-class accuracy is the fairer number); optional label smoothing and inverse-frequency
class weights.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics.classification import MulticlassAccuracy

from ..augment import build_augmentation
from ..data.layouts import get_layout
from ..errors import ConfigError
from ..models import build_from_config
from .base import SkeletonModule
from .checkpoint import load_encoder


class SupervisedModule(SkeletonModule):
    task = "supervised"

    def __init__(self, config: dict[str, Any], data_info: dict[str, Any], class_counts: list[int] | None = None):
        super().__init__(config, data_info)
        names = data_info.get("class_names")
        if not names:
            raise ConfigError("supervised training needs class names / labels in the dataset")
        self.num_classes = len(names)
        model_cfg = dict(self.cfg.model)
        if model_cfg.get("name") != "classifier":  # a bare encoder spec: wrap it in a classifier
            model_cfg = {"name": "classifier", "encoder": model_cfg}
        model_cfg["num_classes"] = self.num_classes
        self.model = build_from_config(model_cfg)
        init = self.cfg.supervised.get("init_from")
        if init:  # fine-tuning: the pretrained encoder's weights, checked against this architecture
            load_encoder(init, model=self.model.encoder)
            self.model.train()
        self.augment = build_augmentation(self.cfg.augment.spec, get_layout(self.layout_name),
                                          coords=int(data_info.get("num_coords") or 3))
        weight = None
        if self.cfg.supervised.class_weights and class_counts:
            counts = torch.tensor(class_counts, dtype=torch.float32).clamp(min=1)
            weight = counts.sum() / (len(counts) * counts)
        self.register_buffer("class_weight", weight if weight is not None else torch.ones(self.num_classes))
        self.train_top1 = MulticlassAccuracy(self.num_classes, average="micro")
        self.val_top1 = MulticlassAccuracy(self.num_classes, average="micro")
        self.val_mean_class = MulticlassAccuracy(self.num_classes, average="macro")

    def inference_model(self) -> nn.Module:
        return self.model

    def encoder_model(self) -> nn.Module:
        return self.model.encoder

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        if (y < 0).any():
            raise ConfigError("supervised training got unlabelled clips (label -1) in the training split")
        x = self.to_model_input(self.augment(x, self.augmentation_generator()))
        logits = self.model(x)
        loss = F.cross_entropy(logits.float(), y, weight=self.class_weight,
                               label_smoothing=float(self.cfg.supervised.label_smoothing))
        self.train_top1(logits.detach(), y)
        n = x.shape[0]
        self.log("train/loss", loss.detach(), on_step=False, on_epoch=True, prog_bar=True, batch_size=n,
                 sync_dist=True)
        self.log("train/top1", self.train_top1, on_step=False, on_epoch=True, batch_size=n)
        return loss

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        x, y = batch
        keep = y >= 0
        if not keep.any():
            return
        logits = self.model(self.to_model_input(x[keep]))
        y = y[keep]
        n = int(y.shape[0])
        self.val_top1(logits, y)
        self.val_mean_class(logits, y)
        self.log("val/loss", F.cross_entropy(logits.float(), y), on_epoch=True, batch_size=n, sync_dist=True)
        self.log("val/top1", self.val_top1, on_epoch=True, prog_bar=True, batch_size=n)
        self.log("val/mean_class", self.val_mean_class, on_epoch=True, batch_size=n)
