"""Training: configs, data modules, Lightning modules for MoCo pretraining and supervised training, checkpoints.

Models stay plain ``nn.Module`` s (``microgesture.models``); Lightning only runs the loop (devices, DDP,
precision, checkpointing, resuming, logging). Entry points: :func:`microgesture.training.run.run`
(used by ``microgesture pretrain`` / ``microgesture train``), :func:`checkpoint.load_encoder` and
:func:`checkpoint.load_classifier` for evaluation and the online pipeline.
"""

from __future__ import annotations

from .checkpoint import CheckpointError, load_checkpoint, load_classifier, load_encoder
from .config import load_config, save_config

__all__ = ["CheckpointError", "load_checkpoint", "load_classifier", "load_encoder", "load_config", "save_config"]
