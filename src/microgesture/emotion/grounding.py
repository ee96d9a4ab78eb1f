"""Is an LLM's answer grounded in the timeline it was shown? The check behind every evidence line in a report.

Why: a small model asked for evidence writes "empty if none" or "evidence of evidence" (words of the
prompt), and a rationale about "the match" for a video of a lecture. Shown as evidence, that misleads a
reader. An answer is *usable* only if:

- its rationale is not empty and is the model's own words, not an echo of the prompt or the answer format
  (most of its word 4-grams, or all of a short one, appear in the prompt or schema text), nor degenerate text
  (fewer than 3 words with letters — "1.1.1.1..." — or a loop that repeats most of its word 3-grams);
- every evidence item cites a listed event by id, and its start time (within 1.5 s, as mm:ss rounds) and
  class agree with that event; an item that is a bare string, cites nothing, or cites an id that was not
  listed is *fabricated* and makes the whole answer unusable (a model that invents one citation cannot be
  trusted on the others); an item whose "reading" echoes the instructions is rejected the same way;
- at least one item is valid when events were listed (an answer that cites nothing is not grounded).

Grounded items are returned with the *timeline's* facts (id, start, end, class, the detector's evidence
text) — the report shows those, never the model's copy of them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .schema import EVIDENCE_FIELDS
from .timeline import MGEvent

TIME_TOLERANCE_S = 1.5
ECHO_SHARE = 0.5
_WORDS = re.compile(r"[a-z0-9]+")
# phrases of the answer format that models copy instead of answering (kept with the format's own wording)
FORMAT_PHRASES = ("empty if none", "evidence of evidence", "one or two sentences", "in your own words",
                  "what it suggests in this case", "listed events you relied on", "copied from the timeline",
                  "a number from 0 to 1")


def _words(text: str) -> list[str]:
    return _WORDS.findall(text.lower())


def _grams(words: list[str], n: int = 4) -> set[tuple[str, ...]]:
    return {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}


@dataclass
class EchoIndex:
    """Word 4-grams and the normalised text of everything the model was shown (prompt + schema)."""

    grams: set[tuple[str, ...]]
    text: str

    @classmethod
    def of(cls, texts: Iterable[str]) -> EchoIndex:
        words = [w for t in (*texts, *FORMAT_PHRASES) for w in (*_words(t), "|")]  # "|": no grams across texts
        return cls(_grams(words), " ".join(w for w in words if w != "|"))

    def is_echo(self, text: str) -> bool:
        words = _words(text)
        if not words:
            return False
        g = _grams(words)
        if g:
            return sum(x in self.grams for x in g) / len(g) >= ECHO_SHARE
        return " ".join(words) in self.text and len(" ".join(words)) >= 8  # a short phrase copied verbatim


@dataclass
class Grounding:
    usable: bool
    problems: list[str] = field(default_factory=list)
    evidence: list[dict[str, Any]] = field(default_factory=list)  # grounded items, with the timeline's facts
    rejected: list[dict[str, Any]] = field(default_factory=list)  # {item, why}

    def to_dict(self) -> dict[str, Any]:
        return {"usable": self.usable, "problems": list(self.problems), "evidence": list(self.evidence),
                "rejected": list(self.rejected)}


def degenerate(text: str) -> str:
    """Why ``text`` is not prose (empty string when it is): too few words with letters, or a repeating loop."""
    words = _words(text)
    if sum(any(c.isalpha() for c in w) for w in words) < 3:
        return "fewer than 3 words"
    tri = [tuple(words[i:i + 3]) for i in range(len(words) - 2)]
    if len(tri) >= 10 and len(set(tri)) / len(tri) < 0.6:
        return "it repeats itself"
    return ""


def _mmss_to_s(t: str) -> float | None:
    m = re.fullmatch(r"\s*(\d{1,3}):([0-5]\d)\s*", str(t))
    return None if m is None else 60.0 * int(m.group(1)) + int(m.group(2))


def _norm_class(name: str) -> str:
    return " ".join(_words(str(name)))


def ground_answer(answer: Mapping[str, Any] | None, shown: Mapping[str, MGEvent], echo: EchoIndex) -> Grounding:
    """Check one parsed answer against the events it was shown (``id -> event``); see the module docstring."""
    if not answer:
        return Grounding(False, ["the reply is not a JSON answer of the requested form"])
    problems: list[str] = []
    rationale = str(answer.get("rationale") or "").strip()
    if not rationale:
        problems.append("empty rationale")
    elif echo.is_echo(rationale):
        problems.append("the rationale repeats the prompt instead of reasoning")
    elif degenerate(rationale):
        problems.append(f"the rationale is degenerate text ({degenerate(rationale)})")
    items = answer.get("evidence")
    items = items if isinstance(items, list) else []
    good, bad = [], []
    for item in items:
        why = _item_problem(item, shown, echo)
        if why:
            bad.append({"item": item, "why": why})
            continue
        eid = str(item["event_id"]).strip()
        e = shown[eid]
        good.append({"event_id": eid, "start": round(e.start_s, 3), "end": round(e.end_s, 3), "class": e.label_name,
                     "text": str(item.get("reading", "")).strip(),
                     "measured": (e.evidence or {}).get("text") if e.evidence else None})
    if bad:
        problems.append(f"{len(bad)} evidence item(s) not grounded in the timeline: "
                        + "; ".join(b["why"] for b in bad[:3]))
    if shown and not good and not bad:
        problems.append("the evidence cites no event")
    return Grounding(not problems, problems, good, bad)


def _item_problem(item: Any, shown: Mapping[str, MGEvent], echo: EchoIndex) -> str | None:
    if not isinstance(item, Mapping):
        text = str(item).strip()
        return f"{text[:40]!r} cites no event" + (" (it repeats the prompt)" if echo.is_echo(text) else "")
    eid = str(item.get("event_id", "")).strip()
    if not eid:
        return "an item cites no event id"
    if eid not in shown:
        return f"{eid} is not an event of the timeline"
    e = shown[eid]
    if "class" in item and _norm_class(item["class"]) != _norm_class(e.label_name):
        return f"{eid} is '{e.label_name}', cited as '{item['class']}'"
    if "time" in item:
        t = _mmss_to_s(item["time"])
        if t is None or abs(t - e.start_s) > TIME_TOLERANCE_S:
            return f"{eid} starts at {int(e.start_s) // 60:02d}:{int(e.start_s) % 60:02d}, cited at {item['time']!r}"
    missing = [k for k in EVIDENCE_FIELDS if k not in item]
    if missing:
        return f"{eid}: lacks {', '.join(missing)}"
    reading = str(item.get("reading", "")).strip()
    if reading and echo.is_echo(reading):
        return f"{eid}: its reading repeats the prompt"
    return None
