"""Label scoring with the real bundled SmolLM2-135M: log-probabilities, calibration, and no test-fold leakage.

Prompts are tiny (tens of tokens) so the whole file runs in seconds. Skips only where llama_cpp or the bundled
model is missing, and fails under CI.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from microgesture.emotion.benchmark import load_imigue_timelines, make_folds, run_benchmark
from microgesture.emotion.scenario import Scenario
from microgesture.errors import ConfigError
from test_emotion_learned import write_synthetic_csv
from test_emotion_llamacpp import _need_llama


@pytest.fixture(scope="module")
def scorer():
    from microgesture.emotion.reasoners.label_scoring import LlamaCppLabelScorer

    return LlamaCppLabelScorer(_need_llama(), n_ctx=1024, n_threads=1)


def _msgs(text: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": "Answer with one JSON object."}, {"role": "user", "content": text}]


def _scenario(vid: str, text: str, target: str, condition: str = "mg_only") -> Scenario:
    m = _msgs(text)
    return Scenario(f"{vid}|{condition}", vid, condition, "annotation", m, target,
                    content_free_messages=_msgs("Observations: N/A. Is the valence positive or negative?"))


def _reference_logprobs(gguf, tokens: list[int], continuation: list[int]) -> float:
    """Summed log P(continuation | tokens) through llama-cpp-python's own all-logits path (independent check)."""
    from llama_cpp import Llama

    llm = Llama(model_path=str(gguf), n_ctx=512, n_threads=1, n_threads_batch=1, logits_all=True, verbose=False)
    llm.eval(tokens + continuation)
    rows = np.asarray(llm.scores[len(tokens) - 1: len(tokens) + len(continuation) - 1], dtype=np.float64)
    logp = rows - np.logaddexp.reduce(rows, axis=1, keepdims=True)
    return float(logp[np.arange(len(continuation)), continuation].sum())


def test_label_logprobs_match_llama_cpp_all_logits_path(scorer):
    from microgesture.emotion.reasoners.label_scoring import LlamaCppLabelScorer, log_odds

    prompts = [_msgs("The player smiled and joked with reporters. Valence?"),
               _msgs("The player bit her nails and avoided eye contact. Valence?")]
    a, b, a_again = scorer.score_many(prompts + prompts[:1])  # a_again: identical prompt, scored once
    assert scorer.stats.deduplicated >= 1 and a == a_again
    for r in (a, b):
        assert set(r["logp"]) == {"positive", "negative"} and all(v < 0 for v in r["logp"].values())
    assert log_odds(a) != pytest.approx(log_odds(b), abs=1e-3)  # the content moves the preference
    toks = scorer.prompt_tokens(prompts[1])
    ref = _reference_logprobs(scorer.model_path, toks, scorer._label_tokens["negative"])
    assert b["logp"]["negative"] == pytest.approx(ref, abs=2e-3)
    # a two-token label ("un" + "pleasant") is scored token by token, and the KV-cache reuse between
    # prompts gives the same numbers as a fresh evaluation
    two = LlamaCppLabelScorer(scorer.model_path, n_ctx=1024, n_threads=1, labels=("pleasant", "unpleasant"))
    r1, r0 = two.score_many([prompts[1], prompts[0]])
    assert len(two._label_tokens["unpleasant"]) == 2
    ref = _reference_logprobs(two.model_path, two.prompt_tokens(prompts[0]), two._label_tokens["unpleasant"])
    assert r0["logp"]["unpleasant"] == pytest.approx(ref, abs=2e-3)


def test_batch_calibration_uses_training_prompts_only(scorer):
    from microgesture.emotion.reasoners.label_scoring import LabelScoringReasoner, log_odds

    train = [_scenario("t1", "She laughed and thanked the crowd.", "positive"),
             _scenario("t2", "She sighed and stared at the floor.", "negative"),
             _scenario("t3", "She waved happily to the fans.", "positive")]
    evals = [_scenario("e1", "He shouted and smashed his racket.", "negative"),
             _scenario("e2", "He grinned and lifted the trophy.", "positive")]
    r = LabelScoringReasoner(scorer, "batch").fit(train)
    raw_train = [log_odds(x) for x in scorer.score_many([s.messages for s in train])]
    raw_eval = np.array([log_odds(x) for x in scorer.score_many([s.messages for s in evals])])
    assert r.bias == {"mg_only": pytest.approx(np.mean(raw_train))}
    assert r.calibrated_on == ["t1", "t2", "t3"] and r.majority == "positive"
    preds = r.predict(evals)
    assert r.bias == {"mg_only": pytest.approx(np.mean(raw_train))}  # predicting never re-estimates
    z = raw_eval - np.mean(raw_train)
    assert [p.label for p in preds] == ["positive" if zi > 0 else "negative" for zi in z]
    assert [p.score for p in preds] == pytest.approx(1 / (1 + np.exp(-z)))
    # per-video decisions: a prediction does not depend on which other videos are evaluated with it
    assert r.predict(evals[1:])[0].score == pytest.approx(preds[1].score)
    with pytest.raises(ConfigError, match="not calibrated"):
        r.predict([_scenario("c", "x", "positive", condition="context_mg")])


def test_content_free_and_tie_handling(scorer):
    from microgesture.emotion.reasoners.label_scoring import LabelScoringReasoner, log_odds

    sc = [_scenario("a", "He grinned and lifted the trophy.", "negative")]
    r = LabelScoringReasoner(scorer, "content_free").fit(sc * 2)
    (p,) = r.predict(sc)
    z = log_odds(scorer.score_many([sc[0].messages])[0]) - log_odds(scorer.score_many(
        [sc[0].content_free_messages])[0])
    assert p.score == pytest.approx(1 / (1 + np.exp(-z))) and p.parse_mode == "label_score"
    # a prompt identical to its content-free version (context only) is a tie: the training majority decides
    same = Scenario("b|context_only", "b", "context_only", "annotation", _msgs("x"), "positive",
                    content_free_messages=_msgs("x"))
    (tie,) = r.predict([same])
    assert tie.score == pytest.approx(0.5) and tie.label == "negative" == r.majority
    with pytest.raises(ConfigError, match="calibration"):
        LabelScoringReasoner(scorer, "platt")
    with pytest.raises(ConfigError, match="fit"):
        LabelScoringReasoner(scorer).predict(sc)


def test_benchmark_calibrates_each_fold_on_its_training_videos_only(scorer, tmp_path):
    """Fails if any evaluated video's prompt enters its fold's calibration."""
    from microgesture.emotion.reasoners.label_scoring import LabelScoringReasoner

    tls = load_imigue_timelines(write_synthetic_csv(tmp_path / "l.csv", n_videos=9, n_subjects=6))
    res = run_benchmark(tls, "train", {"score": lambda: LabelScoringReasoner(scorer, "batch")},
                        conditions=["context_only", "mg_only"], n_folds=3, n_boot=50,
                        builder_kw={"max_events": 2, "glossary": False, "summary": False})
    folds = {f.name: f for f in make_folds(tls, "train", n_folds=3)}
    preds = pd.DataFrame(res.predictions)
    assert set(preds["condition"]) == {"context_only", "mg_only"}  # a text reasoner runs in every condition
    mg = preds[preds["condition"] == "mg_only"].set_index("video_id")
    raw = {v: json.loads(x) for v, x in mg["raw"].items()}
    lo = {v: d["positive"] - d["negative"] for v, d in raw.items()}
    fitted = [f for f in res.info["fitted"] if f["arm"].startswith("score|mg_only")]
    assert len(fitted) == 3
    for f in fitted:
        fold = folds[f["fold"]]
        assert sorted(f["calibrated_on"]) == sorted(fold.train)
        assert not set(f["calibrated_on"]) & set(fold.eval)
        assert f["bias"]["mg_only"] == pytest.approx(np.mean([lo[v] for v in fold.train]))
        assert f["bias"]["mg_only"] != pytest.approx(np.mean([lo[v] for v in fold.train + fold.eval]))
        for v in fold.eval:  # every decision is the sign of the raw log-odds minus that fold's bias
            assert mg.loc[v, "label"] == ("positive" if lo[v] > f["bias"]["mg_only"] else "negative")
    ctx = res.table.set_index("condition")
    assert ctx.loc["context_only", "auc"] == pytest.approx(0.5)  # one prompt for every video: no ranking
    assert res.comparisons["comparison"].tolist() == ["with MG vs without MG"]


def test_cli_label_scoring(tmp_path, capsys):
    from microgesture.cli.main import main

    _need_llama()
    csv = write_synthetic_csv(tmp_path / "l.csv", n_videos=9, n_subjects=6)
    args = ["emotion", "benchmark", "--labels", str(csv), "-r", "llamacpp_score", "-c", "context_only", "--folds",
            "3", "--llm-threads", "1", "--out", str(tmp_path / "run"), "--json"]
    assert main(args) == 0
    res = json.loads(capsys.readouterr().out)
    (row,) = res["results"]
    assert row["reasoner"] == "llamacpp_score" and row["n"] == 9 and row["n_invalid"] == 0
    assert res["llm_stats"]["llamacpp_score"]["requests"] == 1  # the context-only prompt is the same for all
    assert main([*args, "--calibration", "platt"]) == 1
    assert "unknown calibration" in capsys.readouterr().err
