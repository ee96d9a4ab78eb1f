"""``read_emotion``: one MG timeline in, one reading a person can trust (or an honest "no reading") out.

Why one function: ``analyze`` and the report need the same JSON-able shape whichever reasoner speaks —
which reasoner it was and how sure it is, the setting's question and labels, a status
(``ok`` | ``no usable reading`` | ``failed``), the calibrated probability with its interval (``decided`` is
False when the interval spans both answers: the report then says "undecided") and the features
behind it (default reasoner), and evidence that cites real events of the timeline by id (``e1``, ``e2``, ...
as :func:`.timeline.event_ids` numbers them, so the report can link each item to its event). An LLM answer
whose evidence is not grounded is reported as "the LLM gave no usable reading", with its raw text kept in
``raw`` and never shown as evidence.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import MicrogestureError
from .default_model import describe_model, how_sure
from .mg_features import CLASS_CATEGORY, FEATURES, mg_index
from .reasoners.calibrated import read_timeline
from .reasoners.registry import create_reasoner, reasoner_entry
from .scenario import ScenarioBuilder
from .settings import get_setting
from .timeline import Timeline, event_ids

MIN_EVENTS = 5
NO_USABLE = "the LLM gave no usable reading"


def _setting_dict(name: str) -> dict[str, Any]:
    s = get_setting(name)
    return {"name": s.name, "title": s.title, "question": s.question, "key": s.key, "labels": list(s.labels),
            "meanings": list(s.meanings), "asks_arousal": s.asks_arousal}


def _base(timeline: Timeline, setting: str, reasoner: dict[str, Any]) -> dict[str, Any]:
    s = get_setting(setting)
    return {"reasoner": reasoner, "setting": _setting_dict(setting), "status": "failed", "label": None,
            s.key: None, "valence": None, "arousal": None, "confidence": None, "probability": None,
            "probability_of": s.labels[0], "interval": None, "features": [], "evidence": [], "rationale": "",
            "raw": None, "notes": [], "error": None, "decided": None,
            "timeline": {"events": len(timeline.events), "span_s": round(float(timeline.duration_s), 2),
                         "observed_s": round(float(timeline.observed_s), 2)}}


def read_emotion(timeline: Timeline, *, setting: str = "conversation", reasoner: str = "default",
                 **options: Any) -> dict[str, Any]:
    """Read ``timeline`` with ``reasoner`` (registry name) under ``setting``; never raises for a reasoner's failure.

    ``options`` go to the reasoner's factory (e.g. ``base_url``, ``model``, ``model_path``, ``cache``) and,
    for LLM reasoners, ``max_events`` / ``glossary`` / ``extra_context`` to the prompt builder.
    """
    get_setting(setting)  # an unknown setting is the caller's error
    entry = reasoner_entry(reasoner)
    who = {"name": entry.name, "kind": entry.kind, "description": entry.description}
    out = _base(timeline, setting, who)
    try:
        if entry.kind in ("default", "learned", "baseline"):
            return _read_learned(timeline, setting, entry.name, out, options)
        return _read_llm(timeline, setting, entry.name, out, options)
    except MicrogestureError as e:  # no model file, no server configured, llama.cpp missing...
        out["status"], out["error"] = "failed", str(e)
        return out


# -- the calibrated default ---------------------------------------------------------------------------------
def _read_learned(tl: Timeline, setting: str, name: str, out: dict[str, Any], options: dict[str, Any]) -> dict:
    r = create_reasoner(name, **options)
    model = getattr(r, "model", None)
    if model is None or not hasattr(model, "boot"):
        raise MicrogestureError(f"reasoner {name!r} has no fitted model to read a single timeline with; use "
                                "'default' (or an LLM reasoner)")
    s = get_setting(setting)
    res = read_timeline(model, tl)
    p = res["probability"]
    label = s.labels[0] if p >= 0.5 else s.labels[1]
    lo, hi = res["interval"]
    out["reasoner"].update(description=describe_model(model), how_sure=how_sure(model), variant=model.variant)
    out.update(status="ok", label=label, probability=p, interval=[lo, hi], interval_level=res["interval_level"],
               features=res["features"], confidence=round(max(p, 1 - p), 4), decided=not lo < 0.5 < hi)
    out[s.key] = label
    if s.key == "valence":
        out["valence"] = label
    out["evidence"] = _feature_evidence(tl, res["features"])
    side = f"{100 * p:.0f}% for {s.labels[0]!r} (90% interval {100 * lo:.0f}-{100 * hi:.0f}%)"
    drivers = "; ".join(f["text"] for f in res["features"][:3])
    out["rationale"] = (f"The calibrated model reads {side}" + (f", mainly from: {drivers}." if drivers else ".")
                        + (" The interval spans both answers." if lo < 0.5 < hi else ""))
    out["notes"] = _reliability_notes(tl, model, s.name)
    if s.asks_arousal:
        out["notes"].append("Arousal is not estimated by this reasoner (its training label is valence only).")
    return out


def _feature_evidence(tl: Timeline, features: list[dict[str, Any]], limit: int = 8) -> list[dict[str, Any]]:
    """The timeline's events behind the class- and category-level features that drove the reading."""
    ids = event_ids(tl)
    cls = np.array([mg_index(e.label_name) for e in tl.events], dtype=np.int64)
    cat = np.where(cls >= 0, CLASS_CATEGORY[np.maximum(cls, 0)], -1)
    names = {f.name: (f.block, i) for block in ("rate", "share", "frac", "cat_rate", "cat_share", "cat_frac")
             for i, f in enumerate(FEATURES[block])}
    items: list[dict[str, Any]] = []
    seen: set[int] = set()
    for f in features:
        if f["feature"] not in names:
            continue
        block, i = names[f["feature"]]
        hit = np.flatnonzero((cat == i) if block.startswith("cat_") else (cls == i))
        for k in hit:
            if int(k) in seen or len(items) >= limit:
                continue
            seen.add(int(k))
            e = tl.events[int(k)]
            items.append({"event_id": ids[k], "start": round(e.start_s, 3), "end": round(e.end_s, 3),
                          "class": e.label_name, "text": f"counts towards: {f['text']}",
                          "measured": (e.evidence or {}).get("text") if e.evidence else None})
    return sorted(items, key=lambda x: int(x["event_id"][1:]))


def _reliability_notes(tl: Timeline, model: Any, setting: str) -> list[str]:
    notes = []
    span = model.info.get("train_span_s") or []
    if span and tl.observed_s < span[0]:
        notes.append(f"This recording has {tl.observed_s:.1f} s of visible time; the model was fitted on press "
                     f"conferences of {span[0] / 60:.1f}-{span[2] / 60:.1f} min (5th-95th percentile), so this "
                     "reading rests on very little behaviour.")
    if len(tl.events) < MIN_EVENTS:
        notes.append(f"Only {len(tl.events)} gesture event(s) were observed; rates from so few events are noisy.")
    if setting != "press_conference":
        notes.append(f"The model was fitted on post-match press conferences; its use in the '{setting}' setting "
                     "is an untested transfer of the won/lost valence proxy.")
    return notes


# -- LLMs ---------------------------------------------------------------------------------------------------
def _read_llm(tl: Timeline, setting: str, name: str, out: dict[str, Any], options: dict[str, Any]) -> dict:
    prompt_opts = {k: options.pop(k) for k in ("max_events", "glossary", "extra_context") if k in options}
    sc = ScenarioBuilder(condition="context_mg", setting=setting,
                         mg_source="predicted" if any(e.source == "predicted" for e in tl.events) else "annotation",
                         **prompt_opts).build(tl)
    r = create_reasoner(name, **options)
    pred = r.predict([sc])[0]
    s = get_setting(setting)
    out["reasoner"].update(model=r.describe().get("model"),
                           how_sure={"level": "uncalibrated", "text": "the model's own confidence (uncalibrated)"})
    out["prompt"] = sc.messages
    out["raw"] = pred.raw or None
    if pred.parse_mode == "error":
        out.update(status="failed", error=f"no answer from the LLM ({pred.failure}): {pred.error}")
        return out
    g = pred.grounding or {"usable": False, "problems": ["no grounding check"]}
    if not pred.valid or not g["usable"]:
        problems = ([] if pred.valid else [pred.error or "the answer could not be understood"]) + g["problems"]
        out.update(status="no usable reading", error=NO_USABLE, problems=problems,
                   rejected_evidence=g.get("rejected", []))
        return out
    out.update(status="ok", label=pred.answer_label, arousal=pred.arousal, confidence=pred.confidence,
               evidence=g["evidence"], rationale=pred.rationale, decided=True)
    out[s.key] = pred.answer_label
    if s.key == "valence":
        out["valence"] = pred.answer_label
    return out
