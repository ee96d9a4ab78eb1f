"""Online micro-gesture recognition: a trained window classifier slid over a skeleton stream → MG events.

Why this design: an interview is one long stream in which MGs are rare, short and unsegmented. The
stream is cut into windows of ``W`` frames every ``S`` frames (a strided *view*, no per-window Python),
each window is normalised exactly as :func:`data.transforms.prepare_clip` would normalise it as a clip
(centre at the first frame, scale by body size), and all windows go through the model in large batches.
The window probabilities — including a *background* (no-MG) class — are spread back onto the frames each
window covers, smoothed over time, and turned into events ``(start, end, class, score)`` with a threshold,
a minimum duration and gap merging. Windows in which the person is mostly missing are not classified
(they count as background), so a lost track never produces invented gestures.

Training (:func:`train_window_classifier`) builds windows from annotated streams: positives centred on
annotated events (with jitter), background windows from stretches with no annotation; it trains a small
classifier made with the model registry (``create_model``) on CPU in a few epochs.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from ..data.clip import Clip
from ..data.layouts import Layout, get_layout
from ..errors import CheckpointError, ConfigError, DataError

log = logging.getLogger(__name__)

BACKGROUND = "background"
EVENT_COLUMNS = ["start_frame", "end_frame", "label", "label_name", "score", "start", "end"]
CHECKPOINT_KIND = "microgesture-online-window-classifier"


@dataclass
class OnlineConfig:
    """Sliding-window and event-decoding settings (all in frames of the stream)."""

    window: int = 32
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
        if self.window < 2 or self.stride < 1 or self.batch_size < 1:
            raise ConfigError(f"window must be >= 2 and stride, batch_size >= 1 (got {self.window}, "
                              f"{self.stride}, {self.batch_size})")
        if self.smooth not in ("mean", "median", "none"):
            raise ConfigError(f"smooth must be mean, median or none, got {self.smooth!r}")
        if not 0 <= self.threshold <= 1 or not 0 <= self.min_observed <= 1:
            raise ConfigError("threshold and min_observed must be in [0, 1]")
        return self

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ---------------------------------------------------------------------------------------------------
# windows


def window_starts(num_frames: int, window: int, stride: int) -> np.ndarray:
    """Start frames of the windows; the last window is aligned to the stream's end so every frame is covered."""
    if num_frames <= window:
        return np.zeros(1, dtype=np.int64)
    starts = np.arange(0, num_frames - window + 1, stride, dtype=np.int64)
    if starts[-1] != num_frames - window:
        starts = np.append(starts, num_frames - window)
    return starts


def _pad_stream(x: np.ndarray, window: int) -> np.ndarray:
    if x.shape[0] >= window:
        return x
    pad = np.full((window - x.shape[0],) + x.shape[1:], np.nan, dtype=np.float32)
    return np.concatenate([x, pad], axis=0)


def extract_windows(x: np.ndarray, starts: np.ndarray, window: int) -> np.ndarray:
    """``x [T, V, C]`` → ``[N, W, V, C]`` windows at ``starts`` (one gather from a strided view)."""
    x = _pad_stream(np.asarray(x, dtype=np.float32), window)
    view = sliding_window_view(x, window, axis=0)  # [T-W+1, V, C, W], no copy
    return np.ascontiguousarray(view[starts].transpose(0, 3, 1, 2))


def _nanmedian_rows(d: np.ndarray) -> np.ndarray:
    """Median over axis 1 ignoring NaN and non-positive values; NaN where a row has none.

    One sort of the whole matrix (NaN sort last) instead of ``np.nanmedian``, which is several times
    slower on many short rows.
    """
    d = np.sort(np.where(d > 0, d, np.nan), axis=1)
    n = np.isfinite(d).sum(axis=1)
    rows = np.arange(len(d))
    lo, hi = np.maximum((n - 1) // 2, 0), np.maximum(n // 2, 0)
    med = (d[rows, lo] + d[rows, hi]) / 2
    return np.where(n > 0, med, np.nan)


def normalise_windows(w: np.ndarray, layout: Layout | str) -> np.ndarray:
    """Batched version of ``prepare_clip(center=True, scale=True)`` on ``[N, W, V, C]`` windows (NaN kept).

    Centre: the layout's centre joint at the first frame of the window where it is seen (else the mean of
    the joints observed in the window's first observed frame). Scale: median shoulder width in the
    window, else median centre→head/nose/neck length, else the median joint spread (``transforms.body_scale``'s
    ``auto`` order). Equality with ``prepare_clip`` is checked by a test.
    """
    from ..data.transforms import _TORSO_PARTNERS, _shoulders

    lay = get_layout(layout) if isinstance(layout, str) else layout
    n, t, v, c = w.shape
    ar = np.arange(n)
    cj = w[:, :, lay.center_index]  # [N, W, C]
    cvalid = np.isfinite(cj).all(-1)  # [N, W]
    has_c = cvalid.any(1)
    origin = cj[ar, np.argmax(cvalid, axis=1)]  # [N, C]
    if not has_c.all():  # prepare_clip's fallback: mean of the observed joints in the first frame that has any
        need = np.flatnonzero(~has_c)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            fmean = np.nanmean(w[need], axis=2)  # [n, W, C]
        fvalid = np.isfinite(fmean).all(-1)
        alt = fmean[np.arange(len(need)), np.argmax(fvalid, axis=1)]
        origin[need] = np.where(fvalid.any(1)[:, None], alt, 0.0)
    x = w - origin[:, None, None, :]
    scale = np.full(n, np.nan, dtype=np.float64)
    pair = _shoulders(lay)
    if pair is not None:
        scale = _nanmedian_rows(np.linalg.norm(x[:, :, pair[0]] - x[:, :, pair[1]], axis=-1))
    partner = next((p for p in _TORSO_PARTNERS if p in lay.index and p != lay.center), None)
    if partner is not None and np.isnan(scale).any():
        torso = _nanmedian_rows(np.linalg.norm(x[:, :, lay.index[partner]] - x[:, :, lay.center_index], axis=-1))
        scale = np.where(np.isnan(scale), torso, scale)
    if np.isnan(scale).any():
        need = np.flatnonzero(np.isnan(scale))
        xs = x[need]
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            mean = np.nanmean(xs, axis=2, keepdims=True)
            spread = np.sqrt(np.nanmean(np.sum((xs - mean) ** 2, axis=-1), axis=2))
        scale[need] = _nanmedian_rows(spread)
    scale = np.where(np.isfinite(scale) & (scale > 1e-8), scale, 1.0)
    return (x / scale[:, None, None, None]).astype(np.float32)


def observed_fraction(w: np.ndarray) -> np.ndarray:
    """``[N]`` fraction of each window's frames in which any joint is observed."""
    return np.isfinite(w).all(-1).any(-1).mean(-1)


def window_inputs(x: np.ndarray, layout: str, starts: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Model inputs ``[N, 1, W, V, C]`` (NaN filled with 0) and the observed fraction ``[N]``."""
    from ..data.transforms import fill_missing

    w = extract_windows(x, starts, window)
    obs = observed_fraction(w)
    return fill_missing(normalise_windows(w, layout))[:, None], obs


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run a block with ``n`` torch intra-op threads (``None``: unchanged), restoring the setting after."""
    import torch

    if n is None:
        yield
        return
    old = torch.get_num_threads()
    torch.set_num_threads(max(1, int(n)))
    try:
        yield
    finally:
        torch.set_num_threads(old)


# ---------------------------------------------------------------------------------------------------
# the model: a window classifier plus what it needs to be used on a stream


@dataclass
class WindowModel:
    """A classifier over windows and its metadata: class ids/names (the last one is ``background``)."""

    model: Any  # torch.nn.Module: [N, 1, W, V, C] -> logits [N, K]
    layout: str
    window: int
    class_labels: list[int]  # dataset label ids, -1 for background
    class_names: list[str]
    info: dict[str, Any] = field(default_factory=dict)  # provenance: training data, epochs, accuracy...

    @property
    def background_index(self) -> int | None:
        return self.class_labels.index(-1) if -1 in self.class_labels else None

    @property
    def in_channels(self) -> int:
        return int(self.model.config.get("in_channels", 2)) if hasattr(self.model, "config") else 2

    def predict_proba(self, inputs: np.ndarray, batch_size: int = 512) -> np.ndarray:
        """Softmax probabilities ``[N, K]`` for ``[N, 1, W, V, C]`` inputs, in batches, without gradients."""
        import torch

        self.model.eval()
        out = np.empty((len(inputs), len(self.class_labels)), dtype=np.float32)
        with torch.inference_mode():
            for i in range(0, len(inputs), batch_size):
                logits = self.model(torch.from_numpy(inputs[i:i + batch_size]))
                out[i:i + batch_size] = torch.softmax(logits.float(), dim=-1).numpy()
        return out

    def describe(self) -> dict[str, Any]:
        cfg = dict(getattr(self.model, "config", {}) or {})
        params = sum(p.numel() for p in self.model.parameters())
        return {"architecture": cfg, "params": int(params), "layout": self.layout, "window": self.window,
                "classes": self.class_names, **self.info}

    def save(self, path: str | Path) -> Path:
        """A checkpoint that ``load`` reads with ``torch.load(weights_only=True)`` (no code executed)."""
        import io

        import torch

        from ..utils.io import atomic_write

        payload = {
            "kind": CHECKPOINT_KIND,
            "version": 1,
            "model_config": json.dumps(self.model.config),
            "state_dict": self.model.state_dict(),
            "layout": self.layout,
            "window": int(self.window),
            "class_labels": [int(c) for c in self.class_labels],
            "class_names": list(self.class_names),
            "info": json.dumps(self.info, default=str),
        }
        buf = io.BytesIO()
        torch.save(payload, buf)
        with atomic_write(path, "wb") as fh:
            fh.write(buf.getvalue())
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> WindowModel:
        import torch

        from ..models import build_from_config

        path = Path(path)
        if not path.is_file():
            raise CheckpointError(f"{path}: no such checkpoint file")
        try:
            payload = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:  # noqa: BLE001 - any unpickling failure is a bad checkpoint
            raise CheckpointError(f"{path}: not a readable checkpoint ({type(e).__name__}: {e})") from None
        if not isinstance(payload, dict) or payload.get("kind") != CHECKPOINT_KIND:
            raise CheckpointError(f"{path}: not an online window classifier checkpoint "
                                  f"(train one with microgesture.pipeline.online.train_window_classifier)")
        try:
            model = build_from_config(json.loads(payload["model_config"]))
            model.load_state_dict(payload["state_dict"])
            return cls(model, payload["layout"], int(payload["window"]), list(payload["class_labels"]),
                       list(payload["class_names"]), json.loads(payload.get("info") or "{}"))
        except (KeyError, RuntimeError, ValueError, TypeError) as e:
            raise CheckpointError(f"{path}: checkpoint does not match its architecture: {e}") from None


# ---------------------------------------------------------------------------------------------------
# stream → frame scores → events


def frame_scores(probs: np.ndarray, starts: np.ndarray, window: int, num_frames: int) -> np.ndarray:
    """Mean probability over the windows covering each frame, ``[T, K]`` (difference arrays, no loop)."""
    k = probs.shape[1]
    diff = np.zeros((num_frames + window + 1, k), dtype=np.float64)
    np.add.at(diff, starts, probs)
    np.add.at(diff, starts + window, -probs)
    acc = np.cumsum(diff, axis=0)[:num_frames]
    cover = np.zeros(num_frames + window + 1, dtype=np.int64)
    np.add.at(cover, starts, 1)
    np.add.at(cover, starts + window, -1)
    count = np.cumsum(cover)[:num_frames]
    return (acc / np.maximum(count, 1)[:, None]).astype(np.float32)


def smooth_scores(scores: np.ndarray, method: str = "mean", frames: int = 9) -> np.ndarray:
    """Temporal smoothing of ``[T, K]`` per-frame scores (moving average or median)."""
    from scipy.ndimage import median_filter, uniform_filter1d

    if method == "none" or frames <= 1 or len(scores) == 0:
        return scores
    if method == "mean":
        return uniform_filter1d(scores, size=frames, axis=0, mode="nearest")
    if method == "median":
        return median_filter(scores, size=(frames, 1), mode="nearest")
    raise ConfigError(f"unknown smoothing {method!r}")


def _runs(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run-length encoding of a 1-D int array: (starts, lengths, values)."""
    if values.size == 0:
        e = np.zeros(0, dtype=np.int64)
        return e, e, e
    change = np.flatnonzero(np.diff(values)) + 1
    starts = np.concatenate([[0], change])
    lengths = np.diff(np.concatenate([starts, [values.size]]))
    return starts, lengths, values[starts]


def frame_labels(scores: np.ndarray, background: int | None, threshold: float, merge_gap: int) -> np.ndarray:
    """Per-frame class index, ``-1`` for background: the best non-background class if it passes ``threshold``
    and beats the background score; short background gaps between two runs of one class are closed."""
    t, k = scores.shape
    fg = np.ones(k, dtype=bool)
    if background is not None:
        fg[background] = False
    if not fg.any() or t == 0:
        return np.full(t, -1, dtype=np.int64)
    fg_scores = np.where(fg[None], scores, -np.inf)
    best = np.argmax(fg_scores, axis=1)
    best_p = fg_scores[np.arange(t), best]
    ok = best_p >= threshold
    if background is not None:
        ok &= best_p >= scores[:, background]
    lab = np.where(ok, best, -1).astype(np.int64)
    if merge_gap > 0:
        starts, lengths, vals = _runs(lab)
        if len(vals) >= 3:
            inner = np.arange(1, len(vals) - 1)
            close = (vals[inner] == -1) & (lengths[inner] <= merge_gap) & (vals[inner - 1] == vals[inner + 1])
            vals = vals.copy()
            vals[inner[close]] = vals[inner[close] - 1]
            lab = np.repeat(vals, lengths)
    return lab


def labels_to_events(lab: np.ndarray, scores: np.ndarray, min_frames: int) -> pd.DataFrame:
    """Runs of one class → events ``start_frame, end_frame`` (inclusive), ``class_index``, ``score``
    (the mean smoothed probability of that class over the event)."""
    starts, lengths, vals = _runs(lab)
    keep = (vals >= 0) & (lengths >= min_frames)
    starts, lengths, vals = starts[keep], lengths[keep], vals[keep]
    if len(vals):
        csum = np.concatenate([np.zeros((1, scores.shape[1])), np.cumsum(scores, axis=0, dtype=np.float64)])
        mean = (csum[starts + lengths, vals] - csum[starts, vals]) / lengths
    else:
        mean = np.zeros(0)
    return pd.DataFrame({"start_frame": starts.astype(np.int64), "end_frame": (starts + lengths - 1).astype(np.int64),
                         "class_index": vals.astype(np.int64), "score": mean.astype(np.float64)})


@dataclass
class OnlineResult:
    """Everything the online stage produced for one stream."""

    events: pd.DataFrame  # EVENT_COLUMNS
    frame_probs: np.ndarray  # [T, K] smoothed
    frame_label: np.ndarray  # [T] class index, -1 background
    observed: np.ndarray  # [T] bool: the person was seen in this frame
    class_names: list[str]
    config: OnlineConfig
    fps: float
    timings: dict[str, float]
    num_windows: int

    def summary(self) -> dict[str, Any]:
        counts = self.events["label_name"].value_counts().to_dict() if len(self.events) else {}
        minutes = len(self.observed) / self.fps / 60 if self.fps else 0.0
        return {"events": int(len(self.events)), "windows": self.num_windows, "frames": int(len(self.observed)),
                "frames_observed": int(self.observed.sum()), "minutes": minutes,
                "events_per_minute": len(self.events) / minutes if minutes else 0.0,
                "per_class": {str(k): int(v) for k, v in counts.items()}, "timings_s": self.timings,
                "settings": self.config.to_dict()}

    def write(self, out_dir: str | Path, stem: str = "events") -> dict[str, Path]:
        """``<stem>.csv`` and ``<stem>.json`` (events plus settings and summary), atomically."""
        from ..utils.io import atomic_write, write_json

        out_dir = Path(out_dir)
        csv_path, json_path = out_dir / f"{stem}.csv", out_dir / f"{stem}.json"
        with atomic_write(csv_path, "w", encoding="utf-8", newline="") as fh:
            self.events.to_csv(fh, index=False)
        write_json(json_path, {"summary": self.summary(), "events": self.events.to_dict(orient="records")})
        return {"csv": csv_path, "json": json_path}


def recognize_stream(clip: Clip, wm: WindowModel, config: OnlineConfig | None = None) -> OnlineResult:
    """Slide ``wm`` over a single-person stream ``clip`` (``[1, T, V, C]`` in ``wm.layout``) → MG events."""
    cfg = (config or OnlineConfig(window=wm.window)).validate()
    if cfg.window != wm.window:
        raise ConfigError(f"the model was trained on {wm.window}-frame windows; window={cfg.window} given")
    where = clip.meta.source or clip.meta.clip_id
    if clip.meta.layout != wm.layout:
        raise DataError(where, f"stream has layout {clip.meta.layout!r}; the model needs {wm.layout!r}")
    if clip.num_persons != 1:
        raise DataError(where, f"online recognition needs one person; the stream has {clip.num_persons} "
                               "(use pipeline.tracking.select_main_person)")
    x = clip.keypoints[0]
    if x.shape[-1] != wm.in_channels:
        if x.shape[-1] > wm.in_channels:
            x = x[..., :wm.in_channels]
        else:
            raise DataError(where, f"stream has {x.shape[-1]} coordinates; the model needs {wm.in_channels}")
    t_frames = x.shape[0]
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    starts = window_starts(t_frames, cfg.window, cfg.stride)
    inputs, obs = window_inputs(x, wm.layout, starts, cfg.window)
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
    fs = frame_scores(probs, starts, cfg.window, t_frames)
    observed = np.isfinite(x).all(-1).any(-1)
    fs = smooth_scores(fs, cfg.smooth, cfg.smooth_frames)
    lab = frame_labels(fs, bg, cfg.threshold, cfg.merge_gap)
    lab[~observed] = -1  # no event is claimed on a frame where the person is not seen
    ev = labels_to_events(lab, fs, cfg.min_frames)
    timings["decode"] = time.perf_counter() - t0
    fps = float(clip.meta.fps or 25.0)
    offset = clip.meta.frame_range[0] if clip.meta.frame_range else 0
    events = pd.DataFrame({
        "start_frame": ev["start_frame"] + offset,
        "end_frame": ev["end_frame"] + offset,
        "label": np.asarray(wm.class_labels, dtype=np.int64)[ev["class_index"].to_numpy()] if len(ev)
        else np.zeros(0, np.int64),
        "label_name": [wm.class_names[i] for i in ev["class_index"]],
        "score": ev["score"].round(4),
        "start": (ev["start_frame"] / fps).round(3),
        "end": ((ev["end_frame"] + 1) / fps).round(3),
    }, columns=EVENT_COLUMNS)
    return OnlineResult(events, fs, lab, observed, wm.class_names, cfg, fps, timings, len(starts))


# ---------------------------------------------------------------------------------------------------
# training windows from annotated streams


def training_windows(
    x: np.ndarray,
    events: pd.DataFrame,
    window: int,
    *,
    per_event: int = 4,
    background_stride: int | None = None,
    jitter: float = 0.25,
    frame_offset: int = 0,
    rng: np.random.Generator | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Window starts and labels from one annotated stream ``x [T, V, C]``.

    Positives: ``per_event`` windows per annotated event (``start_frame``/``end_frame`` inclusive, in the
    stream's source frames — ``frame_offset`` is the source frame of ``x[0]``), centred on the event with
    a jitter of ``± jitter × window``. Background (label -1): windows every ``background_stride`` frames that
    overlap no event. Returns ``(starts [N], labels [N])``.
    """
    rng = rng or np.random.default_rng(0)
    t = x.shape[0]
    if t < window:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    s = events["start_frame"].to_numpy(np.int64) - frame_offset
    e = events["end_frame"].to_numpy(np.int64) - frame_offset
    lab = events["label"].to_numpy(np.int64)
    inside = (e >= 0) & (s < t)
    s, e, lab = s[inside], np.minimum(e[inside], t - 1), lab[inside]
    centre = (s + e) / 2.0
    jit = rng.uniform(-jitter, jitter, size=(len(s), per_event)) * window
    pos = np.clip(np.round(centre[:, None] - window / 2 + jit), 0, t - window).astype(np.int64).ravel()
    pos_lab = np.repeat(lab, per_event)
    covered = np.zeros(t + 1, dtype=np.int64)
    np.add.at(covered, s, 1)
    np.add.at(covered, e + 1, -1)
    busy = np.cumsum(covered)[:t] > 0
    busy_c = np.concatenate([[0], np.cumsum(busy)])
    bstride = background_stride or max(window // 2, 1)
    bg = np.arange(0, t - window + 1, bstride, dtype=np.int64)
    bg = bg[(busy_c[bg + window] - busy_c[bg]) == 0]
    return np.concatenate([pos, bg]), np.concatenate([pos_lab, np.full(len(bg), -1, np.int64)])


@dataclass
class TrainConfig:
    """A small, fast window classifier: enough to demonstrate and test the online pipeline on CPU."""

    encoder: str = "stgcn_quarter"
    encoder_options: dict[str, Any] = field(default_factory=dict)
    epochs: int = 8
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 1e-4
    per_event: int = 6
    background_stride: int | None = None
    max_background_ratio: float = 3.0  # at most this many background windows per positive window
    flip_prob: float = 0.0
    seed: int = 0
    num_threads: int | None = 1  # small models gain little from intra-op threads and stall when cores are shared


def _build_classifier(num_classes: int, layout: str, in_channels: int, window: int, cfg: TrainConfig):
    from ..models import create_model

    encoder = {"name": cfg.encoder, **cfg.encoder_options}
    return create_model("classifier", encoder=encoder, num_classes=num_classes, layout=layout,
                        in_channels=in_channels, num_frames=window, num_persons=1)


def train_window_classifier(
    streams: Sequence[tuple[Clip, pd.DataFrame]],
    class_names: dict[int, str] | Sequence[str],
    *,
    window: int = 32,
    config: TrainConfig | None = None,
    progress: bool = True,
) -> WindowModel:
    """Train a classifier of ``window``-frame windows (MG classes present in the data + background).

    ``streams`` are single-person clips with their annotated events (``start_frame, end_frame, label``
    in source frames). Classes with no annotated event in ``streams`` are left out of the model.
    """
    import torch

    cfg = config or TrainConfig()
    if not streams:
        raise ConfigError("no annotated streams to train on")
    names = dict(enumerate(class_names)) if not isinstance(class_names, dict) else dict(class_names)
    layout = streams[0][0].meta.layout
    rng = np.random.default_rng(cfg.seed)
    xs, ys = [], []
    for clip, ev in streams:
        if clip.meta.layout != layout:
            raise DataError(clip.meta.source or clip.meta.clip_id,
                            f"layout {clip.meta.layout!r} differs from the first stream's {layout!r}")
        x = clip.keypoints[0]
        offset = clip.meta.frame_range[0] if clip.meta.frame_range else 0
        starts, labels = training_windows(x, ev, window, per_event=cfg.per_event,
                                          background_stride=cfg.background_stride, frame_offset=offset, rng=rng)
        if not len(starts):
            continue
        inp, obs = window_inputs(x, layout, starts, window)
        keep = obs >= 0.5
        xs.append(inp[keep])
        ys.append(labels[keep])
    if not xs:
        raise ConfigError("the annotated streams yield no training windows (streams shorter than the window?)")
    x_all, y_all = np.concatenate(xs), np.concatenate(ys)
    pos, bgi = np.flatnonzero(y_all >= 0), np.flatnonzero(y_all < 0)
    if not len(pos):
        raise ConfigError("no annotated MG event falls inside the training streams")
    max_bg = int(cfg.max_background_ratio * len(pos))
    if len(bgi) > max_bg:
        bgi = rng.choice(bgi, max_bg, replace=False)
    sel = np.concatenate([pos, bgi])
    x_all, y_all = x_all[sel], y_all[sel]
    present = sorted(int(v) for v in np.unique(y_all[y_all >= 0]))
    class_labels = present + [-1]
    class_list = [names.get(c, str(c)) for c in present] + [BACKGROUND]
    lut = {c: i for i, c in enumerate(class_labels)}
    y_idx = np.array([lut[int(v)] for v in y_all], dtype=np.int64)

    torch.manual_seed(cfg.seed)
    model = _build_classifier(len(class_labels), layout, x_all.shape[-1], window, cfg)
    counts = np.bincount(y_idx, minlength=len(class_labels)).astype(np.float64)
    weights = torch.tensor(len(y_idx) / (len(class_labels) * np.maximum(counts, 1)), dtype=torch.float32)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps = cfg.epochs * int(np.ceil(len(y_idx) / cfg.batch_size))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=max(steps, 1))
    loss_fn = torch.nn.CrossEntropyLoss(weight=weights)
    xt, yt = torch.from_numpy(x_all), torch.from_numpy(y_idx)
    flip = torch.as_tensor(get_layout(layout).flip_permutation)
    t0 = time.perf_counter()
    with torch_threads(cfg.num_threads):
        history = _fit(model, xt, yt, loss_fn, opt, sched, cfg, flip, progress)
    model.eval()
    info = {
        "trained_on": [c.meta.clip_id for c, _ in streams],
        "train_windows": int(len(y_idx)), "positive_windows": int(len(pos)),
        "background_windows": int(len(bgi)), "epochs": cfg.epochs, "train_seconds": time.perf_counter() - t0,
        "history": history, "train_config": asdict(cfg),
    }
    return WindowModel(model, layout, window, class_labels, class_list, info)


def _fit(model, xt, yt, loss_fn, opt, sched, cfg: TrainConfig, flip, progress: bool) -> list[dict[str, float]]:
    """The epoch loop (mini-batches of pre-built windows; optional mirror augmentation)."""
    import torch
    from tqdm.auto import tqdm

    history = []
    model.train()
    bar = tqdm(range(cfg.epochs), desc="training window classifier", unit="epoch", disable=not progress)
    gen = torch.Generator().manual_seed(cfg.seed)
    mirror = torch.tensor([-1.0] + [1.0] * (xt.shape[-1] - 1))
    for _epoch in bar:
        order = torch.randperm(len(yt), generator=gen)
        total, correct, seen = 0.0, 0, 0
        for i in range(0, len(order), cfg.batch_size):
            idx = order[i:i + cfg.batch_size]
            xb, yb = xt[idx], yt[idx]
            if cfg.flip_prob > 0:  # left/right mirror; only sensible when class labels are side-free
                m = torch.rand(len(xb), generator=gen) < cfg.flip_prob
                xb = xb.clone()
                xb[m] = xb[m][..., flip, :] * mirror
            logits = model(xb)
            loss = loss_fn(logits, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(yb)
            correct += int((logits.argmax(1) == yb).sum())
            seen += len(yb)
        history.append({"loss": total / seen, "train_acc": correct / seen})
        bar.set_postfix(loss=f"{total / seen:.3f}", acc=f"{correct / seen:.2f}")
    model.eval()
    return history
