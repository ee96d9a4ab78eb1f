"""An unreachable server is not an answer: a real server process killed mid-benchmark. Requests that never got
an answer stay out of every score, the run says it is incomplete and exits non-zero, and rerunning the same
command against a restarted server resumes from the cache and completes it."""

from __future__ import annotations

import json
import socket
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import httpx
import pytest

from microgesture.cli.main import main
from test_emotion_learned import write_synthetic_csv

ANSWER = {"valence": "positive", "arousal": "low", "confidence": 0.6, "evidence": [], "rationale": "Calm."}
SERVER = textwrap.dedent("""
    import json, sys
    from http.server import BaseHTTPRequestHandler, HTTPServer

    class H(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def _send(self, obj):
            raw = json.dumps(obj).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def do_GET(self):
            self._send({"data": [{"id": "m"}]})

        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            self._send({"choices": [{"message": {"content": sys.argv[2]}}],
                        "usage": {"prompt_tokens": 10, "completion_tokens": 5}})

    HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
""")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_up(proc: subprocess.Popen, url: str, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            pytest.fail(f"{what} exited with {proc.returncode}")
        try:
            if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not come up within {timeout} s")
        time.sleep(0.2)


def _kill_after(proc: subprocess.Popen, cache: Path, n: int) -> threading.Thread:
    """Kill ``proc`` once the benchmark's response cache holds ``n`` answers (the run is then mid-way)."""
    def watch():
        while proc.poll() is None:
            try:
                with sqlite3.connect(cache, timeout=1) as db:
                    if db.execute("SELECT COUNT(*) FROM responses").fetchone()[0] >= n:
                        proc.kill()
                        return
            except sqlite3.Error:
                pass
            time.sleep(0.05)

    t = threading.Thread(target=watch, daemon=True)
    t.start()
    return t


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _run_interrupted_then_resumed(tmp_path, capsys, start_server, extra_args, n_videos=12, kill_at=4):
    csv = write_synthetic_csv(tmp_path / "labels.csv", n_videos=n_videos, n_subjects=6)
    out = tmp_path / "run"
    out.mkdir()
    proc, url = start_server()
    args = ["emotion", "benchmark", "--labels", str(csv), "-r", "openai", "-c", "mg_only", "--folds", "3",
            "--out", str(out), "--base-url", url, "--concurrency", "1", "--max-retries", "1", "--json", *extra_args]
    try:
        watcher = _kill_after(proc, out / "llm_cache.sqlite", kill_at)
        rc = main(args)
        watcher.join(timeout=5)
        captured = capsys.readouterr()
        first = json.loads(captured.out)
    finally:
        _stop(proc)
    assert rc == 1, first  # incomplete: non-zero, with one line that says how many and why
    assert "INCOMPLETE" in captured.err and "requests got no answer" in captured.err and "rerun" in captured.err
    inc = first["incomplete"]
    (row,) = first["results"]
    assert inc and inc["n_total"] == n_videos and inc["by_kind"] == {"transport": inc["n_failed"]}
    assert 1 <= inc["n_failed"] <= n_videos - kill_at
    assert row["n"] == n_videos - inc["n_failed"] and row["not_answered"] == inc["n_failed"]  # kept out of scores
    assert "INCOMPLETE" in (out / "results.md").read_text()
    answered = row["n"]
    proc, url = start_server()  # the server is back: the same command resumes
    try:
        args[args.index("--base-url") + 1] = url
        rc = main(args)
        second = json.loads(capsys.readouterr().out)
    finally:
        _stop(proc)
    assert rc == 0 and second["incomplete"] is None, second
    (row2,) = second["results"]
    st = second["llm_stats"]["openai"]
    assert row2["n"] == n_videos and row2["not_answered"] == 0
    assert st["cache_hits"] == answered and st["requests"] == n_videos - answered and st["failures"] == 0
    return first, second


def test_killed_http_server_mid_benchmark(tmp_path, capsys):
    def start():
        port = _free_port()
        proc = subprocess.Popen([sys.executable, "-c", SERVER, str(port), json.dumps(ANSWER)])
        url = f"http://127.0.0.1:{port}/v1"
        _wait_up(proc, url, "the test server")
        return proc, url

    first, second = _run_interrupted_then_resumed(tmp_path, capsys, start, ["--model", "m"])
    assert first["results"][0]["positive_rate"] == 1.0 and second["results"][0]["accuracy"] == 0.5


@pytest.mark.slow
def test_killed_llama_cpp_server_mid_benchmark(tmp_path, capsys):
    """The same with a real llama_cpp.server running the bundled SmolLM2 (short prompts and answers)."""
    from test_emotion_llamacpp import _need_llama

    gguf = _need_llama()
    log = tmp_path / "server.log"

    def start():
        port = _free_port()
        logf = open(log, "ab")  # noqa: SIM115 - the process owns it; closed when the test's tmp dir goes
        proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host",
                                 "127.0.0.1", "--port", str(port), "--model_alias", "smollm2", "--n_ctx", "2048",
                                 "--n_threads", "1"], stdout=logf, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}/v1"
        _wait_up(proc, url, "llama_cpp.server")
        return proc, url

    _run_interrupted_then_resumed(tmp_path, capsys, start,
                                  ["--model", "smollm2", "--max-tokens", "24", "--max-events", "3", "--no-glossary"],
                                  n_videos=9, kill_at=3)
