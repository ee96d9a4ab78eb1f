"""The reasoners that ship with microgesture, registered by name when the ``reasoners`` package is imported.

Each factory imports its implementation when it is called: the LLM back-ends pull llama.cpp or an HTTP client,
and the packaged default (``emotion.default_model``) imports the benchmark, which imports this package — so
listing the reasoners costs nothing and no import cycle forms.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..cache import ResponseCache
from . import learned
from .base import Reasoner
from .registry import register_reasoner


def _default(path: str | Path | None = None) -> Reasoner:
    """The shipped model (``path``: a rebuilt one instead)."""
    from ..default_model import PackagedMGReasoner

    return PackagedMGReasoner(path)


def _mg_calibrated(seed: int = 0, n_boot: int = 20) -> Reasoner:
    from .calibrated import CalibratedMGReasoner

    return CalibratedMGReasoner(seed=seed, n_boot=n_boot)


def _llamacpp(model_path: str | Path | None = None, max_tokens: int = 1024, seed: int = 0,
              cache: ResponseCache | None = None, n_threads: int | None = None, progress: bool = False) -> Reasoner:
    from .llamacpp import LlamaCppReasoner

    return LlamaCppReasoner(model_path, max_tokens=max_tokens, seed=seed, cache=cache, n_threads=n_threads,
                            progress=progress)


def _llamacpp_score(scorer: Any = None, model_path: str | Path | None = None, n_threads: int | None = None,
                    cache: ResponseCache | None = None, progress: bool = False,
                    calibration: str = "batch") -> Reasoner:
    from .label_scoring import LabelScoringReasoner, LlamaCppLabelScorer

    scorer = scorer or LlamaCppLabelScorer(model_path, n_threads=n_threads, cache=cache, progress=progress)
    return LabelScoringReasoner(scorer, calibration)


def _openai(base_url: str | None = None, model: str | None = None, max_tokens: int | None = None,
            concurrency: int | None = None, response_format: str | None = None, seed: int | None = None,
            timeout_s: float | None = None, max_retries: int | None = None, cache: ResponseCache | None = None,
            progress: bool = False) -> Reasoner:
    from .openai_compat import LLMConfig, OpenAICompatReasoner

    cfg = LLMConfig.from_env(base_url=base_url, model=model, max_tokens=max_tokens, concurrency=concurrency,
                             response_format=response_format, seed=seed, timeout_s=timeout_s,
                             max_retries=max_retries)
    return OpenAICompatReasoner(cfg, cache=cache, progress=progress)


register_reasoner(
    "default", _default,
    "Calibrated logistic model over MG-timeline features (rates per visible minute, time shares, "
    "compositions; 14-class MG set), fitted on iMiGUE's 102 emotion-training videos and shipped as JSON. Its "
    "label is iMiGUE's match outcome (won = positive) as a proxy for valence; how well it does is in its "
    "description (person-grouped CV).", "default")
register_reasoner("mg_calibrated", _mg_calibrated,
                  "The default reasoner's procedure refit on each training fold (what the benchmark scores).")
register_reasoner("majority", lambda: learned.MajorityReasoner(), "Always the training majority label.",
                  "baseline")
register_reasoner("random", lambda seed=0: learned.RandomReasoner(seed), "Coin flips with the training prior.",
                  "baseline")
register_reasoner("bag_lr", lambda seed=0: learned.BagOfMGReasoner(seed=seed),
                  "Per-class rates and time shares (32 iMiGUE classes) + logistic regression, C by inner CV.")
register_reasoner("bag_lr_bigram", lambda seed=0: learned.BagOfMGReasoner(bigrams=True, seed=seed),
                  "bag_lr plus class-transition rates.")
register_reasoner("cat_lr", lambda seed=0: learned.BagOfMGReasoner(("categories",), seed=seed, name="cat_lr"),
                  "Functional-category rates + logistic regression.")
register_reasoner("bag_lr_auto", lambda seed=0: learned.BagOfMGReasoner(tuple(learned.FEATURE_SETS), seed=seed,
                                                                        name="bag_lr_auto"),
                  "Logistic regression; the feature set chosen by inner CV.")
register_reasoner("bag_rf", lambda seed=0: learned.BagOfMGReasoner(("classes+categories",), model="rf", seed=seed),
                  "Class and category rates + random forest (fixed settings).")
register_reasoner("bag_hgb", lambda seed=0: learned.BagOfMGReasoner(("classes+categories",), model="hgb", seed=seed,
                                                                    name="bag_hgb"),
                  "Class and category rates + gradient boosting, depth / learning rate by inner CV.")
register_reasoner("seq_gru", lambda seed=0: learned.SequenceGRUReasoner(seed=seed),
                  "A small GRU over the ordered event sequence (32 iMiGUE classes).")
register_reasoner("profile_lr", lambda seed=0: learned.TemporalProfileReasoner(seed=seed),
                  "Category rates per third of the span, gaps, bursts + logistic regression (fixed C).")
register_reasoner("gru_rf", lambda seed=0: learned.ProbabilityAverageReasoner(
    [learned.SequenceGRUReasoner(seed=seed),
     learned.BagOfMGReasoner(("classes+categories",), model="rf", seed=seed)], name="gru_rf"),
    "Mean of seq_gru's and bag_rf's probabilities.")
register_reasoner("llamacpp", _llamacpp,
                  "An in-process llama.cpp model (default: the bundled SmolLM2-135M, which cannot reason) "
                  "answering in JSON with grounded evidence.", "llm")
register_reasoner("llamacpp_score", _llamacpp_score,
                  "llama.cpp label scoring: log P(positive) - log P(negative) after the answer prefix, "
                  "calibrated per fold.", "llm")
register_reasoner("openai", _openai,
                  "Any OpenAI-compatible chat server (llama.cpp server, vLLM, Ollama, hosted APIs) answering in "
                  "JSON with grounded evidence.", "llm")
