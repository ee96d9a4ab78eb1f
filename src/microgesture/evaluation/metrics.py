"""Classification metrics every protocol reports, computed one way for all of them.

Why one function: linear probe, kNN, fine-tuning and the experiments must not each grow their own notion of
"accuracy". Top-1 / top-5 come from class scores, mean-class accuracy is the mean recall over the classes that
occur in the test labels (long-tailed micro-gesture sets make plain top-1 flattering), and macro-F1 is
sklearn's over the labels seen in either ``y_true`` or the predictions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import confusion_matrix, f1_score

from ..errors import ConfigError
from ..utils.io import atomic_write


@dataclass
class ClassificationMetrics:
    """Scores of one evaluation; ``confusion[i, j]`` counts true class ``i`` predicted as ``j``."""

    top1: float
    top5: float | None  # None when there are 5 classes or fewer (it would be trivially 100 %)
    mean_class_accuracy: float
    macro_f1: float
    num_samples: int
    num_classes: int
    confusion: np.ndarray = field(repr=False)
    per_class_accuracy: dict[int, float] = field(default_factory=dict, repr=False)

    def to_dict(self, *, with_confusion: bool = False) -> dict[str, Any]:
        d: dict[str, Any] = {
            "top1": self.top1,
            "top5": self.top5,
            "mean_class_accuracy": self.mean_class_accuracy,
            "macro_f1": self.macro_f1,
            "num_samples": self.num_samples,
            "num_classes": self.num_classes,
            "per_class_accuracy": {str(k): v for k, v in self.per_class_accuracy.items()},
        }
        if with_confusion:
            d["confusion"] = self.confusion.tolist()
        return d


def topk_accuracy(y_true: np.ndarray, scores: np.ndarray, k: int) -> float:
    """Fraction of samples whose true class is among the ``k`` highest scores."""
    y_true = np.asarray(y_true)
    scores = np.asarray(scores)
    k = min(k, scores.shape[1])
    topk = np.argpartition(-scores, kth=k - 1, axis=1)[:, :k]
    return float((topk == y_true[:, None]).any(axis=1).mean())


def classification_metrics(y_true: np.ndarray, scores: np.ndarray, num_classes: int | None = None
                           ) -> ClassificationMetrics:
    """All metrics from integer labels ``[N]`` and class scores ``[N, C]`` (logits, probabilities or votes)."""
    y_true = np.asarray(y_true, dtype=np.int64)
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2 or scores.shape[0] != y_true.shape[0]:
        raise ConfigError(f"scores must be [N, C] with N = {y_true.shape[0]} labels; got {scores.shape}")
    if y_true.size == 0:
        raise ConfigError("cannot compute metrics on an empty evaluation set")
    c = int(num_classes if num_classes is not None else scores.shape[1])
    if scores.shape[1] != c:
        raise ConfigError(f"scores have {scores.shape[1]} columns but num_classes = {c}")
    if y_true.min() < 0 or y_true.max() >= c:
        raise ConfigError(f"labels must lie in [0, {c}); got range [{y_true.min()}, {y_true.max()}]")
    if not np.isfinite(scores).all():
        raise ConfigError("class scores contain NaN or inf (did training diverge? lower the learning rate)")
    y_pred = scores.argmax(axis=1)
    cm = confusion_matrix(y_true, y_pred, labels=np.arange(c))
    support = cm.sum(axis=1)
    present = np.flatnonzero(support)
    recall = cm[present, present] / support[present]
    return ClassificationMetrics(
        top1=float((y_pred == y_true).mean()),
        top5=topk_accuracy(y_true, scores, 5) if c > 5 else None,
        mean_class_accuracy=float(recall.mean()),
        macro_f1=float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
        num_samples=int(y_true.size),
        num_classes=c,
        confusion=cm,
        per_class_accuracy={int(i): float(r) for i, r in zip(present, recall, strict=True)},
    )


def save_confusion_csv(path: str | Path, confusion: np.ndarray, class_names: list[str] | None = None) -> Path:
    """Write the confusion matrix with class names as row (true) and column (predicted) headers."""


    names = _names(confusion.shape[0], class_names)
    frame = pd.DataFrame(confusion, index=pd.Index(names, name="true \\ predicted"), columns=names)
    with atomic_write(path, "w", encoding="utf-8", newline="") as fh:
        frame.to_csv(fh)
    return Path(path)


def _names(n: int, class_names: list[str] | None) -> list[str]:
    if class_names is None or len(class_names) != n:
        return [str(i) for i in range(n)]
    return [str(x) for x in class_names]
