"""The calibrated MG reasoner: calibration tracks known probabilities, JSON round trip, intervals, explanations,
and the shipped default model."""

from __future__ import annotations

import json

import numpy as np
import pytest

from microgesture.emotion.benchmark import calibration_metrics
from microgesture.emotion.default_model import ARTEFACT, PackagedMGReasoner, describe_model, load_default
from microgesture.emotion.mg_features import FEATURES, feature_names, mg_index, timeline_features
from microgesture.emotion.reasoners.calibrated import LinearMGModel, fit_linear_model, read_timeline
from microgesture.emotion.timeline import MGEvent, Timeline
from microgesture.errors import CheckpointError


def synthetic_mg_timelines(n: int, seed: int, span_s: float = 300.0, n_people: int | None = None):
    """MG-set timelines whose TRUE P(positive) is known: a latent u sets both the label probability
    sigmoid(1.5 u) and the gesture rates (face touches rise with -u, hands-together with +u), so the observed
    rates carry the signal through Poisson noise, as real timelines would."""
    rng = np.random.default_rng(seed)
    tls, p_true = [], []
    for i in range(n):
        u = rng.uniform(-2, 2)
        p = 1 / (1 + np.exp(-1.5 * u))
        y = rng.random() < p
        minutes = span_s / 60
        events = []
        for name, rate in (("touch face", np.exp(0.6 - 0.6 * u)), ("hands together", np.exp(0.6 + 0.6 * u)),
                           ("illustrative", 2.0), ("move torso", 0.5)):
            for t in np.sort(rng.uniform(0, span_s - 3, rng.poisson(rate * minutes))):
                events.append(MGEvent(float(t), float(t + rng.uniform(0.5, 2.5)), mg_index(name), name))
        meta = {"video_id": f"s{seed}-{i}", "group": f"p{i % n_people if n_people else i}",
                "target": "positive" if y else "negative"}
        tls.append(Timeline(events, span_s, meta=meta))
        p_true.append(p)
    return tls, np.array(p_true)


@pytest.fixture(scope="module")
def fitted():
    tls, _ = synthetic_mg_timelines(240, seed=1, n_people=80)
    y = np.array([t.target == "positive" for t in tls], dtype=np.int64)
    groups = np.array([t.group for t in tls])
    return fit_linear_model(tls, y, groups, seed=0, n_boot=30)


def test_calibrated_probability_tracks_the_truth(fitted):
    test, p_true = synthetic_mg_timelines(300, seed=2)
    x = np.stack([timeline_features(t, fitted.blocks) for t in test])
    p = fitted.proba(x)
    assert np.corrcoef(p, p_true)[0, 1] > 0.8
    assert np.mean(np.abs(p - p_true)) < 0.12
    # binned: where the model says ~0.2 the truth is ~0.2, where it says ~0.8 the truth is ~0.8
    for lo, hi in ((0.0, 0.35), (0.35, 0.65), (0.65, 1.0)):
        sel = (p >= lo) & (p < hi)
        assert sel.sum() > 20 and abs(p[sel].mean() - p_true[sel].mean()) < 0.08, (lo, hi)
    y = np.array([t.target == "positive" for t in test], dtype=np.int64)
    assert calibration_metrics(y, p)["ece"] < 0.12
    assert fitted.platt_a > 0


def test_json_round_trip_and_malformed_files(fitted, tmp_path):
    d = json.loads(json.dumps(fitted.to_dict()))
    back = LinearMGModel.from_dict(d)
    test, _ = synthetic_mg_timelines(20, seed=3)
    x = np.stack([timeline_features(t, fitted.blocks) for t in test])
    np.testing.assert_allclose(back.proba(x), fitted.proba(x), atol=1e-4)
    with pytest.raises(CheckpointError, match="not a"):
        LinearMGModel.from_dict({**d, "format_version": 99})
    with pytest.raises(CheckpointError, match="feature"):
        LinearMGModel.from_dict({**d, "features": d["features"][::-1]})
    with pytest.raises(CheckpointError, match="shapes"):
        LinearMGModel.from_dict({**d, "coef": d["coef"][:-1]})
    bad = tmp_path / "m.json"
    bad.write_text("{not json")
    with pytest.raises(CheckpointError, match="m.json"):
        load_default(bad)


def test_interval_is_wide_for_a_short_clip_and_features_are_explained(fitted):
    long_tl = synthetic_mg_timelines(1, seed=4, span_s=900)[0][0]
    short = Timeline([MGEvent(1.0, 2.2, mg_index("touch face"), "touch face"),
                      MGEvent(3.0, 4.0, mg_index("illustrative"), "illustrative")], 6.5)
    r_long, r_short = read_timeline(fitted, long_tl), read_timeline(fitted, short)
    for r in (r_long, r_short):
        lo, hi = r["interval"]
        assert 0 <= lo <= r["probability"] <= hi <= 1
    assert (r_short["interval"][1] - r_short["interval"][0]) > 1.5 * (r_long["interval"][1] - r_long["interval"][0])
    top = r_long["features"][0]
    assert {"feature", "value", "population_median", "percentile", "text", "direction"} <= set(top)
    assert "training median" in top["text"] and "training video" in top["text"]


def test_feature_blocks_name_every_column():
    tl = Timeline([MGEvent(0, 2, 0, "touch forehead"), MGEvent(30, 31, 0, "touch head")], 60.0)
    assert mg_index("touch forehead") == mg_index("touch head") == 0  # iMiGUE names map onto the MG set
    assert mg_index("bite lip") == mg_index("touch face") and mg_index("levitate") == -1
    for block, feats in FEATURES.items():
        v = timeline_features(tl, (block,))
        assert v.shape == (len(feats),) and np.isfinite(v).all(), block
    rate = timeline_features(tl, ("rate",))
    assert np.expm1(rate[0]) == pytest.approx(2.0)  # two head touches in one minute
    assert len(feature_names(("cat_frac", "global"))) == 7 + 5


def test_the_shipped_default_model_loads_and_describes_itself():
    assert ARTEFACT.is_file(), "the packaged default model is missing (microgesture emotion fit-default)"
    m = load_default()
    assert "duration" not in m.blocks and m.info["n_train"] == 102
    text = describe_model(m)
    assert "won = positive" in text and "accuracy" in text and "AUC" in text
    r = PackagedMGReasoner()
    assert r.describe()["how_sure"]["auc"] == pytest.approx(m.info["cv"]["auc"])
    tl = Timeline([MGEvent(5.0, 6.0, mg_index("touch face"), "touch face")], 120.0)
    res = read_timeline(m, tl)
    assert 0 < res["probability"] < 1 and len(res["interval"]) == 2


def test_read_emotion_with_the_default_reasoner_is_honest_about_a_short_clip():
    from microgesture.emotion.reading import read_emotion

    ev = [MGEvent(1.0, 2.6, mg_index("touch face"), "touch face", evidence={"text": "right hand at the chin"}),
          MGEvent(3.5, 4.0, mg_index("illustrative"), "illustrative")]
    out = read_emotion(Timeline(ev, 6.5), setting="conversation")
    assert out["status"] == "ok" and out["reasoner"]["name"] == "default"
    assert out["setting"]["name"] == "conversation" and out["valence"] in ("positive", "negative", None)
    lo, hi = out["interval"]
    assert lo <= out["probability"] <= hi and out["decided"] == (not lo < 0.5 < hi)
    assert any("6.5 s of visible time" in n for n in out["notes"]) and any("2 gesture event" in n for n in out["notes"])
    assert any("Arousal is not estimated" in n for n in out["notes"]) and out["arousal"] is None
    assert "won = positive" in out["reasoner"]["description"] and out["reasoner"]["how_sure"]["text"]
    for item in out["evidence"]:  # evidence from the default reasoner points at real events only
        assert item["event_id"] in ("e1", "e2") and {"start", "class", "text"} <= set(item)
    json.dumps(out)  # JSON-able as promised
    stress = read_emotion(Timeline(ev, 6.5), setting="stress_test")
    assert stress["state"] in ("relaxed", "stressed") and stress["valence"] is None
    assert read_emotion(Timeline(ev, 6.5), reasoner="mg_calibrated")["status"] == "failed"  # not fitted: says so


def test_imigue_timelines_map_onto_the_mg_set():
    from microgesture.emotion.timeline import event_ids, to_mg_timeline

    tl = Timeline([MGEvent(5, 6, 28, "bite lip"), MGEvent(1, 2, 4, "touch forehead"), MGEvent(1, 3, 31, "illustrative")],
                  10.0)
    mg = to_mg_timeline(tl)
    assert [e.label_name for e in mg.events] == ["touch head", "illustrative", "touch face"]
    assert event_ids(mg) == ["e1", "e2", "e3"] and event_ids(0) == []
