"""Shared machinery of chat-model reasoners: caching, de-duplication, bounded concurrency, parsing, accounting.

Why: an HTTP back-end and an in-process back-end differ only in how one completion is produced. Everything
that makes a benchmark trustworthy — resume after interruption, identical prompts sent once, failures
reported instead of guessed, token and latency totals — lives here once.
"""

from __future__ import annotations

import abc
import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from ..cache import ResponseCache, cache_key
from ..grounding import EchoIndex, ground_answer
from ..scenario import Scenario
from ..schema import answer_schema
from .base import Prediction, Reasoner
from .parsing import answer_fields, parse_answer

log = logging.getLogger(__name__)


@dataclass
class Completion:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    response_format: str = "none"
    retries: int = 0


class CompletionFailed(Exception):
    """A completion could not be obtained (after retries); the message says why.

    ``transport``: True when the request never got an answer (connection refused or reset, timeouts, 5xx,
    429, malformed replies — what a rerun may fix); False when the back-end refused it (4xx, prompt too long).
    """

    def __init__(self, message: str, retries: int = 0, transport: bool = True):
        super().__init__(message)
        self.retries = retries
        self.transport = transport


@dataclass
class RunStats:
    requests: int = 0
    cache_hits: int = 0
    deduplicated: int = 0
    retries: int = 0
    failures: int = 0
    invalid: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latencies: list[float] = field(default_factory=list)
    parse_modes: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **kw: int) -> None:
        with self._lock:
            for k, v in kw.items():
                setattr(self, k, getattr(self, k) + v)

    def as_dict(self) -> dict[str, Any]:
        lat = np.asarray(self.latencies, dtype=np.float64)
        return {
            "requests": self.requests, "cache_hits": self.cache_hits, "deduplicated": self.deduplicated,
            "retries": self.retries, "failures": self.failures, "invalid": self.invalid,
            "prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
            "latency_total_s": float(lat.sum()) if lat.size else 0.0,
            "latency_p50_s": float(np.median(lat)) if lat.size else None,
            "latency_p95_s": float(np.percentile(lat, 95)) if lat.size else None,
            "completion_tok_per_s": float(self.completion_tokens / lat.sum()) if lat.size and lat.sum() else None,
            "parse_modes": dict(self.parse_modes),
        }


class ChatReasoner(Reasoner):
    """Base for LLM reasoners; subclasses implement :meth:`_complete` for one list of chat messages."""

    def __init__(self, model: str, params: dict[str, Any], cache: ResponseCache | None = None,
                 concurrency: int = 1, progress: bool = False,
                 on_result: Callable[[Prediction], None] | None = None):
        self.model = model
        self.params = dict(params)
        self.cache = cache
        self.concurrency = max(1, int(concurrency))
        self.progress = progress
        self.on_result = on_result
        self.stats = RunStats()

    @abc.abstractmethod
    def _complete(self, messages: list[dict[str, str]], schema: dict[str, Any]) -> Completion:
        """One completion of ``messages``, constrained to ``schema`` where the back-end can."""

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "model": self.model, **self.params}

    # -- the run ------------------------------------------------------------------------------------------
    def predict(self, scenarios: Sequence[Scenario]) -> list[Prediction]:
        out: list[Prediction | None] = [None] * len(scenarios)
        todo: dict[str, list[int]] = {}
        for i, s in enumerate(scenarios):
            key = cache_key(self.model, s.messages, {**self.params, "schema": self._schema(s)})
            hit = self.cache.get(key) if self.cache is not None else None
            if hit is not None:
                self.stats.add(cache_hits=1)
                out[i] = self._emit(s, Completion(**hit), cached=True)
            elif key in todo:
                self.stats.add(deduplicated=1)
                todo[key].append(i)
            else:
                todo[key] = [i]
        if todo:
            self._run_pending(scenarios, todo, out)
        return [p for p in out if p is not None]

    def _run_pending(self, scenarios: Sequence[Scenario], todo: dict[str, list[int]],
                     out: list[Prediction | None]) -> None:
        bar = tqdm(total=len(todo), desc=f"{self.name}:{self.model}", disable=not self.progress, leave=False)
        ex = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="llm")
        try:
            futs = {ex.submit(self._call_and_store, key, scenarios[idx[0]].messages,
                              self._schema(scenarios[idx[0]])): key
                    for key, idx in todo.items()}
            for fut in as_completed(futs):
                key = futs[fut]
                try:
                    comp, err, kind = fut.result(), "", ""
                except CompletionFailed as e:
                    comp, err, kind = None, str(e), "transport" if e.transport else "refused"
                    self.stats.add(failures=1, retries=e.retries)
                for i in todo[key]:
                    out[i] = self._emit(scenarios[i], comp, cached=False, error=err, failure=kind)
                bar.update(1)
        finally:
            ex.shutdown(wait=True, cancel_futures=True)  # on interrupt: queued calls are dropped, not run
            bar.close()

    @staticmethod
    def _schema(s: Scenario) -> dict[str, Any]:
        return s.schema or answer_schema(s.setting)

    def _call_and_store(self, key: str, messages: list[dict[str, str]], schema: dict[str, Any]) -> Completion:
        comp = self._complete(messages, schema)
        self.stats.add(requests=1, retries=comp.retries, prompt_tokens=comp.prompt_tokens,
                       completion_tokens=comp.completion_tokens)
        with self.stats._lock:
            self.stats.latencies.append(comp.latency_s)
        if self.cache is not None:  # stored the moment it exists: an interrupted run loses nothing
            self.cache.put(key, self.model, comp.__dict__)
        return comp

    def _emit(self, s: Scenario, comp: Completion | None, cached: bool, error: str = "",
              failure: str = "") -> Prediction:
        if comp is None:
            pred = Prediction(s.scenario_id, s.video_id, s.condition, None, False, "error", error=error,
                              failure=failure or "transport")
        else:
            schema = self._schema(s)
            ans = parse_answer(comp.text, s.setting, schema)
            fields = answer_fields(ans.obj) if ans.obj else {}
            echo = EchoIndex.of([*(m["content"] for m in s.messages), json.dumps(schema)])
            grounding = ground_answer(ans.obj if ans.mode in ("schema", "json_partial") else None, s.shown, echo)
            pred = Prediction(s.scenario_id, s.video_id, s.condition, ans.label, ans.valid, ans.mode,
                              raw=comp.text, error="; ".join(ans.errors),
                              prompt_tokens=comp.prompt_tokens, completion_tokens=comp.completion_tokens,
                              latency_s=comp.latency_s, cached=cached, answer_label=ans.answer_label,
                              grounding=grounding.to_dict(), **fields)
            if not ans.valid:
                self.stats.add(invalid=1)
        with self.stats._lock:
            self.stats.parse_modes[pred.parse_mode] = self.stats.parse_modes.get(pred.parse_mode, 0) + 1
        if self.on_result is not None:
            self.on_result(pred)
        return pred


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    t0 = time.perf_counter()
    r = fn()
    return r, time.perf_counter() - t0
