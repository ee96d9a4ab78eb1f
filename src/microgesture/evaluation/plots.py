"""Figures for evaluation results: a labelled confusion matrix and bar charts of experiment tables.

Why Agg and atomic writes: plots are produced on headless CI machines and inside resumable experiments; a
crash mid-save must not leave a truncated PNG that a later resume mistakes for a finished one.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..utils.io import atomic_write


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | Path, dpi: int = 120) -> Path:
    plt = _pyplot()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    with atomic_write(path, "wb") as fh:
        fh.write(buf.getvalue())
    return Path(path)


def plot_confusion(path: str | Path, confusion: np.ndarray, class_names: Sequence[str] | None = None,
                   *, title: str = "", normalize: bool = True) -> Path:
    """Row-normalised (recall) confusion matrix with class names on both axes; counts when not normalised."""
    plt = _pyplot()
    cm = np.asarray(confusion, dtype=np.float64)
    n = cm.shape[0]
    names = list(class_names) if class_names is not None and len(class_names) == n else [str(i) for i in range(n)]
    shown = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1) if normalize else cm
    size = max(4.0, 0.32 * n + 2.5)
    fig, ax = plt.subplots(figsize=(size + 1.0, size))
    im = ax.imshow(shown, cmap="Blues", vmin=0.0, vmax=1.0 if normalize else None)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="recall" if normalize else "count")
    ax.set_xticks(range(n), labels=names, rotation=90, fontsize=7 if n > 12 else 9)
    ax.set_yticks(range(n), labels=names, fontsize=7 if n > 12 else 9)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if n <= 20:  # annotate counts where they stay readable
        for i, j in zip(*np.nonzero(cm), strict=True):
            ax.text(j, i, str(int(cm[i, j])), ha="center", va="center", fontsize=7,
                    color="white" if shown[i, j] > 0.5 else "black")
    ax.set_title(title or "confusion matrix")
    return _save(fig, path)


def plot_grouped_bars(path: str | Path, groups: Sequence[str], series: dict[str, Sequence[float]],
                      errors: dict[str, Sequence[float]] | None = None, *, ylabel: str = "top-1 (%)",
                      title: str = "") -> Path:
    """One group of bars per entry of ``groups`` (e.g. a dataset), one bar per series (e.g. a condition)."""
    plt = _pyplot()
    names = list(series)
    x = np.arange(len(groups))
    width = 0.8 / max(len(names), 1)
    fig, ax = plt.subplots(figsize=(max(5.0, 1.2 * len(groups) * max(1, len(names)) * 0.5 + 3), 4.0))
    for i, name in enumerate(names):
        vals = np.asarray(series[name], dtype=float)
        err = None if errors is None else np.asarray(errors.get(name, np.zeros_like(vals)), dtype=float)
        ax.bar(x + (i - (len(names) - 1) / 2) * width, np.nan_to_num(vals), width, yerr=err, capsize=2,
               label=name)
    ax.set_xticks(x, labels=list(groups), rotation=20 if len(groups) > 3 else 0)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=7, ncols=2 if len(names) > 6 else 1)
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, path)


def plot_curves(path: str | Path, curves: dict[str, Sequence[float]], *, xlabel: str = "epoch",
                ylabel: str = "", title: str = "") -> Path:
    """Line plot of per-epoch curves (training loss, validation accuracy)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    for name, ys in curves.items():
        ax.plot(np.arange(1, len(ys) + 1), ys, label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return _save(fig, path)
