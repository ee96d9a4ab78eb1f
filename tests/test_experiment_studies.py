"""The grid studies (main, augmentations, fusion) end to end at a tiny budget on the synthetic set."""

from __future__ import annotations

import pandas as pd
import pytest

from microgesture.errors import ConfigError
from microgesture.evaluation.experiments import run_experiment
from microgesture.evaluation.experiments.augmentations import _rank_agreement

TINY = {
    "datasets": {"synthetic": {"clips_per_class": 4}},
    "spatial": {"name": "stgcn", "channels": [8, 16], "strides": [1, 2]},
    "temporal": {"name": "gru", "hidden_size": 8, "num_layers": 1},
    "dim": 16,
    "num_frames": 16,
    "pretrain_steps": 3,
    "pretrain": {"data": {"batch_size": 8}, "moco": {"queue_size": 32, "dim": 16}, "trainer": {"max_epochs": 1}},
    "linear": {"epochs": 5},
    "supervised": {"epochs": 2, "batch_size": 8, "steps": None},
    "augmentations": {"single": ["shear"], "presets": ["mg"]},
}


def test_main_comparison_table_has_ours_and_published_rows(tmp_path):
    res = run_experiment("main", out=tmp_path, seeds=1, datasets=["synthetic"], progress=False, overrides=TINY)
    assert res["cells_run"] == 4
    md = (tmp_path / "results.md").read_text()
    for text in ("Dual-stream STB", "Single-stream ST-GCN MoCo", "Single-stream GRU MoCo", "Supervised ST-GCN", "U-S-VAE", "32.43",
                 "P&C", "84.90", "different data"):
        assert text in md, text
    cells = pd.read_csv(tmp_path / "cells.csv")
    assert set(cells["condition"]) == {"stb", "skeletonclr", "temporal_moco", "supervised"}
    assert cells["top1"].between(0, 1).all() and cells["num_test"].gt(0).all()
    assert (tmp_path / "main_top1.png").is_file()


def test_augmentations_study_runs_each_condition(tmp_path):
    res = run_experiment("augmentations", out=tmp_path, seeds=1, datasets=["synthetic"], progress=False,
                         overrides=TINY)
    cells = pd.read_csv(tmp_path / "cells.csv")
    assert sorted(cells["condition"]) == ["preset:mg", "shear"] and res["cells_run"] == 2
    req = (tmp_path / "cells" / "synthetic" / "shear" / "seed0" / "pretrain" / "config.yaml").read_text()
    assert "spec: shear" in req  # the pretraining really used the condition's augmentation
    assert "knn_top1" in cells.columns


def test_rank_agreement_reports_spearman_between_mg_and_action_data():
    rows = []
    for i, cond in enumerate(["a", "b", "c", "d"]):
        rows.append({"dataset": "synthetic", "condition": cond, "top1_mean": i / 10})
        rows.append({"dataset": "nw_ucla", "condition": cond, "top1_mean": (3 - i) / 10})
    text = _rank_agreement(pd.DataFrame(rows), ["a", "b", "c", "d"], ["synthetic", "nw_ucla"])
    assert "-1.00" in text and "| synthetic | nw_ucla | -1.00 | d | a |" in text


def test_unknown_dataset_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="unknown dataset"):
        run_experiment("fusion", out=tmp_path, datasets=["imagenet"], progress=False)


def test_budget_inputs_reach_pretraining_and_the_supervised_baseline():
    """NW-UCLA's cross-view recipe (view alignment) comes from the budget, per dataset, for every cell."""
    from microgesture.evaluation.experiments.common import ExperimentContext, load_budget
    from microgesture.evaluation.experiments.comparison import build_cells

    ctx = ExperimentContext("small", load_budget("small"), progress=False)
    assert ctx.input_options("nw_ucla") == {"align": True}
    assert ctx.input_options("synthetic") == {}  # 2-D MG data: no 3-D alignment
    over = ctx.pretrain_overrides(model={"name": "stgcn"}, augment="none", objective="moco", seed=0)
    assert "align" not in over["data"]  # no dataset, no dataset recipe
    ctx.budget.pretrain_steps = None  # epochs from the budget, no dataset load needed
    over = ctx.pretrain_overrides(model={"name": "stgcn"}, augment="none", objective="moco", seed=0,
                                  dataset="nw_ucla")
    assert over["data"]["align"] is True
    sup = [c for c in build_cells(ctx, [0], ["nw_ucla"]) if c.condition == "supervised"]
    assert sup and sup[0].params["inputs"] == {"align": True}


def test_budget_inputs_refuse_unknown_options():
    from omegaconf import OmegaConf

    from microgesture.evaluation.experiments.common import ExperimentContext, load_budget

    budget = load_budget("small")
    budget.inputs = OmegaConf.create({"nw_ucla": {"allign": True}})
    with pytest.raises(ConfigError, match="allign"):
        ExperimentContext("small", budget, progress=False).input_options("nw_ucla")


def test_budget_input_streams_size_the_supervised_encoder(tmp_path):
    """``inputs.<dataset>.streams`` (e.g. joint + motion) reaches both the pretraining data config and the
    supervised baseline, whose encoder is then built for the concatenated channels."""
    from omegaconf import OmegaConf

    from microgesture.evaluation.data import InputSpec
    from microgesture.evaluation.experiments.common import ExperimentContext, load_budget, supervised_baseline

    budget = load_budget("small")
    budget.inputs = OmegaConf.create({"synthetic": {"streams": ["joint", "motion"]}})
    budget.datasets = OmegaConf.create({"synthetic": {"clips_per_class": 4}})
    budget.supervised.steps = 2
    ctx = ExperimentContext("small", budget, progress=False)
    ctx.budget.pretrain_steps = None
    over = ctx.pretrain_overrides(model={"name": "stgcn"}, augment="none", objective="moco", seed=0,
                                  dataset="synthetic")
    assert over["data"]["streams"] == ["joint", "motion"]
    res = supervised_baseline(ctx, {"name": "stgcn", "channels": [8], "strides": [1]}, "synthetic", seed=0)
    assert 0.0 <= res["top1"] <= 1.0 and res["num_train"] > 0
    spec = InputSpec(layout="imigue22", num_frames=int(budget.num_frames), **ctx.input_options("synthetic"))
    assert ctx.prepared("synthetic", spec).train.x.shape[-1] == 4  # 2-D joints + their motion


def test_fusion_study_reports_the_gate_share_of_each_stb_variant(tmp_path, monkeypatch):
    from microgesture.evaluation.experiments import fusion

    monkeypatch.setattr(fusion, "CONDITIONS", {k: fusion.CONDITIONS[k] for k in ("concat", "stb_weight")})
    run_experiment("fusion", out=tmp_path, seeds=1, datasets=["synthetic"], progress=False, overrides=TINY)
    cells = pd.read_csv(tmp_path / "cells.csv").set_index("condition")
    share = cells.loc["stb_weight", "alpha_spatial"]
    assert 0.0 < share < 1.0  # a real gate output, measured on the test clips
    assert pd.isna(cells.loc["concat", "alpha_spatial"])  # concatenation has no gate
    md = (tmp_path / "results.md").read_text()
    assert "Learned share of the spatial stream" in md and f"{share:.3f}" in md
