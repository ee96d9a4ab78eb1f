"""The reasoner interface: scenarios in, one :class:`Prediction` per scenario out (same order).

Why: LLM back-ends and learned baselines are scored by the same benchmark code, so they share one
contract. A prediction whose answer could not be understood is kept with ``valid=False`` and
``label=None`` — it counts as wrong and as invalid, and is never silently mapped to a class. A prediction
for which *no answer arrived* (``parse_mode == "error"``: the server was unreachable, timed out, or refused the
request) is not an answer at all: ``failure`` says why, and the benchmark keeps it out of every score.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from ..scenario import Scenario


@dataclass
class Prediction:
    scenario_id: str
    video_id: str
    condition: str
    label: str | None
    valid: bool
    parse_mode: str  # schema | json_partial | keyword | learned | label_score | invalid | error
    arousal: str | None = None
    confidence: float | None = None
    evidence: list[Any] = field(default_factory=list)  # as the model wrote it; see ``grounding`` for the check
    rationale: str = ""
    score: float | None = None  # P(positive) for probabilistic reasoners
    raw: str = ""
    error: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    cached: bool = False
    answer_label: str | None = None  # the setting's word for ``label`` ("relaxed", "tense", ...)
    grounding: dict[str, Any] | None = None  # grounding.Grounding.to_dict() for LLM answers
    failure: str = ""  # no answer arrived: "transport" (unreachable, timeouts, 5xx) or "refused" (4xx, too long)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Reasoner(abc.ABC):
    """Maps scenarios to predictions. Learned reasoners must be ``fit`` on training scenarios first."""

    name: str = "reasoner"
    trainable: bool = False  # True: fit() on the training videos of each fold
    reads_text: bool = True  # False: uses only scenario.timeline (learned baselines)

    def fit(self, scenarios: Sequence[Scenario]) -> Reasoner:
        return self

    @abc.abstractmethod
    def predict(self, scenarios: Sequence[Scenario]) -> list[Prediction]: ...

    def describe(self) -> dict[str, Any]:
        """Settings that identify this reasoner in reports (model, parameters)."""
        return {"name": self.name}
