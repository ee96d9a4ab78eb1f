"""Experiment 2 — how to fuse the spatial (graph) and temporal (sequence) streams.

Conditions: the spatial stream alone, the temporal stream alone (both single-stream MoCo), concatenation,
and the spatiotemporal-balancing variants — learned per-sample stream weights (``stb_weight``), an adaptive
graph over stream tokens (``stb_graph``), and ``stb_weight`` with uncertainty-balanced cross-stream losses
(``stb_weight+uncertainty``). All use the ``mg`` augmentation preset and the same budget; each frozen
encoder's evaluation embedding (``embed``: for STB by default the α-weighted concatenation of both streams) is
evaluated with the linear probe and kNN.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from ..data import InputSpec
from ..features import extract_features
from .common import DATASET_LABELS, ExperimentContext, pretrain_encoder, probe_encoder
from .grid import Cell, bars_from_summary, cell_value, markdown_table, pivot_markdown, summarize, write_tables

NAME = "fusion"
DESCRIPTION = "spatial / temporal / concat / STB fusion variants (pretrain + linear probe)"

# condition -> (fusion, contrastive objective, loss balance)
CONDITIONS: dict[str, tuple[str, str, str | None]] = {
    "spatial only": ("spatial", "moco", None),
    "temporal only": ("temporal", "moco", None),
    "concat": ("concat", "cross_stream", None),
    "stb_weight": ("stb_weight", "cross_stream", None),
    "stb_graph": ("stb_graph", "cross_stream", None),
    "stb_weight+uncertainty": ("stb_weight", "cross_stream", "uncertainty"),
}
AUGMENT = "mg"


def build_cells(ctx: ExperimentContext, seeds: list[int], datasets: list[str]) -> list[Cell]:
    cells = []
    for ds in datasets:
        for cond, (fusion, objective, balance) in CONDITIONS.items():
            for seed in seeds:
                over = ctx.pretrain_overrides(model=ctx.encoder_spec(fusion), augment=AUGMENT, objective=objective,
                                              seed=seed, balance=balance, dataset=ds)
                cells.append(Cell(ds, cond, seed, {"pretrain": over, "probe": "linear+knn"}))
    return cells


def run_cell(ctx: ExperimentContext, cell: Cell, directory: Path) -> dict[str, Any]:
    encoder, meta = pretrain_encoder(ctx, cell.dataset, cell.params["pretrain"], directory / "pretrain")
    out = probe_encoder(ctx, encoder, meta, cell.dataset, cell.seed)
    share = spatial_share(ctx, encoder, meta, cell.dataset)
    if share is not None:
        out["alpha_spatial"] = share
    return out


def spatial_share(ctx: ExperimentContext, encoder: nn.Module, meta: dict[str, Any], dataset: str) -> float | None:
    """Mean STB stream weight of the spatial stream over the test clips, or None for an encoder without a
    learned gate. Why a separate pass: evaluation reads the backbone features, which never run the gate."""
    if getattr(encoder, "fusion_name", None) not in ("stb_weight", "stb_graph"):
        return None
    x = ctx.prepared(dataset, InputSpec.from_checkpoint(meta, encoder)).test.x
    alpha_s = extract_features(encoder, x, device=ctx.device, read=lambda enc, b: enc(b)["alpha"][:, :1])
    return float(alpha_s.mean()) if alpha_s.size else None


def report(ctx: ExperimentContext, rows: list[dict[str, Any]], out: Path, datasets: list[str]) -> str:
    summary = summarize(rows, metrics=("top1", "mean_class_accuracy", "macro_f1", "knn_top1", "alpha_spatial"))
    conds = list(CONDITIONS)
    labels = {d: DATASET_LABELS.get(d, d) for d in datasets}
    md = [f"# Fusion study ({ctx.budget_name} budget)\n",
          f"Encoders pretrained with the `{AUGMENT}` augmentation preset; single streams use single-stream MoCo, "
          "two-stream variants the cross-stream objective. Linear-probe top-1 (%), last epoch, mean ± std over "
          f"{int(summary['top1_count'].max())} seeds.\n"]
    header, body = pivot_markdown(summary, "top1", conds, datasets, col_labels=labels)
    md.append(markdown_table(header, body))
    md.append("\nMean-class accuracy (%):\n")
    header, body = pivot_markdown(summary, "mean_class_accuracy", conds, datasets, col_labels=labels)
    md.append(markdown_table(header, body))
    md.append("\nWeighted kNN top-1 (%):\n")
    header, body = pivot_markdown(summary, "knn_top1", conds, datasets, col_labels=labels)
    md.append(markdown_table(header, body))
    weighted = [c for c in conds if not np.isnan(cell_value(summary, c, datasets[0], "alpha_spatial_mean"))]
    if weighted:
        md.append("\nLearned share of the spatial stream, α_s (mean over the test clips; the temporal "
                  "stream gets 1 − α_s):\n")
        rows_a = [[c, *(f"{cell_value(summary, c, d, 'alpha_spatial_mean'):.3f}" for d in datasets)]
                  for c in weighted]
        md.append(markdown_table(["condition", *(labels[d] for d in datasets)], rows_a))
    bars_from_summary(out / "fusion_linear_top1.png", summary, "top1", conds, datasets,
                      title="linear probe by fusion", labels=labels)
    text = "\n".join(md)
    write_tables(out, summary, rows, text)
    return text
