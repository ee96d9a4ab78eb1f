"""Run configuration: packaged YAML defaults + a user YAML + command-line ``key=value`` overrides.

Why a schema: every key a run may set is declared in :data:`SCHEMAS` with its default, and the merge is
"struct" (OmegaConf), so a misspelt override (``trainer.max_epoch=2``) is an error that names the key
instead of a silently ignored setting. ``model`` and ``augment`` are open mappings: their keys are checked by
the model registry / augmentation builder, which know them. A config file may start from another with
``extends: <packaged name or relative path>``. The resolved config is saved in the run directory, so a run
can be reproduced (and resumed) from it alone.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from ..errors import ConfigError
from ..utils.config import to_plain
from ..utils.io import atomic_write

TASKS = ("pretrain", "supervised")
SCHEDULES = ("cosine", "step", "none")
PRECISIONS = ("32-true", "32", "16-mixed", "bf16-mixed", "bf16-true", "64-true")

_COMMON: dict[str, Any] = {
    "task": "pretrain",
    "seed": 0,
    "out": None,
    "data": {
        "path": "synthetic",  # a dataset directory/file, a native store, or "synthetic"
        "kind": None,  # reader kind for microgesture.data.readers.open_dataset (None: auto-detect)
        "synthetic": {},  # keyword arguments of make_mg_dataset when path is "synthetic"
        "train_split": "train",
        "val_split": None,
        "num_frames": 64,
        "max_persons": 1,
        "center": True,
        "scale": True,
        "align": False,
        "sampling": "resize",
        "with_scores": False,
        "streams": ["joint"],  # derived on-device after augmentation
        "batch_size": 32,
        "eval_batch_size": None,
        "num_workers": None,  # None: 0 on CPU (workers steal the compute cores), up to 8 on a GPU
        "limit_clips": None,  # use only the first N training clips (smoke tests)
        "cache": "auto",  # prepare deterministic inputs once into one float32 tensor: auto | true | false
    },
    "augment": {"spec": "mg"},
    "model": {},
    "optim": {
        "name": "sgd",
        "lr": 0.01,
        "momentum": 0.9,
        "weight_decay": 1e-4,
        "nesterov": False,
        "schedule": "cosine",
        "milestones": [],
        "gamma": 0.1,
        "warmup_epochs": 0,
        "total_epochs": None,  # schedule horizon; None = trainer.max_epochs
    },
    "trainer": {
        "max_epochs": 100,
        "accelerator": "auto",
        "devices": 1,
        "num_nodes": 1,
        "strategy": "auto",
        "precision": "32-true",
        "log_every_n_steps": 10,
        "limit_train_batches": None,
        "gradient_clip_val": None,
        "deterministic": False,
        "progress_bar": True,
    },
    "checkpoint": {
        "keep_last": 3,
        "monitor": None,  # None: train/loss (pretrain) or val/top1, else train/loss (supervised)
        "mode": None,
        "every_n_epochs": 1,
    },
}

_PRETRAIN = {
    "moco": {
        "objective": "cross_stream",
        "dim": 128,
        "queue_size": 16384,
        "momentum": 0.999,
        "temperature": 0.07,
        "mlp": True,
        "balance": "sum",
        "lam": 0.5,
        "lam_end": None,
        "fused_weight": 1.0,
        "intra_weight": 0.0,
        "bn_splits": 1,  # > 1: shuffle-BN over that many sub-batches (MoCo sec. 3.3); 1 = one BN batch
    },
    "knn": {"enabled": False, "k": 20, "temperature": 0.1, "every_n_epochs": 5, "split": None},
}

_SUPERVISED = {"supervised": {
    "label_smoothing": 0.0,
    "class_weights": False,
    "init_from": None,  # a pretraining checkpoint whose encoder initialises the classifier's (fine-tuning)
}}

OPEN_SECTIONS = ("model", "augment", "data.synthetic")


def schema(task: str) -> dict[str, Any]:
    """The declared keys and defaults of a ``task`` config."""
    if task not in TASKS:
        raise ConfigError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
    base = copy.deepcopy(_COMMON)
    base.update(copy.deepcopy(_PRETRAIN if task == "pretrain" else _SUPERVISED))
    base["task"] = task
    if task == "supervised":
        base["augment"] = {"spec": "none"}
        base["optim"].update(lr=0.1, weight_decay=5e-4, nesterov=True)
    return base


def packaged_configs() -> list[str]:
    """Names of the configs shipped in ``microgesture/configs`` (without ``.yaml``)."""
    root = resources.files("microgesture") / "configs"
    return sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".yaml"))


def _read_yaml(ref: str | Path, relative_to: Path | None = None, _seen: tuple[str, ...] = ()) -> DictConfig:
    """Read a config by path or packaged name, following ``extends`` chains."""
    path = Path(ref)
    if relative_to is not None and not path.is_absolute() and (relative_to / path).exists():
        path = relative_to / path
    if path.exists():
        text, where, base_dir = path.read_text(encoding="utf-8"), str(path), path.parent
    else:
        name = str(ref)[:-5] if str(ref).endswith(".yaml") else str(ref)
        res = resources.files("microgesture") / "configs" / f"{name}.yaml"
        if not res.is_file():
            raise ConfigError(f"config {ref!r} is neither a file nor a packaged config "
                              f"({', '.join(packaged_configs())})")
        text, where, base_dir = res.read_text(encoding="utf-8"), f"packaged:{name}", None
    if where in _seen:
        raise ConfigError(f"config {where}: 'extends' loops back on itself ({' -> '.join(_seen)})")
    try:
        cfg = OmegaConf.create(text)
    except OmegaConfBaseException as e:
        raise ConfigError(f"config {where}: not valid YAML: {e}") from e
    except Exception as e:  # yaml.YAMLError
        raise ConfigError(f"config {where}: not valid YAML: {e}") from e
    if not isinstance(cfg, DictConfig):
        raise ConfigError(f"config {where}: the top level must be a mapping")
    parent = cfg.pop("extends", None)
    if parent:
        cfg = OmegaConf.merge(_read_yaml(parent, base_dir, _seen + (where,)), cfg)
    return cfg


def parse_overrides(overrides: Sequence[str]) -> DictConfig:
    bad = [o for o in overrides if "=" not in o or o.startswith("=")]
    if bad:
        raise ConfigError(f"overrides must look like key=value (e.g. trainer.max_epochs=2); got {bad}")
    try:
        return OmegaConf.from_dotlist(list(overrides))
    except OmegaConfBaseException as e:
        raise ConfigError(f"cannot parse overrides {list(overrides)}: {e}") from e


def load_config(task: str | None = None, config: str | Path | Mapping[str, Any] | None = None,
                overrides: Sequence[str] = ()) -> DictConfig:
    """Merge schema defaults ← config (a file, a packaged name, or a mapping) ← overrides, then validate.

    ``task`` defaults to the config's ``task`` key (``pretrain`` if neither says). A mapping may name a base
    config with ``extends``, as a file can.
    """
    if config is None:
        user = OmegaConf.create({})
    elif isinstance(config, Mapping):
        user = OmegaConf.create(to_plain(config))
        parent = user.pop("extends", None)
        if parent:
            user = OmegaConf.merge(_read_yaml(parent), user)
        config = "(mapping)"
    else:
        user = _read_yaml(config)
    cli = parse_overrides(overrides)
    task = task or cli.get("task") or user.get("task") or "pretrain"
    if user.get("task") not in (None, task):
        raise ConfigError(f"config {config} is a {user.get('task')!r} config, not {task!r}")
    base = OmegaConf.create(schema(task))
    OmegaConf.set_struct(base, True)
    for section in OPEN_SECTIONS:
        OmegaConf.set_struct(OmegaConf.select(base, section), False)
    merged = base
    for layer, what in ((user, f"config {config}"), (cli, "command-line overrides")):
        try:
            merged = OmegaConf.merge(merged, layer)
        except OmegaConfBaseException as e:
            raise ConfigError(f"{what}: {_explain(e)}") from e
    merged.task = task
    validate(merged)
    return merged


def _explain(e: OmegaConfBaseException) -> str:
    key = getattr(e, "full_key", None)
    msg = str(e).splitlines()[0]
    if "not in struct" in msg or "Key '" in msg:
        return f"unknown key {key!r} ({msg})"
    return f"{key}: {msg}" if key else msg


def _require(cond: bool, message: str) -> None:
    if not cond:
        raise ConfigError(message)


def validate(cfg: DictConfig) -> None:
    """Value checks that the schema's types cannot express."""
    d, o, t = cfg.data, cfg.optim, cfg.trainer
    _require(isinstance(d.batch_size, int) and d.batch_size > 0, f"data.batch_size must be > 0, got {d.batch_size}")
    _require(isinstance(d.num_frames, int) and d.num_frames > 0, f"data.num_frames must be > 0, got {d.num_frames}")
    _require(d.num_workers is None or (isinstance(d.num_workers, int) and d.num_workers >= 0),
             "data.num_workers must be >= 0 (or null for automatic)")
    _require(not (d.with_scores and list(d.streams) != ["joint"]),
             "data.with_scores only works with streams [joint] (scores are not a coordinate stream)")
    _require(d.path not in (None, ""), "data.path is required (a dataset path or 'synthetic')")
    _require(isinstance(t.max_epochs, int) and t.max_epochs > 0, f"trainer.max_epochs must be > 0, got {t.max_epochs}")
    _require(float(o.lr) > 0, f"optim.lr must be > 0, got {o.lr}")
    _require(o.name in ("sgd", "adamw"), f"optim.name must be sgd or adamw, got {o.name!r}")
    _require(o.schedule in SCHEDULES, f"optim.schedule must be one of {SCHEDULES}, got {o.schedule!r}")
    _require(str(t.precision) in PRECISIONS, f"trainer.precision must be one of {PRECISIONS}, got {t.precision!r}")
    _require(int(cfg.checkpoint.keep_last) >= 1, "checkpoint.keep_last must be >= 1")
    _require(not cfg.model or "name" in cfg.model, "model needs a 'name' (e.g. dual_stream, stgcn_quarter)")
    if cfg.task == "pretrain":
        m = cfg.moco
        _require(m.objective in ("moco", "cross_stream"), f"moco.objective must be moco or cross_stream, got {m.objective!r}")
        _require(int(m.queue_size) > 0, "moco.queue_size must be > 0")
        per_step = d.batch_size * int(t.devices if isinstance(t.devices, int) and t.devices > 0 else 1) * t.num_nodes
        _require(int(m.queue_size) % per_step == 0,
                 f"moco.queue_size {m.queue_size} must be a multiple of the global batch size {per_step} "
                 "(data.batch_size x trainer.devices x trainer.num_nodes)")
        _require(0.0 <= float(m.momentum) < 1.0, "moco.momentum must lie in [0, 1)")
        _require(float(m.temperature) > 0, "moco.temperature must be > 0")
        _require(isinstance(m.bn_splits, int) and m.bn_splits >= 1, f"moco.bn_splits must be >= 1, got {m.bn_splits}")
        _require(d.batch_size >= 2 * int(m.bn_splits),
                 f"moco.bn_splits {m.bn_splits} needs data.batch_size >= {2 * int(m.bn_splits)} (two clips per "
                 f"BatchNorm sub-batch), got {d.batch_size}")


def save_config(cfg: DictConfig | dict, path: str | Path) -> Path:
    path = Path(path)
    with atomic_write(path, "w", encoding="utf-8") as fh:
        fh.write(OmegaConf.to_yaml(OmegaConf.create(to_plain(cfg))))
    return path
