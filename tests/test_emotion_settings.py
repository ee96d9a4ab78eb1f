"""Each setting words its question and its answer (schema labels), and answers parse to the right pole."""

from __future__ import annotations

import json
import re

import pytest

from microgesture.emotion.reasoners.parsing import parse_answer
from microgesture.emotion.scenario import ScenarioBuilder
from microgesture.emotion.schema import answer_schema, validation_errors
from microgesture.emotion.settings import DEFAULT_SETTING, SETTINGS, get_setting
from microgesture.emotion.timeline import MGEvent, Timeline
from microgesture.errors import ConfigError

TL = Timeline([MGEvent(3.0, 4.5, 1, "touch face"), MGEvent(12.0, 13.0, 5, "hands together")], 90.0,
              meta={"video_id": "x"})


def test_the_default_is_a_neutral_conversation_about_valence_and_arousal():
    assert DEFAULT_SETTING == "conversation" and TL.setting == "conversation"
    text = ScenarioBuilder().build(TL).messages[1]["content"]
    assert SETTINGS["conversation"].context in text and "arousal" in text
    assert not re.search(r"tennis|match|press|won|lost|player|journalist", text, re.IGNORECASE)


@pytest.mark.parametrize("name", list(SETTINGS))
def test_each_setting_words_its_question_and_answer(name):
    s = SETTINGS[name]
    sc = ScenarioBuilder(condition="context_mg", setting=name).build(TL)
    text = sc.messages[1]["content"]
    assert s.context in text and s.question in text
    assert f'"{s.labels[0]}" ({s.meanings[0]})' in text and f'"{s.labels[1]}" ({s.meanings[1]})' in text
    assert ("arousal" in text) == s.asks_arousal
    assert "e1 00:03 (1.5 s) touch face" in text and "event_id" in text
    schema = sc.schema
    assert list(schema["properties"])[0] == s.key and schema["properties"][s.key]["enum"] == list(s.labels)
    assert ("arousal" in schema["properties"]) == s.asks_arousal
    answer = {s.key: s.labels[1], **({"arousal": "high"} if s.asks_arousal else {}), "confidence": 0.6,
              "evidence": [{"event_id": "e2", "time": "00:12", "class": "hands together", "reading": "restraint"}],
              "rationale": "Hands held together suggest restraint."}
    assert not validation_errors(answer, schema)
    a = parse_answer(json.dumps(answer), name, schema)
    assert a.mode == "schema" and a.label == "negative" and a.answer_label == s.labels[1]
    wrong = {**answer, "evidence": [{**answer["evidence"][0], "event_id": "e7"}]}
    assert validation_errors(wrong, schema)  # constrained decoding cannot cite an id that was not listed
    kw = parse_answer(f"I would say {s.labels[0]}.", name)
    assert kw.mode == "keyword" and kw.label == "positive"


def test_press_conference_asks_won_or_lost_and_stress_test_relaxed_or_stressed():
    pc = ScenarioBuilder(setting="press_conference").build(TL).messages[1]["content"]
    assert "won the match" in pc and "lost the match" in pc
    st = answer_schema("stress_test")
    assert st["properties"]["state"]["enum"] == ["relaxed", "stressed"] and "arousal" not in st["properties"]
    assert get_setting("stress_test").pole("stressed") == "negative"
    with pytest.raises(ConfigError, match="unknown setting"):
        get_setting("tea_party")
    with pytest.raises(ConfigError):
        ScenarioBuilder(setting="tea_party")


def test_mg_only_never_shows_the_setting_and_asks_valence():
    sc = ScenarioBuilder(condition="mg_only", setting="job_interview").build(TL)
    text = sc.messages[1]["content"]
    assert "interview" not in text.lower() and sc.setting == "conversation" and "valence" in text
