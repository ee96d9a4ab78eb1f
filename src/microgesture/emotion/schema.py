"""The structured answer every LLM reasoner is asked for, as a JSON schema, and its validation.

Why: free-text answers are ambiguous to score. Servers that support schema-constrained decoding get this
schema (``response_format``); for the rest, :mod:`.reasoners.parsing` extracts and validates the same shape.
``valence`` comes first so that a model commits to the decision before writing its rationale.
"""

from __future__ import annotations

import functools
from typing import Any

import jsonschema

VALENCES = ("positive", "negative")
LEVELS = ("low", "medium", "high")

ANSWER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "valence": {"type": "string", "enum": list(VALENCES)},
        "arousal": {"type": "string", "enum": list(LEVELS)},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        "evidence": {"type": "array", "items": {"type": "string", "maxLength": 60}, "maxItems": 5},
        "rationale": {"type": "string", "maxLength": 300},
    },
    "required": ["valence", "arousal", "confidence", "evidence", "rationale"],
    "additionalProperties": False,
}


@functools.lru_cache(maxsize=1)
def _validator() -> jsonschema.protocols.Validator:
    cls = jsonschema.validators.validator_for(ANSWER_SCHEMA)
    cls.check_schema(ANSWER_SCHEMA)
    return cls(ANSWER_SCHEMA)


def validation_errors(obj: Any) -> list[str]:
    """Human-readable schema violations of ``obj`` (empty when valid)."""
    return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
            for e in sorted(_validator().iter_errors(obj), key=lambda e: list(e.absolute_path))]


def is_valid(obj: Any) -> bool:
    return not validation_errors(obj)
