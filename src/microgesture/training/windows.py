"""Window models for online MG recognition: trained by the training stage, read from its one checkpoint format.

Why here and not in the pipeline: a window classifier is a supervised classifier whose clips happen to be
windows cut from annotated streams (MG classes plus a *background* class from stretches nobody annotated).
So it is trained by the same Lightning loop as every other classifier (``configs/train_window.yaml``), and
its checkpoint is an ordinary supervised checkpoint whose data metadata says how to use it on a stream: the
window length (its :class:`~microgesture.data.inputs.InputSpec`), the dataset label behind each class and
which class is background. :class:`WindowModel` is that checkpoint, loaded once, ready to score windows.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from .. import __version__
from ..data.clip import Clip
from ..data.inputs import InputSpec
from ..data.synthetic import CLASS_NAMES, make_interview_stream
from ..data.transforms import fill_missing
from ..data.windows import extract_windows, observed_fraction, stream_windows, window_dataset, window_starts
from ..errors import CheckpointError, ConfigError, DataError, MicrogestureError
from ..models.decoding import (
    EVENT_COLUMNS,
    Recognition,
    frame_labels,
    frame_scores,
    labels_to_events,
    smooth_scores,
)
from ..utils.io import atomic_write
from ..utils.paths import cache_dir
from ..utils.threads import torch_threads
from .checkpoint import META_KEY, load_checkpoint, load_classifier
from .config import load_config
from .logging import quiet_lightning
from .run import run

__all__ = ["OnlineConfig", "WindowModel", "load_window_model", "pretrain_on_streams", "recognize_stream",
           "synthetic_window_model", "train_window_model"]

log = logging.getLogger(__name__)


@dataclass
class OnlineConfig:
    """Sliding-window and event-decoding settings (all in frames of the stream; the window length is the
    model's own, from its input spec)."""

    stride: int = 4
    batch_size: int = 512
    num_threads: int | None = 1  # torch threads for the model (None: torch's setting); see bench_pipeline.py
    min_observed: float = 0.5  # windows with a smaller fraction of frames showing the person are background
    smooth: str = "mean"  # mean | median | none
    smooth_frames: int = 9
    threshold: float = 0.4  # smoothed class probability needed for a frame to belong to an MG
    min_frames: int = 8  # shorter events are dropped
    merge_gap: int = 6  # same-class events separated by at most this many frames are merged

    def validate(self) -> OnlineConfig:
        if self.stride < 1 or self.batch_size < 1:
            raise ConfigError(f"stride and batch_size must be >= 1 (got {self.stride}, {self.batch_size})")
        if self.smooth not in ("mean", "median", "none"):
            raise ConfigError(f"smooth must be mean, median or none, got {self.smooth!r}")
        if not 0 <= self.threshold <= 1 or not 0 <= self.min_observed <= 1:
            raise ConfigError("threshold and min_observed must be in [0, 1]")
        return self

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class WindowModel:
    """A classifier of stream windows: ``[N, 1, W, V, C]`` prepared windows → class probabilities."""

    model: nn.Module
    spec: InputSpec
    class_labels: list[int]  # dataset label per class; -1 = background
    class_names: list[str]
    info: dict[str, Any] = field(default_factory=dict)  # label space, training data, epochs, metrics ...
    path: str | None = None

    @property
    def window(self) -> int:
        return int(self.spec.num_frames)

    @property
    def layout(self) -> str:
        return self.spec.layout

    @property
    def background_index(self) -> int | None:
        return self.class_labels.index(-1) if -1 in self.class_labels else None

    @property
    def label_space(self) -> str | None:
        return self.info.get("label_space")

    @property
    def num_coords(self) -> int:
        """Coordinates per joint the model reads (before derived streams)."""
        return int(self.info.get("num_coords") or 2)

    def predict_proba(self, inputs: np.ndarray, batch_size: int = 512) -> np.ndarray:
        """Softmax probabilities ``[N, K]`` for prepared, NaN-filled ``[N, 1, W, V, C']`` windows."""
        self.model.eval()
        out = np.empty((len(inputs), len(self.class_labels)), dtype=np.float32)
        with torch.inference_mode():
            for i in range(0, len(inputs), batch_size):
                logits = self.model(torch.from_numpy(np.ascontiguousarray(inputs[i:i + batch_size])))
                out[i:i + batch_size] = torch.softmax(logits.float(), dim=-1).numpy()
        return out

    def describe(self) -> dict[str, Any]:
        cfg = dict(getattr(self.model, "config", {}) or {})
        params = sum(p.numel() for p in self.model.parameters())
        return {"architecture": cfg, "params": int(params), "input": self.spec.to_dict(), "window": self.window,
                "classes": self.class_names, "checkpoint": self.path, **self.info}


def load_window_model(path: str | Path) -> WindowModel:
    """A window model from a supervised checkpoint trained on stream windows (``train_window_model`` or
    ``microgesture train-detector``); a clip classifier without a background class is refused, since it
    would label every window of a stream with some gesture."""
    model, meta = load_classifier(path)
    data = meta.get("data") or {}
    win = (data.get("meta") or {}).get("window")
    if not isinstance(win, Mapping):
        raise CheckpointError(f"{path}: a classifier of segmented clips, not of stream windows: it has no "
                              "background class, so it would label every stretch of a stream as some gesture. "
                              "Train a detector from annotated streams with `microgesture train-detector`")
    spec = InputSpec.from_checkpoint(meta, model.encoder)
    labels = [int(v) for v in win["class_labels"]]
    names = list(data.get("class_names") or [])
    if len(labels) != len(names) or len(names) != getattr(model, "num_classes", len(names)):
        raise CheckpointError(f"{path}: window metadata lists {len(labels)} classes, the model has "
                              f"{getattr(model, 'num_classes', '?')}")
    info = {"label_space": win.get("label_space"), "trained_on": win.get("streams"),
            "training_data": win.get("description"), "positive_windows": win.get("positive_windows"),
            "background_windows": win.get("background_windows"), "epochs": meta.get("epoch"),
            "num_coords": data.get("num_coords"), "metrics": meta.get("metrics")}
    return WindowModel(model, spec, labels, names, {k: v for k, v in info.items() if v is not None}, str(path))


def train_window_model(
    streams: Sequence[tuple[Clip, pd.DataFrame]],
    class_names: Mapping[int, str] | Sequence[str],
    *,
    out: str | Path | None = None,
    window: int = 32,
    config: str | Path | Mapping[str, Any] = "train_window",
    overrides: Sequence[str] = (),
    label_space: str | None = None,
    description: str | None = None,
    seed: int = 0,
    per_event: int = 6,
    background_stride: int | None = None,
    max_background_ratio: float = 3.0,
    init_from: str | Path | None = None,
    threads: int | None = 1,
    progress: bool = True,
) -> WindowModel:
    """Train a window classifier (the annotated MG classes present + background) on annotated streams.

    ``streams`` are single-person clips with their events (``start_frame, end_frame, label`` in source
    frames). The run (checkpoints, metrics) goes to ``out`` (a temporary folder when not given); the
    returned model reads ``out/checkpoints/last.ckpt``. ``init_from``: a pretraining checkpoint (e.g.
    :func:`pretrain_on_streams`) whose encoder architecture and weights the classifier starts from
    (fine-tuning). ``threads``: torch threads while training (the models are small; one thread is fastest
    on a shared CPU).
    """
    ds = window_dataset(streams, class_names, window=window, per_event=per_event,
                        background_stride=background_stride, max_background_ratio=max_background_ratio,
                        label_space=label_space, seed=seed)
    if description:
        ds.meta["window"]["description"] = description
    out = Path(out) if out is not None else Path(tempfile.mkdtemp(prefix="microgesture-window-"))
    cfg = load_config("supervised", config, [f"data.num_frames={int(window)}", f"seed={int(seed)}",
                                             f"out={out}", f"trainer.progress_bar={bool(progress)}",
                                             "data.max_persons=1", *overrides])
    if init_from is not None:
        cfg.model = _pretrained_encoder_config(init_from, window)
        cfg.supervised.init_from = str(init_from)
    t0 = time.perf_counter()
    with quiet_lightning(), torch_threads(threads):
        result = run(cfg, dataset=ds)
    wm = load_window_model(result["checkpoint"])
    wm.info["train_seconds"] = round(time.perf_counter() - t0, 2)
    return wm


def _pretrained_encoder_config(path: str | Path, window: int) -> dict[str, Any]:
    meta = load_checkpoint(path)[META_KEY]
    if meta.get("task") != "pretrain":
        raise CheckpointError(f"{path}: init_from needs a pretraining checkpoint, this one is {meta.get('task')!r}")
    enc = dict(meta["encoder_config"])
    if int(enc.get("num_frames") or window) != int(window):
        raise CheckpointError(f"{path}: the encoder was pretrained on {enc.get('num_frames')}-frame windows, "
                              f"not {window}")
    return enc


def pretrain_on_streams(
    streams: Sequence[Clip],
    *,
    out: str | Path,
    window: int = 32,
    stride: int = 8,
    config: str | Path | Mapping[str, Any] = "pretrain_window",
    overrides: Sequence[str] = (),
    seed: int = 0,
    threads: int | None = None,
    progress: bool = True,
) -> str:
    """Self-supervised STB pretraining (MoCo, ``configs/pretrain_window.yaml``) on every ``stride``-th window of
    unlabelled streams; returns the checkpoint that :func:`train_window_model` can start from (``init_from``).
    A finished run in ``out`` is reused."""
    out = Path(out)
    last = out / "checkpoints" / "last.ckpt"
    if (out / "metrics.json").is_file() and last.is_file():
        return str(last)
    ds = stream_windows(streams, window=window, stride=stride)
    batch = int(load_config("pretrain", config, overrides).data.batch_size)
    queue = max(batch, (min(1024, len(ds)) // batch) * batch)  # a multiple of the batch, at most ~one epoch of keys
    cfg = load_config("pretrain", config, [f"data.num_frames={int(window)}", f"seed={int(seed)}", f"out={out}",
                                           f"trainer.progress_bar={bool(progress)}", f"moco.queue_size={queue}",
                                           *overrides])
    with quiet_lightning(), torch_threads(threads):
        result = run(cfg, dataset=ds, resume=last.is_file())
    return str(result["checkpoint"])


def synthetic_window_model(seed: int = 0, *, streams: int = 6, duration_s: float = 300.0, epochs: int = 10,
                           cache: str | Path | None = None, progress: bool = True) -> WindowModel:
    """A window model trained on SYNTHETIC interview streams (``data.synthetic``), trained once and cached.

    Why it exists: it shows the learned path end to end on a fresh install with no licensed data, and it is
    the baseline the real-data methods are measured against. No person was recorded for it, so it says nothing
    about real micro-gestures; reports that use it say so.
    """
    path = Path(cache or cache_dir()) / "models" / f"window-synthetic-v{__version__}-seed{seed}-{streams}x{duration_s:g}s-e{epochs}.ckpt"
    if path.is_file():
        try:
            return load_window_model(path)
        except MicrogestureError as e:
            log.warning("cached synthetic window model unusable (%s); training it again", e)
    data = [make_interview_stream(seed=seed * 1000 + k, duration_s=duration_s, subject=k) for k in range(streams)]
    with tempfile.TemporaryDirectory(prefix="microgesture-synthetic-") as tmp:
        desc = (f"{streams} synthetic interview streams x {duration_s:.0f} s (data.synthetic.make_interview_stream, "
                f"seed {seed})")
        wm = train_window_model(data, list(CLASS_NAMES), out=tmp, label_space="synthetic", description=desc,
                                seed=seed, overrides=[f"trainer.max_epochs={int(epochs)}"], progress=progress)
        with open(wm.path, "rb") as src, atomic_write(path, "wb") as dst:
            shutil.copyfileobj(src, dst)
    return load_window_model(path)


def recognize_stream(clip: Clip, wm: WindowModel, config: OnlineConfig | None = None) -> Recognition:
    """Slide ``wm`` over a single-person stream ``clip`` (``[1, T, V, C]`` in ``wm.layout``) → MG events."""
    cfg = (config or OnlineConfig()).validate()
    where = clip.meta.source or clip.meta.clip_id
    if clip.meta.layout != wm.layout:
        raise DataError(where, f"stream has layout {clip.meta.layout!r}; the model needs {wm.layout!r}")
    if clip.num_persons != 1:
        raise DataError(where, f"online recognition needs one person; the stream has {clip.num_persons} "
                               "(use pipeline.tracking.select_main_person)")
    x = clip.keypoints[0]
    if x.shape[-1] != wm.num_coords:
        if x.shape[-1] < wm.num_coords:
            raise DataError(where, f"stream has {x.shape[-1]} coordinates; the model needs {wm.num_coords}")
        x = x[..., :wm.num_coords]
    t_frames, window = x.shape[0], wm.window
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    starts = window_starts(t_frames, window, cfg.stride)
    w = extract_windows(x, starts, window)
    obs = observed_fraction(w)
    inputs = fill_missing(wm.spec.prepare_windows(w))
    timings["windows"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    k = len(wm.class_labels)
    bg = wm.background_index
    probs = np.zeros((len(starts), k), dtype=np.float32)
    use = obs >= cfg.min_observed
    if use.any():
        with torch_threads(cfg.num_threads):
            probs[use] = wm.predict_proba(inputs[use], cfg.batch_size)
    if bg is not None:
        probs[~use, bg] = 1.0
    timings["model"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    fs = frame_scores(probs, starts, window, t_frames)
    observed = np.isfinite(x).all(-1).any(-1)
    fs = smooth_scores(fs, cfg.smooth, cfg.smooth_frames)
    lab = frame_labels(fs, bg, cfg.threshold, cfg.merge_gap)
    lab[~observed] = -1  # no event is claimed on a frame where the person is not seen
    ev = labels_to_events(lab, fs, cfg.min_frames)
    timings["decode"] = time.perf_counter() - t0
    fps, offset = clip.fps, clip.first_frame
    events = pd.DataFrame({
        "start_frame": ev["start_frame"] + offset,
        "end_frame": ev["end_frame"] + offset,
        "label": np.asarray(wm.class_labels, dtype=np.int64)[ev["class_index"].to_numpy()] if len(ev)
        else np.zeros(0, np.int64),
        "label_name": [wm.class_names[i] for i in ev["class_index"]],
        "score": ev["score"].round(4),
        "start": (ev["start_frame"] / fps).round(3),
        "end": ((ev["end_frame"] + 1) / fps).round(3),
    })
    events["evidence"] = [
        {"measure": "mean class probability", "value": float(sc), "unit": "probability",
         "threshold": float(cfg.threshold), "duration_s": round(float(e - b), 3),
         "text": f"window model: {n} with mean probability {sc:.2f} over {e - b:.1f} s"}
        for n, sc, b, e in zip(events["label_name"], events["score"], events["start"], events["end"], strict=True)]
    return Recognition(events[EVENT_COLUMNS], fs, observed, wm.class_names, fps, "window model", cfg.to_dict(),
                       timings, {"windows": int(len(starts))})
