"""``microgesture emotion``: the emotion benchmark and a scenario viewer (see exactly what the LLM sees)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from ..data.mg_classes import MG_CLASS_NAMES
from ..data.synthetic import make_interview_stream
from ..emotion.benchmark import (
    load_imigue_timelines,
    run_benchmark,
    subsample,
    with_label_noise,
    write_outputs,
)
from ..emotion.cache import ResponseCache
from ..emotion.default_model import ARTEFACT, describe_model, fit_default
from ..emotion.grounding_study import grounding_rates
from ..emotion.mg_features import mg_index
from ..emotion.reasoners.label_scoring import CALIBRATIONS, LlamaCppLabelScorer
from ..emotion.reasoners.registry import create_reasoner, list_reasoners, reasoner_entry
from ..emotion.scenario import CONDITIONS, ScenarioBuilder
from ..emotion.timeline import timeline_from_predictions, to_mg_timeline
from ..emotion.variants import run_variants, summarise_variants, write_variants
from ..errors import ConfigError, MicrogestureError
from ..utils.io import atomic_write
from ..utils.paths import data_root
from .common import JSON_HELP, emit, err_console

app = typer.Typer(help="Emotion understanding from micro-gesture timelines (LLM and learned reasoners).",
                  no_args_is_help=True)

DEFAULT_REASONERS = ["majority", "random", "bag_lr", "seq_gru"]


class IncompleteRun(MicrogestureError):
    """Some requests of a benchmark got no answer; what was answered is scored and cached."""


def _labels_path(labels: Path | None) -> Path:
    p = labels or data_root() / "imigue" / "raw" / "Label" / "labels_20200831.csv"
    if not p.is_file():
        raise ConfigError(f"{p}: iMiGUE annotation CSV not found (pass --labels or set MICROGESTURE_DATA)")
    return p


def _factories(names: list[str], cache_path: Path | None, options: dict) -> dict:
    """Benchmark factories from the registry; LLM reasoners share one response cache (and one scorer)."""

    entries = {n: reasoner_entry(n) for n in names}  # unknown names fail here, before any work
    opts = dict(options)
    if any(e.kind == "llm" for e in entries.values()) and cache_path is not None:
        opts["cache"] = ResponseCache(cache_path)
    facs: dict = {}
    for n in names:
        if n == "llamacpp_score":  # one scorer (model + cache) shared by the per-fold calibrated reasoners

            if opts.get("calibration", "batch") not in CALIBRATIONS:
                raise ConfigError(f"unknown calibration {opts['calibration']!r}; choose from {', '.join(CALIBRATIONS)}")
            scorer = LlamaCppLabelScorer(opts.get("model_path"), n_threads=opts.get("n_threads"),
                                         cache=opts.get("cache"), progress=True)
            facs[n] = lambda scorer=scorer: create_reasoner("llamacpp_score", scorer=scorer,
                                                            calibration=opts.get("calibration"))
        else:
            facs[n] = lambda n=n: create_reasoner(n, **opts)
    return facs


@app.command("benchmark")
def benchmark(
    labels: Path = typer.Option(None, "--labels", help="iMiGUE annotation CSV (default: the real one under the data root)."),
    split: str = typer.Option("train", "--split", help="train (grouped CV) | dev | test | all (CV on train+dev)."),
    reasoner: list[str] = typer.Option(None, "--reasoner", "-r", help="Repeatable: a registered reasoner name "
                                       "(`microgesture emotion reasoners` lists them)."),
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
    max_retries: int = typer.Option(None, "--max-retries", help="Retries of a failed request (default 4, with "
                                    "exponential backoff)."),
    response_format: str = typer.Option(None, "--response-format", help="auto | json_schema | json_object | none."),
    max_tokens: int = typer.Option(None, "--max-tokens", help="Completion budget per LLM answer (default 1024)."),
    llm_threads: int = typer.Option(None, "--llm-threads", help="CPU threads for --reasoner llamacpp "
                                    "(1 is fastest on a machine busy with other work)."),
    calibration: str = typer.Option("batch", "--calibration",
                                    help="For --reasoner llamacpp_score: batch (mean training-prompt log-odds) | "
                                         "content_free (same prompt, observations 'N/A') | none."),
    seed: int = typer.Option(0, "--seed", help="Seeds the CV partition, few-shot draws and learned models."),
    out: Path = typer.Option(Path("runs/emotion"), "--out", help="Output folder (tables, plot, predictions, cache)."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Score reasoners × conditions on iMiGUE's video-level emotion labels (win = positive, lose = negative).

    Requests that got no answer (server unreachable, timeouts, refused) are left out of every score; the run
    then says it is incomplete and exits non-zero — rerun the same command to resume from the cache.
    """

    names = list(reasoner or DEFAULT_REASONERS)
    for n in names:  # a misspelt name fails before any data is read
        reasoner_entry(n)
    conds = list(condition or CONDITIONS)
    tls = load_imigue_timelines(_labels_path(labels))
    sources = {"annotation": lambda t: t}
    if label_noise is not None:
        if not 0 <= label_noise <= 1:
            raise ConfigError("--label-noise must be within [0, 1]")
        sources[f"noisy{label_noise:g}"] = lambda t: with_label_noise(t, label_noise, seed=seed)
    options = {"seed": seed, "model_path": model_path, "max_tokens": max_tokens, "base_url": base_url,
               "model": model, "concurrency": concurrency, "response_format": response_format,
               "max_retries": max_retries,
               "n_threads": llm_threads, "calibration": calibration, "progress": True}
    facs = _factories(names, out / "llm_cache.sqlite", options)
    res = run_benchmark(tls, split, facs, conds, few_shot, folds, seed, max_videos, sources,
                        {"max_events": max_events, "glossary": glossary})
    paths = write_outputs(res, out)
    inc = res.info.get("incomplete")
    if as_json:
        emit({"results": res.table.to_dict("records"), "comparisons": res.comparisons.to_dict("records"),
              "llm_stats": res.info["llm_stats"], "incomplete": inc, "outputs": paths}, True)
    else:
        cols = ["reasoner", "condition", "mg_source", "few_shot", "n", "accuracy", "acc_lo", "acc_hi", "macro_f1",
                "auc", "brier", "ece", "n_invalid", "not_answered"]
        emit(res.table[cols].to_dict("records"), False, title=f"emotion benchmark — split {split}")
        if len(res.comparisons):
            emit(res.comparisons[["comparison", "a", "b", "n", "diff", "p_value"]].to_dict("records"), False,
                 title="paired comparisons (exact McNemar)")
        err_console.print(f"wrote {paths['markdown']}, {paths['csv']}, {paths['plot']}")
    if inc:  # main prints it as the one error line and exits non-zero
        raise IncompleteRun(f"INCOMPLETE: {inc['n_failed']} of {inc['n_total']} requests got no answer "
                            f"({', '.join(f'{k}: {v}' for k, v in inc['by_kind'].items())}; first error: "
                            f"{inc['errors'][0] if inc['errors'] else '?'}). They are left out of every score; "
                            f"{inc['advice']}. Results so far: {paths['markdown']}")


@app.command("scenario")
def scenario(
    video_id: str = typer.Argument(..., help="iMiGUE video id, e.g. 298."),
    condition: str = typer.Option("context_mg", "--condition", "-c", help="context_only | mg_only | context_mg."),
    labels: Path = typer.Option(None, "--labels", help="iMiGUE annotation CSV (default: the real one)."),
    predictions: Path = typer.Option(None, "--predictions",
                                     help="Use predicted events (CSV start,end,label,label_name,score) instead."),
    setting: str = typer.Option(None, "--setting", help="conversation | press_conference | job_interview | "
                                                        "stress_test | deception_interview (default: the "
                                                        "timeline's own: press_conference for iMiGUE)."),
    few_shot: int = typer.Option(0, "--few-shot", help="Worked examples from emotion-training videos."),
    context: str = typer.Option(None, "--context", help="Extra user-supplied context for the prompt."),
    max_events: int = typer.Option(60, "--max-events"),
    glossary: bool = typer.Option(True, "--glossary/--no-glossary"),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Print the rendered prompt for one video, exactly as a language model receives it."""

    tls = load_imigue_timelines(_labels_path(labels))
    if predictions is not None:
        base = tls.get(video_id)
        tl = timeline_from_predictions(predictions, meta={"video_id": video_id},
                                       setting=setting or "conversation",
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


@app.command("reasoners")
def reasoners(as_json: bool = typer.Option(False, "--json", help=JSON_HELP)) -> None:
    """List the registered reasoners and what each one is."""

    rows = [{"name": n, "kind": reasoner_entry(n).kind, "description": d} for n, d in list_reasoners().items()]
    emit(rows, as_json, title="emotion reasoners")


@app.command("fit-default")
def fit_default_cmd(
    labels: Path = typer.Option(None, "--labels", help="iMiGUE annotation CSV (default: the real one)."),
    out: Path = typer.Option(None, "--out", help="Where to write the model JSON (default: the packaged file)."),
    seeds: str = typer.Option("0,1,2,3,4", "--seeds", help="CV seeds for the scores the model reports."),
    n_boot: int = typer.Option(100, "--n-boot", help="Bootstrap refits behind the interval."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Rebuild the default emotion reasoner from iMiGUE's 102 emotion-training videos (CV-scored, then fit)."""

    tls = load_imigue_timelines(_labels_path(labels))
    target = out or ARTEFACT
    model, cv = fit_default(tls, target, _seeds(seeds), n_boot)
    emit({"written": str(target), "variant": model.variant, "C": model.C,
          **{k: cv[k] for k in ("accuracy", "accuracy_sd", "auc", "auc_sd", "brier", "ece")},
          "description": describe_model(model)}, as_json, title="default emotion reasoner")


@app.command("variants")
def variants_cmd(
    labels: Path = typer.Option(None, "--labels", help="iMiGUE annotation CSV (default: the real one)."),
    seeds: str = typer.Option("0,1,2,3,4", "--seeds", help="CV seeds (outer partitions)."),
    out: Path = typer.Option(Path("runs/emotion/variants"), "--out", help="Output folder."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """The pre-declared variant study behind the default reasoner (docs/results/emotion_default_reasoner.md)."""

    tls = load_imigue_timelines(_labels_path(labels))
    train = {v: t for v, t in tls.items() if t.meta.get("split") == "train"}
    oof = run_variants(train, _seeds(seeds))
    paths = write_variants(oof, out)
    emit(summarise_variants(oof).round(4).to_dict("records"), as_json, title="variants (split train, CV)")
    if not as_json:
        err_console.print(f"wrote {paths['markdown']}")


def _seeds(text: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ConfigError(f"--seeds must be comma-separated integers, not {text!r}") from None


@app.command("grounding-rate")
def grounding_rate_cmd(
    labels: Path = typer.Option(None, "--labels", help="iMiGUE annotation CSV (default: the real one)."),
    reasoner: str = typer.Option("llamacpp", "--reasoner", "-r", help="An LLM reasoner (llamacpp, openai)."),
    videos: int = typer.Option(6, "--videos", help="iMiGUE emotion-training timelines (label-stratified sample)."),
    synthetic: int = typer.Option(2, "--synthetic", help="Synthetic interview timelines."),
    setting: list[str] = typer.Option(None, "--setting", help="Repeatable (default: every setting)."),
    max_events: int = typer.Option(20, "--max-events", help="Events listed per prompt."),
    glossary: bool = typer.Option(False, "--glossary/--no-glossary", help="Describe each listed gesture class."),
    model_path: Path = typer.Option(None, "--model-path", help="GGUF for llamacpp (default: bundled SmolLM2)."),
    base_url: str = typer.Option(None, "--base-url", help="OpenAI-compatible server for -r openai."),
    model: str = typer.Option(None, "--model", help="Model name on that server."),
    llm_threads: int = typer.Option(1, "--llm-threads", help="CPU threads for llamacpp."),
    seed: int = typer.Option(0, "--seed", help="Seeds the video sample."),
    out: Path = typer.Option(Path("runs/emotion/grounding"), "--out", help="Output folder (table, readings, cache)."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """How often an LLM's answers fail the grounding check, per setting (iMiGUE MG-set and synthetic timelines)."""


    tls = load_imigue_timelines(_labels_path(labels))
    train = [v for v, t in tls.items() if t.meta.get("split") == "train"]
    imigue = [to_mg_timeline(tls[v]) for v in subsample(train, tls, videos, seed)]
    syn = []
    for s in range(synthetic):
        clip, truth = make_interview_stream(seed=1000 + s, duration_s=120)
        fps = clip.fps
        names = [MG_CLASS_NAMES[max(mg_index(n), 0)] if mg_index(n) >= 0 else n for n in truth["label_name"]]
        ev = truth.assign(start=truth["start_frame"] / fps, end=(truth["end_frame"] + 1) / fps, score=1.0,
                          label_name=names, label=[mg_index(n) for n in names])
        syn.append(timeline_from_predictions(ev, duration_s=clip.num_frames / fps, meta={"video_id": f"syn{s}"}))
    out.mkdir(parents=True, exist_ok=True)
    with ResponseCache(out / "llm_cache.sqlite") as cache:
        table, readings = grounding_rates({"imigue": imigue, "synthetic": syn}, setting or None, reasoner,
                                          model_path=model_path, base_url=base_url, model=model,
                                          n_threads=llm_threads, cache=cache, max_events=max_events,
                                          glossary=glossary)
    with atomic_write(out / "grounding.csv") as fh:
        table.to_csv(fh, index=False)
    with atomic_write(out / "readings.jsonl", encoding="utf-8") as fh:
        for r in readings:
            fh.write(json.dumps(r, default=str) + "\n")
    emit(table.to_dict("records"), as_json, title=f"grounding check — {reasoner}")
