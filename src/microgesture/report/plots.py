"""Static plots for reports: the micro-gesture timeline as a PNG (matplotlib, headless Agg backend)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd

from ..utils.io import atomic_write

# Colour-blind-safe qualitative palette (Okabe–Ito) extended with Tableau tones for many classes.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000",
           "#4E79A7", "#F28E2B", "#59A14F", "#B07AA1", "#76B7B2", "#EDC948", "#FF9DA7", "#9C755F", "#BAB0AC")


def class_colors(names: list[str]) -> dict[str, str]:
    return {n: PALETTE[i % len(PALETTE)] for i, n in enumerate(names)}


def timeline_figure(events: pd.DataFrame, duration_s: float, *, truth: pd.DataFrame | None = None,
                    missing_spans: list[tuple[float, float]] | None = None, title: str | None = None):
    """A matplotlib figure: one row per class, a bar per event (seconds); ground truth as outlines."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    names = list(dict.fromkeys(list(events.get("label_name", [])) +
                               (list(truth["label_name"]) if truth is not None and len(truth) else [])))
    colors = class_colors(names)
    rows = {n: i for i, n in enumerate(names)}
    height = max(1.6, 0.32 * len(names) + 1.1)
    fig, ax = plt.subplots(figsize=(11, height), dpi=100)
    for a, b in missing_spans or []:
        ax.axvspan(a, b, color="#dddddd", lw=0, zorder=0)
    if truth is not None and len(truth):
        for r in truth.itertuples(index=False):
            ax.broken_barh([(r.start, r.end - r.start)], (rows[r.label_name] - 0.42, 0.84), facecolors="none",
                           edgecolors="#333333", linewidth=0.8, zorder=2)
    for r in events.itertuples(index=False):
        ax.broken_barh([(r.start, max(r.end - r.start, 0.04))], (rows[r.label_name] - 0.32, 0.64),
                       facecolors=colors[r.label_name], alpha=0.35 + 0.65 * float(np.clip(r.score, 0, 1)), zorder=3)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.set_ylim(-0.7, max(len(names), 1) - 0.3)
    ax.invert_yaxis()
    ax.set_xlim(0, max(duration_s, 1e-3))
    ax.set_xlabel("time (s)")
    ax.grid(axis="x", alpha=0.3)
    if title:
        ax.set_title(title, fontsize=10)
    if not names:
        ax.text(0.5, 0.5, "no micro-gesture events", ha="center", va="center", transform=ax.transAxes)
        ax.set_yticks([])
    fig.tight_layout()
    return fig


def timeline_png(events: pd.DataFrame, duration_s: float, path: str | Path | None = None, **kw) -> bytes:
    """Render :func:`timeline_figure` to PNG bytes (and to ``path`` atomically if given)."""
    import matplotlib.pyplot as plt


    fig = timeline_figure(events, duration_s, **kw)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    data = buf.getvalue()
    if path is not None:
        with atomic_write(path, "wb") as fh:
            fh.write(data)
    return data
