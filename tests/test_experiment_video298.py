"""``microgesture experiment video298`` at a tiny budget on the real iMiGUE video 298 (CI runs this)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from microgesture.cli.main import main
from microgesture.evaluation.metrics import classification_metrics

TINY = {
    "datasets": {"synthetic": {"clips_per_class": 4}},
    "spatial": {"name": "stgcn", "channels": [8, 16], "strides": [1, 2]},
    "temporal": {"name": "gru", "hidden_size": 8, "num_layers": 1},
    "dim": 16,
    "num_frames": 16,
    "pretrain_steps": 3,
    "pretrain": {"data": {"batch_size": 8}, "moco": {"queue_size": 32, "dim": 16}},
    "linear": {"epochs": 10},
    "supervised": {"epochs": 2, "steps": None},
    "video298": {"folds": 3, "pretrain_epochs": 1, "supervised_epochs": 3},
}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, video298_dir):
    from microgesture.evaluation.experiments import run_experiment

    out = tmp_path_factory.mktemp("video298")
    result = run_experiment("video298", budget="small", out=out, seeds=1, progress=False, overrides=TINY)
    return out, result


def test_outputs_exist(tiny_run):
    out, result = tiny_run
    for name in ("results.md", "results.csv", "cells.csv", "budget.yaml", "experiment.json", "video298_top1.png"):
        assert (out / name).is_file(), name
    assert result["cells_run"] == 3 and result["cells_skipped"] == 0
    assert "iMiGUE video 298" in (out / "results.md").read_text()


def test_numbers_are_measured_from_the_run(tiny_run):
    """Every reported accuracy is recomputed from the cell's own per-clip predictions; the clip count and the
    chance levels come from the real annotations (56 clips, classes with fewer clips than folds dropped)."""
    out, _ = tiny_run
    cells = pd.read_csv(out / "cells.csv")
    assert set(cells["condition"]) == {"supervised", "ssl_linear", "ssl_knn", "random_linear", "random_knn"}
    for cell_dir, methods in (("supervised", ["supervised"]), ("ssl", ["ssl_linear", "ssl_knn"]),
                              ("random", ["random_linear", "random_knn"])):
        d = out / "cells" / "video298" / cell_dir / "seed0"
        metrics = json.loads((d / "metrics.json").read_text())
        pred = pd.read_csv(d / "predictions.csv")
        assert metrics["num_clips"] <= 56 and metrics["num_classes"] >= 5
        assert metrics["chance_majority"] == pytest.approx(np.bincount(pred[pred.method == methods[0]].label).max()
                                                           / metrics["num_clips"])
        for method in methods:
            p = pred[pred.method == method]
            assert len(p) == metrics["num_clips"] and p["clip_id"].is_unique  # each clip predicted once
            assert sorted(p["fold"].unique()) == [0, 1, 2]
            m = classification_metrics(p["label"].to_numpy(), np.eye(metrics["num_classes"])[p["pred"]],
                                       metrics["num_classes"])
            key = "knn_" if method.endswith("knn") else ""
            assert metrics[f"{key}top1"] == pytest.approx(m.top1)
            assert metrics[f"{key}macro_f1"] == pytest.approx(m.macro_f1)
            row = cells[cells.condition == method].iloc[0]
            assert row["top1"] == pytest.approx(m.top1)


def test_resume_reuses_every_cell(tiny_run, capsys):
    out, _ = tiny_run
    before = pd.read_csv(out / "cells.csv")
    rc = main(["experiment", "video298", "--out", str(out), "--resume", "--seeds", "1", "--json"])
    # the CLI run uses the packaged small budget, a different config from the tiny one: refused, not mixed
    assert rc == 1 and "different config" in capsys.readouterr().err
    from microgesture.evaluation.experiments import run_experiment

    again = run_experiment("video298", budget="small", out=out, seeds=1, progress=False, overrides=TINY,
                           resume=True)
    assert again["cells_run"] == 0 and again["cells_skipped"] == 3
    after = pd.read_csv(out / "cells.csv")
    assert after["top1"].tolist() == before["top1"].tolist()
    assert after["cell_seconds"].tolist() == before["cell_seconds"].tolist()  # read back, not re-measured
