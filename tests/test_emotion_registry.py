"""The reasoner registry (names, options, errors), the benchmark on the official test split with a labels file
that has the test videos, and the CLI's listing."""

from __future__ import annotations

import json

import numpy as np
import pytest

from microgesture.cli.main import main
from microgesture.data.readers.imigue import EMOTION_TEST_VIDEOS, EMOTION_TRAIN_VIDEOS
from microgesture.emotion.reasoners.base import Prediction, Reasoner
from microgesture.emotion.reasoners.calibrated import CalibratedMGReasoner
from microgesture.emotion.reasoners.learned import BagOfMGReasoner, RandomReasoner
from microgesture.emotion.reasoners.registry import (
    create_reasoner,
    list_reasoners,
    reasoner_entry,
    register_reasoner,
)
from microgesture.errors import ConfigError
from test_emotion_learned import HEADER


def test_builtins_are_registered_with_descriptions():
    names = list_reasoners()
    for n in ("default", "mg_calibrated", "majority", "bag_hgb", "seq_gru", "gru_rf", "llamacpp", "llamacpp_score",
              "openai"):
        assert n in names and len(names[n]) > 20, n
    assert set(list_reasoners("llm")) == {"llamacpp", "llamacpp_score", "openai"}
    assert "won = positive" in names["default"] and reasoner_entry("default").kind == "default"


def test_create_passes_only_the_options_a_factory_takes():
    r = create_reasoner("random", seed=7, base_url="http://ignored", cache=None)
    assert isinstance(r, RandomReasoner) and r.seed == 7
    assert isinstance(create_reasoner("bag_hgb", seed=1), BagOfMGReasoner)
    assert isinstance(create_reasoner("mg_calibrated", seed=3, n_boot=5), CalibratedMGReasoner)
    with pytest.raises(ConfigError, match="unknown reasoner 'oracle'; choose from default"):
        create_reasoner("oracle")


class _Constant(Reasoner):
    name = "constant"

    def __init__(self, label: str = "positive"):
        self.label = label

    def predict(self, scenarios):
        return [Prediction(s.scenario_id, s.video_id, s.condition, self.label, True, "learned", score=1.0)
                for s in scenarios]


def test_register_your_own_reasoner():
    register_reasoner("test_constant", _Constant, "Always one label (a test reasoner).", replace=True)
    try:
        assert create_reasoner("test_constant", label="negative", seed=0).label == "negative"
        with pytest.raises(ConfigError, match="already registered"):
            register_reasoner("test_constant", _Constant, "again")
        with pytest.raises(ConfigError, match="letters, digits"):
            register_reasoner("bad name!", _Constant, "x")
    finally:
        from microgesture.emotion.reasoners import registry

        registry._REGISTRY.pop("test_constant", None)


def test_cli_lists_reasoners(capsys):
    assert main(["emotion", "reasoners", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["name"] for r in rows} >= {"default", "bag_hgb", "openai"}
    assert main(["emotion", "benchmark", "-r", "oracle", "--labels", __file__]) == 1
    assert "unknown reasoner 'oracle'" in capsys.readouterr().err


def write_full_labels(path, seed=0):
    """A labels file in iMiGUE's format holding training AND official test videos (as the full release does);
    winners steeple and lift the head, losers touch the face and bite their nails."""
    rng = np.random.default_rng(seed)
    rows = [HEADER]
    vids = sorted(EMOTION_TRAIN_VIDEOS)[:24] + sorted(EMOTION_TEST_VIDEOS)[:16]
    for i, vid in enumerate(vids):
        win = i % 2 == 0
        classes = [24, 27] if win else [9, 3]
        t = 0.0
        for k in range(int(rng.integers(10, 20))):
            cls = int(rng.choice(classes)) if rng.random() < 0.8 else 99
            t += float(rng.uniform(1, 8))
            rows.append(f"{vid},{k + 1},{t:.3f},{round(t * 25)},{t + 1.5:.3f},{round((t + 1.5) * 25)},{cls},"
                        f"{i % 10 + 1},M,Nowhere,{'Win' if win else 'Lose'}")
    path.write_text("\n".join(rows) + "\n")
    return path


def test_benchmark_on_the_official_test_split(tmp_path, capsys):
    csv = write_full_labels(tmp_path / "labels.csv")
    rc = main(["emotion", "benchmark", "--labels", str(csv), "--split", "test", "-r", "majority", "-r", "bag_rf",
               "-r", "mg_calibrated", "-r", "default", "-c", "mg_only", "--out", str(tmp_path / "run"), "--json"])
    res = json.loads(capsys.readouterr().out)
    assert rc == 0, res
    rows = {r["reasoner"]: r for r in res["results"]}
    assert set(rows) == {"majority", "bag_rf", "mg_calibrated", "default"}
    assert all(r["n"] == 16 for r in rows.values())  # every official test video in the file, scored once
    assert rows["bag_rf"]["accuracy"] >= 0.8 and rows["mg_calibrated"]["accuracy"] >= 0.8  # the signal is strong
    assert all(np.isfinite(rows[n]["brier"]) for n in ("bag_rf", "mg_calibrated", "default"))
    assert (tmp_path / "run" / "reliability.png").stat().st_size > 0
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert {v for f in run["folds"] for v in f["eval"]} == {str(v) for v in sorted(EMOTION_TEST_VIDEOS)[:16]}
    # the shipped model was fitted on the training split: scoring it there is refused, not silently leaked
    assert main(["emotion", "benchmark", "--labels", str(csv), "--split", "train", "-r", "default", "-c", "mg_only",
                 "--folds", "3", "--out", str(tmp_path / "run2")]) == 1
    assert "was fitted on the 'train' videos" in capsys.readouterr().err
