"""timm-style model registry: ``@register_model`` + ``create_model`` as the one public constructor.

Why one factory: checkpoints store ``model.config`` (the name plus every keyword used), so training,
evaluation and the online pipeline can all rebuild exactly the architecture a checkpoint was trained with
(:func:`build_from_config`), and the test-suite can parametrise over :func:`list_models`.
"""

from __future__ import annotations

import copy
import fnmatch
import inspect
import warnings
from collections.abc import Callable, Mapping
from typing import Any

from torch import nn

from ..errors import ConfigError

ModelFactory = Callable[..., nn.Module]
_MODELS: dict[str, ModelFactory] = {}

#: Keys every encoder factory accepts, so that wrappers (``dual_stream``, ``classifier``) can pass their
#: own values down to sub-encoders that did not set them.
COMMON_KEYS = ("layout", "in_channels", "num_frames", "num_persons")


def register_model(name: str) -> Callable[[ModelFactory], ModelFactory]:
    """Register ``fn(**config) -> nn.Module`` under ``name``."""

    def deco(fn: ModelFactory) -> ModelFactory:
        if name in _MODELS and _MODELS[name] is not fn:
            warnings.warn(f"model {name!r} re-registered; the newer definition wins", stacklevel=2)
        _MODELS[name] = fn
        return fn

    return deco


def list_models(pattern: str | None = None) -> list[str]:
    """Registered names, optionally filtered by a shell wildcard (``"stgcn*"``)."""
    names = sorted(_MODELS)
    return [n for n in names if pattern is None or fnmatch.fnmatch(n, pattern)]


def _plain(config: Any) -> Any:
    """Turn OmegaConf containers (and nested mappings) into plain dicts/lists for storage and kwargs."""
    try:
        from omegaconf import DictConfig, ListConfig, OmegaConf

        if isinstance(config, (DictConfig, ListConfig)):
            return OmegaConf.to_container(config, resolve=True)
    except ImportError:  # pragma: no cover - omegaconf is a core dependency
        pass
    if isinstance(config, Mapping):
        return {str(k): _plain(v) for k, v in config.items()}
    if isinstance(config, (list, tuple)):
        return [_plain(v) for v in config]
    return config


def create_model(name: str, **config: Any) -> nn.Module:
    """Build the registered model ``name`` and attach ``model.config = {"name": name, **config}``."""
    if name not in _MODELS:
        raise ConfigError(f"unknown model {name!r}; registered: {', '.join(list_models())}")
    config = _plain(config)
    fn = _MODELS[name]
    _check_kwargs(name, fn, config)
    model = fn(**copy.deepcopy(config))
    model.config = {"name": name, **config}
    return model


def build_from_config(config: Mapping[str, Any]) -> nn.Module:
    """Rebuild a model from a stored ``model.config`` (a mapping with a ``name`` key)."""
    cfg = _plain(config)
    if not isinstance(cfg, dict) or "name" not in cfg:
        raise ConfigError(f"model config needs a 'name' key, got {cfg!r}")
    cfg = dict(cfg)
    return create_model(cfg.pop("name"), **cfg)


def _check_kwargs(name: str, fn: ModelFactory, config: dict[str, Any]) -> None:
    params = inspect.signature(fn).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return
    known = {p.name for p in params}
    unknown = sorted(set(config) - known)
    if unknown:
        raise ConfigError(f"model {name!r} got unknown option(s) {unknown}; it accepts {sorted(known)}")


def sub_config(spec: Any, parent: Mapping[str, Any], what: str) -> tuple[str, dict[str, Any]]:
    """Resolve a nested encoder spec (``{"name": ..., **kw}`` or just a name) with inherited common keys."""
    spec = _plain(spec)
    if isinstance(spec, str):
        spec = {"name": spec}
    if not isinstance(spec, dict) or "name" not in spec:
        raise ConfigError(f"{what} must be a model name or a mapping with a 'name' key, got {spec!r}")
    spec = dict(spec)
    sub_name = spec.pop("name")
    for key in COMMON_KEYS:
        if key not in spec and parent.get(key) is not None:
            spec[key] = parent[key]
    return sub_name, spec


def model_info(model: nn.Module) -> dict[str, Any]:
    """Parameter counts (total and trainable), output width and the creation config if known."""
    params = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    info: dict[str, Any] = {"params": params, "trainable": trainable}
    if hasattr(model, "out_dim"):
        info["out_dim"] = int(model.out_dim)
    if hasattr(model, "config"):
        info["name"] = model.config.get("name")
    return info
