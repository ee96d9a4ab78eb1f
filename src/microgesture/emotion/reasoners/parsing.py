"""Turn an LLM reply into a validated answer, or an explicit failure.

Why: small or unconstrained models wrap JSON in prose or code fences, truncate it, or answer in words.
The ladder is: a schema-valid JSON object → a JSON object with a valid decision (the setting's key, e.g.
``valence``; other fields broken) → an unambiguous keyword → *invalid*. Each step is recorded in ``mode`` so
that reports count them. ``label`` is the decision's *pole* (``positive`` / ``negative``, what scores
compare); ``answer_label`` is the setting's own word ("relaxed", "tense"). Whether the evidence is grounded
in the timeline is a separate check (:mod:`..grounding`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from ..schema import LEVELS, answer_schema, validation_errors
from ..settings import Setting, get_setting

_DECODER = json.JSONDecoder()


@dataclass
class ParsedAnswer:
    mode: str  # schema | json_partial | keyword | invalid
    label: str | None  # the pole: positive | negative
    obj: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    answer_label: str | None = None  # the setting's word for it

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


def _normalise(obj: dict[str, Any], key: str) -> dict[str, Any]:
    out = {str(k).strip().lower(): v for k, v in obj.items()}
    for k in (key, "arousal"):
        if isinstance(out.get(k), str):
            out[k] = out[k].strip().lower()
    return out


def _keyword_patterns(s: Setting) -> tuple[re.Pattern[str], re.Pattern[str]]:
    words = "|".join(re.escape(x) for x in s.labels)
    return (re.compile(rf"{re.escape(s.key)}\W{{0,4}}({words})\b", re.IGNORECASE),
            re.compile(rf"\b({words})\b", re.IGNORECASE))


def parse_answer(text: str | None, setting: str | None = None, schema: dict[str, Any] | None = None) -> ParsedAnswer:
    """Parse a reply to a prompt of ``setting`` (default: the default setting), validated against ``schema``."""
    s = get_setting(setting)
    if not text or not text.strip():
        return ParsedAnswer("invalid", None, errors=["empty reply"])
    obj = first_json_object(text)
    if obj is not None:
        obj = _normalise(obj, s.key)
        errs = validation_errors(obj, schema or answer_schema(s.name))
        label = obj.get(s.key)
        if not errs:
            return ParsedAnswer("schema", s.pole(label), obj, answer_label=label)
        if s.pole(label) is not None:
            return ParsedAnswer("json_partial", s.pole(label), obj, errs, label)
    by_key, word = _keyword_patterns(s)
    m = by_key.search(text)
    if m:
        lab = m.group(1).lower()
        return ParsedAnswer("keyword", s.pole(lab), {}, [f"no schema-valid JSON; used '{s.key}: ...'"], lab)
    words = {w.lower() for w in word.findall(text)}
    if len(words) == 1:
        lab = words.pop()
        return ParsedAnswer("keyword", s.pole(lab), {}, [f"no schema-valid JSON; used the only {s.key} word"], lab)
    why = f"both {s.labels[0]!r} and {s.labels[1]!r} in reply" if len(words) == 2 else f"no {s.key} found in reply"
    return ParsedAnswer("invalid", None, obj or {}, [why])


def answer_fields(obj: dict[str, Any]) -> dict[str, Any]:
    """The optional fields of a (possibly partial) answer, type-checked, for a Prediction."""
    conf = obj.get("confidence")
    ev = obj.get("evidence")
    return {
        "arousal": obj.get("arousal") if obj.get("arousal") in LEVELS else None,
        "confidence": float(conf) if isinstance(conf, (int, float)) and 0 <= conf <= 1 else None,
        "evidence": list(ev)[:5] if isinstance(ev, list) else [],
        "rationale": str(obj.get("rationale", ""))[:1000],
    }
