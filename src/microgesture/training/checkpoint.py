"""Checkpoints: atomic writes, safe loading, and strict reconstruction of encoders and classifiers.

Why: a checkpoint is both the resume point of a long run and the artefact evaluation and the online
pipeline consume. So it is written atomically (temp file + fsync + rename: a crash never leaves a
half-written ``last.ckpt``), read with ``torch.load(weights_only=True)`` only (a checkpoint from the internet
cannot run code; everything we store is tensors and plain containers), and it carries what is needed to
rebuild the model without guessing: the architecture (``model.config``), the full resolved run config,
package versions, the data fingerprint, epoch and metrics. Loading into a different architecture fails
with a :class:`CheckpointError` that lists the missing / unexpected keys, never a silent partial load.
"""

from __future__ import annotations

import io
import pickle
import platform
from pathlib import Path
from typing import Any

import lightning
import numpy
import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO
from torch import nn

from .. import __version__
from ..errors import CheckpointError, ConfigError
from ..models import build_from_config
from ..utils.io import atomic_write

FORMAT = "microgesture.checkpoint"
FORMAT_VERSION = 1
META_KEY = "microgesture"

#: state_dict prefixes of the inference model inside each task's LightningModule
ENCODER_PREFIX = {"pretrain": "moco.encoder_q.", "supervised": "model.encoder."}
CLASSIFIER_PREFIX = "model."

__all__ = ["AtomicCheckpointIO", "CheckpointError", "load_checkpoint", "load_encoder", "load_classifier",
           "load_state_strict", "package_versions", "save_encoder_checkpoint"]


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "torch": str(torch.__version__), "numpy": str(numpy.__version__),
           "microgesture": str(__version__)}
    try:
        out["lightning"] = str(lightning.__version__)
    except ImportError:  # pragma: no cover - lightning is a training dependency
        pass
    return out


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning checkpoint I/O: write to a temp file, fsync, rename; read with ``weights_only=True``."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None) -> None:
        if storage_options is not None:
            raise TypeError("AtomicCheckpointIO does not take storage_options")
        buf = io.BytesIO()
        torch.save(checkpoint, buf)  # serialise fully before touching the target
        with atomic_write(path, "wb") as fh:
            fh.write(buf.getbuffer())

    def load_checkpoint(self, path: Any, map_location: Any | None = None,
                        weights_only: bool | None = None) -> dict[str, Any]:
        return _torch_load(Path(path), map_location or "cpu")


def _torch_load(path: Path, map_location: Any = "cpu") -> dict[str, Any]:
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    try:
        obj = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"{path}: refused to load: the file holds objects outside the weights-only "
                              f"allow-list (it would execute code) — {first}") from None
    except (RuntimeError, EOFError, OSError, ValueError) as e:
        raise CheckpointError(f"{path}: not a readable checkpoint (truncated or corrupt?): {e}") from None
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path}: expected a checkpoint dict, found {type(obj).__name__}")
    return obj


def load_checkpoint(path: str | Path, map_location: Any = "cpu") -> dict[str, Any]:
    """Read a microgesture checkpoint safely and check its format marker."""
    path = Path(path)
    ckpt = _torch_load(path, map_location)
    meta = ckpt.get(META_KEY)
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a microgesture checkpoint (no {META_KEY!r} metadata)")
    if int(meta.get("version", 0)) > FORMAT_VERSION:
        raise CheckpointError(f"{path}: checkpoint format version {meta.get('version')} is newer than this "
                              f"microgesture reads ({FORMAT_VERSION}); upgrade microgesture")
    if "state_dict" not in ckpt:
        raise CheckpointError(f"{path}: checkpoint has no state_dict")
    return ckpt


def load_state_strict(model: nn.Module, state: dict[str, torch.Tensor], where: str) -> None:
    """``load_state_dict(strict=True)`` with one readable :class:`CheckpointError` on any mismatch."""
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = sorted(f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
                    for k in set(own) & set(state) if tuple(state[k].shape) != tuple(own[k].shape))
    if missing or unexpected or shapes:
        def show(keys: list[str]) -> str:
            return ", ".join(keys[:8]) + (f" (+{len(keys) - 8} more)" if len(keys) > 8 else "")

        parts = []
        if missing:
            parts.append(f"missing keys [{show(missing)}]")
        if unexpected:
            parts.append(f"unexpected keys [{show(unexpected)}]")
        if shapes:
            parts.append(f"shape mismatches [{show(shapes)}]")
        raise CheckpointError(f"{where}: checkpoint does not match the model architecture: " + "; ".join(parts))
    model.load_state_dict(state, strict=True)


def _sub_state(state: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}


def _build(config: dict[str, Any], where: str) -> nn.Module:
    try:
        return build_from_config(config)
    except ConfigError as e:
        raise CheckpointError(f"{where}: cannot rebuild the model it was trained with: {e}") from e


def load_encoder(path: str | Path, model: nn.Module | None = None,
                 map_location: Any = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """The trained encoder (the query encoder of a pretraining run, or a classifier's encoder).

    Rebuilt from the stored ``model.config`` unless ``model`` is given, in which case its architecture
    must match exactly. Returns ``(encoder in eval mode, metadata)``; ``meta["data"]`` says what data and
    preprocessing it was trained with.
    """
    ckpt = load_checkpoint(path, map_location)
    meta = ckpt[META_KEY]
    task = meta.get("task")
    if task not in ENCODER_PREFIX:
        raise CheckpointError(f"{path}: unknown checkpoint task {task!r}")
    state = _sub_state(ckpt["state_dict"], ENCODER_PREFIX[task])
    if not state:
        raise CheckpointError(f"{path}: holds no encoder weights under {ENCODER_PREFIX[task]!r}")
    if model is None:
        cfg = meta["encoder_config"]
        model = _build(cfg, str(path))
    load_state_strict(model, state, str(path))
    return model.eval(), meta


def load_classifier(path: str | Path, model: nn.Module | None = None,
                    map_location: Any = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """A supervised run's classifier (encoder + head), in eval mode, with its metadata (class names...)."""
    ckpt = load_checkpoint(path, map_location)
    meta = ckpt[META_KEY]
    if meta.get("task") != "supervised":
        raise CheckpointError(f"{path}: is a {meta.get('task')!r} checkpoint, not a supervised classifier; "
                              "use load_encoder (and train a probe) instead")
    if model is None:
        model = _build(meta["model_config"], str(path))
    load_state_strict(model, _sub_state(ckpt["state_dict"], CLASSIFIER_PREFIX), str(path))
    return model.eval(), meta


def save_encoder_checkpoint(path: str | Path, encoder: nn.Module, meta: dict[str, Any]) -> Path:
    """A small stand-alone encoder checkpoint (no optimiser / key encoder): what ``load_encoder`` reads.

    Used to hand an encoder to evaluation without the full training state.
    """
    meta = dict(meta)
    meta.update(format=FORMAT, version=FORMAT_VERSION, task="pretrain")
    if not hasattr(encoder, "config"):
        raise CheckpointError("the encoder has no .config (build it with microgesture.models.create_model)")
    meta["encoder_config"] = dict(encoder.config)
    state = {ENCODER_PREFIX["pretrain"] + k: v.detach().cpu() for k, v in encoder.state_dict().items()}
    buf = io.BytesIO()
    torch.save({"state_dict": state, META_KEY: meta}, buf)
    with atomic_write(path, "wb") as fh:
        fh.write(buf.getbuffer())
    return Path(path)
