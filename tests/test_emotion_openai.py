"""The OpenAI-compatible reasoner against a REAL local HTTP server that misbehaves on purpose."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from microgesture.emotion.cache import ResponseCache
from microgesture.emotion.reasoners.openai_compat import LLMConfig, OpenAICompatReasoner
from microgesture.emotion.scenario import ScenarioBuilder
from microgesture.emotion.timeline import MGEvent, Timeline

ANSWER = {"valence": "positive", "arousal": "low", "confidence": 0.6,
          "evidence": [{"event_id": "e1", "time": "00:01", "class": "touch face", "reading": "a brief self-touch"}],
          "rationale": "Expansive posture."}


class ScriptedServer:
    """``script`` is a list of behaviours consumed one per request; the last one repeats."""

    def __init__(self, script: list[str]):
        self.script = list(script)
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):  # keep test output clean
                pass

            def do_GET(self):
                self._send(200, {"data": [{"id": "fake-model"}]})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with outer.lock:
                    outer.requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
                    step = outer.script.pop(0) if len(outer.script) > 1 else outer.script[0]
                if step in ("ok", "fixed"):  # fixed: ANSWER verbatim; ok: its rationale varies with the prompt
                    content = json.dumps(ANSWER if step == "fixed" else
                                         {**ANSWER, "rationale": body["messages"][-1]["content"][-40:]})
                    self._send(200, {"choices": [{"message": {"role": "assistant", "content": content}}],
                                     "usage": {"prompt_tokens": 100, "completion_tokens": 20}})
                elif step == "500":
                    self._send(500, {"error": "boom"})
                elif step == "429":
                    self._send(429, {"error": "slow down"})
                elif step == "garbage":
                    raw = b"<html>proxy error</html>"
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(raw)))
                    self.end_headers()
                    self.wfile.write(raw)
                elif step == "sleep":
                    time.sleep(0.6)
                    self._send(200, {"choices": []})
                elif step in ("no_schema", "no_schema_500"):  # vLLM-style 422 / llama.cpp-style 500
                    if body.get("response_format", {}).get("type") == "json_schema":
                        code = 500 if step == "no_schema_500" else 422
                        self._send(code, {"error": "body.response_format.type: Input should be 'text'"})
                    else:
                        self._send(200, {"choices": [{"message": {"content": "Valence: negative, I guess."}}]})

            def _send(self, code, obj):
                raw = json.dumps(obj).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def _scenarios(n: int):
    tls = [Timeline([MGEvent(1.0 + i, 2.0 + i, 3, "touch face")], 60.0, meta={"video_id": str(i)})
           for i in range(n)]
    return ScenarioBuilder(condition="mg_only").build_all(tls)


def _reasoner(url, cache=None, **kw):
    cfg = LLMConfig(base_url=url, model="fake-model", api_key="sk-test", backoff_s=0.01, backoff_max_s=0.02,
                    max_retries=kw.pop("max_retries", 3), timeout_s=kw.pop("timeout_s", 5.0),
                    concurrency=kw.pop("concurrency", 2), response_format=kw.pop("response_format", "auto"))
    return OpenAICompatReasoner(cfg, cache=cache, **kw)


def test_happy_path_schema_constrained_and_accounted():
    with ScriptedServer(["ok"]) as srv:
        r = _reasoner(srv.url)
        assert r.list_models() == ["fake-model"]
        preds = r.predict(_scenarios(3))
    assert [p.label for p in preds] == ["positive"] * 3 and all(p.parse_mode == "schema" for p in preds)
    assert [p.video_id for p in preds] == ["0", "1", "2"]  # order kept despite concurrency
    body = srv.requests[0]["body"]
    assert body["response_format"]["type"] == "json_schema" and body["temperature"] == 0.0
    assert srv.requests[0]["auth"] == "Bearer sk-test"
    st = r.stats.as_dict()
    assert st["requests"] == 3 and st["prompt_tokens"] == 300 and st["completion_tokens"] == 60
    assert st["latency_p50_s"] is not None


@pytest.mark.parametrize("fault", ["500", "429", "garbage"])
def test_transient_faults_are_retried(fault):
    with ScriptedServer([fault, fault, "ok"]) as srv:
        r = _reasoner(srv.url, concurrency=1)
        (p,) = r.predict(_scenarios(1))
    assert p.valid and p.label == "positive"
    assert len(srv.requests) == 3 and r.stats.retries == 2 and r.stats.failures == 0


@pytest.mark.parametrize("fault", ["500", "garbage"])
def test_persistent_faults_are_reported_not_guessed(fault):
    with ScriptedServer([fault]) as srv:
        r = _reasoner(srv.url, max_retries=2, concurrency=1)
        (p,) = r.predict(_scenarios(1))
    assert not p.valid and p.label is None and p.parse_mode == "error"
    assert "gave up after 3 attempts" in p.error
    assert len(srv.requests) == 3 and r.stats.failures == 1


def test_timeouts_are_retried_then_reported():
    with ScriptedServer(["sleep"]) as srv:
        r = _reasoner(srv.url, max_retries=1, timeout_s=0.2, concurrency=1)
        (p,) = r.predict(_scenarios(1))
    assert p.parse_mode == "error" and "Timeout" in p.error
    assert len(srv.requests) == 2


@pytest.mark.parametrize("style", ["no_schema", "no_schema_500"])
def test_server_without_json_schema_is_stepped_down_and_parsed(style):
    with ScriptedServer([style]) as srv:
        r = _reasoner(srv.url, concurrency=1)
        preds = r.predict(_scenarios(2))
    kinds = [q["body"].get("response_format", {}).get("type") for q in srv.requests]
    assert kinds == ["json_schema", "json_object", "json_object"]  # stepped down once, remembered
    assert all(p.label == "negative" and p.parse_mode == "keyword" for p in preds)


def test_interrupted_run_resumes_without_losses_or_duplicates(tmp_path):
    scen = _scenarios(6)
    seen: list[str] = []

    def interrupt_after_two(pred):
        seen.append(pred.video_id)
        if len(seen) == 2:
            raise KeyboardInterrupt

    with ScriptedServer(["ok"]) as srv:
        with ResponseCache(tmp_path / "c.sqlite") as cache:
            with pytest.raises(KeyboardInterrupt):
                _reasoner(srv.url, cache, concurrency=1, on_result=interrupt_after_two).predict(scen)
            done_first = len(srv.requests)
            assert 2 <= done_first < 6 and len(cache) == done_first
        with ResponseCache(tmp_path / "c.sqlite") as cache:
            r = _reasoner(srv.url, cache, concurrency=3)
            preds = r.predict(scen)
            assert len(cache) == 6
        again = _reasoner(srv.url, ResponseCache(tmp_path / "c.sqlite")).predict(scen)
    prompts = Counter(q["body"]["messages"][-1]["content"] for q in srv.requests)
    assert len(prompts) == 6 and set(prompts.values()) == {1}  # every prompt sent exactly once overall
    assert [p.video_id for p in preds] == [str(i) for i in range(6)] and all(p.valid for p in preds)
    assert r.stats.cache_hits == done_first and r.stats.requests == 6 - done_first
    assert all(p.cached for p in again) and [p.label for p in again] == [p.label for p in preds]


def test_identical_prompts_are_sent_once():
    tl = Timeline([], 30.0, meta={"video_id": "a"})
    scen = ScenarioBuilder(condition="context_only").build_all([tl, tl.with_events([]), tl])
    with ScriptedServer(["ok"]) as srv:
        r = _reasoner(srv.url)
        preds = r.predict(scen)
    assert len(srv.requests) == 1 and len(preds) == 3 and r.stats.deduplicated == 2


def test_config_from_environment(monkeypatch):
    for k in ("MICROGESTURE_LLM_BASE_URL", "MICROGESTURE_LLM_MODEL", "MICROGESTURE_LLM_API_KEY"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://fallback:1/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-fallback")
    monkeypatch.setenv("MICROGESTURE_LLM_MODEL", "qwen")
    cfg = LLMConfig.from_env(max_tokens=50, concurrency=None)
    assert (cfg.base_url, cfg.model, cfg.api_key, cfg.max_tokens, cfg.concurrency) == \
        ("http://fallback:1/v1", "qwen", "sk-fallback", 50, 4)
    monkeypatch.setenv("MICROGESTURE_LLM_BASE_URL", "http://primary:2/v1")
    assert LLMConfig.from_env().base_url == "http://primary:2/v1"
    from microgesture.errors import ConfigError

    with pytest.raises(ConfigError):
        LLMConfig.from_env(response_format="yaml")
