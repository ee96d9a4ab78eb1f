"""Shared CLI plumbing: JSON vs human output, logging set-up, progress bars.

Why: every reporting command takes ``--json`` and prints exactly one JSON document on stdout, so scripts
can consume it; humans get a rich table instead. Errors are turned into one line by ``main``.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from typing import Any

from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table

from ..utils.io import _json_default
from ..utils.quiet import VERBOSE_ENV

console = Console(stderr=False)
err_console = Console(stderr=True, soft_wrap=True)  # errors stay on one line, however long the path

JSON_HELP = "Print one machine-readable JSON document on stdout instead of tables."


def emit(result: Any, as_json: bool, title: str | None = None) -> None:
    """Print ``result`` (a dict or list of dicts) as JSON or as a readable table."""
    if as_json:
        sys.stdout.write(json.dumps(result, indent=2, default=_json_default) + "\n")
        return
    if isinstance(result, list) and result and isinstance(result[0], dict):
        table = Table(title=title)
        for col in result[0]:
            table.add_column(str(col))
        for row in result:
            table.add_row(*(_fmt(row.get(c)) for c in result[0]))
        console.print(table)
    elif isinstance(result, dict):
        table = Table(title=title, show_header=False)
        table.add_column("key", style="bold")
        table.add_column("value")
        for k, v in result.items():
            table.add_row(str(k), _fmt(v))
        console.print(table)
    else:
        console.print(result)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (dict, list)):
        s = json.dumps(v, default=str)
        return s if len(s) < 200 else s[:197] + "..."
    return "" if v is None else str(v)


#: third-party loggers whose INFO lines (device banners, tips, "fit stopped") are noise for a user; shown with
#: --verbose. Their own handlers are removed so every line goes through one handler, once.
NOISY_LOGGERS = ("lightning", "lightning.pytorch", "lightning.fabric", "pytorch_lightning", "absl", "matplotlib",
                 "httpx", "httpcore", "distributed", "numexpr")


def setup_logging(verbose: bool = False) -> None:
    """One Rich handler on stderr for everything; third-party chatter only with ``--verbose``."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(message)s",
        handlers=[RichHandler(console=err_console, show_path=False, rich_tracebacks=False)],
        force=True,
    )
    for name in NOISY_LOGGERS:
        lg = logging.getLogger(name)
        lg.handlers.clear()
        lg.propagate = True
        lg.setLevel(logging.DEBUG if verbose else logging.WARNING)
    if not verbose:  # Dask's nanny warns each time it stops a worker that is still unloading torch: routine
        logging.getLogger("distributed.nanny").setLevel(logging.ERROR)
    if verbose:
        os.environ[VERBOSE_ENV] = "1"  # native libraries (MediaPipe) keep their stderr too
