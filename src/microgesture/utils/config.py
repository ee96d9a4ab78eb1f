"""One conversion from configuration objects to plain Python, for storage, kwargs and checkpoints.

Why one helper: configs travel as OmegaConf containers (validated, with struct checks) but are stored in
YAML/JSON and in ``weights_only`` checkpoints, which take plain dicts, lists and scalars only.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf


def to_plain(config: Any) -> Any:
    """OmegaConf containers (resolved) and nested mappings / sequences → plain dicts, lists and scalars."""
    if isinstance(config, (DictConfig, ListConfig)):
        return OmegaConf.to_container(config, resolve=True)
    if isinstance(config, Mapping):
        return {str(k): to_plain(v) for k, v in config.items()}
    if isinstance(config, (list, tuple)):
        return [to_plain(v) for v in config]
    return copy.deepcopy(config)
