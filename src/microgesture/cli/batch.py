"""``microgesture analyze-batch``: many recordings → one report each + a cohort table and report, on Dask."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import typer

from ..errors import ConfigError
from ..pipeline.analyze import AnalyzeOptions
from ..pipeline.batch import collect_inputs, run_batch
from ..training.windows import OnlineConfig
from .common import JSON_HELP, emit, err_console

_D = AnalyzeOptions()


def register(app: typer.Typer) -> None:
    app.command("analyze-batch")(analyze_batch)


def analyze_batch(
    inputs: list[Path] = typer.Argument(..., metavar="INPUTS...",
                                        help="Folders (videos, OpenPose folders, native stores, .npy/.pkl skeleton "
                                             "files, found recursively) and/or manifest CSVs "
                                             "(path[,recording_id][,speaker][,group][,setting])."),
    out: Path = typer.Option(..., "--out", "-o", help="Batch folder: recordings/<id>/, cohort.parquet/.csv/.html."),
    workers: int | None = typer.Option(None, help="Local worker processes (default: cores / threads-per-worker)."),
    threads_per_worker: int = typer.Option(1, help="Compute threads (torch, OpenMP) of each worker; each worker "
                                                   "analyses one recording at a time."),
    scheduler: str | None = typer.Option(None, help="Use an existing Dask cluster: tcp://HOST:PORT of its scheduler."),
    force: bool = typer.Option(False, "--force", help="Analyse every recording again, even those already done."),
    redo_failed: bool = typer.Option(False, "--redo-failed", help="Analyse failed and partial recordings again."),
    compare: str = typer.Option("auto", help="Compare recordings by group, speaker or setting (auto: the first "
                                             "with two levels of two recordings; none: no comparison)."),
    model: str | None = typer.Option(_D.model, "--model", help="A window-model checkpoint, or 'synthetic' "
                                                               "(default: the default recogniser)."),
    reasoner: str = typer.Option(_D.reasoner, "--reasoner", help="Emotion reasoner (`microgesture emotion reasoners`), or none."),
    setting: str = typer.Option(_D.setting, help="Scenario told to the reasoner (a manifest's setting column "
                                                 "overrides it per recording)."),
    kind: str | None = typer.Option(_D.kind, help="Input kind for every recording (default: detected per input)."),
    stride: int = typer.Option(_D.stride, help="Video: analyse every n-th frame."),
    max_frames: int | None = typer.Option(_D.max_frames, help="Video: stop after this many analysed frames."),
    hands: bool = typer.Option(_D.hands, "--hands/--no-hands", help="Video: track hands (Holistic) or pose only."),
    fps: float | None = typer.Option(_D.fps, help="Frame rate for inputs that do not state one (default 25)."),
    layout: str | None = typer.Option(_D.layout, help=".npy inputs: layout name (default: from the joint count)."),
    clip: int = typer.Option(_D.clip_index, "--clip", help="Skeleton files with several clips: the one to analyse."),
    gap_fill: int = typer.Option(_D.gap_fill, help="Bridge gaps of at most this many frames (0: off)."),
    threshold: float | None = typer.Option(None, help="Window models: event threshold."),
    truth: Path | None = typer.Option(None, help="Ground-truth events (e.g. the iMiGUE labels CSV: each video's "
                                                 "rows are matched by its id)."),
    skeleton: bool = typer.Option(_D.write_skeleton, "--skeleton/--no-skeleton",
                                  help="Save each analysed skeleton stream (a native store) beside its report."),
    no_progress: bool = typer.Option(False, "--no-progress", help="Hide the progress bar."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Analyse many recordings on Dask: one task per recording, resumable (a rerun redoes only what changed),
    a corrupt recording is listed with its reason and the batch goes on; then a cohort table
    (cohort.parquet, cohort.csv) and a cohort report (cohort.html) across recordings."""
    if logging.getLogger().level > logging.DEBUG:  # Dask's INFO lines (workers starting, closing) only with -v;
        os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "warning")  # read at import, here and by the workers
    if compare not in ("auto", "none", "group", "speaker", "setting"):
        raise ConfigError(f"--compare {compare!r}: choose auto, none, group, speaker or setting")
    opts = AnalyzeOptions(model=model, reasoner=reasoner, setting=setting, kind=kind, stride=stride,
                          max_frames=max_frames, hands=hands, fps=fps, layout=layout, clip_index=clip,
                          gap_fill=gap_fill, online=OnlineConfig(threshold=threshold) if threshold is not None
                          else None, truth=truth, progress=False, write_skeleton=skeleton)
    recordings, ignored = collect_inputs(inputs, exclude=[out])
    if not recordings:
        raise ConfigError(f"no recordings found in {', '.join(map(str, inputs))} (videos, OpenPose folders, native "
                          "stores, .npy/.pkl skeleton files, or a manifest CSV)")
    res = run_batch(recordings, out, opts, scheduler=scheduler, workers=workers,
                    threads_per_worker=threads_per_worker, force=force, redo_failed=redo_failed,
                    progress=not no_progress, compare=compare, ignored=ignored)
    if as_json:
        emit(res.to_dict(), True)
        return
    emit({"recordings": res.recordings, "analysed now": res.analysed, "kept from earlier runs": res.reused,
          **{f"status {k}": v for k, v in sorted(res.counts.items())}, "cluster": res.cluster,
          "dashboard": res.dashboard, "cohort report": res.files.get("html"), "table": res.files.get("parquet")
          or res.files.get("csv"), "seconds": round(res.seconds, 1)}, False, title="microgesture analyze-batch")
    for f in res.failed:
        err_console.print(f"{f['status']}: {f['id']}: {f['error']}", markup=False, highlight=False)
    if ignored:
        err_console.print(f"{len(ignored)} file(s) are not recordings and were left out, e.g. {ignored[0]}",
                          markup=False, highlight=False)
