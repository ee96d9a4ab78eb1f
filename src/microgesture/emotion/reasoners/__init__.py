"""Emotion reasoners: LLM back-ends (HTTP, in-process) and learned MG-only baselines, one interface.

``registry`` holds ``register_reasoner`` / ``create_reasoner``; ``builtin`` registers the reasoners that ship
with the package when this package is imported (any import of ``reasoners.registry`` runs it first).
"""

from __future__ import annotations

from . import builtin  # noqa: F401  (registers the shipped reasoners)
from .base import Prediction, Reasoner
from .registry import create_reasoner, list_reasoners, register_reasoner

__all__ = ["Prediction", "Reasoner", "create_reasoner", "list_reasoners", "register_reasoner"]
