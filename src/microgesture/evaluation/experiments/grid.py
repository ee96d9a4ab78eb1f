"""Resumable grids of experiment cells and their summary tables.

Why cells: an experiment is (dataset × condition × seed) independent runs. Each cell has its own directory
with the exact config it ran (``cell.json``) and, only once finished, ``metrics.json`` (written atomically,
last). A rerun with ``resume`` skips every cell whose ``metrics.json`` exists *and* whose stored config equals
the requested one; a changed config is an error rather than a silently mixed table.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ...errors import ConfigError
from ...utils.io import atomic_write, write_json
from ..plots import plot_grouped_bars

log = logging.getLogger(__name__)

CELL_FILE = "cell.json"
DONE_FILE = "metrics.json"


@dataclass(frozen=True)
class Cell:
    """One run: ``condition`` on ``dataset`` with ``seed``; ``params`` is everything that defines it."""

    dataset: str
    condition: str
    seed: int
    params: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    @property
    def key(self) -> str:
        return f"{self.dataset}/{self.condition}/seed{self.seed}"

    def directory(self, root: Path) -> Path:
        return root / "cells" / _safe(self.dataset) / _safe(self.condition) / f"seed{self.seed}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_.+" else "_" for ch in name)


def _canonical(obj: Any) -> Any:
    return json.loads(json.dumps(obj, sort_keys=True, default=str))


CellRunner = Callable[[Cell, Path], dict[str, Any]]


@dataclass
class GridReport:
    rows: list[dict[str, Any]]
    ran: list[str]
    skipped: list[str]
    seconds: float


def run_grid(cells: Sequence[Cell], run_cell: CellRunner, out: str | Path, *, resume: bool = False,
             progress: bool = True) -> GridReport:
    """Run every cell (or reuse its finished result under ``resume``); each returns a flat metrics dict."""
    root = Path(out)
    keys = [c.key for c in cells]
    if len(set(keys)) != len(keys):
        raise ConfigError("experiment grid has duplicate cells: " + ", ".join(sorted({k for k in keys
                                                                                      if keys.count(k) > 1})))
    finished = [c for c in cells if (c.directory(root) / DONE_FILE).exists()]
    if finished and not resume:
        raise ConfigError(f"{root}: {len(finished)} of {len(cells)} cells already finished; pass --resume to "
                          "continue this run, or choose another --out")
    rows: list[dict[str, Any]] = []
    ran: list[str] = []
    skipped: list[str] = []
    t0 = time.perf_counter()
    it: Any = cells
    if progress:
        it = tqdm(cells, desc="experiment cells", unit="cell")
    for cell in it:
        d = cell.directory(root)
        wanted = _canonical(cell.to_dict())
        done = d / DONE_FILE
        if done.exists():
            stored = json.loads((d / CELL_FILE).read_text(encoding="utf-8")) if (d / CELL_FILE).exists() else None
            if stored != wanted:
                raise ConfigError(f"{d}: this cell finished with a different config than requested now; "
                                  "use another --out (or delete the cell directory to rerun it)")
            rows.append({**json.loads(done.read_text(encoding="utf-8")), **_ids(cell)})
            skipped.append(cell.key)
            continue
        d.mkdir(parents=True, exist_ok=True)
        write_json(d / CELL_FILE, wanted)
        start = time.perf_counter()
        metrics = run_cell(cell, d)
        metrics = {**metrics, "cell_seconds": round(time.perf_counter() - start, 2)}
        write_json(done, metrics)  # the done-marker: written last
        rows.append({**metrics, **_ids(cell)})
        ran.append(cell.key)
        log.info("%s: top1 %.3f (%.1f s)", cell.key, metrics.get("top1", float("nan")), metrics["cell_seconds"])
    return GridReport(rows, ran, skipped, time.perf_counter() - t0)


def _ids(cell: Cell) -> dict[str, Any]:
    return {"dataset": cell.dataset, "condition": cell.condition, "seed": cell.seed}


# -- summaries ---------------------------------------------------------------------------------------------
def summarize(rows: Sequence[dict[str, Any]], metrics: Sequence[str] = ("top1", "mean_class_accuracy", "macro_f1"),
              by: Sequence[str] = ("dataset", "condition")) -> pd.DataFrame:
    """Mean, sample std and count over seeds for every (dataset, condition)."""
    frame = pd.DataFrame(rows)
    present = [m for m in metrics if m in frame.columns]
    agg = frame.groupby(list(by), sort=False)[present].agg(["mean", "std", "count"])
    agg.columns = [f"{m}_{s}" for m, s in agg.columns]
    return agg.reset_index()


def fmt_pm(mean: float, std: float, scale: float = 100.0) -> str:
    """"mean ± std" in percent; just the mean when there is no spread to report (a single seed)."""
    if mean is None or np.isnan(mean):
        return "–"
    if std is None or np.isnan(std):
        return f"{scale * mean:.1f}"
    return f"{scale * mean:.1f} ± {scale * std:.1f}"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(map(str, header)) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join("" if v is None else str(v) for v in r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def write_tables(out: str | Path, summary: pd.DataFrame, raw_rows: Sequence[dict[str, Any]], markdown: str) -> None:
    out = Path(out)
    with atomic_write(out / "results.csv", "w", encoding="utf-8", newline="") as fh:
        summary.to_csv(fh, index=False)
    with atomic_write(out / "cells.csv", "w", encoding="utf-8", newline="") as fh:
        pd.DataFrame(raw_rows).to_csv(fh, index=False)
    with atomic_write(out / "results.md", "w", encoding="utf-8") as fh:
        fh.write(markdown)


def cell_value(summary: pd.DataFrame, condition: str, dataset: str, column: str) -> float:
    """One summary number (e.g. ``top1_mean``) of a (condition, dataset); NaN when absent."""
    if column not in summary.columns:
        return float("nan")
    hit = summary[(summary["condition"] == condition) & (summary["dataset"] == dataset)]
    return float(hit[column].iloc[0]) if not hit.empty else float("nan")


def pivot_markdown(summary: pd.DataFrame, metric: str, row_order: Sequence[str], col_order: Sequence[str],
                   *, row_label: str = "condition", col_labels: dict[str, str] | None = None,
                   row_labels: dict[str, str] | None = None) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a condition × dataset table of ``metric`` as "mean ± std" percentages."""
    header = [row_label] + [(col_labels or {}).get(c, c) for c in col_order]
    rows = []
    for r in row_order:
        line = [(row_labels or {}).get(r, r)]
        for c in col_order:
            line.append(fmt_pm(cell_value(summary, r, c, f"{metric}_mean"), cell_value(summary, r, c, f"{metric}_std")))
        rows.append(line)
    return header, rows


def bars_from_summary(path: Path, summary: pd.DataFrame, metric: str, conditions: Sequence[str],
                      datasets: Sequence[str], *, title: str, labels: dict[str, str] | None = None) -> None:
    series, errors = {}, {}
    for cond in conditions:
        vals, errs = [], []
        for ds in datasets:
            vals.append(100 * cell_value(summary, cond, ds, f"{metric}_mean"))
            std = cell_value(summary, cond, ds, f"{metric}_std")
            errs.append(0.0 if np.isnan(std) else 100 * std)
        series[cond], errors[cond] = vals, errs
    plot_grouped_bars(path, [(labels or {}).get(d, d) for d in datasets], series, errors,
                      ylabel=f"{metric} (%)", title=title)
