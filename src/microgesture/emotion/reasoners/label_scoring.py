"""Label scoring with an in-process llama.cpp model: log P("positive") vs log P("negative") after the prompt.

Why: a small model asked to *generate* its answer can say "positive" for every video — SmolLM2-135M does,
in all three conditions — which makes the with-vs-without-MG difference 0 by construction. Scoring reads
the model's preference between the answer labels instead: the chat-formatted prompt is followed by the
opening of the answer JSON (``{"valence": "``), and each label's tokens get their summed log-probability
from one forward pass over the prompt (llama.cpp logits, read without keeping all-position logits).

The raw log-odds ``log P(positive) - log P(negative)`` carry the model's label bias (SmolLM2 prefers
"positive" by ~3 nats on every prompt), so they are calibrated before thresholding at 0:

- ``batch`` (default): subtract the mean log-odds of the fold's TRAINING prompts of the same condition
  (batch calibration, Zhou et al., ICLR 2024 — estimated on training videos, never on evaluated ones);
  it uses no labels, one number per fold and condition.
- ``content_free``: subtract the log-odds of the same prompt with the observations replaced by "N/A"
  (contextual calibration, Zhao et al., ICML 2021); uses no videos at all.
- ``none``: the raw log-odds.

Ties (calibrated log-odds exactly 0 — every context-only prompt, which holds nothing specific to the video)
go to the training fold's majority label. The reasoner is ``trainable`` because calibration is fit per
fold; the benchmark still runs it in every condition because it reads the text (``reads_text``).
Select it as ``--reasoner llamacpp_score`` (``--calibration`` picks the mode); the JSON-generating
:class:`.llamacpp.LlamaCppReasoner` stays the ``llamacpp`` reasoner.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from ...errors import ConfigError
from ..cache import ResponseCache, cache_key
from ..scenario import Scenario
from ..schema import VALENCES
from .base import Prediction, Reasoner
from .chat import RunStats
from .llamacpp import bundled_gguf

CALIBRATIONS = ("batch", "content_free", "none")
ANSWER_PREFIX = '{"valence": "'


class LlamaCppLabelScorer:
    """Summed log-probability of each answer label after a chat prompt, from one in-process GGUF model.

    Results are cached per prompt (raw log-probabilities, not calibrated labels), so calibration modes and
    reruns share them. One llama.cpp context is not thread-safe: calls are serialised.
    """

    def __init__(self, model_path: str | Path | None = None, n_ctx: int = 8192, n_threads: int | None = None,
                 labels: Sequence[str] = VALENCES, answer_prefix: str = ANSWER_PREFIX,
                 cache: ResponseCache | None = None, progress: bool = False):
        self.model_path = Path(model_path) if model_path else bundled_gguf()
        if not self.model_path.is_file():
            raise ConfigError(f"{self.model_path}: GGUF model file not found")
        if len(set(labels)) < 2:
            raise ConfigError("label scoring needs at least two distinct labels")
        self.labels, self.answer_prefix, self.n_ctx = tuple(labels), answer_prefix, n_ctx
        self.n_threads = n_threads or max(1, os.cpu_count() or 2)
        self.cache, self.progress = cache, progress
        self.stats = RunStats()
        self._llm: Any = None
        self._fmt: Any = None
        self._label_tokens: dict[str, list[int]] = {}
        # results of this process: a fold's training prompts are other folds' evaluated ones, so with the
        # memo each prompt is scored once per run even without an on-disk cache
        self._memo: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    @property
    def model(self) -> str:
        return self.model_path.name

    @property
    def params(self) -> dict[str, Any]:
        return {"mode": "label_score", "labels": list(self.labels), "answer_prefix": self.answer_prefix}

    def _load(self) -> Any:
        if self._llm is None:
            try:
                from llama_cpp import Llama
                from llama_cpp.llama_chat_format import Jinja2ChatFormatter
            except ImportError as e:
                raise ConfigError("llama-cpp-python is not installed (pip install 'microgesture[llm]')") from e
            # n_threads_batch too: prompt evaluation is all this does, and extra threads on a busy CPU only spin
            llm = Llama(model_path=str(self.model_path), n_ctx=self.n_ctx, n_threads=self.n_threads,
                        n_threads_batch=self.n_threads, verbose=False)
            template = llm.metadata.get("tokenizer.chat_template")
            if not template:
                raise ConfigError(f"{self.model_path}: the GGUF has no chat template to render the prompt with")

            def text(tok: int) -> str:
                return llm._model.token_get_text(tok) if tok != -1 else ""

            self._fmt = Jinja2ChatFormatter(template, text(llm.token_eos()), text(llm.token_bos()))
            self._label_tokens = {lab: llm.tokenize(lab.encode(), add_bos=False) for lab in self.labels}
            self._llm = llm
        return self._llm

    def prompt_tokens(self, messages: list[dict[str, str]]) -> list[int]:
        """Tokens of the chat-formatted prompt, the assistant turn opened, plus the answer prefix."""
        llm = self._load()
        r = self._fmt(messages=messages)
        return llm.tokenize((r.prompt + self.answer_prefix).encode("utf-8"), add_bos=not r.added_special,
                           special=True)

    def _next_logprobs(self, tokens: list[int], keep: int = 0) -> np.ndarray:
        """Log-softmax of the next-token logits after ``tokens``; the first ``keep`` are already in the KV cache.

        Every prompt is evaluated from scratch (``keep=0``): llama.cpp's numerics depend slightly on how a
        sequence is split into batches, so re-using another prompt's prefix would make a score depend on what
        was scored before it (measured: ~1e-3 nats), and results must not depend on order.
        """
        import llama_cpp

        llm = self._llm
        if keep == 0 or llm._is_recurrent:
            llm.reset()
            keep = 0
        llm.n_tokens = keep
        llm.eval(tokens[keep:])
        logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm.ctx, -1), shape=(llm.n_vocab(),))
        z = logits.astype(np.float64)
        return z - np.logaddexp.reduce(z)

    def _score_uncached(self, messages: list[dict[str, str]]) -> dict[str, Any]:
        with self._lock:
            tokens = self.prompt_tokens(messages)
            longest = max(len(t) for t in self._label_tokens.values())
            if len(tokens) + longest > self.n_ctx:
                raise ConfigError(f"prompt of {len(tokens)} tokens exceeds the context of {self.n_ctx} "
                                  "(raise n_ctx, or show fewer events with --max-events / --no-glossary)")
            t0 = time.perf_counter()
            first = self._next_logprobs(tokens)
            logp = {}
            for lab, lt in self._label_tokens.items():
                total, ctx = float(first[lt[0]]), list(tokens)
                for prev, nxt in zip(lt[:-1], lt[1:], strict=True):  # multi-token labels: one step per token
                    ctx.append(prev)
                    total += float(self._next_logprobs(ctx, keep=len(ctx) - 1)[nxt])
                logp[lab] = total
            latency = time.perf_counter() - t0
        return {"logp": logp, "prompt_tokens": len(tokens), "latency_s": latency}

    def score_many(self, prompts: Sequence[list[dict[str, str]]]) -> list[dict[str, Any]]:
        """One ``{"logp": {label: float}, "prompt_tokens", "latency_s", "cached"}`` per prompt, or ``{"error"}``.

        Identical prompts are scored once; cached prompts are not scored at all.
        """

        keys = [cache_key(self.model, p, self.params) for p in prompts]
        done: dict[str, dict[str, Any]] = {}
        for k in dict.fromkeys(keys):
            hit = self._memo.get(k) or (self.cache.get(k) if self.cache is not None else None)
            if hit is not None:
                done[k] = {**hit, "cached": True}
                self._memo[k] = hit
        todo = {k: p for k, p in zip(keys, prompts, strict=True) if k not in done}
        self.stats.add(cache_hits=sum(k in done for k in keys), deduplicated=len(keys) - len(set(keys)))
        for k, p in tqdm(todo.items(), desc=f"score:{self.model}", disable=not self.progress or len(todo) < 2,
                         leave=False):
            try:
                res = self._score_uncached(p)
            except (ConfigError, RuntimeError) as e:  # too long for the context, or llama.cpp decode failed
                self.stats.add(failures=1)
                done[k] = {"error": str(e)}
                continue
            self.stats.add(requests=1, prompt_tokens=res["prompt_tokens"])
            with self.stats._lock:
                self.stats.latencies.append(res["latency_s"])
            if self.cache is not None:  # stored at once: an interrupted run resumes
                self.cache.put(k, self.model, res)
            self._memo[k] = res
            done[k] = {**res, "cached": False}
        return [done[k] for k in keys]


def log_odds(result: dict[str, Any], positive: str = "positive", negative: str = "negative") -> float:
    """``log P(positive) - log P(negative)`` of one scoring result (NaN for a failed prompt)."""
    if "error" in result:
        return float("nan")
    return float(result["logp"][positive] - result["logp"][negative])


class LabelScoringReasoner(Reasoner):
    """Calibrated label scoring (see the module docstring); calibration statistics come from ``fit`` only."""

    trainable = True  # calibration is estimated per fold, on training videos
    reads_text = True

    def __init__(self, scorer: LlamaCppLabelScorer, calibration: str = "batch", name: str = "llamacpp_score"):
        if calibration not in CALIBRATIONS:
            raise ConfigError(f"unknown calibration {calibration!r}; choose from {', '.join(CALIBRATIONS)}")
        if not {"positive", "negative"} <= set(scorer.labels):
            raise ConfigError("the emotion benchmark scores the labels 'positive' and 'negative'")
        self.scorer, self.calibration, self.name = scorer, calibration, name
        self.bias: dict[str, float] = {}  # condition -> mean training log-odds (batch calibration)
        self.majority: str | None = None
        self.calibrated_on: list[str] = []  # video ids whose prompts the calibration read

    @property
    def stats(self) -> RunStats:
        return self.scorer.stats

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "model": self.scorer.model, **self.scorer.params, "calibration": self.calibration,
                "bias": dict(self.bias), "majority": self.majority, "calibrated_on": list(self.calibrated_on)}

    def fit(self, scenarios: Sequence[Scenario]) -> LabelScoringReasoner:
        """Training-fold statistics: the tie-break majority and, for ``batch``, the mean log-odds per condition."""
        y = [s.target for s in scenarios]
        if not scenarios or any(t not in VALENCES for t in y):
            raise ConfigError(f"{self.name}: fit needs training scenarios with targets in {VALENCES}")
        n_pos = sum(t == "positive" for t in y)
        self.majority = "positive" if n_pos > len(y) - n_pos else "negative"
        self.bias = {}
        if self.calibration == "batch":
            lo = np.array([log_odds(r) for r in self.scorer.score_many([s.messages for s in scenarios])])
            cond = np.array([s.condition for s in scenarios])
            for c in dict.fromkeys(cond.tolist()):
                ok = (cond == c) & np.isfinite(lo)
                if not ok.any():
                    raise ConfigError(f"{self.name}: no training prompt of condition {c!r} could be scored")
                self.bias[c] = float(lo[ok].mean())
        self.calibrated_on = [s.video_id for s in scenarios]
        return self

    def _offsets(self, scenarios: Sequence[Scenario]) -> np.ndarray:
        if self.calibration == "none":
            return np.zeros(len(scenarios))
        if self.calibration == "batch":
            missing = {s.condition for s in scenarios} - set(self.bias)
            if missing:
                raise ConfigError(f"{self.name}: not calibrated for condition(s) {sorted(missing)}; fit on them")
            return np.array([self.bias[s.condition] for s in scenarios])
        if any(s.content_free_messages is None for s in scenarios):
            raise ConfigError(f"{self.name}: content-free calibration needs scenarios from ScenarioBuilder")
        cf = self.scorer.score_many([s.content_free_messages for s in scenarios])  # type: ignore[misc]
        return np.array([log_odds(r) for r in cf])

    def predict(self, scenarios: Sequence[Scenario]) -> list[Prediction]:
        if self.majority is None:
            raise ConfigError(f"{self.name}: call fit() on training scenarios first")
        results = self.scorer.score_many([s.messages for s in scenarios])
        z = np.array([log_odds(r) for r in results]) - self._offsets(scenarios)
        out = []
        for s, r, zi in zip(scenarios, results, z, strict=True):
            if not np.isfinite(zi):
                out.append(Prediction(s.scenario_id, s.video_id, s.condition, None, False, "error",
                                      error=r.get("error", "calibration prompt failed")))
                continue
            label = self.majority if abs(zi) < 1e-9 else ("positive" if zi > 0 else "negative")
            p = float(1.0 / (1.0 + np.exp(-zi)))
            out.append(Prediction(s.scenario_id, s.video_id, s.condition, label, True, "label_score",
                                  confidence=max(p, 1 - p), score=p, raw=json.dumps(r["logp"]),
                                  prompt_tokens=int(r["prompt_tokens"]), latency_s=float(r["latency_s"]),
                                  cached=bool(r["cached"])))
        return out
