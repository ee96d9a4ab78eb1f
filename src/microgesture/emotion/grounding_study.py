"""How often does an LLM's answer fail the grounding check, per setting? (``microgesture emotion grounding-rate``)

Why: the report only shows an LLM's evidence when it cites real events; this measures how often a given
model gets there at all, and why it fails when it does not (fabricated citations, echoed instructions, no
citation), on iMiGUE timelines mapped to the MG class set and on synthetic interview timelines.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import pandas as pd

from .reading import read_emotion
from .settings import SETTINGS
from .timeline import Timeline

REASONS = {  # substring of a problem / rejection -> category
    "is not an event of the timeline": "cites an absent event",
    "cited as": "cites the wrong class",
    "cited at": "cites the wrong time",
    "cites no event": "cites nothing",
    "the evidence cites no event": "cites nothing",
    "repeats the prompt": "echoes the prompt",
    "empty rationale": "empty rationale",
    "degenerate text": "degenerate rationale",
    "not a JSON answer": "no JSON answer of the requested form",
    "could not be understood": "no JSON answer of the requested form",
    "found in reply": "no decision in the setting's labels",
    "in reply": "no decision in the setting's labels",
}


def _categories(out: dict[str, Any]) -> set[str]:
    texts = [*out.get("problems", []), *(r.get("why", "") for r in out.get("rejected_evidence", []))]
    cats = {cat for t in texts for key, cat in REASONS.items() if key in str(t)}
    return cats or ({"other"} if out["status"] != "ok" else set())


def grounding_rates(timelines: dict[str, Sequence[Timeline]], settings: Sequence[str] | None = None,
                    reasoner: str = "llamacpp", **options: Any) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """One row per (source, setting): answers, rejected share, failures, and how often each reason occurred."""
    rows, readings = [], []
    for source, tls in timelines.items():
        for setting in settings or list(SETTINGS):
            status: Counter[str] = Counter()
            reasons: Counter[str] = Counter()
            for tl in tls:
                out = read_emotion(tl, setting=setting, reasoner=reasoner, **options)
                status[out["status"]] += 1
                reasons.update(_categories(out))
                readings.append({"source": source, "setting": setting, "video_id": tl.video_id,
                                 "status": out["status"], "problems": out.get("problems", []),
                                 "error": out.get("error"), "raw": out.get("raw")})
            answered = status["ok"] + status["no usable reading"]
            rows.append({"source": source, "setting": setting, "timelines": len(tls), "answered": answered,
                         "rejected": status["no usable reading"], "grounded": status["ok"],
                         "failed": status["failed"],
                         "rejection_rate": status["no usable reading"] / answered if answered else float("nan"),
                         **{f"reason: {r}": reasons[r] for r in sorted(set(REASONS.values()) | {"other"})}})
    return pd.DataFrame(rows), readings
