"""One registry of emotion reasoners: a name, a factory and a sentence that says what the reasoner is.

Why: the benchmark command, ``analyze`` and :func:`..reading.read_emotion` all turn a user's
``--reasoner NAME`` into an object; one table means one list of names, one error message and one place to
add a reasoner. Factories take keyword options; :func:`create_reasoner` passes each factory only the options
it accepts (a caller such as the CLI can offer one set — seed, cache, server URL — to any reasoner), and
options that are ``None`` are left to the factory's defaults.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ...errors import ConfigError
from .base import Reasoner


@dataclass(frozen=True)
class ReasonerEntry:
    name: str
    factory: Callable[..., Reasoner]
    description: str
    kind: str  # learned | llm | baseline | default


_REGISTRY: dict[str, ReasonerEntry] = {}


def register_reasoner(name: str, factory: Callable[..., Reasoner], description: str, kind: str = "learned",
                      replace: bool = False) -> None:
    """Add a reasoner under ``name`` (an existing name needs ``replace=True``)."""
    if not name or not name.replace("_", "").isalnum():
        raise ConfigError(f"reasoner names are letters, digits and underscores, not {name!r}")
    if name in _REGISTRY and not replace:
        raise ConfigError(f"a reasoner named {name!r} is already registered")
    _REGISTRY[name] = ReasonerEntry(name, factory, description, kind)


def list_reasoners(kind: str | None = None) -> dict[str, str]:
    """``{name: description}`` of the registered reasoners (optionally of one ``kind``), in registration order."""
    return {n: e.description for n, e in _REGISTRY.items() if kind is None or e.kind == kind}


def reasoner_entry(name: str) -> ReasonerEntry:
    if name not in _REGISTRY:
        raise ConfigError(f"unknown reasoner {name!r}; choose from {', '.join(_REGISTRY)}")
    return _REGISTRY[name]


def create_reasoner(name: str, **options: Any) -> Reasoner:
    """A new reasoner ``name`` built with the ``options`` its factory accepts (``None`` values are dropped)."""
    entry = reasoner_entry(name)
    opts = {k: v for k, v in options.items() if v is not None}
    params = inspect.signature(entry.factory).parameters
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        opts = {k: v for k, v in opts.items() if k in params}
    return entry.factory(**opts)
