"""``microgesture analyze`` (any input → MG timeline → emotion → HTML report) and ``microgesture online-eval``."""

from __future__ import annotations

from pathlib import Path

import typer

from ..evaluation.online import METHODS as ONLINE_METHODS
from ..evaluation.online import run_online_evaluation
from ..pipeline.analyze import AnalysisFailed, AnalyzeOptions
from ..pipeline.analyze import analyze as run
from ..training.windows import OnlineConfig
from .common import JSON_HELP, emit, err_console


def register(app: typer.Typer) -> None:
    app.command("analyze")(analyze)
    app.command("online-eval")(online_eval)


def analyze(
    input_path: Path = typer.Argument(..., metavar="INPUT",
                                      help="A video file, an OpenPose JSON folder, a native store, a PYSKL .pkl or a .npy."),
    out: Path = typer.Option(..., "--out", "-o", help="Output directory for the report and files."),
    model: str | None = typer.Option(None, "--model", help="What finds the micro-gestures: 'detectors' (default: "
                                                           "kinematic detectors, fitted profile), 'detectors-unfitted', "
                                                           "a thresholds .yaml or a window-model checkpoint from "
                                                           "`microgesture train-detector`, or 'synthetic'."),
    reasoner: str = typer.Option("default", "--reasoner",
                                 help="Emotion reasoner (`microgesture emotion reasoners`): default (calibrated, "
                                      "offline), llamacpp (in-process GGUF), openai (OpenAI-compatible server from "
                                      "--llm-base-url or MICROGESTURE_LLM_BASE_URL), ... or none."),
    setting: str = typer.Option("conversation", help="What the recording is: conversation (default), "
                                                     "press_conference, job_interview, stress_test, deception_interview."),
    llm_base_url: str | None = typer.Option(None, help="--reasoner openai: server URL (…/v1)."),
    llm_model: str | None = typer.Option(None, help="--reasoner openai: model name on the server."),
    llm_model_path: Path | None = typer.Option(None, help="--reasoner llamacpp: a GGUF file (default: bundled "
                                                          "SmolLM2)."),
    kind: str | None = typer.Option(None, help="Input kind if detection guesses wrong (a reader kind: video, "
                                               "openpose, native, pyskl, npy, ...; `microgesture data info`)."),
    stride: int = typer.Option(1, help="Video: analyse every n-th frame."),
    max_frames: int | None = typer.Option(None, help="Video: stop after this many analysed frames."),
    hands: bool = typer.Option(True, "--hands/--no-hands", help="Video: track hands (Holistic) or pose only."),
    fps: float | None = typer.Option(None, help="Frame rate for inputs that do not state one (default 25)."),
    layout: str | None = typer.Option(None, help=".npy input: layout name (default: from the joint count)."),
    clip: int = typer.Option(0, "--clip", help="Skeleton files with several clips: the one to analyse."),
    gap_fill: int = typer.Option(0, help="Bridge gaps of at most this many frames by interpolation (0: off)."),
    threshold: float | None = typer.Option(None, help="Window models: event threshold on the smoothed class "
                                                      "probability."),
    truth: Path | None = typer.Option(None, help="Ground-truth events CSV (or iMiGUE labels CSV) to score against."),
    no_progress: bool = typer.Option(False, "--no-progress", help="Hide progress bars."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Analyse INPUT: skeletons → micro-gesture timeline → emotion reading → self-contained HTML report.

    A report is written even when a stage fails (it shows what could be read); the exit code is non-zero
    when no timeline could be produced.
    """
    online = OnlineConfig(threshold=threshold) if threshold is not None else None
    llm = {"base_url": llm_base_url, "model": llm_model, "model_path": llm_model_path}
    opts = AnalyzeOptions(model=model, reasoner=reasoner, setting=setting, kind=kind, stride=stride,
                          reasoner_options={k: v for k, v in llm.items() if v is not None},
                          max_frames=max_frames, hands=hands, fps=fps, layout=layout, clip_index=clip,
                          gap_fill=gap_fill, online=online, truth=truth, progress=not no_progress)
    result = run(input_path, out, opts)
    emit(_human(result) if not as_json else result.to_dict(), as_json, title="microgesture analyze")
    if result.status == "partial":
        err_console.print(f"warning: {result.failed_stage} stage: {result.error}", markup=False, highlight=False)
    if result.exit_code:  # main prints this as the one error line and exits non-zero
        raise AnalysisFailed(f"{result.failed_stage} stage failed: {result.error} (partial report: "
                             f"{result.files.get('html')})")


def _human(result) -> dict:
    rec = result.summary.get("recognition", {})
    return {"status": result.status, "report": result.files.get("html"), "events": rec.get("events"),
            "events_per_minute": round(rec.get("events_per_minute", 0.0), 2) if rec else None,
            "emotion": result.summary.get("emotion"), "warnings": len(result.warnings)}


def online_eval(
    out: Path = typer.Option(Path("runs/online_eval"), "--out", "-o", help="Output directory."),
    imigue: Path | None = typer.Option(None, help="iMiGUE root (default: <data root>/imigue) for video 298."),
    video: str = typer.Option("298", help="iMiGUE video id with an OpenPose folder."),
    train_fraction: float = typer.Option(0.6, help="Leading share of the stream used for training."),
    synthetic_streams: int = typer.Option(3, help="Synthetic test streams (the synthetic model is trained on others)."),
    method: list[str] = typer.Option(None, "--method", help=f"Rows to run (repeatable): {', '.join(ONLINE_METHODS)} "
                                                           "(default: all)."),
    ssl_epochs: int = typer.Option(20, help="Self-supervised pretraining epochs on the unlabelled stream."),
    seed: int = typer.Option(0),
    no_progress: bool = typer.Option(False, "--no-progress"),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Online MG recognition on iMiGUE video 298 and synthetic streams: every method side by side (detection
    P/R/F1 at tIoU 0.5 at the MG class level and class-agnostic, SMG Rec/Acc/F1), beside published baselines."""
    res = run_online_evaluation(out, imigue_root=imigue, video=video, train_fraction=train_fraction,
                                synthetic_streams=synthetic_streams, seed=seed, ssl_epochs=ssl_epochs,
                                methods=tuple(method) if method else None, progress=not no_progress)
    if as_json:
        emit(res, True)
        return
    short = [{"dataset": r["dataset"], "method": r["method"], "part": r["part"], "F1@IoU.5": r.get("det_f1@0.5"),
              "agnostic": r.get("det_f1_agnostic@0.5"), "SMG F1": r["f1"], "pred": r.get("predicted_events"),
              "GT": r.get("gt_events")} for r in res["table"]]
    emit(short, False, title="online MG recognition: ours beside published (SMG README)")
    err_console.print(res["note"], markup=False, highlight=False)
    err_console.print(f"iMiGUE: {res['imigue'].get('protocol') or res['imigue'].get('skipped')}", markup=False,
                      highlight=False)
    err_console.print(f"written: {out / 'online_eval.json'}, {out / 'online_eval.csv'}", markup=False, highlight=False)
