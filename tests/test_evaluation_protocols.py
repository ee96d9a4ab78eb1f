"""kNN, linear probe and stratified sampling on toy features with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from microgesture.data.clip import Clip, ClipMeta
from microgesture.data.dataset import SkeletonDataset
from microgesture.errors import ConfigError
from microgesture.evaluation.knn import knn_scores
from microgesture.evaluation.linear import LinearProbeConfig, fit_linear_probe
from microgesture.evaluation.metrics import classification_metrics
from microgesture.evaluation.splits import (
    resolve_split,
    stratified_fraction,
    stratified_holdout,
)


def _separable(n_per_class=30, classes=4, dim=16, seed=0, spread=0.3):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(classes, dim)) * 3
    y = np.repeat(np.arange(classes), n_per_class)
    x = centres[y] + rng.normal(scale=spread, size=(y.size, dim))
    return x.astype(np.float32), y


def test_knn_on_separable_features_is_perfect():
    xtr, ytr = _separable(seed=1)
    xte, yte = _separable(n_per_class=10, seed=1)
    for k in (1, 20):
        scores = knn_scores(xtr, ytr, xte, num_classes=4, k=k, temperature=0.1)
        assert classification_metrics(yte, scores).top1 == 1.0


def test_knn_weighted_votes_follow_similarity():
    train = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])
    labels = np.array([0, 0, 1])
    test = np.array([[0.1, 1.0]])
    # k=3: two class-0 neighbours vs one very close class-1 neighbour; temperature decides
    assert knn_scores(train, labels, test, 2, k=3, temperature=0.05).argmax() == 1
    assert knn_scores(train, labels, test, 2, k=3, temperature=100.0).argmax() == 0
    assert knn_scores(train, labels, test, 2, k=1).argmax() == 1


def test_knn_rejects_bad_config():
    with pytest.raises(ConfigError):
        knn_scores(np.ones((2, 3)), np.zeros(2), np.ones((1, 3)), 2, k=0)
    with pytest.raises(ConfigError, match="dims differ"):
        knn_scores(np.ones((2, 3)), np.zeros(2), np.ones((1, 4)), 2)


def test_linear_probe_learns_separable_features():
    xtr, ytr = _separable(seed=2)
    xte, yte = _separable(n_per_class=10, seed=2)
    cfg = LinearProbeConfig(epochs=30, batch_size=32, lr=0.1, base_batch_size=32, seed=0)
    probe = fit_linear_probe(xtr, ytr, 4, cfg)
    assert classification_metrics(yte, probe.scores(xte)).top1 == 1.0
    assert len(probe.history) == 30 and probe.history[-1]["lr"] == pytest.approx(0.1 * 0.1)
    assert cfg.resolved_milestones() == [24]


def test_linear_probe_is_seeded():
    xtr, ytr = _separable(seed=3)
    cfg = LinearProbeConfig(epochs=3, batch_size=16, lr=0.5, seed=7)
    a = fit_linear_probe(xtr, ytr, 4, cfg).scores(xtr)
    b = fit_linear_probe(xtr, ytr, 4, cfg).scores(xtr)
    np.testing.assert_array_equal(a, b)


def test_linear_probe_reports_last_epoch_not_best():
    """Feature ``a`` is large but 20 % wrong, ``b`` small but always right: SGD first leans on ``a`` and only
    later on ``b``. Test points disagree between the two and follow ``a``, so the test curve peaks at epoch 1
    and collapses afterwards; the probe must report the collapsed last epoch, not the peak."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    s = 2 * y - 1
    a = np.where(rng.random(200) < 0.2, -s, s) * 5.0
    xtr = np.stack([a, s * 0.5], 1).astype(np.float32)
    yte = np.array([0, 1] * 20)
    ste = 2 * yte - 1
    xte = np.stack([ste * 5.0, -ste * 0.5], 1).astype(np.float32)
    cfg = LinearProbeConfig(epochs=10, batch_size=20, lr=0.1, base_batch_size=20, seed=0, feature_norm="none")
    probe = fit_linear_probe(xtr, y, 2, cfg, curve={"test": (xte, yte)})
    curve = [r["test_top1"] for r in probe.history]
    reported = classification_metrics(yte, probe.scores(xte)).top1
    assert probe.history[-1]["train_top1"] == 1.0
    assert reported == pytest.approx(curve[-1])
    assert max(curve) >= reported + 0.5


def test_linear_probe_validation_selection_uses_validation_only():
    xtr, ytr = _separable(seed=5)
    rng = np.random.default_rng(0)
    noisy_val = rng.permutation(ytr)  # validation labels unrelated to features: selects some epoch
    cfg = LinearProbeConfig(epochs=6, batch_size=32, lr=0.1, base_batch_size=32)
    probe = fit_linear_probe(xtr, ytr, 4, cfg, val=(xtr, noisy_val))
    vals = [r["val_top1"] for r in probe.history]
    assert probe.val_best_epoch == int(np.argmax(vals)) + 1
    assert probe.scores(xtr, head="val").shape == (xtr.shape[0], 4)


def test_linear_probe_divergence_is_an_error():
    xtr, ytr = _separable(seed=6)
    with pytest.raises(ConfigError, match="diverged"):
        fit_linear_probe(xtr * 1e30, ytr, 4, LinearProbeConfig(epochs=2, lr=1e10, feature_norm="none"))


def test_stratified_fraction_has_one_per_class_and_is_seeded():
    labels = np.array([0] * 500 + [1] * 120 + [2] * 7 + [3] * 1)
    a = stratified_fraction(labels, 0.01, seed=0)
    b = stratified_fraction(labels, 0.01, seed=0)
    c = stratified_fraction(labels, 0.01, seed=1)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    counts = np.bincount(labels[a], minlength=4)
    assert counts.tolist() == [5, 1, 1, 1]
    ten = np.bincount(labels[stratified_fraction(labels, 0.1, seed=0)], minlength=4)
    assert ten.tolist() == [50, 12, 1, 1]
    with pytest.raises(ConfigError):
        stratified_fraction(labels, 0.0, seed=0)


def test_stratified_holdout_keeps_every_class_in_training():
    labels = np.array([0] * 20 + [1] * 10 + [2])
    tr, va = stratified_holdout(labels, 0.2, seed=0)
    assert np.intersect1d(tr, va).size == 0 and tr.size + va.size == labels.size
    assert set(labels[tr]) == {0, 1, 2}
    assert np.bincount(labels[va], minlength=3).tolist() == [4, 2, 0]


def _clip(cid, label, subject=None, extra=None):
    kp = np.zeros((1, 4, 3, 2), np.float32)
    return Clip(kp, ClipMeta(cid, label=label, subject=subject, extra=extra or {}))


def test_official_split_from_metadata_and_reader():
    clips = [_clip(f"a01_s{s:02d}_e01_v{v:02d}", 0) for s in (1, 2) for v in (1, 2, 3)]
    ds = SkeletonDataset("nw_ucla", "", clips)
    sp = resolve_split(ds, "x-view")
    assert sp.source == "rule"
    assert [clips[i].meta.clip_id[-3:] for i in sp.test] == ["v03", "v03"]
    assert sp.train.size == 4
    ds.splits = {"xview_train": [clips[0].meta.clip_id], "xview_test": [clips[2].meta.clip_id]}
    sp = resolve_split(ds, "xview")
    assert sp.source == "reader" and sp.train.tolist() == [0] and sp.test.tolist() == [2]


def test_imigue_cross_subject_and_missing_split_errors():
    clips = [_clip("a", 0, subject="22"), _clip("b", 1, subject="1"), _clip("c", 1, subject="99")]
    ds = SkeletonDataset("imigue", "", clips)
    sp = resolve_split(ds)  # default: xsub
    assert sp.train.tolist() == [0] and sp.test.tolist() == [1]  # subject 99 is in neither list
    with pytest.raises(ConfigError, match="no split 'xview'"):
        resolve_split(ds, "xview")
    with pytest.raises(ConfigError, match="lacks the metadata"):
        resolve_split(SkeletonDataset("imigue", "", [_clip("x", 0)]), "xsub")
    with pytest.raises(ConfigError, match="no split 'train'"):
        resolve_split(ds, "train,nope")


def test_linear_probe_standardize_handles_offset_features():
    """A large common offset (as projected embeddings often have) stalls the literal probe at lr 3.0; the
    standardised probe (BN without affine before the linear layer) is scale-free and separates the classes."""
    xtr, ytr = _separable(seed=7, spread=0.05)
    xte, yte = _separable(n_per_class=10, seed=7, spread=0.05)
    offset = np.full(xtr.shape[1], 50.0, np.float32)
    cfg = LinearProbeConfig(epochs=20, batch_size=32, feature_norm="standardize")
    probe = fit_linear_probe(xtr * 0.01 + offset, ytr, 4, cfg)
    assert classification_metrics(yte, probe.scores(xte * 0.01 + offset)).top1 == 1.0


def test_linear_probe_default_input_is_unit_length_so_feature_scale_does_not_matter():
    """The default (l2) probe sees every feature vector at unit length: scaling the features by 1000 (an
    encoder with large activations) gives the same predictions, at the same lr."""
    xtr, ytr = _separable(seed=3, spread=0.3)
    xte, yte = _separable(n_per_class=10, seed=3, spread=0.3)
    assert LinearProbeConfig().feature_norm == "l2"
    cfg = LinearProbeConfig(epochs=20, batch_size=32)
    small, large = fit_linear_probe(xtr, ytr, 4, cfg), fit_linear_probe(xtr * 1000, ytr, 4, cfg)
    np.testing.assert_allclose(small.scores(xte), large.scores(xte * 1000), rtol=1e-4, atol=1e-5)
    assert classification_metrics(yte, small.scores(xte)).top1 >= 0.9


def test_default_splits_delegate_to_reader_train_test():
    clips = [_clip(f"a01_s{s:02d}_e01", 0, subject=str(s)) for s in (1, 2, 3)]
    ds = SkeletonDataset("msr_action3d", "", clips, splits={"train": [clips[2].meta.clip_id],
                                                            "test": [clips[1].meta.clip_id]})
    sp = resolve_split(ds)  # the reader's train/test *is* the default (xsub) protocol
    assert sp.source == "reader" and sp.train.tolist() == [2] and sp.test.tolist() == [1]
    ds.splits = {}
    sp = resolve_split(ds, "xsub")  # no reader split: derived from subjects (odd train, even test)
    assert sp.source == "rule" and sp.train.tolist() == [0, 2] and sp.test.tolist() == [1]
