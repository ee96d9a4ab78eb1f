"""Experiments: the paper's studies as resumable grids of (dataset × condition × seed) cells.

``run_experiment(name, budget=...)`` builds the cells of ``name``, runs those not finished yet, and writes
``results.md`` / ``results.csv`` (mean ± std over seeds), ``cells.csv`` (every run), plots, ``budget.yaml`` (the
exact budget used) and ``experiment.json`` (seeds, datasets, versions, timings) under ``out``.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from omegaconf import OmegaConf

from ...errors import ConfigError
from ...training.checkpoint import package_versions
from ...utils.io import atomic_write, write_json
from . import augmentations, comparison, fusion, video298
from .common import ExperimentContext, default_device, load_budget, seeds_list
from .grid import Cell, run_grid


@dataclass(frozen=True)
class Experiment:
    name: str
    description: str
    build_cells: Callable[[ExperimentContext, list[int], list[str]], list[Cell]]
    make_runner: Callable[[ExperimentContext], Callable[[ExperimentContext, Cell, Path], dict[str, Any]]]
    report: Callable[[ExperimentContext, list[dict[str, Any]], Path, list[str]], str]
    fixed_datasets: tuple[str, ...] = ()


def _plain_runner(module: Any):
    return lambda ctx: module.run_cell


EXPERIMENTS: dict[str, Experiment] = {
    augmentations.NAME: Experiment(augmentations.NAME, augmentations.DESCRIPTION, augmentations.build_cells,
                                   _plain_runner(augmentations), augmentations.report),
    fusion.NAME: Experiment(fusion.NAME, fusion.DESCRIPTION, fusion.build_cells, _plain_runner(fusion),
                            fusion.report),
    comparison.NAME: Experiment(comparison.NAME, comparison.DESCRIPTION, comparison.build_cells,
                                _plain_runner(comparison), comparison.report),
    video298.NAME: Experiment(video298.NAME, video298.DESCRIPTION, video298.build_cells, video298.Runner,
                              video298.report, fixed_datasets=("video298",)),
}


def list_experiments() -> list[dict[str, str]]:
    return [{"name": e.name, "description": e.description} for e in EXPERIMENTS.values()]


def run_experiment(name: str, *, budget: str = "small", out: str | Path, resume: bool = False,
                   seeds: int | None = None, datasets: list[str] | None = None, device: str | None = None,
                   progress: bool = True, overrides: dict[str, Any] | None = None,
                   threads: int | None = None) -> dict[str, Any]:
    """Run (or resume) experiment ``name``; ``overrides`` are merged into the budget (tests use tiny ones).

    ``threads`` sets torch's intra-op threads (on a CPU shared with other jobs, 1 thread avoids OpenMP
    oversubscription, which can be an order of magnitude slower)."""
    if name not in EXPERIMENTS:
        raise ConfigError(f"unknown experiment {name!r}; choose one of {', '.join(EXPERIMENTS)}")
    exp = EXPERIMENTS[name]
    if threads:
        torch.set_num_threads(int(threads))
    cfg = load_budget(budget)
    if overrides:
        cfg = OmegaConf.merge(cfg, OmegaConf.create(overrides))
    ctx = ExperimentContext(budget, cfg, default_device(device), progress)
    seed_list = seeds_list(ctx, seeds)
    if exp.fixed_datasets:
        if datasets and set(datasets) - set(exp.fixed_datasets):
            raise ConfigError(f"experiment {name!r} runs on {', '.join(exp.fixed_datasets)} only")
        ds_list = list(exp.fixed_datasets)
    else:
        known = list(cfg.experiment_datasets[name])
        ds_list = list(datasets) if datasets else known
        unknown = [d for d in ds_list if d not in cfg.datasets]
        if unknown:
            raise ConfigError(f"unknown dataset(s) {unknown} for the {budget} budget; known: "
                              f"{', '.join(cfg.datasets)}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_write(out / "budget.yaml", "w", encoding="utf-8") as fh:
        fh.write(OmegaConf.to_yaml(cfg))
    cells = exp.build_cells(ctx, seed_list, ds_list)
    t0 = time.perf_counter()
    runner = exp.make_runner(ctx)
    grid = run_grid(cells, lambda cell, d: runner(ctx, cell, d), out, resume=resume, progress=progress)
    markdown = exp.report(ctx, grid.rows, out, ds_list)


    info = {"experiment": name, "budget": budget, "seeds": seed_list, "datasets": ds_list, "device": ctx.device,
            "torch_threads": torch.get_num_threads(),
            "cells": len(cells), "cells_run": len(grid.ran), "cells_skipped": len(grid.skipped),
            "seconds": round(time.perf_counter() - t0, 1), "out": str(out), "host": platform.node(),
            "versions": package_versions()}
    write_json(out / "experiment.json", info)
    return {**info, "markdown": markdown, "files": sorted(p.name for p in out.iterdir() if p.is_file())}
