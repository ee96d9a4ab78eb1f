"""Where the real datasets live: ``MICROGESTURE_DATA`` (default ``../shared/datasets``), and where caches go.

Why a data root: packaged configs and experiments name datasets by a path *inside* the data root
(``nw_ucla/raw/data/NW-UCLA/all_sqe``), so they work from any working directory once the root is set.
"""

from __future__ import annotations

import os
from pathlib import Path


def data_root() -> Path:
    env = os.environ.get("MICROGESTURE_DATA")
    if env:
        return Path(env)
    return Path.cwd().parent / "shared" / "datasets"


def resolve_data_path(path: str | Path) -> Path:
    """``path`` as given when it exists (absolute, or relative to the working directory); otherwise the
    same relative path inside :func:`data_root`. Non-existing paths come back as given, for the reader to
    report."""
    p = Path(path).expanduser()
    if p.is_absolute() or p.exists():
        return p
    inside = data_root() / p
    return inside if inside.exists() else p


def cache_dir() -> Path:
    """``MICROGESTURE_CACHE`` or ``$XDG_CACHE_HOME/microgesture`` (default ``~/.cache/microgesture``)."""
    env = os.environ.get("MICROGESTURE_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "microgesture"
