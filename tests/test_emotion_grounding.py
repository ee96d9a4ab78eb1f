"""The grounding validator on crafted answers, and an ungrounded LLM answer end to end (a real HTTP server):
reported as "no usable reading", raw text kept, nothing shown as evidence."""

from __future__ import annotations

import json

import pytest

from microgesture.emotion.grounding import EchoIndex, ground_answer
from microgesture.emotion.reading import NO_USABLE, read_emotion
from microgesture.emotion.scenario import ScenarioBuilder
from microgesture.emotion.timeline import MGEvent, Timeline
from test_emotion_openai import ScriptedServer


def _timeline(setting: str = "conversation") -> Timeline:
    ev = [MGEvent(3.0, 4.5, 1, "touch face", evidence={"text": "right hand within 0.21 shoulder widths of the chin"}),
          MGEvent(12.0, 13.0, 5, "hands together"), MGEvent(70.0, 71.0, 12, "head up")]
    return Timeline(ev, 120.0, setting=setting, meta={"video_id": "v"})


@pytest.fixture
def scenario():
    return ScenarioBuilder(condition="context_mg", setting="press_conference").build(_timeline())


def _check(answer, sc):
    echo = EchoIndex.of([*(m["content"] for m in sc.messages), json.dumps(sc.schema)])
    return ground_answer(answer, sc.shown, echo)


GOOD = {"valence": "negative", "arousal": "medium", "confidence": 0.55,
        "evidence": [{"event_id": "e1", "time": "00:03", "class": "touch face", "reading": "a self-soothing touch"},
                     {"event_id": "e2", "time": "00:12", "class": "hands together", "reading": "holding still"}],
        "rationale": "Repeated self-touch early on hints at unease that eases later."}


def test_a_grounded_answer_is_usable_and_carries_the_timelines_facts(scenario):
    g = _check(GOOD, scenario)
    assert g.usable and not g.problems and [e["event_id"] for e in g.evidence] == ["e1", "e2"]
    assert g.evidence[0]["start"] == 3.0 and g.evidence[0]["class"] == "touch face"
    assert g.evidence[0]["measured"].startswith("right hand within")


@pytest.mark.parametrize("rationale", ["The player most likely won the match.",
                                       "one or two sentences in your own words",
                                       "Infer the player's hidden emotional state during the press conference."])
def test_echoed_rationales_are_rejected(scenario, rationale):
    g = _check({**GOOD, "rationale": rationale}, scenario)
    assert not g.usable and any("repeats the prompt" in p for p in g.problems)


@pytest.mark.parametrize("rationale", ["", "   "])
def test_empty_rationales_are_rejected(scenario, rationale):
    g = _check({**GOOD, "rationale": rationale}, scenario)
    assert not g.usable and "empty rationale" in g.problems


@pytest.mark.parametrize("rationale", ["1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1", "1, 8.1, 9.1, 10.1, 11.1",
                                       "The person is very happy and they are very happy to talk about their life "
                                       "and their life is very happy and they are very happy to talk about their "
                                       "life and their life is very happy"])
def test_degenerate_rationales_are_rejected(scenario, rationale):
    g = _check({**GOOD, "rationale": rationale}, scenario)
    assert not g.usable and any("degenerate" in p for p in g.problems)


@pytest.mark.parametrize("evidence,why", [
    (["empty if none", "evidence of evidence"], "cites no event"),
    ([{"event_id": "e9", "time": "00:03", "class": "touch face", "reading": "x y z"}], "e9 is not an event"),
    ([{"event_id": "e1", "time": "00:03", "class": "head up", "reading": "x y z"}], "cited as 'head up'"),
    ([{"event_id": "e1", "time": "01:40", "class": "touch face", "reading": "x y z"}], "cited at '01:40'"),
    ([{"event_id": "e1", "time": "00:03", "class": "touch face", "reading": "what it suggests in this case"}],
     "repeats the prompt"),
    ([{"time": "00:03", "class": "touch face", "reading": "x"}], "cites no event id"),
])
def test_absent_or_fabricated_citations_are_rejected(scenario, evidence, why):
    g = _check({**GOOD, "evidence": [GOOD["evidence"][0], *evidence]}, scenario)  # one good item does not rescue it
    assert not g.usable and any(why in r["why"] for r in g.rejected), g.rejected


def test_an_answer_that_cites_nothing_is_not_grounded(scenario):
    g = _check({**GOOD, "evidence": []}, scenario)
    assert not g.usable and "the evidence cites no event" in g.problems
    assert not _check(None, scenario).usable


def test_events_beyond_the_listed_ones_cannot_be_cited():
    sc = ScenarioBuilder(condition="mg_only", max_events=2).build(_timeline())
    assert list(sc.shown) == ["e1", "e2"] and sc.schema["properties"]["evidence"]["items"]["properties"][
        "event_id"]["enum"] == ["e1", "e2"]
    item = {"event_id": "e3", "time": "01:10", "class": "head up", "reading": "pride"}
    assert not _check({**GOOD, "evidence": [item]}, sc).usable


@pytest.mark.parametrize("answer,status", [
    ({"valence": "positive", "arousal": "high", "confidence": 0.5,
      "evidence": [{"event_id": "e1", "time": "00:03", "class": "touch face", "reading": "empty if none"}],
      "rationale": "The player most likely won the match."}, "no usable reading"),
    ({**GOOD, "valence": "negative"}, "ok"),
])
def test_read_emotion_reports_ungrounded_llm_answers_as_no_usable_reading(monkeypatch, answer, status):
    import test_emotion_openai as t

    monkeypatch.setattr(t, "ANSWER", answer)
    with ScriptedServer(["fixed"]) as srv:
        out = read_emotion(_timeline(), setting="press_conference", reasoner="openai", base_url=srv.url, model="m",
                           max_retries=0)
    assert out["status"] == status, out
    assert out["raw"] and json.loads(out["raw"])["rationale"] == answer["rationale"]  # raw reply kept
    assert out["reasoner"]["name"] == "openai" and out["reasoner"]["how_sure"]["level"] == "uncalibrated"
    if status == "ok":
        assert [e["event_id"] for e in out["evidence"]] == ["e1", "e2"] and out["valence"] == "negative"
    else:
        assert out["evidence"] == [] and out["error"] == NO_USABLE and out["problems"]
        assert out["label"] is None and out["valence"] is None


def test_grounding_rates_count_rejections_and_their_reasons(monkeypatch):
    import test_emotion_openai as t
    from microgesture.emotion.grounding_study import grounding_rates

    monkeypatch.setattr(t, "ANSWER", {**GOOD, "evidence": [{**GOOD["evidence"][0], "event_id": "e9"}],
                                      "rationale": "one or two sentences in your own words"})
    tls = [_timeline(), _timeline()]
    with ScriptedServer(["fixed"]) as srv:
        table, readings = grounding_rates({"crafted": tls}, ["conversation", "job_interview"], "openai",
                                          base_url=srv.url, model="m", max_retries=0)
    conv, job = table.to_dict("records")
    assert conv["answered"] == 2 and conv["rejected"] == 2 and conv["rejection_rate"] == 1.0
    assert conv["reason: cites an absent event"] == 2 and conv["reason: echoes the prompt"] == 2
    # "valence" is not the job interview's answer key: answered, but not in the setting's labels
    assert job["rejected"] == 2 and job["reason: no decision in the setting's labels"] == 2
    assert len(readings) == 4 and all(r["raw"] for r in readings[:2])
