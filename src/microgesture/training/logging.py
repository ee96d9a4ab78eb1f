"""Run logging: a CSV logger that survives ``--resume``, and quiet short runs.

Why: Lightning's ``CSVLogger`` deletes an existing ``metrics.csv`` when a new logger opens the same
directory, so a resumed run would lose the epochs before the interruption. This one keeps the earlier rows
(dropping any logged after the checkpoint it resumes from) and appends. Short runs inside a larger job
(experiment cells, window models trained for ``analyze``) would otherwise print Lightning's banners
(devices, tips) every time.
"""

from __future__ import annotations

import contextlib
import csv
import logging
import warnings
from collections.abc import Iterator
from pathlib import Path

from lightning.fabric.loggers.logger import rank_zero_experiment
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter

from ..utils.io import atomic_write


class _AppendingWriter(ExperimentWriter):
    def _check_log_dir_exists(self) -> None:
        path = Path(self.metrics_file_path)
        if path.is_file():
            with path.open(newline="") as fh:
                self.metrics_keys = sorted(next(csv.reader(fh), []))


class ResumableCSVLogger(CSVLogger):
    @property
    @rank_zero_experiment
    def experiment(self) -> ExperimentWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _AppendingWriter(log_dir=self.log_dir)
        return self._experiment


def truncate_metrics(path: str | Path, last_epoch: int) -> None:
    """Drop rows of epochs after ``last_epoch`` (logged after the checkpoint a run resumes from)."""
    path = Path(path)
    if not path.is_file():
        return
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        fields = reader.fieldnames or []
        rows = [r for r in reader if not r.get("epoch") or int(float(r["epoch"])) <= last_epoch]
    with atomic_write(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


@contextlib.contextmanager
def quiet_lightning() -> Iterator[None]:
    """Keep Lightning's per-run banners (devices, tips) and the log-interval warning out of the output of a
    job made of many short runs; warnings and errors still show."""
    loggers = [logging.getLogger(n) for n in ("lightning.pytorch", "lightning.fabric", "pytorch_lightning")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*smaller than the logging interval.*")
            yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)
