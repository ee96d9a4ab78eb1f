"""Reasoner for any OpenAI-compatible chat server: llama.cpp server, vLLM, Ollama, LM Studio, hosted APIs.

Why: users run whatever model they have; the OpenAI chat-completions wire format is the common ground.
Timeouts, retries with exponential backoff (429 / 5xx / network errors only), bounded concurrency and
schema-constrained output are handled here; servers that reject ``json_schema`` are stepped down to
``json_object`` and then to plain text, and the reply is parsed robustly either way.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from tenacity import RetryError, Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from ...errors import ConfigError
from ..cache import ResponseCache
from .base import Prediction
from .chat import ChatReasoner, Completion, CompletionFailed

FORMATS = ("json_schema", "json_object", "none")


def _env(*names: str, default: str | None = None) -> str | None:
    for n in names:
        v = os.environ.get(n)
        if v:
            return v
    return default


@dataclass
class LLMConfig:
    base_url: str = "http://127.0.0.1:8080/v1"
    model: str = "default"
    api_key: str | None = None
    temperature: float = 0.0
    max_tokens: int = 1024  # a cap: the answer schema bounds every string, so a grammar-constrained reply closes
    seed: int | None = 0
    timeout_s: float = 120.0
    max_retries: int = 4
    backoff_s: float = 1.0
    backoff_max_s: float = 30.0
    concurrency: int = 4
    response_format: str = "auto"  # auto | json_schema | json_object | none

    @classmethod
    def from_env(cls, **overrides: Any) -> LLMConfig:
        """Defaults ← ``MICROGESTURE_LLM_*`` (or ``OPENAI_*``) environment ← explicit non-None overrides."""
        cfg = cls(
            base_url=_env("MICROGESTURE_LLM_BASE_URL", "OPENAI_BASE_URL", default=cls.base_url) or cls.base_url,
            model=_env("MICROGESTURE_LLM_MODEL", "OPENAI_MODEL", default=cls.model) or cls.model,
            api_key=_env("MICROGESTURE_LLM_API_KEY", "OPENAI_API_KEY"),
        )
        for k, v in overrides.items():
            if v is not None:
                if not hasattr(cfg, k):
                    raise ConfigError(f"unknown LLM setting {k!r}")
                setattr(cfg, k, v)
        if cfg.response_format not in ("auto", *FORMATS):
            raise ConfigError(f"response_format must be auto or one of {FORMATS}, not {cfg.response_format!r}")
        return cfg


class RetryableHTTPError(Exception):
    def __init__(self, status: int, body: str):
        super().__init__(f"HTTP {status}: {body[:200]}")
        self.status = status


class UnsupportedFormat(Exception):
    """The server rejected the requested ``response_format`` (some answer 400/422, llama.cpp answers 500)."""


class MalformedResponse(Exception):
    """A 2xx reply whose body is not a chat completion (a proxy error page, truncated JSON...)."""


def _retryable(e: BaseException) -> bool:
    return isinstance(e, (httpx.TimeoutException, httpx.TransportError, RetryableHTTPError, MalformedResponse))


class OpenAICompatReasoner(ChatReasoner):
    name = "openai"

    def __init__(self, config: LLMConfig | None = None, cache: ResponseCache | None = None,
                 progress: bool = False, on_result: Callable[[Prediction], None] | None = None,
                 transport: httpx.BaseTransport | None = None):
        self.config = cfg = config or LLMConfig.from_env()
        params = {"temperature": cfg.temperature, "max_tokens": cfg.max_tokens, "seed": cfg.seed,
                  "response_format": cfg.response_format}
        super().__init__(cfg.model, params, cache, cfg.concurrency, progress, on_result)
        headers = {"Authorization": f"Bearer {cfg.api_key}"} if cfg.api_key else {}
        self._client = httpx.Client(base_url=cfg.base_url.rstrip("/") + "/", headers=headers,
                                    timeout=httpx.Timeout(cfg.timeout_s, connect=min(10.0, cfg.timeout_s)),
                                    transport=transport,
                                    limits=httpx.Limits(max_connections=cfg.concurrency * 2))
        self._format = cfg.response_format if cfg.response_format != "auto" else FORMATS[0]
        self._format_lock = threading.Lock()

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "base_url": self.config.base_url}

    def close(self) -> None:
        self._client.close()

    def list_models(self) -> list[str]:
        r = self._client.get("models")
        r.raise_for_status()
        return [m["id"] for m in r.json().get("data", [])]

    # -- one completion -----------------------------------------------------------------------------------
    @staticmethod
    def _response_format(fmt: str, schema: dict[str, Any]) -> dict[str, Any] | None:
        if fmt == "json_schema":
            return {"type": "json_schema",
                    "json_schema": {"name": "emotion_answer", "schema": schema, "strict": True}}
        if fmt == "json_object":  # llama.cpp / Anyscale style: schema travels along and is enforced there
            return {"type": "json_object", "schema": schema}
        return None

    def _complete(self, messages: list[dict[str, str]], schema: dict[str, Any]) -> Completion:
        cfg = self.config
        while True:
            fmt = self._format
            body: dict[str, Any] = {"model": cfg.model, "messages": messages, "temperature": cfg.temperature,
                                    "max_tokens": cfg.max_tokens}
            if cfg.seed is not None:
                body["seed"] = cfg.seed
            rf = self._response_format(fmt, schema)
            if rf is not None:
                body["response_format"] = rf
            retries = 0
            t0 = time.perf_counter()
            try:
                for attempt in Retrying(retry=retry_if_exception(_retryable), reraise=False,
                                        stop=stop_after_attempt(cfg.max_retries + 1),
                                        wait=wait_exponential_jitter(multiplier=cfg.backoff_s, jitter=cfg.backoff_s,
                                                                    max=cfg.backoff_max_s)):
                    with attempt:
                        retries = attempt.retry_state.attempt_number - 1
                        resp = self._post(body, probing=cfg.response_format == "auto" and fmt != "none")
                        parsed = self._parse_body(resp) if resp.status_code < 400 else None
            except UnsupportedFormat:
                self._step_down(fmt)  # the server does not take this response_format: try a simpler one
                continue
            except RetryError as e:
                last = e.last_attempt.exception()
                raise CompletionFailed(f"gave up after {cfg.max_retries + 1} attempts: "
                                       f"{type(last).__name__}: {last}", retries=cfg.max_retries) from last
            latency = time.perf_counter() - t0
            if resp.status_code in (400, 422) and fmt != "none" and cfg.response_format == "auto":
                self._step_down(fmt)  # the server does not take this response_format: try a simpler one
                continue
            if parsed is None:  # a 4xx the server meant: it refused this request, it was not lost in transport
                raise CompletionFailed(f"HTTP {resp.status_code}: {resp.text[:300]}", retries=retries,
                                       transport=False)
            text, usage = parsed
            return Completion(text, int(usage.get("prompt_tokens") or 0),
                              int(usage.get("completion_tokens") or 0), latency, fmt, retries)

    def _post(self, body: dict[str, Any], probing: bool) -> httpx.Response:
        resp = self._client.post("chat/completions", json=body)
        if probing and resp.status_code >= 400 and "response_format" in resp.text:
            raise UnsupportedFormat(resp.text[:200])
        if resp.status_code in (408, 409, 429) or resp.status_code >= 500:
            raise RetryableHTTPError(resp.status_code, resp.text)
        return resp

    def _step_down(self, failed: str) -> None:
        with self._format_lock:
            if self._format == failed:
                self._format = FORMATS[FORMATS.index(failed) + 1]

    @staticmethod
    def _parse_body(resp: httpx.Response) -> tuple[str, dict[str, Any]]:
        """Content and usage of a 2xx reply; a body that is not a chat completion is retried like a 5xx."""
        try:
            data = resp.json()
            text = data["choices"][0]["message"].get("content") or ""
            usage = data.get("usage") or {}
            if not isinstance(text, str) or not isinstance(usage, dict):
                raise TypeError("content is not a string")
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as e:
            raise MalformedResponse(f"not a chat completion ({type(e).__name__}): {resp.text[:200]!r}") from e
        return text, usage
