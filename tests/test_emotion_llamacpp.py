"""Real generation with the bundled SmolLM2-135M: through a llama.cpp OpenAI-compatible server and in-process.

Slow-ish (a real model on a CPU), so prompts are short. Skips only where llama_cpp or the bundled model is
missing, and fails under CI.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import httpx
import pytest

from conftest import skip_or_fail
from microgesture.emotion.scenario import ScenarioBuilder
from microgesture.emotion.schema import is_valid
from microgesture.emotion.timeline import MGEvent, Timeline

pytestmark = pytest.mark.slow


def _need_llama():
    try:
        import llama_cpp  # noqa: F401

        from microgesture.emotion.reasoners.llamacpp import bundled_gguf

        return bundled_gguf()
    except Exception as e:  # noqa: BLE001 - any missing piece means "cannot run here"
        skip_or_fail(f"llama-cpp-python or the bundled SmolLM2 GGUF is unavailable: {e}")


def _scenarios():
    tls = [Timeline([MGEvent(3, 5, 9, "bite nails"), MGEvent(12, 13, 3, "touch face")], 60.0,
                    meta={"video_id": "a"}),
           Timeline([MGEvent(4, 8, 24, "minaret hand"), MGEvent(20, 22, 27, "head up")], 60.0,
                    meta={"video_id": "b"})]
    return ScenarioBuilder(condition="context_mg", glossary=False, summary=False).build_all(tls)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory):
    gguf = _need_llama()
    port = _free_port()
    log = tmp_path_factory.mktemp("llama") / "server.log"  # a file, not a pipe: a full pipe would block it
    logf = open(log, "wb")  # noqa: SIM115 - closed in finally
    proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1",
                             "--port", str(port), "--model_alias", "smollm2", "--n_ctx", "2048"],
                            stdout=logf, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                pytest.fail(f"llama_cpp.server exited: {log.read_text(errors='replace')[-2000:]}")
            try:
                if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("llama_cpp.server did not come up within 120 s")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        logf.close()


def test_llama_cpp_server_through_the_user_client(llama_server, tmp_path):
    from microgesture.emotion.cache import ResponseCache
    from microgesture.emotion.reasoners.openai_compat import LLMConfig, OpenAICompatReasoner

    cfg = LLMConfig(base_url=llama_server, model="smollm2", max_tokens=400, concurrency=1, timeout_s=300)
    with ResponseCache(tmp_path / "c.sqlite") as cache:
        r = OpenAICompatReasoner(cfg, cache=cache)
        assert "smollm2" in r.list_models()
        preds = r.predict(_scenarios())
        assert len(cache) == 2
    assert all(p.valid for p in preds), [(p.parse_mode, p.raw, p.error) for p in preds]
    assert all(p.label in ("positive", "negative") for p in preds)
    # llama.cpp's server rejects OpenAI's json_schema format; the client must have stepped down to the
    # llama.cpp json_object+schema form, whose grammar makes every reply schema-valid
    assert r._format == "json_object"
    assert all(p.parse_mode == "schema" for p in preds), [p.raw for p in preds]
    st = r.stats.as_dict()
    assert st["requests"] == 2 and st["prompt_tokens"] > 100 and st["completion_tokens"] > 10


def test_in_process_llamacpp_constrained_json():
    gguf = _need_llama()
    import json

    from microgesture.emotion.reasoners.llamacpp import LlamaCppReasoner

    r = LlamaCppReasoner(gguf, n_ctx=2048, max_tokens=400, n_threads=1)  # 1 thread: fastest on a busy CI box
    (sc,) = _scenarios()[:1]
    (p,) = r.predict([sc])
    assert p.parse_mode == "schema" and p.valid and is_valid(json.loads(p.raw), sc.schema)
    assert p.completion_tokens > 0 and p.latency_s > 0
    # the grammar allows only listed event ids; whether the citations hold is the grounding check's call
    assert {e["event_id"] for e in json.loads(p.raw)["evidence"]} <= set(sc.shown)
    assert p.grounding is not None and isinstance(p.grounding["usable"], bool)
    assert p.grounding["usable"] or p.grounding["problems"]
