"""Metrics agree with sklearn on hand-made predictions; confusion CSV and PNG are written."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import balanced_accuracy_score, confusion_matrix, f1_score, top_k_accuracy_score

from microgesture.errors import ConfigError
from microgesture.evaluation.metrics import classification_metrics, save_confusion_csv, topk_accuracy
from microgesture.evaluation.plots import plot_confusion


def _hand_made():
    rng = np.random.default_rng(3)
    y = np.array([0, 0, 1, 1, 1, 2, 3, 4, 5, 6, 6, 6, 2, 0])
    scores = rng.normal(size=(y.size, 8))  # class 7 never occurs in y
    scores[[0, 2, 3, 5, 9]] += np.eye(8)[y[[0, 2, 3, 5, 9]]] * 10  # five sure hits, the rest random
    return y, scores


def test_metrics_match_sklearn():
    y, scores = _hand_made()
    m = classification_metrics(y, scores, num_classes=8)
    pred = scores.argmax(1)
    assert m.top1 == pytest.approx((pred == y).mean())
    assert m.top5 == pytest.approx(top_k_accuracy_score(y, scores, k=5, labels=np.arange(8)))
    assert m.macro_f1 == pytest.approx(f1_score(y, pred, average="macro", zero_division=0))
    # mean-class accuracy = mean recall over classes present in y (sklearn's balanced accuracy) when
    # every predicted class also occurs in y; check against the per-class definition directly
    recalls = [(pred[y == c] == c).mean() for c in np.unique(y)]
    assert m.mean_class_accuracy == pytest.approx(np.mean(recalls))
    np.testing.assert_array_equal(m.confusion, confusion_matrix(y, pred, labels=np.arange(8)))
    assert m.num_samples == y.size and m.num_classes == 8


def test_mean_class_accuracy_is_balanced_accuracy():
    y = np.array([0, 0, 0, 0, 1, 2, 2])
    pred = np.array([0, 0, 0, 1, 1, 2, 0])
    m = classification_metrics(y, np.eye(3)[pred])
    assert m.mean_class_accuracy == pytest.approx(balanced_accuracy_score(y, pred))
    assert m.top1 == pytest.approx(5 / 7)
    assert m.top5 is None  # 3 classes: top-5 would be trivially 100 %


def test_topk_accuracy_matches_sklearn_for_several_k():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, size=50)
    s = rng.normal(size=(50, 10))
    for k in (1, 2, 5):
        assert topk_accuracy(y, s, k) == pytest.approx(top_k_accuracy_score(y, s, k=k, labels=np.arange(10)))


def test_bad_inputs_are_clear_errors():
    with pytest.raises(ConfigError, match="labels must lie"):
        classification_metrics(np.array([0, 3]), np.zeros((2, 3)))
    with pytest.raises(ConfigError, match="NaN"):
        classification_metrics(np.array([0, 1]), np.array([[np.nan, 0], [0, 1.0]]))
    with pytest.raises(ConfigError, match="empty"):
        classification_metrics(np.zeros(0, int), np.zeros((0, 3)))


def test_confusion_csv_and_png(tmp_path):
    y, scores = _hand_made()
    m = classification_metrics(y, scores, num_classes=8)
    names = [f"class {i}" for i in range(8)]
    csv = save_confusion_csv(tmp_path / "confusion.csv", m.confusion, names)
    frame = pd.read_csv(csv, index_col=0)
    assert list(frame.columns) == names and list(frame.index) == names
    np.testing.assert_array_equal(frame.to_numpy(), m.confusion)
    png = plot_confusion(tmp_path / "confusion.png", m.confusion, names, title="hand-made")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 2000
