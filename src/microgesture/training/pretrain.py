"""Self-supervised MoCo pretraining as a LightningModule (single-stream baseline or dual-stream STB).

One step: two augmented views of the batch (on the device) → ``fill_missing`` / streams → the MoCo
objective (:mod:`microgesture.models.moco`) → SGD step → momentum update of the key encoders. The key
encoders run under ``no_grad`` in training mode (MoCo: batch statistics in their BatchNorms); no dropout
anywhere by default; on the CPU the graph encoders train with channels-last activations. An optional
weighted-kNN monitor (InstDisc style, on L2-normalised embeddings) reports ``knn/top1`` on a labelled split
every few epochs, so a collapsing representation is noticed without a separate linear probe.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..augment import build_augmentation
from ..data.layouts import get_layout
from ..models import build_from_config
from ..models.base import embed
from ..models.inference import set_channels_last
from ..models.moco import CrossStreamMoCo, build_moco
from .base import SkeletonModule


class PretrainModule(SkeletonModule):
    task = "pretrain"

    def __init__(self, config: dict[str, Any], data_info: dict[str, Any]):
        super().__init__(config, data_info)
        encoder = build_from_config(self.cfg.model)
        m = self.cfg.moco
        kwargs: dict[str, Any] = dict(dim=m.dim, queue_size=m.queue_size, momentum=m.momentum,
                                      temperature=m.temperature, mlp=m.mlp, bn_splits=m.bn_splits)
        if m.objective == "cross_stream":
            kwargs.update(balance=m.balance, lam=m.lam, lam_end=m.lam_end, fused_weight=m.fused_weight,
                          intra_weight=m.intra_weight)
        self.moco = build_moco(encoder, m.objective, **kwargs)
        self.augment = build_augmentation(self.cfg.augment.spec, get_layout(self.layout_name),
                                          coords=int(data_info.get("num_coords") or 3))

    def inference_model(self) -> nn.Module:
        return self.moco.encoder_q

    encoder_model = inference_model

    # -- training ----------------------------------------------------------------------------------
    def on_fit_start(self) -> None:
        self.moco.check_batch_size(int(self.cfg.data.batch_size) * self.trainer.world_size)
        if self.device.type == "cpu":
            # NHWC activations let oneDNN run the graph encoders' convolutions without layout reorders:
            # the contiguous layout trains at 0.85-0.90x (benchmarks/bench_pretrain.py, "NCHW / channels-last";
            # docs/results/speed.md). Parameters change strides in place, so the optimiser keeps its references.
            set_channels_last(self.moco)

    def on_train_epoch_start(self) -> None:
        if isinstance(self.moco, CrossStreamMoCo):
            self.moco.balancer.set_progress(self.current_epoch / max(self.schedule_horizon() - 1, 1))

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, _ = batch
        g = self.augmentation_generator()
        # Coordinates stay float32 under trainer.precision=bf16-mixed / 16-mixed: autocast would run the
        # augmentations' matrix products in half precision and then fail to write them back into the batch.
        with torch.autocast(self.device.type, enabled=False):
            view_q = self.to_model_input(self.augment(x, g))
            view_k = self.to_model_input(self.augment(x, g))
        out = self.moco(view_q, view_k)
        n = x.shape[0]
        self.log("train/loss", out.loss.detach(), on_step=False, on_epoch=True, prog_bar=True, batch_size=n,
                 sync_dist=True)  # epoch means over every rank (reduced once per epoch, not per step)
        self.log("train/loss_step", out.loss.detach(), on_step=True, on_epoch=False, batch_size=n)
        for k, v in out.logs.items():
            if k != "loss":
                self.log(f"train/{k}", v, on_step=False, on_epoch=True, batch_size=n, sync_dist=True)
        return out.loss

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        self.moco.update_key_encoder()  # after the optimiser step: the key encoder tracks optimised weights

    def on_train_epoch_end(self) -> None:
        k = self.cfg.knn
        if k.enabled and (self.current_epoch + 1) % int(k.every_n_epochs) == 0:
            self.log("knn/top1", self.knn_accuracy(), on_epoch=True, prog_bar=True)

    # -- kNN monitor -----------------------------------------------------------------------------------
    @torch.no_grad()
    def embed_split(self, split: str | None) -> tuple[torch.Tensor, torch.Tensor]:
        dm = self.trainer.datamodule
        enc = self.moco.encoder_q
        was = enc.training
        enc.eval()
        feats, labels = [], []
        try:
            for x, y in dm.eval_loader(split):
                z = embed(enc, self.to_model_input(x.to(self.device)))  # what evaluation sees (STB: balanced)
                feats.append(F.normalize(z.float(), dim=1))
                labels.append(y.to(self.device))
        finally:
            enc.train(was)
        return torch.cat(feats), torch.cat(labels)

    def knn_accuracy(self) -> torch.Tensor:
        """Weighted kNN top-1: train-split embeddings as the bank, ``knn.split`` (or the val split) queried."""
        cfg = self.cfg
        bank, bank_y = self.embed_split(cfg.data.train_split)
        query_split = cfg.knn.split or cfg.data.val_split
        query, query_y = self.embed_split(query_split)
        return weighted_knn(bank, bank_y, query, query_y, int(cfg.knn.k), float(cfg.knn.temperature))


def weighted_knn(bank: torch.Tensor, bank_y: torch.Tensor, query: torch.Tensor, query_y: torch.Tensor,
                 k: int = 20, temperature: float = 0.1, chunk: int = 1024) -> torch.Tensor:
    """Top-1 of a similarity-weighted kNN vote (``exp(sim / t)``) over L2-normalised features."""
    valid = bank_y >= 0
    bank, bank_y = bank[valid], bank_y[valid]
    num_classes = int(max(bank_y.max(), query_y.max())) + 1
    k = min(k, bank.shape[0])
    correct = torch.zeros((), device=query.device)
    for s in range(0, query.shape[0], chunk):
        sim, idx = (query[s:s + chunk] @ bank.t()).topk(k, dim=1)
        votes = torch.zeros(sim.shape[0], num_classes, device=query.device)
        votes.scatter_add_(1, bank_y[idx], (sim / temperature).exp())
        correct += (votes.argmax(1) == query_y[s:s + chunk]).sum()
    return correct / max(query.shape[0], 1)
