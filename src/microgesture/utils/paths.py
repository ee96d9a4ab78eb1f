"""Where the real datasets live: ``MICROGESTURE_DATA`` (default ``../shared/datasets``)."""

from __future__ import annotations

import os
from pathlib import Path


def data_root() -> Path:
    env = os.environ.get("MICROGESTURE_DATA")
    if env:
        return Path(env)
    return Path.cwd().parent / "shared" / "datasets"
