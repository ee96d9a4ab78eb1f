"""Experiment 4 — within-video recognition on the real iMiGUE video 298 (its annotated MG clips).

Why: video 298 is the one real iMiGUE skeleton stream available here, so every change is exercised on real
OpenPose micro-gestures. Its 56 clips come from one subject, so the protocol is within-video k-fold cross-
validation: folds are stratified by class and *grouped* by temporal overlap (overlapping annotations are in
the same fold, so no frame is both trained and tested). Classes with fewer clips than folds cannot be both
trained and tested and are left out (listed in the report). Every clip is predicted exactly once per seed;
metrics are computed on the pooled predictions and shown next to the chance levels of the classes present.

Conditions: supervised training from scratch (fine-tune loop), and the frozen linear probe / kNN on the
dual-stream STB encoder pretrained self-supervised on the synthetic iMiGUE-22 set (no video-298 data) —
with the same architecture at random initialisation as the control that shows what pretraining adds.
"""

from __future__ import annotations

import copy
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.model_selection import StratifiedGroupKFold

from ...data.dataset import SkeletonDataset
from ...data.readers import open_dataset
from ...errors import DataError
from ...models import create_model
from ...models.classifier import Classifier
from ...utils.io import atomic_write
from ...utils.paths import data_root
from ..data import InputSpec
from ..features import extract_features
from ..finetune import fit_classifier, predict_scores
from ..knn import knn_scores
from ..linear import LinearProbeConfig, fit_linear_probe
from ..metrics import classification_metrics
from .common import ExperimentContext, finetune_config, plain, pretrain_encoder
from .grid import Cell, bars_from_summary, cell_value, fmt_pm, markdown_table, summarize, write_tables

log = logging.getLogger(__name__)

NAME = "video298"
DESCRIPTION = "real iMiGUE video 298: grouped stratified k-fold CV, supervised vs linear probe / kNN"
VIDEO = 298
CONDITIONS = {
    "supervised": "supervised ST-GCN (from scratch)",
    "ssl_linear": "linear probe, STB pretrained on synthetic MGs",
    "ssl_knn": "kNN, STB pretrained on synthetic MGs",
    "random_linear": "linear probe, same encoder at random init",
    "random_knn": "kNN, same encoder at random init",
}


def imigue_root() -> Path:
    return data_root() / "imigue" / "raw"


def load_video(video: int = VIDEO) -> SkeletonDataset:
    """The annotated clips of one iMiGUE video (read from its OpenPose JSON folder, cut by the labels CSV)."""

    root = imigue_root()
    if not root.exists():
        raise DataError(root, "iMiGUE data not found (set MICROGESTURE_DATA to the datasets root)")
    ds = open_dataset(root, kind="imigue", videos=[video], progress=False)
    if len(ds) == 0:
        raise DataError(root, f"video {video} has no readable annotated clips")
    return ds


def overlap_groups(ranges: list[tuple[int, int]]) -> np.ndarray:
    """Group id per clip: clips whose frame ranges overlap (transitively) share a group."""
    order = np.argsort([r[0] for r in ranges], kind="stable")
    groups = np.empty(len(ranges), dtype=np.int64)
    g, end = -1, None
    for i in order:
        s, e = ranges[i]
        if end is None or s > end:
            g += 1
            end = e
        else:
            end = max(end, e)
        groups[i] = g
    return groups


def folds_for(labels: np.ndarray, groups: np.ndarray, n_folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    cv = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    return [(tr, te) for tr, te in cv.split(np.zeros(labels.size), labels, groups)]


class Video298Data:
    """The clips of the classes with enough examples, their labels remapped to 0..K-1, prepared for ``spec``."""

    def __init__(self, ds: SkeletonDataset, n_folds: int):
        labels = np.array([c.meta.label for c in ds.clips])
        counts = pd.Series(labels).value_counts()
        keep_classes = sorted(int(c) for c in counts[counts >= n_folds].index)
        self.dropped = {ds.class_names[int(c)] if ds.class_names else str(c): int(n)
                        for c, n in counts[counts < n_folds].items()}
        keep = np.flatnonzero(np.isin(labels, keep_classes))
        self.dataset = ds
        self.clips = [ds.clips[int(i)] for i in keep]
        remap = {c: k for k, c in enumerate(keep_classes)}
        self.y = np.array([remap[int(labels[i])] for i in keep], dtype=np.int64)
        self.class_names = [ds.class_names[c] if ds.class_names else str(c) for c in keep_classes]
        self.groups = overlap_groups([c.meta.frame_range or (0, c.num_frames - 1) for c in self.clips])
        self.clip_ids = [c.meta.clip_id for c in self.clips]
        self._x: dict[str, np.ndarray] = {}

    def x(self, spec: InputSpec) -> np.ndarray:
        key = repr(sorted(spec.to_dict().items()))
        if key not in self._x:
            self._x[key] = spec.prepare(self.clips)
        return self._x[key]

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


def build_cells(ctx: ExperimentContext, seeds: list[int], datasets: list[str]) -> list[Cell]:
    v = plain(ctx.budget.video298)
    cells = []
    for seed in seeds:
        common = {"folds": int(v["folds"]), "num_frames": int(ctx.budget.num_frames)}
        cells.append(Cell("video298", "supervised", seed,
                          {**common, "model": plain(ctx.budget.spatial),
                           "train": {**plain(ctx.budget.supervised), "epochs": int(v["supervised_epochs"]),
                                     "batch_size": 16, "steps": None}}))
        over = ctx.pretrain_overrides(model=ctx.encoder_spec("stb_weight"), augment="mg", objective="cross_stream",
                                      seed=seed, dataset="synthetic")
        if v.get("pretrain_epochs"):
            over["trainer"]["max_epochs"] = int(v["pretrain_epochs"])
        cells.append(Cell("video298", "ssl", seed, {**common, "pretrain_on": "synthetic", "pretrain": over,
                                                    "linear": plain(ctx.budget.linear), "knn": plain(ctx.budget.knn)}))
        cells.append(Cell("video298", "random", seed, {**common, "model": ctx.encoder_spec("stb_weight"),
                                                       "linear": plain(ctx.budget.linear),
                                                       "knn": plain(ctx.budget.knn)}))
    return cells


class Runner:
    """Holds the video's clips across cells (read once per experiment)."""

    def __init__(self, ctx: ExperimentContext):
        self.ctx = ctx
        self._data: dict[int, Video298Data] = {}

    def data(self, n_folds: int) -> Video298Data:
        if n_folds not in self._data:
            self._data[n_folds] = Video298Data(load_video(), n_folds)
        return self._data[n_folds]

    def __call__(self, ctx: ExperimentContext, cell: Cell, directory: Path) -> dict[str, Any]:
        p = cell.params
        data = self.data(int(p["folds"]))
        folds = folds_for(data.y, data.groups, int(p["folds"]), cell.seed)
        fold_of = np.empty(data.y.size, dtype=np.int64)
        for k, (_, te) in enumerate(folds):
            fold_of[te] = k
        if cell.condition == "supervised":
            scores = {"supervised": self._supervised(data, folds, p, cell.seed)}
        else:
            scores = self._frozen(ctx, data, folds, p, cell, directory)
        out: dict[str, Any] = {"num_clips": int(data.y.size), "num_classes": data.num_classes, "folds": len(folds),
                               "classes": data.class_names, "dropped_classes": data.dropped,
                               "chance_majority": float(np.bincount(data.y).max() / data.y.size),
                               "chance_uniform": 1.0 / data.num_classes}
        frames = []
        for name, s in scores.items():
            m = classification_metrics(data.y, s, data.num_classes)
            prefix = "" if len(scores) == 1 or name.endswith("linear") else f"{name.split('_')[-1]}_"
            out.update({f"{prefix}top1": m.top1, f"{prefix}mean_class_accuracy": m.mean_class_accuracy,
                        f"{prefix}macro_f1": m.macro_f1})
            frames.append(pd.DataFrame({"method": name, "clip_id": data.clip_ids, "fold": fold_of, "label": data.y,
                                        "pred": s.argmax(1)}))
        with atomic_write(directory / "predictions.csv", "w", encoding="utf-8", newline="") as fh:
            pd.concat(frames).to_csv(fh, index=False)
        return out

    def _supervised(self, data: Video298Data, folds, p: dict[str, Any], seed: int) -> np.ndarray:
        spec = InputSpec(layout=data.dataset.layout, num_frames=int(p["num_frames"]))
        x = data.x(spec)
        cfg = finetune_config(p["train"], seed=seed, device=self.ctx.device)
        scores = np.zeros((data.y.size, data.num_classes), dtype=np.float32)
        for k, (tr, te) in enumerate(folds):
            torch.manual_seed(seed * 1000 + k)
            spec_m = dict(p["model"])
            name = spec_m.pop("name")
            enc = create_model(name, layout=spec.layout, in_channels=int(x.shape[-1]), num_frames=spec.num_frames,
                               **spec_m)

            model = Classifier(enc, data.num_classes)
            fit_classifier(model, x[tr], data.y[tr], cfg)
            scores[te] = predict_scores(model, x[te], device=self.ctx.device)
        return scores

    def _frozen(self, ctx: ExperimentContext, data: Video298Data, folds, p: dict[str, Any], cell: Cell,
                directory: Path) -> dict[str, np.ndarray]:
        if cell.condition == "ssl":
            encoder, meta = pretrain_encoder(ctx, p["pretrain_on"], p["pretrain"], directory / "pretrain")
            spec = InputSpec.from_checkpoint(meta, encoder)
        else:
            torch.manual_seed(cell.seed)
            spec = InputSpec(layout=data.dataset.layout, num_frames=int(p["num_frames"]))
            m = dict(p["model"])
            name = m.pop("name")
            channels = int(data.x(spec).shape[-1])
            encoder = create_model(name, layout=spec.layout, in_channels=channels, num_frames=spec.num_frames, **m)
        feats = extract_features(encoder, data.x(spec), device=ctx.device)
        lin_cfg = LinearProbeConfig(**{**p["linear"], "seed": cell.seed})
        knn = p["knn"]
        lin = np.zeros((data.y.size, data.num_classes), dtype=np.float32)
        nn_scores = np.zeros_like(lin)
        for tr, te in folds:
            probe = fit_linear_probe(feats[tr], data.y[tr], data.num_classes, copy.copy(lin_cfg))
            lin[te] = probe.scores(feats[te])
            nn_scores[te] = knn_scores(feats[tr], data.y[tr], feats[te], data.num_classes, int(knn["k"]),
                                       float(knn["temperature"]))
        return {f"{cell.condition}_linear": lin, f"{cell.condition}_knn": nn_scores}


def expand_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per reported method (a frozen-encoder cell yields a linear and a kNN row)."""
    out = []
    for r in rows:
        base = {k: v for k, v in r.items() if not k.startswith("knn_")}
        if r["condition"] == "supervised":
            out.append(r)
            continue
        out.append({**base, "condition": f"{r['condition']}_linear"})
        out.append({**base, "condition": f"{r['condition']}_knn", "top1": r["knn_top1"],
                    "mean_class_accuracy": r["knn_mean_class_accuracy"], "macro_f1": r["knn_macro_f1"]})
    return out


def report(ctx: ExperimentContext, rows: list[dict[str, Any]], out: Path, datasets: list[str]) -> str:
    flat = expand_rows(rows)
    summary = summarize(flat, metrics=("top1", "mean_class_accuracy", "macro_f1"))
    first = rows[0]
    n_seeds = int(summary["top1_count"].max())
    md = [f"# iMiGUE video {VIDEO}: within-video recognition ({ctx.budget_name} budget)\n",
          f"Real OpenPose skeletons of iMiGUE video {VIDEO} (subject 22), {first['num_clips']} annotated clips of "
          f"{first['num_classes']} classes ({', '.join(first['classes'])}); classes with fewer than "
          f"{first['folds']} clips left out: {first['dropped_classes'] or 'none'}. {first['folds']}-fold "
          "cross-validation stratified by class and grouped by temporal overlap; pooled predictions "
          f"(every clip predicted once per seed), mean ± std over {n_seeds} seeds, T = {int(ctx.budget.num_frames)}.\n"]
    body = []
    for cond, label in CONDITIONS.items():
        body.append([label, *(fmt_pm(cell_value(summary, cond, "video298", f"{m}_mean"),
                                     cell_value(summary, cond, "video298", f"{m}_std"))
                              for m in ("top1", "mean_class_accuracy", "macro_f1"))])
    body.append(["chance: always the majority class", f"{100 * first['chance_majority']:.1f}",
                 f"{100 / first['num_classes']:.1f}", "–"])
    body.append(["chance: uniform over classes present", f"{100 * first['chance_uniform']:.1f}",
                 f"{100 * first['chance_uniform']:.1f}", "–"])
    md.append(markdown_table(["method", "top-1 (%)", "mean-class acc. (%)", "macro-F1 (%)"], body))
    md.append("\nOne subject and a few dozen clips: these numbers check that the pipeline works on real "
              "micro-gesture data; they are not a benchmark result.\n")

    bars_from_summary(out / "video298_top1.png", summary, "top1", list(CONDITIONS), ["video298"],
                      title=f"iMiGUE video {VIDEO}, {first['folds']}-fold CV", labels={"video298": "video 298"})
    text = "\n".join(md)
    write_tables(out, summary, flat, text)
    return text
