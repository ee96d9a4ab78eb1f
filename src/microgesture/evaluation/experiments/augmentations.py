"""Experiment 1 — which contrastive augmentations suit micro-gestures, and do they differ from actions?

Each cell pretrains the dual-stream STB encoder (cross-stream MoCo) with *one* augmentation, or with the
``action`` (ISC) or ``mg`` preset, then reports the frozen-encoder linear probe (and kNN) on the official test
split. The summary ranks conditions per dataset and gives the Spearman correlation between the ranking on
micro-gesture data and on each action dataset: a low correlation says MG data wants different augmentations.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import spearmanr

from .common import DATASET_LABELS, ExperimentContext, pretrain_encoder, probe_encoder
from .grid import Cell, bars_from_summary, cell_value, markdown_table, pivot_markdown, summarize, write_tables

NAME = "augmentations"
DESCRIPTION = "pretrain + linear probe per single augmentation and for the action / mg presets"
MG_DATASETS = ("synthetic", "video298")


def conditions(ctx: ExperimentContext) -> list[str]:
    a = ctx.budget.augmentations
    return [*a.single, *(f"preset:{p}" for p in a.presets)]


def build_cells(ctx: ExperimentContext, seeds: list[int], datasets: list[str]) -> list[Cell]:
    cells = []
    for ds in datasets:
        for cond in conditions(ctx):
            spec = cond.split(":", 1)[1] if cond.startswith("preset:") else cond
            for seed in seeds:
                over = ctx.pretrain_overrides(model=ctx.encoder_spec("stb_weight"), augment=spec,
                                              objective="cross_stream", seed=seed, dataset=ds)
                cells.append(Cell(ds, cond, seed, {"pretrain": over, "probe": "linear+knn"}))
    return cells


def run_cell(ctx: ExperimentContext, cell: Cell, directory: Path) -> dict[str, Any]:
    encoder, meta = pretrain_encoder(ctx, cell.dataset, cell.params["pretrain"], directory / "pretrain")
    return probe_encoder(ctx, encoder, meta, cell.dataset, cell.seed)


def report(ctx: ExperimentContext, rows: list[dict[str, Any]], out: Path, datasets: list[str]) -> str:
    summary = summarize(rows, metrics=("top1", "mean_class_accuracy", "macro_f1", "knn_top1"))
    conds = conditions(ctx)
    labels = {d: DATASET_LABELS.get(d, d) for d in datasets}
    md = [f"# Augmentation study ({ctx.budget_name} budget)\n",
          "Dual-stream STB encoder pretrained with cross-stream MoCo using one augmentation (or a preset), "
          "frozen; linear-probe top-1 (%) on each dataset's official test split, last epoch, mean ± std over "
          f"{int(summary['top1_count'].max())} seeds.\n"]
    header, body = pivot_markdown(summary, "top1", conds, datasets, col_labels=labels)
    md.append(markdown_table(header, body))
    md.append(f"\nWeighted kNN (k = {int(ctx.budget.knn.k)}, t = {float(ctx.budget.knn.temperature):g}) top-1 (%) "
              "on the same frozen features:\n")
    header, body = pivot_markdown(summary, "knn_top1", conds, datasets, col_labels=labels)
    md.append(markdown_table(header, body))
    md.append(_rank_agreement(summary, conds, datasets))
    bars_from_summary(out / "augmentations_linear_top1.png", summary, "top1", conds, datasets,
                      title="linear probe by pretraining augmentation", labels=labels)
    text = "\n".join(md)
    write_tables(out, summary, rows, text)
    return text


def _rank_agreement(summary, conds: list[str], datasets: list[str]) -> str:
    """Spearman correlation of condition means between each MG dataset and each action dataset."""
    mg = [d for d in datasets if d in MG_DATASETS]
    act = [d for d in datasets if d not in MG_DATASETS]
    if not mg or not act:
        return ""

    def means(ds: str) -> np.ndarray:
        return np.array([cell_value(summary, c, ds, "top1_mean") for c in conds])

    lines = ["\nDo augmentations rank the same on micro-gestures as on actions? Spearman ρ of the condition "
             "means (linear top-1):\n"]
    rows = []
    for m in mg:
        for a in act:
            x, y = means(m), means(a)
            ok = ~(np.isnan(x) | np.isnan(y))
            rho = spearmanr(x[ok], y[ok]).statistic if ok.sum() >= 3 else float("nan")
            best_m = conds[int(np.nanargmax(x))] if ok.any() else "–"
            best_a = conds[int(np.nanargmax(y))] if ok.any() else "–"
            rows.append([m, a, f"{rho:.2f}", best_m, best_a])
    lines.append(markdown_table(["MG dataset", "action dataset", "Spearman ρ", "best on MG", "best on action"],
                                rows))
    return "\n".join(lines)
