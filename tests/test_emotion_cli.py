"""``microgesture emotion benchmark|scenario`` end to end, in-process."""

from __future__ import annotations

import json

import pandas as pd

from microgesture.cli.main import main
from test_emotion_learned import write_synthetic_csv
from test_emotion_openai import ScriptedServer


def test_scenario_command_prints_the_prompt(imigue_labels_csv, capsys):
    raw = pd.read_csv(imigue_labels_csv)
    rc = main(["emotion", "scenario", "298", "--labels", str(imigue_labels_csv), "--condition", "context_mg",
               "--few-shot", "2", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and out["video_id"] == "298" and len(out["few_shot_ids"]) == 2
    text = out["messages"][1]["content"]
    assert "press conference" in text and "Timeline" in text
    assert not any(n in text for n in set(raw["subject_nationality"]))
    rc = main(["emotion", "scenario", "298", "--labels", str(imigue_labels_csv), "-c", "context_only"])
    human = capsys.readouterr().out
    assert rc == 0 and "--- system ---" in human and "Timeline" not in human


def test_scenario_from_predicted_events(tmp_path, capsys):
    csv = write_synthetic_csv(tmp_path / "labels.csv")
    pred = tmp_path / "pred.csv"
    pd.DataFrame({"start": [2.0], "end": [3.5], "label": [9], "label_name": ["bite nails"],
                  "score": [0.8]}).to_csv(pred, index=False)
    rc = main(["emotion", "scenario", "1", "--labels", str(csv), "--predictions", str(pred), "-c", "mg_only",
               "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and out["mg_source"] == "predicted" and "bite nails [p=0.80]" in out["messages"][1]["content"]


def test_benchmark_command_writes_tables_and_plot(tmp_path, capsys):
    csv = write_synthetic_csv(tmp_path / "labels.csv")
    out = tmp_path / "run"
    rc = main(["emotion", "benchmark", "--labels", str(csv), "-r", "majority", "-r", "bag_lr", "-c", "mg_only",
               "--folds", "3", "--out", str(out), "--json"])
    res = json.loads(capsys.readouterr().out)
    assert rc == 0, res
    assert {r["reasoner"] for r in res["results"]} == {"majority", "bag_lr"}
    for name in ("results.csv", "results.md", "comparisons.csv", "predictions.jsonl", "run.json", "accuracy.png"):
        assert (out / name).stat().st_size > 0, name
    assert "| bag_lr | mg_only |" in (out / "results.md").read_text()


def test_llm_benchmark_through_a_server_resumes_from_cache(tmp_path, capsys):
    csv = write_synthetic_csv(tmp_path / "labels.csv", n_videos=12, n_subjects=6)
    args = ["emotion", "benchmark", "--labels", str(csv), "-r", "openai", "-c", "context_only", "-c", "mg_only",
            "--folds", "3", "--out", str(tmp_path / "run"), "--model", "m", "--json"]
    with ScriptedServer(["ok"]) as srv:
        assert main([*args, "--base-url", srv.url]) == 0
        first = json.loads(capsys.readouterr().out)
        n_first = len(srv.requests)
        assert main([*args, "--base-url", srv.url]) == 0
        second = json.loads(capsys.readouterr().out)
    assert n_first == 1 + 12  # context-only prompts are identical: sent once; one per video with MGs
    assert len(srv.requests) == n_first  # the rerun is served from the cache
    assert second["llm_stats"]["openai"]["cache_hits"] == 24 and second["llm_stats"]["openai"]["requests"] == 0
    assert [r["accuracy"] for r in first["results"]] == [r["accuracy"] for r in second["results"]]
    assert {c["comparison"] for c in first["comparisons"]} == {"with MG vs without MG"}


def test_user_errors_are_one_line(imigue_labels_csv, capsys, tmp_path):
    assert main(["emotion", "benchmark", "--labels", str(imigue_labels_csv), "--split", "test",
                 "--out", str(tmp_path)]) == 1
    assert "withholds" in capsys.readouterr().err
    assert main(["emotion", "benchmark", "--labels", str(tmp_path / "missing.csv")]) == 1
    assert "not found" in capsys.readouterr().err
    assert main(["emotion", "scenario", "99999", "--labels", str(imigue_labels_csv)]) == 1
    assert "not in the annotations" in capsys.readouterr().err
