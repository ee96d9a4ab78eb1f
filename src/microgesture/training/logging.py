"""A CSV logger that survives ``--resume``.

Why: Lightning's ``CSVLogger`` deletes an existing ``metrics.csv`` when a new logger opens the same
directory, so a resumed run would lose the epochs before the interruption. This one keeps the earlier rows
(dropping any logged after the checkpoint it resumes from) and appends.
"""

from __future__ import annotations

import csv
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
