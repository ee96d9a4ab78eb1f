"""Skeleton encoders behind one timm-style registry.

``create_model(name, **config)`` is the public constructor; importing this package registers every model
(``list_models()`` shows them). Encoders take ``[N, M, T, V, C]`` float32 and return ``[N, out_dim]``.
"""

from __future__ import annotations

from . import agcn, classifier, fusion, gru, stgcn, tcn  # noqa: F401  (registers the models)
from .classifier import Classifier
from .export import export_encoder
from .fusion import DualStreamEncoder
from .registry import build_from_config, create_model, list_models, model_info, register_model

__all__ = [
    "Classifier",
    "DualStreamEncoder",
    "build_from_config",
    "create_model",
    "export_encoder",
    "list_models",
    "model_info",
    "register_model",
]
