"""Scenario builder: identity-free prompts, the three conditions, few-shot hygiene, summary statistics."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from microgesture.emotion.benchmark import load_imigue_timelines
from microgesture.emotion.descriptions import IMIGUE_DESCRIPTIONS, describe
from microgesture.emotion.scenario import CONDITIONS, SETTINGS, ScenarioBuilder, mmss, summarize
from microgesture.emotion.timeline import MGEvent, Timeline, timeline_from_predictions
from microgesture.errors import ConfigError, DataError


def _tl(vid: str, target: str, group: str, labels: list[tuple[float, float, str]]) -> Timeline:
    ev = [MGEvent(s, e, i, n) for i, (s, e, n) in enumerate(labels)]
    return Timeline(ev, 120.0, meta={"video_id": vid, "target": target, "group": group})


def test_every_imigue_class_has_a_description():
    from microgesture.data.readers.imigue import IMIGUE_CLASS_NAMES

    assert len(IMIGUE_DESCRIPTIONS) == 32
    for name in IMIGUE_CLASS_NAMES:
        assert describe(name).reading and "No established" not in describe(name).reading, name
    assert not describe("illustrative (non-MG)").is_micro_gesture
    assert "No established" in describe("levitate").reading


def test_timeline_refuses_identity_metadata():
    with pytest.raises(ValueError, match="identity"):
        Timeline([], 10.0, meta={"video_id": "1", "nationality": "France"})


def test_real_prompts_are_identity_free(imigue_labels_csv):
    raw = pd.read_csv(imigue_labels_csv)
    tls = load_imigue_timelines(imigue_labels_csv)
    vids = ["298", "371", "1", "7"]
    pool = [t for t in tls.values() if t.meta["split"] == "train"]
    nationalities = set(raw["subject_nationality"].astype(str))
    for vid in vids:
        row = raw[raw["video_id"] == int(vid)].iloc[0]
        for cond in CONDITIONS:
            sc = ScenarioBuilder(condition=cond, few_shot=2, pool=pool).build(tls[vid])
            text = "\n".join(m["content"] for m in sc.messages)
            assert not any(n in text for n in nationalities), (vid, cond)
            assert not re.search(r"\b(subject|gender|nationality|male|female)\b", text, re.IGNORECASE)
            assert f"subject {row['subject_id']}" not in text.lower()
            assert "win" not in text.lower().split() and "lose" not in text.lower().split()
            assert tls[vid].target not in ("", None)
            assert vid not in sc.few_shot_ids


def test_conditions_render_what_they_promise():
    tl = _tl("5", "positive", "g1", [(3.0, 4.5, "bite nails"), (8.0, 9.0, "touch face"), (70, 71, "head up")])
    ctx = SETTINGS["press_conference"].context
    texts = {c: ScenarioBuilder(condition=c, setting="press_conference").build(tl).messages[1]["content"]
             for c in CONDITIONS}
    assert ctx in texts["context_only"] and "bite nails" not in texts["context_only"]
    assert ctx not in texts["mg_only"] and "e1 00:03 (1.5 s) bite nails" in texts["mg_only"]
    assert not re.search(r"tennis|match|press|interview", texts["mg_only"], re.IGNORECASE)
    assert ctx in texts["context_mg"] and "e3 01:10 (1.0 s) head up" in texts["context_mg"]
    assert "Gesture glossary" in texts["context_mg"] and describe("bite nails").movement in texts["context_mg"]
    for t in texts.values():
        assert "valence" in t and "JSON" in t
    extra = ScenarioBuilder(condition="context_mg", extra_context="The interview was short.").build(tl)
    assert "Additional context: The interview was short." in extra.messages[1]["content"]
    interview = ScenarioBuilder(condition="context_mg", setting="job_interview").build(tl)
    assert SETTINGS["job_interview"].context in interview.messages[1]["content"]
    with pytest.raises(ConfigError):
        ScenarioBuilder(condition="nonsense")


def test_long_timelines_are_truncated_but_summarised():
    ev = [(float(i), i + 0.5, "touch face") for i in range(0, 200, 2)]
    tl = _tl("9", "negative", "g", ev)
    text = ScenarioBuilder(condition="mg_only", max_events=10).build(tl).messages[1]["content"]
    assert "90 later events omitted" in text and "100 events" in text


def test_few_shot_examples_come_from_other_people_only():
    pool = [_tl(str(i), "positive" if i % 2 else "negative", f"p{i % 4}", [(1, 2, "touch face")])
            for i in range(1, 13)]
    target = pool[0]  # group p1
    sc = ScenarioBuilder(condition="context_mg", few_shot=4, pool=pool).build(target)
    assert len(sc.few_shot_ids) == 4 and "1" not in sc.few_shot_ids
    chosen = [t for t in pool if t.video_id in sc.few_shot_ids]
    assert all(t.group != target.group for t in chosen)
    assert {t.target for t in chosen} == {"positive", "negative"}
    assert sc.messages[1]["content"].count("Answer: valence =") == 4
    again = ScenarioBuilder(condition="context_mg", few_shot=4, pool=pool).build(target)
    assert again.messages == sc.messages  # deterministic


def test_summary_rates_and_bursts():
    tl = _tl("1", "positive", "g", [(0, 1, "touch face"), (5, 6, "touch face"), (9, 10, "bite nails"),
                                    (60, 62, "illustrative (non-MG)"), (100, 101, "head up")])
    s = summarize(tl, burst_window_s=10)
    assert s.n_events == 5 and s.n_mg == 4 and s.n_non_mg == 1
    assert s.mg_per_minute == pytest.approx(4 / 2.0)
    assert s.top[0] == ("touch face", 2, 2.0)
    assert len(s.bursts) == 1 and s.bursts[0][:3] == (0.0, 10.0, 3)
    assert mmss(125.4) == "02:05"


def test_timeline_from_predicted_events(tmp_path):
    df = pd.DataFrame({"start": [1.0, 0.2], "end": [2.0, 0.9], "label": [3, 9],
                       "label_name": ["touch face", "bite nails"], "score": [0.9, 0.3]})
    tl = timeline_from_predictions(df, meta={"video_id": "x"}, min_score=0.0)
    assert [e.label for e in tl.events] == [9, 3] and tl.events[0].source == "predicted"
    text = ScenarioBuilder(condition="mg_only", mg_source="predicted").build(tl).messages[1]["content"]
    assert "[p=0.30]" in text
    assert len(timeline_from_predictions(df, min_score=0.5).events) == 1
    bad = tmp_path / "bad.csv"
    df.assign(end=[0.5, 0.1]).to_csv(bad, index=False)
    with pytest.raises(DataError, match="end < start") as e:
        timeline_from_predictions(bad)
    assert str(bad) in str(e.value)
    with pytest.raises(DataError, match="lack columns"):
        timeline_from_predictions(df.drop(columns="score"))


def test_every_synthetic_demo_class_has_a_real_description():
    from microgesture.data.synthetic import CLASS_NAMES
    from microgesture.emotion.descriptions import category, describe

    for name in CLASS_NAMES:
        d = describe(name)
        assert "No established reading" not in d.reading, name
        assert category(name) is not None, name
