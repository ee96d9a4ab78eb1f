"""What every experiment shares: its budget, its datasets (loaded once), pretraining a cell's encoder through
the training stage, and the frozen-encoder / supervised evaluations of that encoder.

Why through the training stage: an experiment must measure the code users run (``microgesture pretrain``),
not a private re-implementation, so a cell builds a normal pretrain config (packaged defaults ← budget ←
condition) and calls :func:`microgesture.training.run.run` on the training split only; the test split never
reaches pretraining.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn

from ...data.dataset import SkeletonDataset
from ...data.readers import open_dataset
from ...data.synthetic import make_mg_dataset
from ...errors import ConfigError, DataError
from ...models import create_model
from ...training import load_encoder
from ...training.config import load_config
from ...training.logging import quiet_lightning
from ...training.run import run
from ...utils.config import to_plain
from ...utils.paths import data_root
from ..data import InputSpec, LabelledArrays, labelled_arrays, num_classes_of
from ..features import extract_features
from ..finetune import FinetuneConfig
from ..knn import KNNConfig
from ..linear import LinearProbeConfig
from ..protocols import ProtocolConfig, run_protocol
from ..splits import resolve_split

log = logging.getLogger(__name__)

BUDGETS = ("small", "full")

# Where each experiment dataset lives under the data root, and the reader kind that opens it.
DATASET_PATHS: dict[str, tuple[str, str]] = {
    "nw_ucla": ("nw_ucla/raw/data/NW-UCLA/all_sqe", "nw_ucla"),
    "msr_action3d": ("msr_action3d/raw/data/MSRAction3D", "msr_action3d"),
    "kard": ("kard/raw", "kard"),
}
DATASET_LABELS = {
    "synthetic": "synthetic iMiGUE-22 MGs",
    "nw_ucla": "NW-UCLA (x-view)",
    "msr_action3d": "MSR Action3D (x-sub)",
    "kard": "KARD (x-sub)",
    "video298": "iMiGUE video 298 (within-video CV)",
}


def load_budget(budget: str) -> DictConfig:
    """The packaged ``configs/experiments/budget_<budget>.yaml``."""
    if budget not in BUDGETS:
        raise ConfigError(f"unknown budget {budget!r}; choose one of {', '.join(BUDGETS)}")
    res = resources.files("microgesture") / "configs" / "experiments" / f"budget_{budget}.yaml"
    return OmegaConf.create(res.read_text(encoding="utf-8"))


plain = to_plain


def finetune_config(section: dict[str, Any], n_train: int | None = None, **extra: Any) -> FinetuneConfig:
    """A :class:`FinetuneConfig` from a budget section. Two budget-only keys: ``steps`` (optimiser steps; the
    epochs follow from ``n_train``, so small and large datasets get the same compute) and ``step_at`` (one ×0.1
    lr step at this fraction of training, the from-scratch schedule, instead of the fine-tune steps)."""
    d = {**dict(section), **extra}
    steps, step_at = d.pop("steps", None), d.pop("step_at", None)
    if steps and n_train:
        per_epoch = max(1, int(n_train) // int(d.get("batch_size", 128)))
        d["epochs"] = max(1, round(int(steps) / per_epoch))
    if step_at:
        d["milestones"] = [max(1, round(float(step_at) * int(d.get("epochs", 80))))]
    return FinetuneConfig(**d)


@dataclass
class Prepared:
    """A dataset's official split, prepared once per input spec."""

    dataset: SkeletonDataset
    train: LabelledArrays
    test: LabelledArrays
    num_classes: int
    split_name: str


@dataclass
class ExperimentContext:
    budget_name: str
    budget: DictConfig
    device: str = "cpu"
    progress: bool = True
    _datasets: dict[str, SkeletonDataset] = field(default_factory=dict)
    _prepared: dict[tuple[str, str], Prepared] = field(default_factory=dict)

    # -- data ------------------------------------------------------------------------------------------
    def dataset(self, name: str) -> SkeletonDataset:
        if name not in self._datasets:
            opts = dict(plain(self.budget.datasets.get(name) or {}))
            if name == "synthetic":
                ds = make_mg_dataset(seed=0, **opts)
            elif name in DATASET_PATHS:
                rel, kind = DATASET_PATHS[name]
                path = data_root() / rel
                if not path.exists():
                    raise DataError(path, f"dataset {name!r} not found (set MICROGESTURE_DATA to the datasets root)")

                ds = open_dataset(path, kind=kind, progress=False, **opts)
            else:
                raise ConfigError(f"unknown experiment dataset {name!r}; known: synthetic, "
                                  f"{', '.join(DATASET_PATHS)}")
            self._datasets[name] = ds
        return self._datasets[name]

    def train_only(self, name: str) -> SkeletonDataset:
        """The training split alone (what pretraining may see), with a single ``train`` split."""
        ds = self.dataset(name)
        split = resolve_split(ds)
        clips = [ds.clips[int(i)] for i in split.train]
        return SkeletonDataset(ds.name, ds.layout, clips, ds.class_names,
                               {"train": [c.meta.clip_id for c in clips]})

    def prepared(self, name: str, spec: InputSpec) -> Prepared:
        key = (name, repr(sorted(spec.to_dict().items())))
        if key not in self._prepared:
            ds = self.dataset(name)
            split = resolve_split(ds)
            self._prepared[key] = Prepared(
                ds, labelled_arrays(ds, split.train, spec, progress=self.progress, desc=f"{name} train"),
                labelled_arrays(ds, split.test, spec, progress=self.progress, desc=f"{name} test"),
                num_classes_of(ds), split.name)
        return self._prepared[key]

    # -- configs ---------------------------------------------------------------------------------------
    def protocol_config(self, seed: int, n_train: int | None = None) -> ProtocolConfig:
        b = self.budget
        return ProtocolConfig(linear=LinearProbeConfig(**plain(b.linear)), knn=KNNConfig(**plain(b.knn)),
                              finetune=finetune_config(plain(b.supervised), n_train), seed=seed,
                              device=self.device, progress=False)

    def input_options(self, dataset: str) -> dict[str, Any]:
        """The budget's ``inputs.<dataset>`` (``prepare_clip`` options such as ``align`` or ``streams``) for one
        dataset.

        Why per dataset: the right preprocessing is a property of the data and its protocol, not of the
        method -- NW-UCLA's cross-view split needs 3-D view alignment, 2-D MG data cannot have it.
        """
        opts = dict(plain(self.budget.get("inputs", {}).get(dataset) or {}))
        allowed = {"align", "center", "scale", "sampling", "streams"}
        unknown = sorted(set(opts) - allowed)
        if unknown:
            raise ConfigError(f"budget inputs.{dataset}: unknown option(s) {unknown}; allowed: {sorted(allowed)}")
        return opts

    def encoder_spec(self, fusion: str = "stb_weight") -> dict[str, Any]:
        b = self.budget
        return {"name": "dual_stream", "spatial": plain(b.spatial), "temporal": plain(b.temporal),
                "fusion": fusion, "dim": int(b.dim), "embed": "backbone"}  # as the pretrain_stb config

    def pretrain_epochs(self, dataset: str) -> int:
        """Epochs for ``dataset``: ``pretrain_steps`` optimiser steps when the budget sets them (so every dataset
        gets the same compute, whatever its size), else ``pretrain.trainer.max_epochs``."""
        steps = self.budget.get("pretrain_steps")
        if not steps:
            return int(self.budget.pretrain.trainer.max_epochs)
        batch = int(self.budget.pretrain.data.batch_size)
        n = len(self.train_only(dataset))
        if n < batch:
            raise ConfigError(f"dataset {dataset!r} has {n} training clips, fewer than one batch of {batch}")
        return max(1, round(int(steps) / (n // batch)))

    def pretrain_overrides(self, *, model: dict[str, Any], augment: Any, objective: str, seed: int,
                           balance: str | None = None, dataset: str | None = None) -> dict[str, Any]:
        """The full override mapping of one pretraining run (stored in the cell for reproducibility)."""
        over = plain(self.budget.pretrain)
        over.setdefault("data", {})["num_frames"] = int(self.budget.num_frames)
        if dataset is not None:
            over.setdefault("trainer", {})["max_epochs"] = self.pretrain_epochs(dataset)
            over["data"].update(self.input_options(dataset))
        over["seed"] = int(seed)
        over["model"] = model
        over["augment"] = {"spec": augment}
        over.setdefault("moco", {})["objective"] = objective
        if balance:
            over["moco"]["balance"] = balance
        over.setdefault("knn", {})["enabled"] = False
        if self.device.startswith("cuda"):
            over.setdefault("trainer", {})["accelerator"] = "gpu"
        elif self.device == "cpu":
            over.setdefault("trainer", {})["accelerator"] = "cpu"
        return over


def pretrain_encoder(ctx: ExperimentContext, dataset: str, overrides: dict[str, Any], out: Path
                     ) -> tuple[nn.Module, dict[str, Any]]:
    """Self-supervised pretraining on ``dataset``'s training split with ``microgesture.training``; returns the
    trained encoder and its checkpoint metadata. A finished run in ``out`` is reused (resume)."""
    last = out / "checkpoints" / "last.ckpt"
    done = out / "metrics.json"
    if not done.exists():
        request = {"task": "pretrain", **copy.deepcopy(overrides), "out": str(out)}
        request.setdefault("data", {}).update(path=dataset, train_split="train", val_split=None)
        if dataset == "synthetic":  # record the generator options, so the checkpoint says which set it saw
            request["data"]["synthetic"] = {"seed": 0, **plain(ctx.budget.datasets.get("synthetic") or {})}
        cfg = load_config("pretrain", request)  # schema defaults <- this request, validated
        with quiet_lightning():
            run(cfg, resume=last.exists(), dataset=ctx.train_only(dataset))
    return load_encoder(last)


def probe_encoder(ctx: ExperimentContext, encoder: nn.Module, meta: dict[str, Any], dataset: str, seed: int,
                  protocols: tuple[str, ...] = ("linear", "knn")) -> dict[str, Any]:
    """Frozen-encoder evaluation on the dataset's official split: the linear probe (reported) and kNN."""
    spec = InputSpec.from_checkpoint(meta, encoder)
    prep = ctx.prepared(dataset, spec)
    cfg = ctx.protocol_config(seed)
    out: dict[str, Any] = {"split": prep.split_name, "num_train": int(prep.train.y.size),
                           "num_test": int(prep.test.y.size), "num_classes": prep.num_classes}
    feats = (extract_features(encoder, prep.train.x, device=ctx.device),
             extract_features(encoder, prep.test.x, device=ctx.device))
    for proto in protocols:
        res = run_protocol(proto, encoder, prep.train, prep.test, prep.num_classes, cfg, layout=spec.layout,
                           features=feats)
        m = res.metrics
        prefix = "" if proto == protocols[0] else f"{proto}_"
        out.update({f"{prefix}top1": m.top1, f"{prefix}top5": m.top5,
                    f"{prefix}mean_class_accuracy": m.mean_class_accuracy, f"{prefix}macro_f1": m.macro_f1})
        if proto == "knn":
            out["knn1_top1"] = res.extra_metrics["knn_k1"].top1
    out["protocol"] = protocols[0]
    return out


def supervised_baseline(ctx: ExperimentContext, model_spec: dict[str, Any], dataset: str, seed: int
                        ) -> dict[str, Any]:
    """A randomly initialised encoder + linear head trained on the full training split (fine-tune loop)."""

    ds = ctx.dataset(dataset)
    spec = InputSpec(layout=ds.layout, num_frames=int(ctx.budget.num_frames), **ctx.input_options(dataset))
    prep = ctx.prepared(dataset, spec)
    c = int(prep.train.x.shape[-1])

    def fresh() -> nn.Module:
        cfg = dict(model_spec)
        name = cfg.pop("name")
        return create_model(name, layout=ds.layout, in_channels=c, num_frames=spec.num_frames, **cfg)

    cfg = ctx.protocol_config(seed, n_train=int(prep.train.y.size))
    res = run_protocol("supervised", None, prep.train, prep.test, prep.num_classes, cfg, layout=ds.layout,
                       coords=spec.augmentable_coords(ds.clips[0].num_coords), fresh_encoder=fresh)
    m = res.metrics
    return {"protocol": "supervised", "split": prep.split_name, "top1": m.top1, "top5": m.top5,
            "mean_class_accuracy": m.mean_class_accuracy, "macro_f1": m.macro_f1,
            "num_train": int(prep.train.y.size), "num_test": int(prep.test.y.size),
            "num_classes": prep.num_classes, "final_train_top1": res.history[-1]["train_top1"],
            "epochs": cfg.finetune.epochs}


def default_device(device: str | None) -> str:
    if device:
        return device
    return "cuda" if torch.cuda.is_available() else "cpu"


def seeds_list(ctx: ExperimentContext, seeds: int | None) -> list[int]:
    n = int(seeds if seeds is not None else ctx.budget.seeds)
    if n < 1:
        raise ConfigError(f"--seeds must be >= 1, got {n}")
    return list(range(n))
