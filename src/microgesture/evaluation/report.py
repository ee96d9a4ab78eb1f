"""Writing one evaluation's results: metrics.json, confusion CSV + PNG, per-epoch history, predictions.

Why a fixed set of files: experiments, the CLI and CI all look for the same names, and ``metrics.json`` is
written last (atomically) so its presence means the run finished — the resume marker of experiments.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..utils.io import atomic_write, write_json
from .metrics import save_confusion_csv
from .plots import plot_confusion, plot_curves
from .protocols import ProtocolResult

METRICS_FILE = "metrics.json"


def _csv(path: Path, frame: pd.DataFrame) -> None:
    with atomic_write(path, "w", encoding="utf-8", newline="") as fh:
        frame.to_csv(fh, index=False)


def write_result(out: str | Path, result: ProtocolResult, *, class_names: list[str] | None = None,
                 clip_ids: list[str] | None = None, y_true: np.ndarray | None = None,
                 extra: dict[str, Any] | None = None, plots: bool = True) -> dict[str, Any]:
    """Write every artefact of ``result`` under ``out`` and return the ``metrics.json`` document."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files = {"confusion_csv": "confusion.csv"}
    save_confusion_csv(out / "confusion.csv", result.metrics.confusion, class_names)
    if plots:
        plot_confusion(out / "confusion.png", result.metrics.confusion, class_names,
                       title=f"{result.protocol}: top-1 {100 * result.metrics.top1:.1f} %")
        files["confusion_png"] = "confusion.png"
    if result.history:
        _csv(out / "history.csv", pd.DataFrame(result.history))
        files["history_csv"] = "history.csv"
        if plots:
            curves = {k: [r[k] for r in result.history] for k in result.history[0]
                      if k.endswith("_top1") or k == "train_loss"}
            plot_curves(out / "history.png", curves, ylabel="accuracy / loss", title=result.protocol)
            files["history_png"] = "history.png"
    if clip_ids is not None and y_true is not None:
        pred = result.scores.argmax(1)
        frame = pd.DataFrame({"clip_id": clip_ids, "label": y_true, "pred": pred})
        if class_names:
            frame["label_name"] = [class_names[i] for i in y_true]
            frame["pred_name"] = [class_names[i] for i in pred]
        _csv(out / "predictions.csv", frame)
        files["predictions_csv"] = "predictions.csv"
    doc = {**result.summary(), "class_names": class_names, "files": files, **(extra or {})}
    write_json(out / METRICS_FILE, doc)
    return doc
