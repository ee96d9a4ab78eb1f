"""Learned MG-only reasoners and the evaluation protocol: fit/predict, and no person on both sides of a fold."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from microgesture.data.readers.imigue import EMOTION_TRAIN_VIDEOS
from microgesture.emotion.benchmark import load_imigue_timelines, make_folds, mcnemar, run_benchmark, score
from microgesture.emotion.reasoners.learned import (
    BagOfMGReasoner,
    MajorityReasoner,
    ProbabilityAverageReasoner,
    RandomReasoner,
    SequenceGRUReasoner,
    TemporalProfileReasoner,
    bag_of_mg_features,
    temporal_profile_features,
)
from microgesture.emotion.scenario import ScenarioBuilder
from microgesture.errors import ConfigError

HEADER = ("video_id,label_id,start_time,start_frame,end_time,end_frame,class,subject_id,subject_gender,"
          "subject_nationality,win_or_lose")


def write_synthetic_csv(path, n_videos=30, n_subjects=10, seed=0, signal=True):
    """An annotation CSV in the real iMiGUE format: winners steeple (24) and raise the head (27); losers bite
    nails (9) and touch the face (3). Video ids are taken from the official emotion-training list."""
    rng = np.random.default_rng(seed)
    vids = sorted(EMOTION_TRAIN_VIDEOS)[:n_videos]
    rows = [HEADER]
    for i, vid in enumerate(vids):
        subject = i % n_subjects + 1
        win = i % 2 == 0
        classes = ([24, 27] if win else [9, 3]) if signal else [20, 31]
        t = 0.0
        for k in range(int(rng.integers(8, 20))):
            cls = int(rng.choice(classes)) if rng.random() < 0.8 else int(rng.choice([18, 20, 99]))
            t += float(rng.uniform(1, 8))
            d = float(rng.uniform(0.5, 3))
            rows.append(f"{vid},{k + 1},{t:.4f},{round(t * 25)},{t + d:.4f},{round((t + d) * 25)},{cls},{subject},"
                        f"F,Nowhere,{'Win' if win else 'Lose'}")
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.fixture
def synthetic(tmp_path):
    return load_imigue_timelines(write_synthetic_csv(tmp_path / "labels.csv"))


def test_features_are_rates_and_shares(synthetic):
    tl = next(iter(synthetic.values()))
    f = bag_of_mg_features(tl)
    assert f.shape == (2 * 32 + 5,) and f.dtype == np.float32 and np.isfinite(f).all()
    assert bag_of_mg_features(tl, bigrams=True).shape == (2 * 32 + 5 + 32 * 32,)
    assert bag_of_mg_features(tl, feature_set="categories").shape == (2 * 8 + 5,)
    minutes = tl.duration_s / 60
    counts = np.bincount(tl.arrays()["label"], minlength=32)
    np.testing.assert_allclose(np.expm1(f[:32]), counts / minutes, rtol=1e-5)


@pytest.mark.parametrize("factory", [
    BagOfMGReasoner,
    lambda: BagOfMGReasoner(("categories", "classes"), Cs=(0.01, 1.0)),
    lambda: BagOfMGReasoner(("classes+categories",), model="rf"),
    lambda: BagOfMGReasoner(("classes+categories",), model="hgb"),
    lambda: SequenceGRUReasoner(epochs=25, n_seeds=1),
    lambda: TemporalProfileReasoner(C=1.0),
    lambda: ProbabilityAverageReasoner([SequenceGRUReasoner(epochs=25, n_seeds=1),
                                        BagOfMGReasoner(("classes+categories",), model="rf")]),
])
def test_learned_reasoners_fit_and_predict(synthetic, factory):
    tls = list(synthetic.values())
    train, test = tls[:20], tls[20:]
    b = ScenarioBuilder(condition="mg_only")
    r = factory().fit(b.build_all(train))
    preds = r.predict(b.build_all(test))
    acc = np.mean([p.label == t.target for p, t in zip(preds, test, strict=True)])
    assert acc >= 0.8, acc  # the synthetic signal is strong
    assert all(p.valid and 0 <= p.score <= 1 for p in preds)
    if isinstance(r, BagOfMGReasoner):
        assert r.chosen in r.feature_sets and r.describe()["chosen_feature_set"] == r.chosen
    if getattr(r, "kind", None) == "hgb":  # the inner-CV grid's choice is reported
        assert set(r.describe()["chosen"]) == {"learning_rate", "max_depth"}


def test_temporal_profile_features_locate_events_in_thirds(synthetic):
    tl = next(iter(synthetic.values()))
    f = temporal_profile_features(tl)
    assert f.shape == (8 * 3 + 9,) and f.dtype == np.float32 and np.isfinite(f).all()
    a = tl.arrays()
    first = np.mean(a["start"] < tl.duration_s / 3)
    assert f[24 + 6] == pytest.approx(first, abs=1e-6)  # share of events in the first third
    empty = temporal_profile_features(tl.with_events([]))
    assert np.isfinite(empty).all() and not empty[:24].any()


def test_ensemble_averages_member_probabilities(synthetic):
    tls = list(synthetic.values())
    b = ScenarioBuilder(condition="mg_only")
    train, test = b.build_all(tls[:20]), b.build_all(tls[20:])
    members = [TemporalProfileReasoner(C=1.0), BagOfMGReasoner(Cs=(1.0,))]
    ens = ProbabilityAverageReasoner(members, name="avg").fit(train)
    expected = np.mean([[p.score for p in m.predict(test)] for m in members], axis=0)
    np.testing.assert_allclose([p.score for p in ens.predict(test)], expected)
    with pytest.raises(ConfigError, match="fit"):
        ProbabilityAverageReasoner([TemporalProfileReasoner()]).predict(test)


def test_unfitted_reasoner_refuses(synthetic):
    with pytest.raises(ConfigError, match="fit"):
        BagOfMGReasoner().predict(ScenarioBuilder(condition="mg_only").build_all(list(synthetic.values())))


def test_majority_and_random_baselines(synthetic):
    sc = ScenarioBuilder(condition="mg_only").build_all(list(synthetic.values()))
    maj = MajorityReasoner().fit([s for s in sc if s.target == "positive"] + sc[:1])
    assert {p.label for p in maj.predict(sc)} == {"positive"}
    rnd = RandomReasoner(seed=1).fit(sc)
    a, b = rnd.predict(sc), RandomReasoner(seed=1).fit(sc).predict(sc)
    assert [p.label for p in a] == [p.label for p in b] and {p.label for p in a} == {"positive", "negative"}


def test_cv_folds_never_share_a_person(imigue_labels_csv):
    tls = load_imigue_timelines(imigue_labels_csv)
    folds = make_folds(tls, "train", n_folds=5, seed=0)
    evaluated = [v for f in folds for v in f.eval]
    assert sorted(evaluated) == sorted(v for v, t in tls.items() if t.meta["split"] == "train")
    assert len(evaluated) == len(set(evaluated)) == 102
    for f in folds:
        assert not {tls[v].group for v in f.train} & {tls[v].group for v in f.eval}
        assert {tls[v].target for v in f.eval} == {"positive", "negative"}
    dev = make_folds(tls, "dev")
    assert len(dev) == 1 and len(dev[0].train) == 102 and len(dev[0].eval) == 157
    with pytest.raises(ConfigError, match="withholds"):
        make_folds(tls, "test")


def test_few_shot_pool_is_the_training_fold_only(synthetic):
    folds = make_folds(synthetic, "train", n_folds=3)
    for f in folds:
        pool = [synthetic[v] for v in f.train]
        for v in f.eval:
            sc = ScenarioBuilder(condition="context_mg", few_shot=3, pool=pool).build(synthetic[v])
            assert set(sc.few_shot_ids) <= set(f.train) and v not in sc.few_shot_ids


def test_metrics_match_sklearn_and_mcnemar():
    from sklearn.metrics import accuracy_score, f1_score

    t = ["positive"] * 6 + ["negative"] * 4
    p = ["positive"] * 4 + ["negative", None] + ["negative"] * 3 + ["positive"]
    m = score(t, p, n_boot=500)
    enc = [x or "invalid" for x in p]
    assert m["accuracy"] == pytest.approx(accuracy_score(t, enc))
    assert m["macro_f1"] == pytest.approx(f1_score(t, enc, labels=["negative", "positive"], average="macro"))
    assert m["acc_lo"] <= m["accuracy"] <= m["acc_hi"] and m["n_invalid"] == 1
    r = mcnemar(np.array([1, 1, 1, 1, 0, 1], bool), np.array([0, 0, 0, 0, 0, 1], bool))
    assert (r["only_a_correct"], r["only_b_correct"]) == (4, 0) and r["p_value"] == pytest.approx(0.125)


def test_benchmark_end_to_end_on_a_synthetic_csv(synthetic):
    res = run_benchmark(synthetic, "train", {"majority": MajorityReasoner, "bag_lr": BagOfMGReasoner},
                        conditions=["context_only", "mg_only"], n_folds=3, n_boot=200)
    t = res.table.set_index("reasoner")
    assert set(t.index) == {"majority", "bag_lr"} and (t["n"] == 30).all()
    assert t.loc["bag_lr", "accuracy"] >= 0.8
    preds = pd.DataFrame(res.predictions)
    assert not preds.duplicated(["arm", "video_id"]).any()
    assert res.comparisons["comparison"].tolist() == ["vs majority baseline"]
    budget = run_benchmark(synthetic, "train", {"majority": MajorityReasoner}, conditions=["mg_only"], n_folds=3,
                           max_videos=12, n_boot=50)
    assert budget.table["n"].item() == 12
    assert {t for t in pd.DataFrame(budget.predictions)["target"]} == {"positive", "negative"}

