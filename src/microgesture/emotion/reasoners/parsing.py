"""Turn an LLM reply into a validated answer, or an explicit failure.

Why: small or unconstrained models wrap JSON in prose or code fences, truncate it, or answer in words.
The ladder is: a schema-valid JSON object → a JSON object with a valid ``valence`` (other fields broken)
→ an unambiguous keyword → *invalid*. Each step is recorded in ``mode`` so that reports count them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from ..schema import LEVELS, VALENCES, validation_errors

_DECODER = json.JSONDecoder()
_VALENCE_KEY = re.compile(r"valence\W{0,4}(positive|negative)\b", re.IGNORECASE)
_WORD = re.compile(r"\b(positive|negative)\b", re.IGNORECASE)


@dataclass
class ParsedAnswer:
    mode: str  # schema | json_partial | keyword | invalid
    label: str | None
    obj: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return self.label is not None


def first_json_object(text: str) -> dict[str, Any] | None:
    """The first decodable JSON object in ``text`` (prose and code fences around it are ignored)."""
    for m in re.finditer(r"\{", text):
        try:
            obj, _ = _DECODER.raw_decode(text, m.start())
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict):
            return obj
    return None


def _normalise(obj: dict[str, Any]) -> dict[str, Any]:
    out = {str(k).strip().lower(): v for k, v in obj.items()}
    for key in ("valence", "arousal"):
        if isinstance(out.get(key), str):
            out[key] = out[key].strip().lower()
    return out


def parse_answer(text: str | None) -> ParsedAnswer:
    if not text or not text.strip():
        return ParsedAnswer("invalid", None, errors=["empty reply"])
    obj = first_json_object(text)
    if obj is not None:
        obj = _normalise(obj)
        errs = validation_errors(obj)
        if not errs:
            return ParsedAnswer("schema", obj["valence"], obj)
        if obj.get("valence") in VALENCES:
            return ParsedAnswer("json_partial", obj["valence"], obj, errs)
    m = _VALENCE_KEY.search(text)
    if m:
        return ParsedAnswer("keyword", m.group(1).lower(), {}, ["no schema-valid JSON; used 'valence: ...'"])
    words = {w.lower() for w in _WORD.findall(text)}
    if len(words) == 1:
        return ParsedAnswer("keyword", words.pop(), {}, ["no schema-valid JSON; used the only valence word"])
    why = "both 'positive' and 'negative' in reply" if len(words) == 2 else "no valence found in reply"
    return ParsedAnswer("invalid", None, obj or {}, [why])


def answer_fields(obj: dict[str, Any]) -> dict[str, Any]:
    """The optional fields of a (possibly partial) answer, type-checked, for a Prediction."""
    conf = obj.get("confidence")
    ev = obj.get("evidence")
    return {
        "arousal": obj.get("arousal") if obj.get("arousal") in LEVELS else None,
        "confidence": float(conf) if isinstance(conf, (int, float)) and 0 <= conf <= 1 else None,
        "evidence": [str(x) for x in ev][:5] if isinstance(ev, list) else [],
        "rationale": str(obj.get("rationale", ""))[:1000],
    }
