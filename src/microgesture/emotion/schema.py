"""The structured answer every LLM reasoner is asked for, as a JSON schema per setting, and its validation.

Why: free-text answers are ambiguous to score, and evidence that cites nothing cannot be checked. Each
setting has its own decision key and labels (``settings.py``); every evidence item cites one event of the
timeline by its id (``e3``), start time and class, so :mod:`.grounding` can check it against the timeline.
Servers that support schema-constrained decoding get the schema (``response_format``) — with the shown
event ids and classes as enums when a timeline is known; for the rest, :mod:`.reasoners.parsing` extracts
and validates the same shape. The decision key comes first so a model commits before writing its rationale.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from typing import Any

import jsonschema

from .settings import DEFAULT_SETTING, LEVELS, get_setting

VALENCES = ("positive", "negative")
MAX_EVIDENCE = 5
EVIDENCE_FIELDS = ("event_id", "time", "class", "reading")

__all__ = ["ANSWER_SCHEMA", "LEVELS", "VALENCES", "answer_schema", "is_valid", "validation_errors"]


def answer_schema(setting: str | None = None, event_ids: Sequence[str] | None = None,
                  classes: Sequence[str] | None = None) -> dict[str, Any]:
    """The answer schema of ``setting``; with ``event_ids`` / ``classes``, evidence may cite only those."""
    s = get_setting(setting)
    ev_id: dict[str, Any] = {"type": "string", "pattern": "^e[0-9]+$"}
    if event_ids:
        ev_id = {"type": "string", "enum": list(event_ids)}
    cls: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": 60}
    if classes:
        cls = {"type": "string", "enum": list(dict.fromkeys(classes))}
    props: dict[str, Any] = {s.key: {"type": "string", "enum": list(s.labels)}}
    if s.asks_arousal:
        props["arousal"] = {"type": "string", "enum": list(LEVELS)}
    props["confidence"] = {"type": "number", "minimum": 0, "maximum": 1}
    # no more items than listed events: a small model otherwise pads the list with repeats
    props["evidence"] = {"type": "array", "maxItems": min(MAX_EVIDENCE, len(event_ids)) if event_ids else MAX_EVIDENCE,
                         "items": {
        "type": "object",
        "properties": {"event_id": ev_id, "time": {"type": "string", "pattern": "^[0-9]{2,3}:[0-5][0-9]$"},
                       "class": cls, "reading": {"type": "string", "minLength": 1, "maxLength": 80}},
        "required": list(EVIDENCE_FIELDS), "additionalProperties": False}}
    props["rationale"] = {"type": "string", "minLength": 1, "maxLength": 240}
    return {"type": "object", "properties": props, "required": list(props), "additionalProperties": False}


ANSWER_SCHEMA: dict[str, Any] = answer_schema(DEFAULT_SETTING)


@functools.lru_cache(maxsize=64)
def _validator(schema_json: str) -> jsonschema.protocols.Validator:
    schema = json.loads(schema_json)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def validation_errors(obj: Any, schema: dict[str, Any] | None = None) -> list[str]:
    """Human-readable schema violations of ``obj`` (empty when valid); default: the default setting's schema."""
    v = _validator(json.dumps(schema or ANSWER_SCHEMA, sort_keys=True))
    return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
            for e in sorted(v.iter_errors(obj), key=lambda e: list(e.absolute_path))]


def is_valid(obj: Any, schema: dict[str, Any] | None = None) -> bool:
    return not validation_errors(obj, schema)
