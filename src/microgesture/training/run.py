"""Run a configured training job end to end: data → model → Lightning ``Trainer`` → checkpoints + metrics.

Run directory layout::
    RUN_DIR/config.yaml              resolved config (what ``--resume`` reads back)
    RUN_DIR/checkpoints/last.ckpt    latest state (resume point), written atomically
    RUN_DIR/checkpoints/epochNNNN.ckpt   the last ``checkpoint.keep_last`` epochs
    RUN_DIR/checkpoints/best.ckpt    best by ``checkpoint.monitor``
    RUN_DIR/csv/metrics.csv          per-epoch (and per-step) metrics
    RUN_DIR/tensorboard/             TensorBoard event files
    RUN_DIR/metrics.json             final metrics, checkpoint paths, versions
"""

from __future__ import annotations

import logging
import time
import warnings
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint
from lightning.pytorch.loggers import TensorBoardLogger
from omegaconf import DictConfig, OmegaConf

from ..data.dataset import SkeletonDataset
from ..errors import CheckpointError, ConfigError
from ..utils.config import to_plain
from ..utils.io import write_json
from .checkpoint import AtomicCheckpointIO, load_checkpoint, package_versions
from .config import save_config
from .datamodule import SkeletonDataModule, source_from_dataset
from .logging import ResumableCSVLogger, truncate_metrics
from .pretrain import PretrainModule
from .supervised import SupervisedModule

log = logging.getLogger(__name__)

CONFIG_FILE = "config.yaml"
LAST_CKPT = "last.ckpt"


def default_run_dir(task: str) -> Path:
    return Path("runs") / f"{task}-{time.strftime('%Y%m%d-%H%M%S')}"


def _complete_model_config(cfg: DictConfig, geometry: dict[str, Any]) -> None:
    """Fill the input geometry the data dictates (layout, channels, frames, persons) into ``cfg.model``."""
    if not cfg.model or "name" not in cfg.model:
        raise ConfigError("the config has no model (set model.name, e.g. model.name=dual_stream)")
    if cfg.task == "supervised" and cfg.model.name != "classifier":
        cfg.model = {"name": "classifier", "encoder": to_plain(cfg.model)}
    for key, value in geometry.items():
        current = cfg.model.get(key)
        if current is None:
            cfg.model[key] = value
        elif current != value:
            raise ConfigError(f"model.{key}={current} contradicts the data ({key}={value}); drop the override")


def _checkpoint_callbacks(cfg: DictConfig, ckpt_dir: Path) -> list[ModelCheckpoint]:
    c = cfg.checkpoint
    has_val = cfg.task == "supervised" and bool(cfg.data.val_split)
    monitor = c.monitor or ("val/top1" if has_val else "train/loss")
    mode = c.mode or ("max" if monitor.endswith(("top1", "acc", "mean_class")) else "min")
    every = int(c.every_n_epochs)
    recent = ModelCheckpoint(dirpath=ckpt_dir, filename="epoch{epoch:04d}", auto_insert_metric_name=False,
                             monitor="epoch", mode="max", save_top_k=int(c.keep_last), save_last=True,
                             every_n_epochs=every, enable_version_counter=False)
    best = ModelCheckpoint(dirpath=ckpt_dir, filename="best", monitor=monitor, mode=mode, save_top_k=1,
                           every_n_epochs=every, enable_version_counter=False)
    return [recent, best]


def _accelerator(name: str) -> str:
    return {"cuda": "gpu"}.get(name, name)


def build_trainer(cfg: DictConfig, run_dir: Path) -> L.Trainer:
    t = cfg.trainer
    loggers = [ResumableCSVLogger(run_dir, name="csv", version=""), TensorBoardLogger(run_dir, name="tensorboard", version="")]
    return L.Trainer(
        default_root_dir=run_dir,
        max_epochs=int(t.max_epochs),
        accelerator=_accelerator(t.accelerator),
        devices=t.devices,
        num_nodes=int(t.num_nodes),
        strategy=t.strategy,
        precision=str(t.precision),
        logger=loggers,
        callbacks=[*_checkpoint_callbacks(cfg, run_dir / "checkpoints"), LearningRateMonitor("epoch")],
        plugins=[AtomicCheckpointIO()],
        log_every_n_steps=int(t.log_every_n_steps),
        limit_train_batches=t.limit_train_batches,
        gradient_clip_val=t.gradient_clip_val,
        deterministic=bool(t.deterministic),
        enable_progress_bar=bool(t.progress_bar),
        enable_model_summary=False,
        num_sanity_val_steps=0,
        use_distributed_sampler=False,  # SeededSampler shards by rank itself
    )


def run(cfg: DictConfig, *, resume: bool = False, dataset: SkeletonDataset | None = None) -> dict[str, Any]:
    """Train ``cfg`` (a validated config from :func:`~microgesture.training.config.load_config`).

    ``resume=True`` continues from ``RUN_DIR/checkpoints/last.ckpt`` with identical results to an
    uninterrupted run (same data order, augmentation and dropout draws). Returns the final metrics and
    checkpoint paths (also written to ``RUN_DIR/metrics.json``).
    """
    cfg = OmegaConf.create(to_plain(cfg))
    run_dir = Path(cfg.out) if cfg.out else default_run_dir(cfg.task)
    cfg.out = str(run_dir)
    last = run_dir / "checkpoints" / LAST_CKPT
    if resume and not last.is_file():
        raise CheckpointError(f"{last}: nothing to resume (no last checkpoint in {run_dir})")
    if not resume and last.is_file():
        raise ConfigError(f"{run_dir} already holds a run; pass --resume to continue it or choose another --out")
    if resume:
        truncate_metrics(run_dir / "csv" / "metrics.csv", int(load_checkpoint(last)["microgesture"]["epoch"]))

    L.seed_everything(int(cfg.seed), workers=True, verbose=False)
    source = source_from_dataset(dataset) if dataset is not None else None
    dm = SkeletonDataModule(cfg.data, seed=int(cfg.seed), source=source, drop_last=cfg.task == "pretrain")
    _complete_model_config(cfg, dm.model_geometry())
    save_config(cfg, run_dir / CONFIG_FILE)
    config = to_plain(cfg)
    info = dm.info()

    if cfg.task == "pretrain":
        module: L.LightningModule = PretrainModule(config, info)
    else:
        dm.setup("fit")
        labels = [int(lbl) for lbl in _labels(dm)]
        counts = [labels.count(k) for k in range(len(info["class_names"] or []))]
        module = SupervisedModule(config, info, class_counts=counts)

    trainer = build_trainer(cfg, run_dir)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*does not have many workers.*")
        warnings.filterwarnings("ignore", message=".*Experiment logs directory.*exists.*")
        warnings.filterwarnings("ignore", message=".*Checkpoint directory.*exists and is not empty.*")
        warnings.filterwarnings("ignore", message=".*val_dataloader.*but have no `validation_step`.*")
        warnings.filterwarnings("ignore", message=".*LeafSpec.*is deprecated.*")
        warnings.filterwarnings("ignore", message=".*Total length of .* across ranks is zero.*")
        trainer.fit(module, datamodule=dm, ckpt_path=str(last) if resume else None)

    metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if hasattr(v, "numel") and v.numel() == 1}
    recent, best = (cb for cb in trainer.checkpoint_callbacks if isinstance(cb, ModelCheckpoint))
    result = {
        "task": cfg.task,
        "run_dir": str(run_dir),
        "epochs": int(trainer.current_epoch),
        "global_step": int(trainer.global_step),
        "metrics": metrics,
        "checkpoint": str(last),
        "best_checkpoint": best.best_model_path or None,
        "best_score": float(best.best_model_score) if best.best_model_score is not None else None,
        "data_fingerprint": info["fingerprint"],
        "versions": package_versions(),
    }
    if trainer.is_global_zero:
        write_json(run_dir / "metrics.json", result)
    result["global_rank"] = int(trainer.global_rank)  # under DDP every rank returns; only rank 0 reports
    return result


def _labels(dm: SkeletonDataModule) -> list[int]:
    clips = dm.train_set.clips if dm.train_set is not None else []
    if hasattr(clips, "labels"):
        return list(clips.labels())
    return [-1 if c.meta.label is None else c.meta.label for c in clips]


def load_run_config(run_dir: str | Path) -> DictConfig:
    path = Path(run_dir) / CONFIG_FILE
    if not path.is_file():
        raise ConfigError(f"{path}: no saved config; is {run_dir} a microgesture run directory?")
    return OmegaConf.load(path)
