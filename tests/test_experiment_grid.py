"""Experiment grids: resume skips finished cells, refuses silent mixing, and summarises over seeds."""

from __future__ import annotations

import json

import numpy as np
import pytest

from microgesture.errors import ConfigError
from microgesture.evaluation.experiments import EXPERIMENTS, list_experiments, run_experiment
from microgesture.evaluation.experiments.grid import Cell, fmt_pm, run_grid, summarize
from microgesture.evaluation.experiments.video298 import overlap_groups
from microgesture.evaluation.knn import knn_scores
from microgesture.evaluation.metrics import classification_metrics


def _knn_cell(calls: list[str]):
    """A real (cheap) cell: kNN accuracy on seed-dependent noisy toy features."""

    def run(cell: Cell, directory):
        calls.append(cell.key)
        rng = np.random.default_rng(cell.seed)
        centres = np.eye(3) * 3
        y = np.repeat(np.arange(3), 20)
        x = centres[y] + rng.normal(scale=cell.params["noise"], size=(60, 3))
        scores = knn_scores(x[::2], y[::2], x[1::2], 3, k=5)
        return {"top1": classification_metrics(y[1::2], scores).top1}

    return run


def _cells(noise=0.5):
    return [Cell(ds, cond, s, {"noise": noise * (2 if cond == "hard" else 1)})
            for ds in ("a", "b") for cond in ("easy", "hard") for s in range(3)]


def test_resume_skips_finished_cells(tmp_path):
    calls: list[str] = []
    first = run_grid(_cells()[:5], _knn_cell(calls), tmp_path, progress=False)
    assert len(first.ran) == 5 and len(calls) == 5
    calls.clear()
    again = run_grid(_cells(), _knn_cell(calls), tmp_path, resume=True, progress=False)
    assert calls == [c.key for c in _cells()[5:]] and len(again.skipped) == 5
    assert [r["top1"] for r in again.rows[:5]] == [r["top1"] for r in first.rows]  # reused, not rerun
    done = tmp_path / "cells" / "a" / "easy" / "seed0"
    assert json.loads((done / "cell.json").read_text())["params"] == {"noise": 0.5}
    assert "cell_seconds" in json.loads((done / "metrics.json").read_text())


def test_unfinished_cell_is_rerun_and_interrupted_run_resumes(tmp_path):
    calls: list[str] = []
    run_grid(_cells()[:2], _knn_cell(calls), tmp_path, progress=False)
    (tmp_path / "cells" / "a" / "easy" / "seed1" / "metrics.json").unlink()  # as if killed mid-cell
    calls.clear()
    run_grid(_cells()[:2], _knn_cell(calls), tmp_path, resume=True, progress=False)
    assert calls == ["a/easy/seed1"]


def test_finished_cells_without_resume_or_with_changed_config_are_errors(tmp_path):
    calls: list[str] = []
    run_grid(_cells()[:1], _knn_cell(calls), tmp_path, progress=False)
    with pytest.raises(ConfigError, match="--resume"):
        run_grid(_cells()[:1], _knn_cell(calls), tmp_path, progress=False)
    with pytest.raises(ConfigError, match="different config"):
        run_grid(_cells(noise=0.9)[:1], _knn_cell(calls), tmp_path, resume=True, progress=False)


def test_summary_is_mean_and_std_over_seeds(tmp_path):
    calls: list[str] = []
    rep = run_grid(_cells(), _knn_cell(calls), tmp_path, progress=False)
    summary = summarize(rep.rows, metrics=("top1",))
    row = summary[(summary.dataset == "a") & (summary.condition == "hard")].iloc[0]
    vals = [r["top1"] for r in rep.rows if r["dataset"] == "a" and r["condition"] == "hard"]
    assert row.top1_mean == pytest.approx(np.mean(vals)) and row.top1_std == pytest.approx(np.std(vals, ddof=1))
    assert row.top1_count == 3
    assert fmt_pm(0.5, 0.01) == "50.0 ± 1.0" and fmt_pm(0.5, float("nan")) == "50.0"


def test_overlapping_annotations_share_a_fold_group():
    groups = overlap_groups([(0, 10), (5, 20), (30, 40), (19, 25), (50, 60)])
    assert groups[0] == groups[1] == groups[3] and len({groups[0], groups[2], groups[4]}) == 3


def test_registry_and_unknown_names():
    assert {e["name"] for e in list_experiments()} == {"augmentations", "fusion", "main", "video298"}
    assert set(EXPERIMENTS) == {"augmentations", "fusion", "main", "video298"}
    with pytest.raises(ConfigError, match="unknown experiment"):
        run_experiment("nope", out="unused")
    with pytest.raises(ConfigError, match="unknown budget"):
        run_experiment("fusion", budget="huge", out="unused")


def test_budget_steps_give_every_dataset_the_same_compute():
    from microgesture.evaluation.experiments.common import finetune_config, load_budget

    small = finetune_config({"steps": 300, "step_at": 0.8, "batch_size": 32, "lr": 0.1}, n_train=160)
    assert small.epochs == 60 and small.milestones == [48]  # 5 steps/epoch
    large = finetune_config({"steps": 300, "step_at": 0.8, "batch_size": 32, "lr": 0.1}, n_train=1020)
    assert large.epochs == 10 and large.milestones == [8]  # 31 steps/epoch
    plain_cfg = finetune_config({"epochs": 80, "steps": None, "step_at": None}, n_train=1020)
    assert plain_cfg.resolved_milestones() == [10, 30, 50]
    for budget in ("small", "full"):
        b = load_budget(budget)
        assert int(b.seeds) >= 3 and set(b.experiment_datasets) == {"augmentations", "fusion", "main"}
