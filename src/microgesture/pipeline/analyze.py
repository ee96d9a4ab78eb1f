"""``microgesture analyze``: any input (video, OpenPose folder, skeleton file) → MG timeline → emotion → report.

Why one orchestrator with explicit stages: a user hands over whatever they have; each stage either succeeds
or records *why* it failed, and a report is always written with what was read up to that point (input
statistics, the skeleton replay if there is one, warnings). The main result is the MG timeline: if it cannot
be produced the analysis status is ``failed`` (the CLI exits non-zero); if only a later stage fails (e.g. no
LLM available) the status is ``partial``.

Stages: ``read input`` (any kind the reader registry knows, ``video`` and ``npy`` included; ``data.recordings``)
→ ``skeletons`` (the main person, in the layout it was read) → ``recognition`` (the recogniser converts by joint name to what
it needs) → ``ground truth`` (optional) → ``emotion`` → ``report``. :class:`Analyzer` loads the recogniser and
the reasoner once, so a batch of recordings pays for them once per worker.
"""

from __future__ import annotations

import importlib.metadata as md
import logging
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .. import __version__
from ..data.annotations import read_annotations, to_mg_classes
from ..data.dataset import SkeletonDataset
from ..data.mg_classes import LABEL_SPACES
from ..data.native import write_native
from ..data.recordings import ReadOptions, main_person_stream, read_stream
from ..emotion.reading import read_emotion
from ..emotion.reasoners.registry import list_reasoners, reasoner_entry
from ..emotion.settings import get_setting
from ..emotion.timeline import timeline_from_predictions
from ..errors import MicrogestureError
from ..evaluation.online_metrics import evaluate_streams
from ..models.decoding import Recognition
from ..report.html import ReportData, render_report
from ..training.windows import OnlineConfig
from ..utils.io import write_json
from .recognizers import Recognizer, load_recognizer

log = logging.getLogger(__name__)

NO_REASONER = "none"


@dataclass
class AnalyzeOptions:
    model: str | Path | None = None  # a window-model checkpoint, or "synthetic"; None: the default recogniser
    reasoner: str = "default"  # a registered reasoner (emotion.reasoners.registry) or "none"
    reasoner_options: dict[str, Any] = field(default_factory=dict)  # e.g. base_url, model, model_path
    setting: str = "conversation"  # what the recording is (emotion.settings): conversation, press_conference, ...
    kind: str | None = None  # input kind (a reader kind: video, openpose, native, pyskl, npy, ...); None: detected
    stride: int = 1  # video: analyse every n-th frame
    max_frames: int | None = None  # video: stop after this many analysed frames
    hands: bool = True  # video: Holistic (pose + hands) or Pose only
    fps: float | None = None  # frame rate for inputs that do not state one (OpenPose, .npy); default DEFAULT_FPS
    layout: str | None = None  # .npy input: layout name (else inferred from the joint count)
    clip_index: int = 0  # inputs holding several clips: which one
    gap_fill: int = 0  # bridge missing stretches of at most this many frames (0: off)
    online: OnlineConfig | None = None  # window-model stride/threshold settings; None: defaults
    truth: str | Path | None = None  # ground-truth events CSV (or the iMiGUE labels CSV) for metrics
    progress: bool = True
    write_skeleton: bool = True  # save the analysed stream (identity-free) as a native store


@dataclass
class AnalysisResult:
    status: str  # complete | partial | failed
    out_dir: Path
    files: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    failed_stage: str | None = None
    warnings: list[str] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return 1 if self.status == "failed" else 0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["out_dir"] = str(self.out_dir)
        return d


class _StageFailed(Exception):
    pass


class AnalysisFailed(MicrogestureError):
    """The main result (the MG timeline) could not be produced; a partial report was written."""


def read_options(opts: AnalyzeOptions) -> ReadOptions:
    return ReadOptions(kind=opts.kind, stride=opts.stride, max_frames=opts.max_frames, hands=opts.hands, fps=opts.fps,
                       layout=opts.layout, clip_index=opts.clip_index, gap_fill=opts.gap_fill, progress=opts.progress)


# ------------------------------------------------------------------------------------------------
# ground truth (optional) and emotion


def reasoner_names() -> list[str]:
    """What ``--reasoner`` accepts: every registered reasoner, and ``none``."""
    return [*list_reasoners(), NO_REASONER]


def check_reasoning(opts: AnalyzeOptions) -> None:
    """Fail early (before reading a long video) on an unknown reasoner or setting."""
    get_setting(opts.setting)
    if opts.reasoner != NO_REASONER:
        reasoner_entry(opts.reasoner)


def score_against_truth(online: Recognition, truth: pd.DataFrame, label_space: str | None) -> dict[str, Any]:
    """Online metrics of the timeline against annotated events, in the recogniser's label space (dataset labels
    are mapped onto the MG class set when the recogniser speaks it); only class-agnostic scores when the two
    vocabularies cannot be matched."""
    space = str(truth["label_space"].iloc[0]) if "label_space" in truth.columns and len(truth) else label_space
    if label_space == "mg" and space != "mg" and space in LABEL_SPACES:
        truth, space = to_mg_classes(truth), "mg"
    scores = evaluate_streams([(online.events, truth)])
    if space is not None and label_space not in (None, space):
        return {"note": f"the recogniser predicts {label_space} classes and the annotations are {space} classes: "
                        "only class-agnostic scores are meaningful",
                **{k: v for k, v in scores.items() if "agnostic" in k}}
    return scores


# ------------------------------------------------------------------------------------------------
# the run


def _versions() -> dict[str, str]:
    out = {"microgesture": __version__}
    for pkg in ("torch", "numpy", "mediapipe", "av", "llama-cpp-python"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    return out


class Analyzer:
    """Analyses recordings with one recogniser (loaded on first use, then kept) and one emotion reasoner."""

    def __init__(self, opts: AnalyzeOptions | None = None) -> None:
        self.opts = opts or AnalyzeOptions()
        check_reasoning(self.opts)
        self._recognizer: Recognizer | None = None

    @property
    def recognizer(self) -> Recognizer:
        if self._recognizer is None:
            self._recognizer = load_recognizer(self.opts.model, online=self.opts.online, progress=self.opts.progress)
        return self._recognizer

    def analyze(self, input_path: str | Path, out_dir: str | Path) -> AnalysisResult:
        """Run every stage on ``input_path`` and write the report into ``out_dir`` (never raises for bad input)."""
        opts = self.opts
        path, out_dir = Path(input_path), Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        info: dict[str, Any] = {"path": str(path), "name": path.name}
        warnings: list[str] = []
        data = ReportData(title=f"Micro-gesture report — {path.name}", input=info, warnings=warnings)
        data.provenance = {"versions": _versions(), "options": _plain_options(opts), "input": info}
        result = AnalysisResult("complete", out_dir, warnings=warnings)
        state: dict[str, Any] = {}

        @contextmanager
        def stage(name: str, main: bool = True) -> Iterator[dict[str, Any]]:
            rec: dict[str, Any] = {"name": name, "status": "running", "seconds": None, "detail": ""}
            data.stages.append(rec)
            t0 = time.perf_counter()
            try:
                yield rec
                rec["status"] = "ok"
            except Exception as e:  # noqa: BLE001 - every failure ends in the report, never a bare crash
                msg = str(e) if isinstance(e, MicrogestureError) else f"{type(e).__name__}: {e}"
                if not isinstance(e, MicrogestureError):
                    log.debug("stage %s failed:\n%s", name, traceback.format_exc())
                rec["status"], rec["detail"] = "failed", msg
                data.error, data.failed_stage = msg, name
                data.status = result.status = "failed" if main else "partial"
                result.error, result.failed_stage = msg, name
                raise _StageFailed from e
            finally:
                rec["seconds"] = time.perf_counter() - t0

        try:
            with stage("read input") as rec:
                raw = read_stream(path, read_options(opts), info, warnings)
                rec["detail"] = (f"{info['kind']}: {raw.num_frames} frames, layout {raw.meta.layout}, "
                                 f"{raw.num_persons} person slot(s)")
            with stage("skeletons") as rec:
                clip = main_person_stream(raw, read_options(opts), info, warnings)
                state["clip"] = data.clip = clip
                data.duration_s = clip.num_frames / clip.fps
                rec["detail"] = f"{clip.meta.layout}, person visible in {info['visible_rate']:.0%} of frames"
                if opts.write_skeleton:
                    write_native(SkeletonDataset("analyzed", clip.meta.layout, [clip]), out_dir / "skeleton",
                                 overwrite=True)
                    result.files["skeleton"] = str(out_dir / "skeleton")
            with stage("recognition") as rec:
                recognizer = self.recognizer
                data.model = recognizer.describe()
                if recognizer.label_space == "synthetic":
                    data.model["note"] = ("This model was trained on SYNTHETIC skeleton streams: its timeline "
                                          "demonstrates the pipeline and is not a measurement of real "
                                          "micro-gestures.")
                    warnings.append("the timeline comes from a model trained on synthetic data")
                data.class_names = list(recognizer.class_names)
                online = recognizer.recognize(clip)
                state["online"] = online
                data.events = online.events
                files = online.write(out_dir, media=clip.meta.source)
                result.files.update({k: str(v) for k, v in files.items()})
                rec["detail"] = f"{len(online.events)} events ({recognizer.name})"
                data.provenance["recognition"] = online.summary()
            if opts.truth:
                with stage("ground truth", main=False) as rec:
                    truth = read_annotations(opts.truth, fps=clip.fps, recording=str(clip.meta.clip_id))
                    data.truth = truth
                    data.metrics = score_against_truth(online, truth, recognizer.label_space)
                    rec["detail"] = f"{len(truth)} annotated events"
            if opts.reasoner != NO_REASONER:
                with stage("emotion", main=False) as rec:
                    timeline = timeline_from_predictions(online.events, data.duration_s, fps=clip.fps,
                                                         setting=opts.setting,
                                                         visible_s=float(online.observed.sum()) / clip.fps)
                    data.emotion = read_emotion(timeline, setting=opts.setting, reasoner=opts.reasoner,
                                                **opts.reasoner_options)
                    rec["detail"] = f"{opts.reasoner}: {data.emotion['status']}"
                    if data.emotion["status"] == "failed":
                        raise MicrogestureError(f"the {opts.reasoner} reasoner failed: {data.emotion.get('error')}")
            else:
                data.emotion = {"status": "failed", "error": "no reasoner was asked for (--reasoner none)"}
        except _StageFailed:
            pass
        result.summary = _summary(data, state)
        data.provenance["summary"] = result.summary
        write_json(out_dir / "summary.json", {**result.to_dict(), "stages": data.stages, "input": info,
                                              "model": data.model, "emotion": data.emotion,
                                              "metrics": data.metrics, "versions": data.provenance["versions"]})
        result.files["summary"] = str(out_dir / "summary.json")
        t0 = time.perf_counter()
        paths = render_report(data, out_dir)
        data.stages.append({"name": "report", "status": "ok", "seconds": time.perf_counter() - t0, "detail": ""})
        result.files.update({k: str(v) for k, v in paths.items()})
        return result


def analyze(input_path: str | Path, out_dir: str | Path, opts: AnalyzeOptions | None = None) -> AnalysisResult:
    """Analyse one recording (see :class:`Analyzer` to analyse many with the same loaded models)."""
    return Analyzer(opts).analyze(input_path, out_dir)


def _summary(data: ReportData, state: dict[str, Any]) -> dict[str, Any]:
    s: dict[str, Any] = {"status": data.status, "duration_s": data.duration_s,
                         "visible_rate": data.input.get("visible_rate")}
    if "online" in state:
        s["recognition"] = state["online"].summary()
    if data.emotion and data.emotion.get("status") in ("ok", "no usable reading"):
        s["emotion"] = {k: data.emotion.get(k) for k in ("status", "label", "valence", "arousal", "probability",
                                                          "interval", "decided")}
        s["emotion"]["reasoner"] = (data.emotion.get("reasoner") or {}).get("name")
    return s


def _plain_options(opts: AnalyzeOptions) -> dict[str, Any]:
    d = asdict(opts)
    d["model"] = str(opts.model) if opts.model else None
    d["truth"] = str(opts.truth) if opts.truth else None
    return d
