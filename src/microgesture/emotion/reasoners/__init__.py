"""Emotion reasoners: LLM back-ends (HTTP, in-process) and learned MG-only baselines, one interface."""

from __future__ import annotations

from .base import Prediction, Reasoner

__all__ = ["Prediction", "Reasoner"]
