"""``microgesture analyze``: any input (video, OpenPose folder, skeleton file) → MG timeline → emotion → report.

Why one orchestrator with explicit stages: a user hands over whatever they have; each stage either
succeeds or records *why* it failed, and a report is always written with what was read up to that point
(input statistics, the skeleton replay if there is one, warnings). The main result is the MG timeline: if
it cannot be produced the analysis status is ``failed`` (the CLI exits non-zero); if only a later stage
fails (e.g. no LLM available) the status is ``partial``.

Stages: ``read input`` (autodetected kind) → ``skeletons`` (main person, ``imigue22`` layout) →
``model`` (the given checkpoint, else the cached default trained on synthetic data) → ``recognition``
(sliding windows) → ``emotion`` (a reasoner reading the timeline) → ``report``.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import __version__
from ..data.clip import Clip, zeros_to_nan
from ..data.convert import convert_clip, list_conversions
from ..data.layouts import get_layout
from ..errors import ConfigError, DataError, MicrogestureError
from ..report.html import ReportData, render_report
from .online import OnlineConfig, OnlineResult, WindowModel, recognize_stream
from .tracking import fill_short_gaps, select_main_person
from .video import VIDEO_SUFFIXES, extract_video

log = logging.getLogger(__name__)

TARGET_LAYOUT = "imigue22"
INPUT_KINDS = ("video", "openpose", "native", "pyskl", "npy")
REASONERS = ("llamacpp", "openai", "none")
_LAYOUT_BY_JOINTS = {22: "imigue22", 67: "openpose_body25_hands", 75: "mediapipe_holistic", 137: "openpose_full"}


@dataclass
class AnalyzeOptions:
    model: str | Path | None = None  # a window-classifier checkpoint; None: the cached default
    reasoner: str = "llamacpp"  # llamacpp (in-process, offline) | openai (OpenAI-compatible server) | none
    setting: str = "press_conference"  # the scenario the emotion reasoner is told about
    kind: str | None = None  # input kind; None: detected
    stride: int = 1  # video: analyse every n-th frame
    max_frames: int | None = None  # video: stop after this many analysed frames
    hands: bool = True  # video: Holistic (pose + hands) or Pose only
    fps: float | None = None  # frame rate for inputs that do not state one (OpenPose, .npy); default 25
    layout: str | None = None  # .npy input: layout name (else inferred from the joint count)
    clip_index: int = 0  # native / PYSKL input holding several clips: which one
    gap_fill: int = 0  # bridge missing stretches of at most this many frames (0: off)
    online: OnlineConfig | None = None  # window/threshold settings; None: the model's defaults
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


# ------------------------------------------------------------------------------------------------
# input detection and reading


def detect_input(path: str | Path) -> str:
    """The kind of ``path``: ``video``, ``openpose`` (folder of *_keypoints.json), ``native``, ``pyskl`` or ``npy``."""
    from ..data.native import is_native_store
    from ..data.readers.openpose import FILE_PATTERN

    p = Path(path)
    if not p.exists():
        raise DataError(p, "does not exist")
    if p.is_dir():
        if is_native_store(p):
            return "native"
        names = [e.name for e in p.iterdir()]
        if any(FILE_PATTERN.match(n) for n in names):
            return "openpose"
        if not names:
            raise DataError(p, "is an empty folder: no OpenPose *_keypoints.json files, no native store")
        raise DataError(p, "is a folder with neither OpenPose *_keypoints.json files nor a native store "
                           "(index.json + keypoints.npy)")
    suffix = p.suffix.lower()
    if suffix in VIDEO_SUFFIXES:
        return "video"
    if suffix in (".pkl", ".pickle"):
        return "pyskl"
    if suffix == ".npy":
        return "npy"
    if p.stat().st_size == 0:
        raise DataError(p, "is an empty file")
    raise DataError(p, f"unsupported input {suffix or '(no extension)'}: give a video "
                       f"({', '.join(VIDEO_SUFFIXES[:5])}, ...), an OpenPose JSON folder, a native store folder, "
                       "a PYSKL .pkl or a .npy skeleton array")


def _one_clip(clips: Any, path: Path, index: int, warnings: list[str]) -> Clip:
    n = len(clips)
    if n == 0:
        raise DataError(path, "holds no clips")
    if not -n <= index < n:
        raise DataError(path, f"holds {n} clips; clip index {index} is out of range")
    if n > 1:
        warnings.append(f"the input holds {n} clips; clip {index} is analysed (choose another with --clip)")
    return clips[index]


def _read_npy(path: Path, opts: AnalyzeOptions, warnings: list[str]) -> Clip:
    from ..data.clip import ClipMeta

    try:
        arr = np.load(path, allow_pickle=False, mmap_mode="r")
    except (ValueError, OSError, EOFError) as e:
        raise DataError(path, f"is not a readable .npy array (truncated or corrupt, or holds objects): {e}") \
            from None
    if arr.ndim == 3:
        arr = arr[None]
    if arr.ndim != 4 or arr.shape[-1] not in (2, 3):
        raise DataError(path, f"expected an array [T, V, C] or [M, T, V, C] with C = 2 or 3, got {arr.shape}")
    layout = opts.layout or _LAYOUT_BY_JOINTS.get(arr.shape[2])
    if layout is None:
        raise DataError(path, f"cannot tell the layout of {arr.shape[2]} joints; pass --layout")
    if get_layout(layout).num_joints != arr.shape[2]:
        raise DataError(path, f"layout {layout} has {get_layout(layout).num_joints} joints, the array {arr.shape[2]}")
    kp = np.asarray(arr, dtype=np.float32)
    if not np.isnan(kp).any() and (kp == 0).all(-1).any():
        kp = zeros_to_nan(kp)
        warnings.append("all-zero joints in the .npy array were read as missing")
    meta = ClipMeta(clip_id=path.stem, dataset="npy", source=str(path), frame_range=(0, kp.shape[1] - 1),
                    fps=opts.fps or 25.0, layout=layout)
    if opts.fps is None:
        warnings.append("the .npy array states no frame rate; 25 fps is assumed (set --fps)")
    return Clip(kp, meta)


def read_input(path: Path, kind: str, opts: AnalyzeOptions, info: dict[str, Any], warnings: list[str]) -> Clip:
    """Read ``path`` as ``kind`` into a clip (any layout, possibly several persons); fills ``info``."""
    if kind == "video":
        clip, stats = extract_video(path, stride=opts.stride, max_frames=opts.max_frames, hands=opts.hands,
                                    progress=opts.progress)
        info["video"] = stats.to_dict()
        warnings.extend(stats.warnings)
        return clip
    if kind == "openpose":
        from ..data.readers.openpose import read_openpose_folder

        clip, report = read_openpose_folder(path, layout="openpose_full", max_persons=1, progress=opts.progress)
        info["openpose"] = {k: v for k, v in report.to_dict().items() if k != "corrupt"}
        if report.corrupt:
            info["openpose"]["corrupt_files"] = len(report.corrupt)
            warnings.append(f"{len(report.corrupt)} OpenPose files could not be read and count as missing "
                            f"frames (first: {report.corrupt[0].path}: {report.corrupt[0].reason})")
        if report.multi_person_frames:
            warnings.append(f"{report.multi_person_frames} frames show more than one person; the main person "
                            "was kept (largest, most confident, most continuous)")
        if clip.meta.fps is None:
            clip.meta.fps = opts.fps or 25.0
            if opts.fps is None:
                warnings.append("OpenPose output states no frame rate; 25 fps (iMiGUE's) is assumed (set --fps)")
        return clip
    if kind == "native":
        from ..data.native import NativeStore

        store = NativeStore(path)
        info["store"] = {"name": store.name, "layout": store.layout, "clips": len(store)}
        return _one_clip(store, path, opts.clip_index, warnings)
    if kind == "pyskl":
        from ..data.readers import open_dataset

        ds = open_dataset(path, kind="pyskl")
        info["pyskl"] = {"name": ds.name, "layout": ds.layout, "clips": len(ds), "skipped": len(ds.skipped)}
        return _one_clip(ds.clips, path, opts.clip_index, warnings)
    if kind == "npy":
        return _read_npy(path, opts, warnings)
    raise ConfigError(f"unknown input kind {kind!r}; choose from {', '.join(INPUT_KINDS)}")


def to_analysis_stream(clip: Clip, opts: AnalyzeOptions, info: dict[str, Any], warnings: list[str]) -> Clip:
    """One person, ``imigue22`` layout, NaN where unseen (optionally short gaps bridged)."""
    where = clip.meta.source or clip.meta.clip_id
    if clip.num_frames == 0:
        raise DataError(where, "the skeleton stream has no frames")
    if clip.num_persons > 1:
        clip, track = select_main_person(clip)
        info["tracking"] = track.to_dict()
    if clip.meta.layout != TARGET_LAYOUT:
        if (clip.meta.layout, TARGET_LAYOUT) not in list_conversions():
            raise DataError(where, f"layout {clip.meta.layout!r} cannot be converted to {TARGET_LAYOUT} "
                                   f"(known conversions: {', '.join(f'{a}->{b}' for a, b in list_conversions())})")
        clip = convert_clip(clip, TARGET_LAYOUT)
    if clip.num_coords > 2:
        clip = clip.with_(keypoints=np.ascontiguousarray(clip.keypoints[..., :2]))
    if opts.gap_fill:
        clip, filled = fill_short_gaps(clip, opts.gap_fill)
        info["gap_fill"] = {"max_gap": opts.gap_fill, "joint_frames_filled": filled}
        warnings.append(f"gaps of up to {opts.gap_fill} frames were bridged by linear interpolation "
                        f"({filled} joint-frames)")
    seen = np.isfinite(clip.keypoints[0]).all(-1).any(-1)
    info["frames"] = int(clip.num_frames)
    info["frames_with_person"] = int(seen.sum())
    info["visible_rate"] = float(seen.mean())
    info["joint_missing_rate"] = float(clip.missing_rate())
    if not seen.any():
        raise DataError(where, f"no person is visible in any of the {clip.num_frames} frames; there is nothing "
                               "to recognise")
    if seen.mean() < 0.5:
        warnings.append(f"the person is visible in only {seen.mean():.0%} of the frames")
    return clip


# ------------------------------------------------------------------------------------------------
# model


def cache_dir() -> Path:
    """``MICROGESTURE_CACHE`` or ``$XDG_CACHE_HOME/microgesture`` (default ``~/.cache/microgesture``)."""
    import os

    env = os.environ.get("MICROGESTURE_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "microgesture"


def default_model(seed: int = 0, progress: bool = True) -> tuple[WindowModel, dict[str, Any]]:
    """The default window classifier: trained once on SYNTHETIC interview streams, then cached on disk."""
    from .defaults import train_default_model

    path = cache_dir() / "models" / f"online-synthetic-v{__version__}-seed{seed}.pt"
    if path.is_file():
        try:
            wm = WindowModel.load(path)
            return wm, {"source": f"default model (cached {path})", "path": str(path)}
        except MicrogestureError as e:
            log.warning("cached default model unusable (%s); retraining", e)
    wm = train_default_model(seed=seed, progress=progress)
    wm.save(path)
    return wm, {"source": f"default model (trained now, cached at {path})", "path": str(path)}


def resolve_model(opts: AnalyzeOptions) -> tuple[WindowModel, dict[str, Any]]:
    if opts.model:
        wm = WindowModel.load(opts.model)
        return wm, {"source": f"checkpoint {opts.model}", "path": str(opts.model)}
    return default_model(progress=opts.progress)


# ------------------------------------------------------------------------------------------------
# ground truth (optional) and emotion


def read_truth(path: str | Path, clip: Clip) -> pd.DataFrame:
    """Ground-truth events for this stream: an events CSV, or iMiGUE's labels CSV (rows of this video)."""
    path = Path(path)
    try:
        df = pd.read_csv(path)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        raise DataError(path, f"cannot read ground-truth events: {e}") from None
    if {"video_id", "class"} <= set(df.columns):
        from ..data.readers.imigue import load_annotations

        ann = load_annotations(path)
        vid = str(clip.meta.clip_id)
        if not vid.isdigit():
            raise DataError(path, f"is an iMiGUE labels file but the input {vid!r} is not an iMiGUE video id")
        df = ann[ann["video_id"] == int(vid)][["start_frame", "end_frame", "label", "label_name"]]
        df = df.assign(label_space="imigue")
    need = {"start_frame", "end_frame", "label"}
    if not need <= set(df.columns):
        raise DataError(path, f"ground-truth events need columns {sorted(need)}")
    if "label_name" not in df.columns:
        df = df.assign(label_name=df["label"].astype(str))
    fps = float(clip.meta.fps or 25.0)
    return df.assign(start=df["start_frame"] / fps, end=(df["end_frame"] + 1) / fps).reset_index(drop=True)


def make_reasoner(name: str):
    if name == "llamacpp":
        from ..emotion.reasoners.llamacpp import LlamaCppReasoner

        return LlamaCppReasoner()
    if name == "openai":
        from ..emotion.reasoners.openai_compat import LLMConfig, OpenAICompatReasoner

        return OpenAICompatReasoner(LLMConfig.from_env())
    raise ConfigError(f"unknown reasoner {name!r}; choose from {', '.join(REASONERS)}")


def reason_about(result: OnlineResult, duration_s: float, opts: AnalyzeOptions) -> dict[str, Any]:
    """Timeline → scenario → the reasoner's answer, with the evidence it cites (JSON-able)."""
    from ..emotion.scenario import ScenarioBuilder
    from ..emotion.timeline import MGEvent, Timeline

    events = [MGEvent(float(r.start), float(r.end), int(r.label), str(r.label_name), float(r.score), "predicted")
              for r in result.events.itertuples(index=False)]
    timeline = Timeline(events, duration_s, result.fps, opts.setting, {"video_id": "input"})
    scenario = ScenarioBuilder(condition="context_mg", setting=opts.setting, mg_source="predicted").build(timeline)
    reasoner = make_reasoner(opts.reasoner)
    pred = reasoner.predict([scenario])[0]
    out = {"reasoner": reasoner.describe(), "condition": scenario.condition, "setting": opts.setting,
           "prompt": scenario.messages,
           "result": {"valence": pred.label, "arousal": pred.arousal, "confidence": pred.confidence,
                      "evidence": list(pred.evidence), "rationale": pred.rationale, "valid": pred.valid,
                      "parse_mode": pred.parse_mode, "latency_s": pred.latency_s}}
    if not pred.valid:
        out["note"] = f"the reasoner's answer could not be understood ({pred.error or pred.parse_mode})"
    return out


# ------------------------------------------------------------------------------------------------
# the run


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"microgesture": __version__}
    for pkg in ("torch", "numpy", "mediapipe", "av", "llama-cpp-python"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    return out


def analyze(input_path: str | Path, out_dir: str | Path, opts: AnalyzeOptions | None = None) -> AnalysisResult:
    """Run every stage on ``input_path`` and write the report into ``out_dir`` (never raises for bad input)."""
    opts = opts or AnalyzeOptions()
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
            kind = opts.kind or detect_input(path)
            info["kind"] = kind
            raw = read_input(path, kind, opts, info, warnings)
            rec["detail"] = f"{kind}: {raw.num_frames} frames, layout {raw.meta.layout}, {raw.num_persons} person slot(s)"
        with stage("skeletons") as rec:
            clip = to_analysis_stream(raw, opts, info, warnings)
            state["clip"] = data.clip = clip
            data.duration_s = clip.num_frames / float(clip.meta.fps or 25.0)
            info["fps"] = float(clip.meta.fps or 25.0)
            rec["detail"] = f"{TARGET_LAYOUT}, person visible in {info['visible_rate']:.0%} of frames"
            if opts.write_skeleton:
                _write_skeleton(clip, out_dir)
                result.files["skeleton"] = str(out_dir / "skeleton")
        with stage("model") as rec:
            wm, minfo = resolve_model(opts)
            data.model = {**wm.describe(), **minfo}
            data.model.pop("history", None)
            if wm.info.get("label_space") == "synthetic":
                data.model["note"] = ("This model was trained on SYNTHETIC skeleton streams: its timeline "
                                      "demonstrates the pipeline and is not a measurement of real "
                                      "micro-gestures. Pass --model with a model trained on real data.")
                warnings.append("the timeline comes from the default model trained on synthetic data "
                                "(pass --model for a model trained on real micro-gestures)")
            data.class_names = list(wm.class_names)
            rec["detail"] = minfo["source"]
        with stage("recognition") as rec:
            cfg = opts.online or OnlineConfig(window=wm.window)
            online = recognize_stream(clip, wm, cfg)
            state["online"] = online
            data.events = online.events
            files = online.write(out_dir)
            result.files.update({k: str(v) for k, v in files.items()})
            rec["detail"] = f"{len(online.events)} events from {online.num_windows} windows"
            data.provenance["recognition"] = online.summary()
        if opts.truth:
            with stage("ground truth", main=False) as rec:
                truth = read_truth(opts.truth, clip)
                data.truth = truth
                data.metrics = _metrics(online, truth, wm)
                rec["detail"] = f"{len(truth)} annotated events"
        if opts.reasoner != "none":
            with stage("emotion", main=False) as rec:
                data.emotion = reason_about(online, data.duration_s, opts)
                rec["detail"] = f"{data.emotion['reasoner'].get('name')}: {data.emotion['result']['valence']}"
        else:
            data.emotion = {"error": "no reasoner was asked for (--reasoner none)"}
    except _StageFailed:
        pass
    if data.status != "complete" and data.emotion is None and "online" not in state:
        data.emotion = None
    result.summary = _summary(data, state)
    data.provenance["summary"] = result.summary
    from ..utils.io import write_json

    write_json(out_dir / "summary.json", {**result.to_dict(), "stages": data.stages, "input": info,
                                          "model": data.model, "emotion": data.emotion,
                                          "metrics": data.metrics, "versions": data.provenance["versions"]})
    result.files["summary"] = str(out_dir / "summary.json")
    t0 = time.perf_counter()
    paths = render_report(data, out_dir)
    data.stages.append({"name": "report", "status": "ok", "seconds": time.perf_counter() - t0, "detail": ""})
    result.files.update({k: str(v) for k, v in paths.items()})
    return result


def _metrics(online: OnlineResult, truth: pd.DataFrame, wm: WindowModel) -> dict[str, Any]:
    from ..evaluation.online_metrics import evaluate_streams

    space = truth["label_space"].iloc[0] if "label_space" in truth.columns and len(truth) else None
    if space is not None and wm.info.get("label_space") not in (None, space):
        return {"note": f"the model predicts {wm.info.get('label_space')} classes and the annotations are "
                        f"{space} classes: only class-agnostic scores are meaningful",
                **{k: v for k, v in evaluate_streams([(online.events, truth)]).items() if "agnostic" in k}}
    return evaluate_streams([(online.events, truth)])


def _summary(data: ReportData, state: dict[str, Any]) -> dict[str, Any]:
    s: dict[str, Any] = {"status": data.status, "duration_s": data.duration_s,
                         "visible_rate": data.input.get("visible_rate")}
    if "online" in state:
        s["recognition"] = state["online"].summary()
    if data.emotion and data.emotion.get("result"):
        s["emotion"] = {k: data.emotion["result"].get(k) for k in ("valence", "arousal", "confidence")}
    return s


def _write_skeleton(clip: Clip, out_dir: Path) -> None:
    from ..data.dataset import SkeletonDataset
    from ..data.native import write_native

    ds = SkeletonDataset("analyzed", clip.meta.layout, [clip], None, {}, [])
    write_native(ds, out_dir / "skeleton", overwrite=True)


def _plain_options(opts: AnalyzeOptions) -> dict[str, Any]:
    d = asdict(opts)
    d["model"] = str(opts.model) if opts.model else None
    d["truth"] = str(opts.truth) if opts.truth else None
    return d
