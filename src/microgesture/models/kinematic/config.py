"""Detector thresholds: the packaged ``thresholds.yaml`` plus user overrides, key by key.

Why checked overrides: a user tunes one threshold in a small YAML (``touch_face: {enter: 0.1}``) and keeps
every other default; a misspelt key (``touch_face.entr``) must be an error that names it, not a silently
ignored setting, and values keep the packaged types (numbers stay numbers, lists keep their length).
OmegaConf reads the YAML files and writes them back; the detectors read plain values (attribute access on
small dicts), because threshold fitting builds hundreds of configs and reads thousands of values.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from ...errors import ConfigError
from ...utils.io import atomic_write

PACKAGED = "thresholds.yaml"


class Section(dict):
    """One section's values with attribute access (``cfg.touch_face.enter``)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"detector config section has no key {name!r}") from None


def _packaged() -> dict[str, dict[str, Any]]:
    text = resources.files(__package__).joinpath(PACKAGED).read_text(encoding="utf-8")
    return OmegaConf.to_container(OmegaConf.create(text))  # type: ignore[return-value]


@dataclass
class DetectorConfig:
    """All detector settings (``cfg.touch_face.enter`` …) and where they came from."""

    values: dict[str, Section]
    source: str = "packaged defaults"

    def __getattr__(self, name: str) -> Section:
        if name in ("values", "source") or name.startswith("__"):
            raise AttributeError(name)
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(f"detector config has no section {name!r}") from None

    def __getitem__(self, name: str) -> Section:
        return self.__getattr__(name)

    @property
    def node(self) -> DictConfig:
        """The settings as an OmegaConf node (read-only view for tools that expect one)."""
        return OmegaConf.create(self.to_dict())

    def get(self, dotted: str) -> Any:
        """Value at ``section.key``; ConfigError naming the key if it does not exist."""
        sec, _, key = dotted.partition(".")
        if sec not in self.values or (key and key not in self.values[sec]):
            raise ConfigError(f"detector config has no key {dotted!r}")
        return copy.deepcopy(self.values[sec][key] if key else dict(self.values[sec]))

    def with_values(self, values: Mapping[str, Any], source: str | None = None) -> DetectorConfig:
        """A copy with ``{"section.key": value}`` set (keys and types checked)."""
        nested: dict[str, dict[str, Any]] = {}
        for dotted, v in values.items():
            sec, _, key = dotted.partition(".")
            nested.setdefault(sec, {})[key] = v
        return _merge(self, nested, source or self.source)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return {s: copy.deepcopy(dict(v)) for s, v in self.values.items()}

    def to_yaml(self) -> str:
        return OmegaConf.to_yaml(OmegaConf.create(self.to_dict()))

    def overrides(self, base: DetectorConfig | None = None) -> dict[str, dict[str, Any]]:
        """The keys whose values differ from ``base`` (packaged defaults if None), nested by section."""
        ref = (base or load_detector_config(None)).values
        out: dict[str, dict[str, Any]] = {}
        for sec, keys in self.values.items():
            for k, v in keys.items():
                if ref.get(sec, {}).get(k) != v:
                    out.setdefault(sec, {})[k] = copy.deepcopy(v)
        return out

    def save_overrides(self, path: str | Path, base: DetectorConfig | None = None, header: str = "") -> Path:
        """Write only the changed keys as a YAML that :func:`load_detector_config` accepts."""
        path = Path(path)
        body = OmegaConf.to_yaml(OmegaConf.create(self.overrides(base)))
        lines = "".join(f"# {h}\n" for h in header.splitlines()) if header else ""
        with atomic_write(path, "w", encoding="utf-8") as fh:
            fh.write(lines + body)
        return path


def _check_types(default: Any, value: Any, where: str) -> None:
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false, got {value!r}")
    elif isinstance(default, (int, float)):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where} must be a number, got {value!r}")
    elif isinstance(default, list):
        if not isinstance(value, (list, tuple)) or len(value) != len(default):
            raise ConfigError(f"{where} must be a list of {len(default)} numbers, got {value!r}")
        for i, (d, v) in enumerate(zip(default, value, strict=True)):
            _check_types(d, v, f"{where}[{i}]")


def _merge(base: DetectorConfig, user: Mapping[str, Any], source: str) -> DetectorConfig:
    ref = base.values
    if not isinstance(user, Mapping):
        raise ConfigError(f"{source}: detector overrides must be a mapping of sections, got {type(user).__name__}")
    out = {s: Section(v) for s, v in ref.items()}  # sections not overridden are shared (never mutated)
    for sec, keys in user.items():
        if sec not in ref:
            raise ConfigError(f"{source}: unknown detector config key {sec!r} (sections: {', '.join(ref)})")
        if not isinstance(keys, Mapping):
            raise ConfigError(f"{source}: {sec} must be a mapping of keys, got {keys!r}")
        for k, v in keys.items():
            if k not in ref[sec]:
                raise ConfigError(f"{source}: unknown detector config key '{sec}.{k}' "
                                  f"(keys of {sec}: {', '.join(ref[sec])})")
            _check_types(ref[sec][k], v, f"{source}: {sec}.{k}")
            out[sec][k] = list(v) if isinstance(v, tuple) else copy.deepcopy(v)
    return DetectorConfig(out, source)


def load_detector_config(overrides: str | Path | Mapping[str, Any] | DetectorConfig | None = None) -> DetectorConfig:
    """Packaged defaults, optionally overridden by a YAML file path, a nested mapping, or another config."""
    base = DetectorConfig({s: Section(v) for s, v in _packaged().items()}, "packaged defaults")
    if overrides is None:
        return base
    if isinstance(overrides, DetectorConfig):
        return _merge(base, overrides.to_dict(), overrides.source)
    if isinstance(overrides, (str, Path)):
        path = Path(overrides)
        if not path.is_file():
            raise ConfigError(f"{path}: detector config file not found")
        try:
            user = OmegaConf.to_container(OmegaConf.load(path)) or {}
        except (OmegaConfBaseException, OSError, ValueError) as e:
            raise ConfigError(f"{path}: not a readable YAML mapping ({e})") from None
        return _merge(base, user, str(path))
    if isinstance(overrides, Mapping):
        try:
            user = OmegaConf.to_container(OmegaConf.create(dict(overrides))) if overrides else {}
        except OmegaConfBaseException as e:
            raise ConfigError(f"overrides: not a mapping of sections ({e})") from None
        return _merge(base, user, "overrides")
    raise ConfigError(f"detector config must be a path, a mapping or None, got {type(overrides).__name__}")
