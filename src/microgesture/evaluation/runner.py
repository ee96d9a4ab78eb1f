"""``microgesture evaluate``: checkpoint + dataset + protocol → metrics.json, confusion CSV/PNG, history.

Why a separate runner: the CLI stays a thin option parser, and tests (and notebooks) call the same function.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from ..data.dataset import SkeletonDataset
from ..data.readers import open_dataset
from ..data.synthetic import make_mg_dataset
from ..errors import ConfigError
from ..models import build_from_config, create_model
from ..training import load_encoder
from .data import InputSpec, labelled_arrays, num_classes_of
from .protocols import PROTOCOLS, ProtocolConfig, run_protocol
from .report import write_result
from .splits import resolve_split

log = logging.getLogger(__name__)


def load_dataset(data: str | Path, kind: str | None = None, *, seed: int = 0,
                 synthetic: dict[str, Any] | None = None) -> SkeletonDataset:
    """A dataset by path (reader ``kind`` or sniffed), or ``"synthetic"`` for the built-in synthetic MG set
    (``synthetic``: its generator options, e.g. those a checkpoint was pretrained with)."""
    if str(data) == "synthetic":
        opts = dict(synthetic or {})
        opts.setdefault("seed", seed)
        if "num_frames" in opts:
            opts["num_frames"] = tuple(opts["num_frames"])
        return make_mg_dataset(**opts)

    return open_dataset(data, kind=kind)


def load_pretrained(checkpoint: str | Path) -> tuple[nn.Module, dict[str, Any]]:
    """The encoder stored in a microgesture checkpoint and its metadata (weights loaded with weights_only)."""

    return load_encoder(checkpoint)


def _synthetic_like(meta: dict[str, Any], seed: int) -> dict[str, Any]:
    """The synthetic set a checkpoint was pretrained on (same generator seed and options), if it was."""
    cfg = meta.get("config") if isinstance(meta.get("config"), dict) else {}
    data = cfg.get("data") or {}
    if str(data.get("path")) != "synthetic":
        return {"seed": seed}
    return {"seed": int(cfg.get("seed", seed)), "synthetic": dict(data.get("synthetic") or {})}


@dataclass
class EvaluateRequest:
    protocol: str
    data: str | Path
    checkpoint: str | Path | None = None
    kind: str | None = None
    split: str | None = None
    model: str | None = None  # supervised baseline without a checkpoint: an encoder name from the registry
    num_frames: int | None = None  # override the checkpoint's clip length
    out: str | Path | None = None
    limit: int | None = None  # first N clips of each side (smoke tests)
    embed: str | None = None  # a dual-stream encoder's evaluation embedding, instead of the checkpoint's


def _with_embed(encoder: nn.Module, mode: str | None, where: Any) -> nn.Module:
    if mode is None:
        return encoder
    setter = getattr(encoder, "set_embed", None)
    if not callable(setter):
        raise ConfigError(f"{where}: --embed applies to dual-stream encoders; this checkpoint holds a "
                          f"{type(encoder).__name__}")
    setter(mode)
    return encoder


def evaluate(req: EvaluateRequest, cfg: ProtocolConfig) -> dict[str, Any]:
    if req.protocol not in PROTOCOLS:
        raise ConfigError(f"unknown protocol {req.protocol!r}; choose one of {', '.join(PROTOCOLS)}")
    t0 = time.perf_counter()
    if req.checkpoint is None and req.protocol != "supervised":
        raise ConfigError(f"protocol {req.protocol!r} evaluates a pretrained encoder: pass --checkpoint")
    if req.checkpoint is None and req.model is None:
        raise ConfigError("the supervised baseline needs --checkpoint (for its architecture) or --model NAME")
    encoder: nn.Module | None = None
    meta: dict[str, Any] = {}
    if req.checkpoint is not None:
        encoder, meta = load_pretrained(req.checkpoint)
        encoder = _with_embed(encoder, req.embed, req.checkpoint)
    dataset = load_dataset(req.data, req.kind, **_synthetic_like(meta, cfg.seed))
    split = resolve_split(dataset, req.split, req.kind)

    if encoder is not None:
        spec = InputSpec.from_checkpoint(meta, encoder)
    else:
        spec = InputSpec(layout=dataset.layout)
    if req.num_frames:
        spec.num_frames = int(req.num_frames)
    train_idx, test_idx = split.train, split.test
    if req.limit:
        train_idx, test_idx = train_idx[:req.limit], test_idx[:req.limit]
    train = labelled_arrays(dataset, train_idx, spec, progress=cfg.progress, desc="train clips")
    test = labelled_arrays(dataset, test_idx, spec, progress=cfg.progress, desc="test clips")
    num_classes = num_classes_of(dataset)

    def fresh() -> nn.Module:
        if encoder is not None and getattr(encoder, "config", None):
            return _with_embed(build_from_config(encoder.config), req.embed, req.checkpoint)
        return create_model(req.model, layout=spec.layout, in_channels=int(train.x.shape[-1]),
                            num_frames=spec.num_frames, num_persons=spec.max_persons)

    result = run_protocol(req.protocol, encoder, train, test, num_classes, cfg, layout=spec.layout,
                          coords=spec.augmentable_coords(dataset.clips[0].num_coords), fresh_encoder=fresh)
    extra = {
        "dataset": dataset.name, "data": str(req.data), "kind": req.kind, "checkpoint":
            None if req.checkpoint is None else str(req.checkpoint),
        "split": {"name": split.name, "source": split.source, "description": split.description,
                  "num_train": int(train_idx.size), "num_test": int(test_idx.size)},
        "input": spec.to_dict(), "seconds": round(time.perf_counter() - t0, 2),
        "test_classes_present": int(np.unique(test.y).size),
    }
    if req.out is None:
        doc = {**result.summary(), "class_names": dataset.class_names, **extra}
    else:
        doc = write_result(req.out, result, class_names=dataset.class_names, clip_ids=test.clip_ids, y_true=test.y,
                           extra=extra)
        doc["out"] = str(req.out)
    return doc
