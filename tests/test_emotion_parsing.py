"""Parsing LLM replies and validating them against the answer schema; the response cache."""

from __future__ import annotations

import json
import sqlite3

import pytest

from microgesture.emotion.cache import ResponseCache, cache_key
from microgesture.emotion.reasoners.parsing import first_json_object, parse_answer
from microgesture.emotion.schema import ANSWER_SCHEMA, is_valid, validation_errors
from microgesture.errors import DataError

GOOD = {"valence": "negative", "arousal": "high", "confidence": 0.7,
        "evidence": [{"event_id": "e1", "time": "00:03", "class": "bite nails", "reading": "tension"}],
        "rationale": "Frequent self-touch."}


def test_schema_validation():
    assert is_valid(GOOD)
    assert validation_errors({**GOOD, "valence": "happy"})[0].startswith("valence:")
    assert any("confidence" in e for e in validation_errors({**GOOD, "confidence": 1.5}))
    assert any("additional" in e.lower() for e in validation_errors({**GOOD, "extra": 1}))
    assert list(ANSWER_SCHEMA["properties"])[0] == "valence"


@pytest.mark.parametrize("text", [
    json.dumps(GOOD),
    "Sure! Here is my answer:\n```json\n" + json.dumps(GOOD, indent=2) + "\n```\nHope it helps.",
    '{"note": [1, 2' + " " + json.dumps(GOOD),  # a broken object first, then a good one
])
def test_schema_valid_answers(text):
    a = parse_answer(text)
    assert a.mode == "schema" and a.label == "negative" and a.valid


def test_partial_json_keeps_the_label_and_records_the_errors():
    a = parse_answer('{"Valence": "Positive", "confidence": "very"}')
    assert a.mode == "json_partial" and a.label == "positive" and a.errors


@pytest.mark.parametrize("text,label", [
    ("Valence: negative. The player seems tense.", "negative"),
    ("I think the emotional state is positive overall.", "positive"),
])
def test_keyword_fallback(text, label):
    a = parse_answer(text)
    assert a.mode == "keyword" and a.label == label


@pytest.mark.parametrize("text", ["", "   ", "<html>502 Bad Gateway</html>",
                                  "It could be positive or negative.", '{"valence": "neutral"}',
                                  '{"valence": "posi'])
def test_unusable_answers_are_invalid_not_guessed(text):
    a = parse_answer(text)
    assert a.mode == "invalid" and a.label is None and not a.valid and a.errors


def test_first_json_object_ignores_arrays_and_prose():
    assert first_json_object('[1, 2] then {"a": {"b": 1}} and {"c": 2}') == {"a": {"b": 1}}
    assert first_json_object("no json") is None


def test_cache_roundtrip_no_duplicates_and_persistence(tmp_path):
    p = tmp_path / "c.sqlite"
    msgs = [{"role": "user", "content": "hi"}]
    k = cache_key("m", msgs, {"temperature": 0})
    assert k != cache_key("m", msgs, {"temperature": 0.1}) != cache_key("m2", msgs, {"temperature": 0})
    assert k == cache_key("m", [dict(msgs[0])], {"temperature": 0})
    with ResponseCache(p) as c:
        assert c.get(k) is None
        assert c.put(k, "m", {"text": "first"})
        assert not c.put(k, "m", {"text": "second"})
        assert c.get(k) == {"text": "first"} and len(c) == 1
    with ResponseCache(p) as c:
        assert c.get(k) == {"text": "first"}
    with sqlite3.connect(p) as db:
        assert db.execute("SELECT COUNT(*) FROM responses").fetchone()[0] == 1


def test_corrupt_cache_file_is_a_data_error(tmp_path):
    p = tmp_path / "bad.sqlite"
    p.write_bytes(b"this is not a database" * 100)
    with pytest.raises(DataError, match="bad.sqlite"):
        ResponseCache(p)
