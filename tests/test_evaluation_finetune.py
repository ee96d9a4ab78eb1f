"""Fine-tuning / supervised / semi-supervised protocols with a real tiny encoder on a learnable toy task."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from microgesture.errors import ConfigError
from microgesture.evaluation.data import LabelledArrays
from microgesture.evaluation.finetune import FinetuneConfig, fit_classifier, predict_scores
from microgesture.evaluation.protocols import ProtocolConfig, run_protocol
from microgesture.evaluation.splits import stratified_fraction
from microgesture.models import create_model
from microgesture.models.classifier import Classifier

LAYOUT = "imigue22"


def _toy(n_per_class: int, seed: int, t: int = 8):
    """Class 0 drifts right, class 1 drifts left, class 2 stays still (plus noise, some NaN joints)."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(3), n_per_class)
    drift = np.array([1.0, -1.0, 0.0])[y]
    time = np.linspace(0, 1, t)
    x = rng.normal(scale=0.05, size=(y.size, 1, t, 22, 2)).astype(np.float32)
    x[..., 0] += (drift[:, None] * time[None, :])[:, None, :, None]
    x[:, :, :, 5] = np.nan  # a joint never observed: must be filled, not crash
    return LabelledArrays(x, y, [f"c{i}" for i in range(y.size)])


def _encoder():
    return create_model("gru", layout=LAYOUT, in_channels=2, num_frames=8, hidden_size=16, num_layers=1)


def test_fit_classifier_learns_and_reports_last_epoch():
    torch.manual_seed(0)
    train, test = _toy(12, 0), _toy(6, 1)
    model = Classifier(_encoder(), 3)
    cfg = FinetuneConfig(epochs=15, batch_size=12, lr=0.05, base_batch_size=12, milestones=[12], seed=0)
    fit = fit_classifier(model, train.x, train.y, cfg, val=(test.x, test.y))
    assert len(fit.history) == 15 and fit.val_best_epoch is not None
    assert fit.history[-1]["lr"] == pytest.approx(0.005) and fit.history[0]["lr"] == pytest.approx(0.05)
    assert FinetuneConfig(epochs=15).resolved_milestones() == [2, 6, 9]  # 10/30/50 of 80, stretched
    assert FinetuneConfig().resolved_milestones() == [10, 30, 50]
    scores = predict_scores(model, test.x)
    assert (scores.argmax(1) == test.y).mean() >= 0.9
    assert fit.history[-1]["train_top1"] >= 0.9


def test_supervised_and_semi_protocols_run_and_differ_only_in_data():
    train, test = _toy(10, 2), _toy(4, 3)
    ft = FinetuneConfig(epochs=6, batch_size=10, lr=0.05, base_batch_size=10)
    cfg = ProtocolConfig(finetune=ft, label_fraction=0.1, seed=3)
    sup = run_protocol("supervised", None, train, test, 3, cfg, layout=LAYOUT, fresh_encoder=_encoder)
    assert sup.info["num_train"] == 30 and sup.metrics.num_samples == 12
    semi = run_protocol("semi", _encoder(), train, test, 3, cfg, layout=LAYOUT)
    expected = stratified_fraction(train.y, 0.1, 3)
    assert semi.info["num_train"] == expected.size == 3  # one per class at 10 % of 10
    assert semi.model is not None and np.isfinite(semi.scores).all()


def test_finetune_does_not_modify_the_pretrained_encoder():
    enc = _encoder()
    before = {k: v.clone() for k, v in enc.state_dict().items()}
    train, test = _toy(4, 4), _toy(2, 5)
    cfg = ProtocolConfig(finetune=FinetuneConfig(epochs=1, batch_size=6, augment="mg"))
    run_protocol("finetune", enc, train, test, 3, cfg, layout=LAYOUT, coords=2)
    for k, v in enc.state_dict().items():
        assert torch.equal(before[k], v), k


def test_protocol_errors_are_clear():
    train, test = _toy(2, 6), _toy(1, 7)
    with pytest.raises(ConfigError, match="unknown protocol"):
        run_protocol("nope", _encoder(), train, test, 3)
    with pytest.raises(ConfigError, match="needs a pretrained encoder"):
        run_protocol("linear", None, train, test, 3)
    with pytest.raises(ConfigError, match="architecture"):
        run_protocol("supervised", None, train, test, 3)
