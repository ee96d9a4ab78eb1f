"""``microgesture emotion``: the emotion benchmark and a scenario viewer (see exactly what the LLM sees)."""

from __future__ import annotations

from pathlib import Path

import typer

from ..errors import ConfigError
from .common import JSON_HELP, emit, err_console

app = typer.Typer(help="Emotion understanding from micro-gesture timelines (LLM and learned reasoners).",
                  no_args_is_help=True)

LEARNED = ("majority", "random", "bag_lr", "bag_lr_bigram", "cat_lr", "bag_lr_auto", "bag_rf", "seq_gru",
           "profile_lr", "gru_rf", "bag_hgb")
LLM = ("llamacpp", "llamacpp_score", "openai")
DEFAULT_REASONERS = ["majority", "random", "bag_lr", "seq_gru"]


def _labels_path(labels: Path | None) -> Path:
    from ..utils.paths import data_root

    p = labels or data_root() / "imigue" / "raw" / "Label" / "labels_20200831.csv"
    if not p.is_file():
        raise ConfigError(f"{p}: iMiGUE annotation CSV not found (pass --labels or set MICROGESTURE_DATA)")
    return p


def _factories(names: list[str], cache_path: Path | None, model_path: Path | None, max_tokens: int,
               base_url: str | None, model: str | None, concurrency: int | None, response_format: str | None,
               seed: int, llm_threads: int | None = None, calibration: str = "batch") -> dict:
    from ..emotion.reasoners import learned

    facs: dict = {}
    cache = None
    for n in names:
        if n not in LEARNED + LLM:
            raise ConfigError(f"unknown reasoner {n!r}; choose from {', '.join(LEARNED + LLM)}")
        if n in LLM and cache is None and cache_path is not None:
            from ..emotion.cache import ResponseCache

            cache = ResponseCache(cache_path)
    table = {
        "majority": learned.MajorityReasoner,
        "random": lambda: learned.RandomReasoner(seed),
        "bag_lr": lambda: learned.BagOfMGReasoner(seed=seed),
        "bag_lr_bigram": lambda: learned.BagOfMGReasoner(bigrams=True, seed=seed),
        "cat_lr": lambda: learned.BagOfMGReasoner(("categories",), seed=seed, name="cat_lr"),
        "bag_lr_auto": lambda: learned.BagOfMGReasoner(tuple(learned.FEATURE_SETS), seed=seed, name="bag_lr_auto"),
        "bag_rf": lambda: learned.BagOfMGReasoner(("classes+categories",), model="rf", seed=seed),
        "seq_gru": lambda: learned.SequenceGRUReasoner(seed=seed),
        "profile_lr": lambda: learned.TemporalProfileReasoner(seed=seed),
        "bag_hgb": lambda: learned.BagOfMGReasoner(("classes+categories",), model="hgb", seed=seed, name="bag_hgb"),
        "gru_rf": lambda: learned.ProbabilityAverageReasoner(
            [learned.SequenceGRUReasoner(seed=seed),
             learned.BagOfMGReasoner(("classes+categories",), model="rf", seed=seed)], name="gru_rf"),
    }
    for n in names:
        if n == "llamacpp":
            from ..emotion.reasoners.llamacpp import LlamaCppReasoner

            facs[n] = lambda: LlamaCppReasoner(model_path, max_tokens=max_tokens, seed=seed, cache=cache,
                                               n_threads=llm_threads, progress=True)
        elif n == "llamacpp_score":  # one scorer (model + cache) shared by the per-fold calibrated reasoners
            from ..emotion.reasoners.label_scoring import (
                CALIBRATIONS,
                LabelScoringReasoner,
                LlamaCppLabelScorer,
            )

            if calibration not in CALIBRATIONS:
                raise ConfigError(f"unknown calibration {calibration!r}; choose from {', '.join(CALIBRATIONS)}")
            scorer = LlamaCppLabelScorer(model_path, n_threads=llm_threads, cache=cache, progress=True)
            facs[n] = lambda scorer=scorer: LabelScoringReasoner(scorer, calibration)
        elif n == "openai":
            from ..emotion.reasoners.openai_compat import LLMConfig, OpenAICompatReasoner

            cfg = LLMConfig.from_env(base_url=base_url, model=model, max_tokens=max_tokens,
                                     concurrency=concurrency, response_format=response_format, seed=seed)
            facs[n] = lambda cfg=cfg: OpenAICompatReasoner(cfg, cache=cache, progress=True)
        else:
            facs[n] = table[n]
    return facs


@app.command("benchmark")
def benchmark(
    labels: Path = typer.Option(None, "--labels", help="iMiGUE annotation CSV (default: the real one under the data root)."),
    split: str = typer.Option("train", "--split", help="train (grouped CV) | dev | test | all (CV on train+dev)."),
    reasoner: list[str] = typer.Option(None, "--reasoner", "-r",
                                       help=f"Repeatable. One of {', '.join(LEARNED + LLM)}."),
    condition: list[str] = typer.Option(None, "--condition", "-c",
                                        help="Repeatable: context_only, mg_only, context_mg (default: all)."),
    few_shot: int = typer.Option(0, "--few-shot", help="Worked examples per LLM prompt, from training folds only."),
    folds: int = typer.Option(5, "--folds", help="Cross-validation folds (split train/all)."),
    max_videos: int = typer.Option(None, "--max-videos", help="Evaluate a stratified subset (LLM budgets)."),
    label_noise: float = typer.Option(None, "--label-noise",
                                      help="Also run with MG labels corrupted at this rate (simulated recogniser)."),
    max_events: int = typer.Option(60, "--max-events", help="Events listed per prompt (all are summarised)."),
    glossary: bool = typer.Option(True, "--glossary/--no-glossary", help="Describe each listed gesture class."),
    model_path: Path = typer.Option(None, "--model-path", help="GGUF for --reasoner llamacpp (default: bundled SmolLM2)."),
    base_url: str = typer.Option(None, "--base-url", help="OpenAI-compatible server (or MICROGESTURE_LLM_BASE_URL)."),
    model: str = typer.Option(None, "--model", help="Model name on that server (or MICROGESTURE_LLM_MODEL)."),
    concurrency: int = typer.Option(None, "--concurrency", help="Parallel requests to the server."),
    response_format: str = typer.Option(None, "--response-format", help="auto | json_schema | json_object | none."),
    max_tokens: int = typer.Option(160, "--max-tokens", help="Completion budget per LLM answer."),
    llm_threads: int = typer.Option(None, "--llm-threads", help="CPU threads for --reasoner llamacpp "
                                    "(1 is fastest on a machine busy with other work)."),
    calibration: str = typer.Option("batch", "--calibration",
                                    help="For --reasoner llamacpp_score: batch (mean training-prompt log-odds) | "
                                         "content_free (same prompt, observations 'N/A') | none."),
    seed: int = typer.Option(0, "--seed", help="Seeds the CV partition, few-shot draws and learned models."),
    out: Path = typer.Option(Path("runs/emotion"), "--out", help="Output folder (tables, plot, predictions, cache)."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Score reasoners × conditions on iMiGUE's video-level emotion labels (win = positive, lose = negative)."""
    from ..emotion.benchmark import load_imigue_timelines, run_benchmark, with_label_noise, write_outputs
    from ..emotion.scenario import CONDITIONS

    names = list(reasoner or DEFAULT_REASONERS)
    conds = list(condition or CONDITIONS)
    tls = load_imigue_timelines(_labels_path(labels))
    sources = {"annotation": lambda t: t}
    if label_noise is not None:
        if not 0 <= label_noise <= 1:
            raise ConfigError("--label-noise must be within [0, 1]")
        sources[f"noisy{label_noise:g}"] = lambda t: with_label_noise(t, label_noise, seed=seed)
    facs = _factories(names, out / "llm_cache.sqlite", model_path, max_tokens, base_url, model, concurrency,
                      response_format, seed, llm_threads, calibration)
    res = run_benchmark(tls, split, facs, conds, few_shot, folds, seed, max_videos, sources,
                        {"max_events": max_events, "glossary": glossary})
    paths = write_outputs(res, out)
    if as_json:
        emit({"results": res.table.to_dict("records"), "comparisons": res.comparisons.to_dict("records"),
              "llm_stats": res.info["llm_stats"], "outputs": paths}, True)
        return
    cols = ["reasoner", "condition", "mg_source", "few_shot", "n", "accuracy", "acc_lo", "acc_hi", "macro_f1",
            "n_invalid"]
    emit(res.table[cols].to_dict("records"), False, title=f"emotion benchmark — split {split}")
    if len(res.comparisons):
        emit(res.comparisons[["comparison", "a", "b", "n", "diff", "p_value"]].to_dict("records"), False,
             title="paired comparisons (exact McNemar)")
    err_console.print(f"wrote {paths['markdown']}, {paths['csv']}, {paths['plot']}")


@app.command("scenario")
def scenario(
    video_id: str = typer.Argument(..., help="iMiGUE video id, e.g. 298."),
    condition: str = typer.Option("context_mg", "--condition", "-c", help="context_only | mg_only | context_mg."),
    labels: Path = typer.Option(None, "--labels", help="iMiGUE annotation CSV (default: the real one)."),
    predictions: Path = typer.Option(None, "--predictions",
                                     help="Use predicted events (CSV start,end,label,label_name,score) instead."),
    setting: str = typer.Option(None, "--setting", help="press_conference | job_interview | stress_test | "
                                                        "deception_interview."),
    few_shot: int = typer.Option(0, "--few-shot", help="Worked examples from emotion-training videos."),
    context: str = typer.Option(None, "--context", help="Extra user-supplied context for the prompt."),
    max_events: int = typer.Option(60, "--max-events"),
    glossary: bool = typer.Option(True, "--glossary/--no-glossary"),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Print the rendered prompt for one video, exactly as a language model receives it."""
    from ..emotion.benchmark import load_imigue_timelines
    from ..emotion.scenario import ScenarioBuilder
    from ..emotion.timeline import timeline_from_predictions

    tls = load_imigue_timelines(_labels_path(labels))
    if predictions is not None:
        base = tls.get(video_id)
        tl = timeline_from_predictions(predictions, meta={"video_id": video_id},
                                       setting=setting or "press_conference",
                                       duration_s=base.duration_s if base else None)
        source = "predicted"
    else:
        if video_id not in tls:
            raise ConfigError(f"video {video_id!r} is not in the annotations ({len(tls)} videos)")
        tl, source = tls[video_id], "annotation"
    pool = [t for v, t in tls.items() if t.meta.get("split") == "train" and v != video_id]
    sc = ScenarioBuilder(condition=condition, setting=setting, mg_source=source, few_shot=few_shot, pool=pool,
                         max_events=max_events, glossary=glossary, extra_context=context).build(tl)
    if as_json:
        emit(sc.to_dict(), True)
        return
    for m in sc.messages:
        typer.echo(f"--- {m['role']} ---\n{m['content']}\n")
