"""Scenarios: what a reasoner sees about one video, under one ablation condition, as chat messages.

Why: the paper's claim is a *with vs without micro-gestures* comparison. Each element of the prompt — the
setting, the MG timeline, summary statistics, worked examples, user context — is a switch, so every
condition is the same template with parts turned off. Rendering reads only events, the duration and the
setting of a :class:`Timeline`; its ``meta`` (video id, CV group, target) never reaches the text.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from ..errors import ConfigError
from .descriptions import describe
from .schema import EVIDENCE_FIELDS, MAX_EVIDENCE, answer_schema
from .settings import DEFAULT_SETTING, SETTINGS, Setting, get_setting
from .timeline import MGEvent, Timeline, event_ids

__all__ = ["CONDITIONS", "SETTINGS", "Scenario", "ScenarioBuilder", "Setting", "mmss", "summarize"]

Condition = Literal["context_only", "mg_only", "context_mg"]
CONDITIONS: tuple[str, ...] = ("context_only", "mg_only", "context_mg")
MG_CONDITIONS = frozenset({"mg_only", "context_mg"})


SYSTEM_PROMPT = (
    "You are an expert in nonverbal behaviour and affective computing. Micro-gestures are brief, mostly "
    "unintentional body movements (self-touches, posture shifts, fidgeting) that can leak hidden emotions. "
    "Reason carefully, treat every cue as weak evidence, cite only events that are listed, and reply with one "
    "JSON object only."
)
# the question asked when no situational context may be shown (condition mg_only)
NEUTRAL_SETTING = DEFAULT_SETTING


def mmss(seconds: float) -> str:
    s = max(0, int(round(seconds)))
    return f"{s // 60:02d}:{s % 60:02d}"


@dataclass
class Summary:
    n_events: int
    n_mg: int
    n_non_mg: int
    minutes: float
    mg_per_minute: float
    non_mg_share: float
    top: list[tuple[str, int, float]]  # (class, count, total seconds)
    bursts: list[tuple[float, float, int, list[str]]]  # (start, end, n events, classes)

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def summarize(timeline: Timeline, burst_window_s: float = 10.0, min_burst: int = 3, top_k: int = 5) -> Summary:
    """Rates, dominant gestures and bursts (runs of events whose successive starts are ``<= window`` apart)."""
    ev = timeline.events
    minutes = max(timeline.duration_s, 1e-6) / 60.0
    is_mg = np.array([describe(e.label_name).is_micro_gesture for e in ev], dtype=bool)
    names = np.array([e.label_name for e in ev], dtype=object)
    dur = np.array([e.duration_s for e in ev], dtype=np.float64)
    start = np.array([e.start_s for e in ev], dtype=np.float64)
    end = np.array([e.end_s for e in ev], dtype=np.float64)
    top: list[tuple[str, int, float]] = []
    if len(ev):
        uniq, inv, counts = np.unique(names[is_mg].astype(str), return_inverse=True, return_counts=True)
        totals = np.bincount(inv, weights=dur[is_mg], minlength=len(uniq)) if len(uniq) else np.zeros(0)
        order = np.lexsort((-totals, -counts))[:top_k]
        top = [(str(uniq[i]), int(counts[i]), float(totals[i])) for i in order]
    bursts: list[tuple[float, float, int, list[str]]] = []
    if len(ev) >= min_burst:
        breaks = np.flatnonzero(np.diff(start) > burst_window_s) + 1
        for seg in np.split(np.arange(len(ev)), breaks):
            if len(seg) >= min_burst:
                cls = list(dict.fromkeys(names[seg].tolist()))
                bursts.append((float(start[seg[0]]), float(end[seg].max()), len(seg), cls))
    n_mg = int(is_mg.sum())
    return Summary(len(ev), n_mg, len(ev) - n_mg, minutes, n_mg / minutes,
                   (len(ev) - n_mg) / len(ev) if len(ev) else 0.0, top, bursts)


@dataclass
class Scenario:
    """One prompt for one video. ``timeline`` is kept for learned reasoners; it is not part of the text."""

    scenario_id: str
    video_id: str
    condition: str
    mg_source: str
    messages: list[dict[str, str]]
    target: str | None
    timeline: Timeline | None = field(default=None, repr=False)
    few_shot_ids: list[str] = field(default_factory=list)
    # the same prompt with this video's observations replaced by "N/A" (contextual calibration, Zhao et al.
    # 2021); identical to ``messages`` when the condition shows no observations
    content_free_messages: list[dict[str, str]] | None = field(default=None, repr=False)
    setting: str = DEFAULT_SETTING  # whose question and answer labels the prompt uses
    schema: dict[str, Any] | None = field(default=None, repr=False)  # the answer schema for this prompt
    shown: dict[str, MGEvent] = field(default_factory=dict, repr=False)  # event id -> event, as listed

    @property
    def answer_setting(self) -> Setting:
        return get_setting(self.setting)

    @property
    def prompt_sha(self) -> str:
        return hashlib.sha256(json.dumps(self.messages, sort_keys=True).encode()).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        return {"scenario_id": self.scenario_id, "video_id": self.video_id, "condition": self.condition,
                "mg_source": self.mg_source, "few_shot_ids": self.few_shot_ids, "messages": self.messages}


@dataclass
class ScenarioBuilder:
    """Renders timelines into scenarios. ``pool`` holds TRAINING timelines for few-shot examples only."""

    condition: str = "context_mg"
    setting: str | None = None  # None: the timeline's own setting
    mg_source: str = "annotation"
    few_shot: int = 0
    pool: Sequence[Timeline] = ()
    max_events: int = 60
    glossary: bool = True
    summary: bool = True
    extra_context: str | None = None
    burst_window_s: float = 10.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.condition not in CONDITIONS:
            raise ConfigError(f"unknown condition {self.condition!r}; choose from {', '.join(CONDITIONS)}")
        if self.setting is not None and self.setting not in SETTINGS:
            raise ConfigError(f"unknown setting {self.setting!r}; choose from {', '.join(SETTINGS)}")
        if self.few_shot < 0:
            raise ConfigError("few_shot must be >= 0")
        if self.few_shot and len({t.target for t in self.pool if t.target}) < 1:
            raise ConfigError("few-shot examples need a pool of labelled training timelines")

    # -- public -----------------------------------------------------------------------------------------
    def build(self, timeline: Timeline) -> Scenario:
        setting = get_setting(self.setting or timeline.setting)
        answer = get_setting(NEUTRAL_SETTING) if self.condition == "mg_only" else setting
        shots = self._select_examples(timeline) if self.few_shot else []
        shows_mg = self.condition in MG_CONDITIONS
        shown = dict(zip(event_ids(timeline), timeline.events, strict=True)) if shows_mg else {}
        shown = dict(list(shown.items())[: self.max_events])
        schema = answer_schema(answer.name, list(shown) or None, [e.label_name for e in shown.values()] or None)
        messages = self._messages(setting, answer, shots, self._observation_block(timeline) if shows_mg else "",
                                  bool(shown))
        content_free = self._messages(setting, answer, shots, "Observations: N/A", False) if shows_mg \
            else messages
        vid = timeline.video_id
        sid = f"{vid}|{self.condition}|{self.mg_source}|k{self.few_shot}"
        return Scenario(sid, vid, self.condition, self.mg_source, messages, timeline.target, timeline,
                        [t.video_id for t in shots], content_free, answer.name, schema, shown)

    def build_all(self, timelines: Sequence[Timeline]) -> list[Scenario]:
        return [self.build(t) for t in timelines]

    # -- blocks -----------------------------------------------------------------------------------------
    def _messages(self, setting: Setting, answer: Setting, shots: Sequence[Timeline], observations: str,
                  has_events: bool) -> list[dict[str, str]]:
        user = "\n\n".join(p for p in (
            self._context_block(setting),
            self._examples_block(shots, answer),
            ("The case to assess:\n" if shots else "") + observations
            if self.condition in MG_CONDITIONS else
            "No behavioural observations are available for this case; answer from the context alone.",
            self._question_block(answer, has_events),
        ) if p)
        return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]

    def _context_block(self, setting: Setting) -> str:
        parts = []
        if self.condition != "mg_only":
            parts.append(f"Setting: {setting.context}")
        if self.extra_context and self.condition != "mg_only":
            parts.append(f"Additional context: {self.extra_context.strip()}")
        return "\n".join(parts)

    def _observation_block(self, tl: Timeline, compact: bool = False) -> str:
        s = summarize(tl, self.burst_window_s)
        lines = [f"Observed span: {mmss(tl.duration_s)} (mm:ss)."]
        if self.summary or compact:
            lines.append(f"Micro-gesture summary: {s.n_events} events, of which {s.n_mg} micro-gestures "
                         f"({s.mg_per_minute:.1f} per minute) and {s.n_non_mg} illustrative speech gestures "
                         f"({100 * s.non_mg_share:.0f}%).")
            if s.top:
                lines.append("Most frequent micro-gestures: " + "; ".join(
                    f"{n} x{c} ({t:.0f} s in total)" for n, c, t in s.top) + ".")
            if s.bursts:
                big = max(s.bursts, key=lambda b: b[2])
                lines.append(f"Bursts (3+ events with gaps <= {self.burst_window_s:.0f} s): {len(s.bursts)}; "
                             f"largest {mmss(big[0])}-{mmss(big[1])} with {big[2]} events "
                             f"({', '.join(big[3][:5])}).")
        if compact:
            return "\n".join(lines)
        if tl.events:
            shown = tl.events[: self.max_events]
            lines.append("Timeline (event id, start mm:ss, duration, gesture[, what was measured]):")
            lines += [f"{eid} {mmss(e.start_s)} ({e.duration_s:.1f} s) {e.label_name}"
                      + (f" [p={e.score:.2f}]" if e.source == "predicted" else "")
                      + (f" - {e.evidence['text']}" if e.evidence and e.evidence.get("text") else "")
                      for eid, e in zip(event_ids(len(shown)), shown, strict=True)]
            if len(tl.events) > len(shown):
                lines.append(f"... {len(tl.events) - len(shown)} later events omitted (counted in the summary).")
        else:
            lines.append("No micro-gestures were observed.")
        if self.glossary and tl.events:
            names = list(dict.fromkeys(e.label_name for e in tl.events[: self.max_events]))
            lines.append("Gesture glossary (common, hedged readings):")
            lines += [f"- {n}: {describe(n).text()}" for n in names]
        return "\n".join(lines)

    def _question_block(self, answer: Setting, has_events: bool) -> str:
        """The question and the answer format, in the words of the answer's setting."""
        keys = [answer.key, *(["arousal"] if answer.asks_arousal else []), "confidence", "evidence", "rationale"]
        lines = [answer.question if self.condition != "mg_only" else
                 "Infer how the person feels from the observed micro-gestures alone.",
                 f"Reply with one JSON object with exactly these keys: {', '.join(keys)}.",
                 f"- {answer.key}: {answer.label_text()}"]
        if answer.asks_arousal:
            lines.append('- arousal: "low", "medium" or "high"')
        lines.append("- confidence: a number from 0 to 1")
        if has_events:
            lines.append(f"- evidence: 1 to {MAX_EVIDENCE} listed events you relied on, each an object with the "
                         f"keys {', '.join(EVIDENCE_FIELDS)}: the event's id, its start time and its gesture "
                         "copied from the timeline, and what it suggests in this case")
        elif self.condition in MG_CONDITIONS:
            lines.append("- evidence: an empty list (no events were observed)")
        else:
            lines.append("- evidence: an empty list (no observations are available)")
        lines.append("- rationale: one or two sentences in your own words")
        return "\n".join(lines)

    def _examples_block(self, shots: Sequence[Timeline], answer: Setting) -> str:
        if not shots:
            return ""
        blocks = ["Worked examples from other recordings (outcome known):"]
        for i, t in enumerate(shots, 1):
            body = self._observation_block(t, compact=True) if self.condition in MG_CONDITIONS else \
                "(no observations)"
            blocks.append(f"Example {i}:\n{body}\nAnswer: {answer.key} = {answer.label_of(str(t.target))}")
        return "\n".join(blocks)

    def _select_examples(self, tl: Timeline) -> list[Timeline]:
        """k examples, class-balanced, from the pool minus the evaluated video (deterministic per video)."""
        pool = [t for t in self.pool if t.video_id != tl.video_id and t.target]
        if tl.group is not None:  # a person is never their own example
            pool = [t for t in pool if t.group != tl.group]
        rng = random.Random(f"{self.seed}|{tl.video_id}")
        by_label: dict[str, list[Timeline]] = {}
        for t in sorted(pool, key=lambda t: t.video_id):
            by_label.setdefault(str(t.target), []).append(t)
        for v in by_label.values():
            rng.shuffle(v)
        chosen: list[Timeline] = []
        labels = sorted(by_label)
        while len(chosen) < self.few_shot and any(by_label.values()):
            for lab in labels:
                if by_label[lab] and len(chosen) < self.few_shot:
                    chosen.append(by_label[lab].pop())
        rng.shuffle(chosen)
        return chosen
