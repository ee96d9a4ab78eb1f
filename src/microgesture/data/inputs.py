"""The input contract: :class:`InputSpec` says how a clip becomes a model input, :func:`prepare_clip` does it.

Why one place: a model evaluated or deployed on inputs prepared differently from its training (another clip
length, no centring, a missing confidence channel) silently loses accuracy. Training writes the spec into
every checkpoint (window models included); evaluation and the pipeline read it back from there — nothing
else describes preprocessing. :meth:`InputSpec.prepare_windows` is the batched form of the same recipe for
the many overlapping windows of a long stream (one vectorised pass instead of one call per window; a test
checks it equals :func:`prepare_clip` window by window).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from ..errors import ConfigError, DataError
from . import transforms as T
from .clip import Clip
from .convert import convert_clip
from .layouts import Layout, get_layout

__all__ = ["InputSpec", "prepare_clip"]


def prepare_clip(
    clip: Clip,
    *,
    num_frames: int,
    max_persons: int = 1,
    center: bool | T.CentreMode = True,
    scale: bool | T.ScaleBy = True,
    align: bool = False,
    sampling: T.Sampling = "resize",
    train: bool = False,
    seed: T.RngLike = None,
    streams: Sequence[str] | str = ("joint",),
    with_scores: bool = False,
    layout: Layout | str | None = None,
    pad_mode: T.PadMode = "zero",
) -> np.ndarray:
    """Turn a clip into a float32 model input ``[max_persons, num_frames, V, C']``, NaN kept for missing.

    Steps: keep the ``max_persons`` most moving persons (missing persons padded) → temporal sampling to
    ``num_frames`` (``train`` and ``seed`` only matter for ``uniform`` and ``crop_pad``; test mode is
    deterministic) → centre (``True`` = ``"first"``: one origin at the first frame, which keeps whole-body
    MGs such as body shaking; ``"frame"`` = per-frame, ISC style) → scale by body size (``True`` =
    ``"auto"``) → optional 3-D view alignment → streams concatenated on channels → optionally the
    confidence score as the last channel (iMiGUE release style x, y, conf).
    Apply :func:`~microgesture.data.transforms.fill_missing` after augmentation.
    """
    where = clip.meta.source or clip.meta.clip_id
    lay_name = layout if layout is not None else clip.meta.layout
    if not lay_name:
        raise DataError(where, "clip has no layout name; pass layout=")
    lay = get_layout(lay_name) if isinstance(lay_name, str) else lay_name
    x = clip.keypoints
    if x.shape[1] == 0:
        raise DataError(where, "clip has no frames")
    if with_scores and clip.scores is None:
        raise DataError(where, "with_scores=True but the clip has no confidence scores")
    x, keep = T.select_persons(x, max_persons, return_index=True)
    if with_scores:
        sc = np.where(keep[:, None, None] >= 0, clip.scores[np.maximum(keep, 0)], np.nan)
        x = np.concatenate([x, sc[..., None].astype(np.float32)], axis=-1)
    # sample first: the spatial steps are per-frame or robust statistics, so they commute with it (up to
    # which frames enter the medians) and then touch only num_frames frames
    x = T.sample_frames(x, num_frames, sampling, train, seed, pad_mode)
    if with_scores:
        x, sc = x[..., :-1], x[..., -1:]
        sc = np.nan_to_num(sc)  # padded frames / persons have zero confidence
    if center:
        x = T.centre(x, lay, "first" if center is True else center)
    if scale:
        x = T.scale(x, lay, "auto" if scale is True else scale)
    if align:
        x = T.view_align_3d(x, lay)
    x = T.make_streams(x, lay, streams)
    if with_scores:
        x = np.concatenate([x, sc], axis=-1)
    return np.ascontiguousarray(x, dtype=np.float32)


@dataclass
class InputSpec:
    """The preprocessing recipe (arguments of :func:`prepare_clip`) that defines a model's input."""

    layout: str
    num_frames: int = 64
    max_persons: int = 1
    streams: list[str] = field(default_factory=lambda: ["joint"])
    with_scores: bool = False
    center: bool | str = True
    scale: bool | str = True
    align: bool = False
    sampling: str = "resize"

    def __post_init__(self) -> None:
        if isinstance(self.streams, str):
            self.streams = [s.strip() for s in self.streams.split(",") if s.strip()]
        self.streams = list(self.streams)
        self.num_frames, self.max_persons = int(self.num_frames), int(self.max_persons)
        if self.num_frames < 1 or self.max_persons < 1:
            raise ConfigError(f"input spec needs num_frames >= 1 and max_persons >= 1, got {self.num_frames}, "
                              f"{self.max_persons}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_mapping(cls, d: Mapping[str, Any], **defaults: Any) -> InputSpec:
        """A spec from a mapping that may hold other keys too (a training ``data`` config, checkpoint
        metadata); ``defaults`` fill what it does not say."""
        known = {f.name for f in fields(cls)}
        values = dict(defaults)
        values.update({k: v for k, v in dict(d).items() if k in known and v is not None})
        if "layout" not in values:
            raise ConfigError("input spec needs a layout name")
        return cls(**values)

    @classmethod
    def from_checkpoint(cls, meta: Mapping[str, Any], encoder: Any = None) -> InputSpec:
        """The spec a training run stored (``meta["data"]["input"]``), completed from the encoder's recorded
        geometry (layout, frames, persons) for checkpoints that predate a key."""
        data = meta.get("data") if isinstance(meta.get("data"), Mapping) else {}
        stored = data.get("input") if isinstance(data.get("input"), Mapping) else {}
        cfg = dict(getattr(encoder, "config", {}) or {})
        defaults: dict[str, Any] = {}
        layout = cfg.get("layout") or getattr(encoder, "layout_name", None) or data.get("layout")
        if layout:
            defaults["layout"] = layout
        if cfg.get("num_frames"):
            defaults["num_frames"] = int(cfg["num_frames"])
        if cfg.get("num_persons"):
            defaults["max_persons"] = int(cfg["num_persons"])
        return cls.from_mapping(stored, **defaults)

    def channels(self, num_coords: int) -> int:
        return T.stream_channels(self.streams, num_coords, self.with_scores)

    def augmentable_coords(self, num_coords: int) -> int | None:
        """How many leading input channels batch augmentation may treat as coordinates: all of them for the
        plain joint stream, none once derived streams (motion, bones) are concatenated after preparation."""
        return int(num_coords) if list(self.streams) == ["joint"] else None

    def prepare_kwargs(self, streams: Sequence[str] | None = None) -> dict[str, Any]:
        d = self.to_dict()
        d.pop("layout")
        if streams is not None:
            d["streams"] = list(streams)
        return d

    def prepare_one(self, clip: Clip, *, train: bool = False, seed: int | None = None,
                    streams: Sequence[str] | None = None) -> np.ndarray:
        """One clip, converted to the spec's layout by joint name if it is in another."""
        if clip.meta.layout and clip.meta.layout != self.layout:
            clip = convert_clip(clip, self.layout)
        return prepare_clip(clip, layout=self.layout, train=train, seed=seed, **self.prepare_kwargs(streams))

    def prepare(self, clips: Sequence[Clip], *, progress: bool = False, desc: str = "preparing clips"
                ) -> np.ndarray:
        """``[N, M, T, V, C']`` float32 (NaN = missing) for ``clips``, deterministic (test-mode sampling)."""
        if len(clips) == 0:
            raise ConfigError("no clips to prepare")
        first = None
        out: np.ndarray | None = None
        for i, clip in enumerate(tqdm(clips, desc=desc, unit="clip", leave=False, disable=not progress)):
            x = self.prepare_one(clip)
            if out is None:
                first = x.shape
                out = np.empty((len(clips), *x.shape), dtype=np.float32)
            elif x.shape != first:
                raise DataError(clip.meta.source or clip.meta.clip_id,
                                f"prepared shape {x.shape} differs from the first clip's {first}")
            out[i] = x
        assert out is not None
        return out

    def prepare_windows(self, windows: np.ndarray) -> np.ndarray:
        """Batched :func:`prepare_clip` for single-person windows ``[N, W, V, C]`` of one stream → ``[N, 1, W,
        V, C']`` (NaN kept), for specs whose windows need no resampling (``num_frames == W``).

        Centre: the layout's centre joint at the first frame of the window where it is seen (else the mean
        of the joints observed in the window's first observed frame). Scale: median shoulder width in the
        window, else median centre→head/nose/neck length, else the median joint spread (the ``auto`` order of
        :func:`~microgesture.data.transforms.body_scale`).
        """
        w = np.asarray(windows, dtype=np.float32)
        if w.ndim != 4:
            raise DataError(None, f"windows must be [N, W, V, C], got shape {w.shape}")
        if w.shape[1] != self.num_frames or self.align or self.with_scores or self.max_persons != 1:
            raise ConfigError(f"prepare_windows needs a single-person spec of {w.shape[1]} frames without align or "
                              f"scores; got {self.to_dict()}")
        lay = get_layout(self.layout)
        if w.shape[2] != lay.num_joints:
            raise DataError(None, f"windows have {w.shape[2]} joints, layout {self.layout} has {lay.num_joints}")
        if self.center:
            if self.center not in (True, "first"):
                raise ConfigError(f"prepare_windows supports center 'first' only, got {self.center!r}")
            w = w - _window_origins(w, lay)[:, None, None, :]
        if self.scale:
            if self.scale not in (True, "auto"):
                raise ConfigError(f"prepare_windows supports scale 'auto' only, got {self.scale!r}")
            w = w / _window_scales(w, lay)[:, None, None, None]
        x = T.make_streams(w[:, None].astype(np.float32), lay, self.streams)
        return np.ascontiguousarray(x, dtype=np.float32)


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


def _window_origins(w: np.ndarray, lay: Layout) -> np.ndarray:
    """``[N, C]`` centre per window, as ``centre(mode="first")`` picks it for one clip."""
    n = len(w)
    cj = w[:, :, lay.center_index]  # [N, W, C]
    cvalid = np.isfinite(cj).all(-1)
    origin = cj[np.arange(n), np.argmax(cvalid, axis=1)]
    need = np.flatnonzero(~cvalid.any(1))
    if len(need):  # fallback: mean of the observed joints in the first frame that has any
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            fmean = np.nanmean(w[need], axis=2)  # [n, W, C]
        fvalid = np.isfinite(fmean).all(-1)
        alt = fmean[np.arange(len(need)), np.argmax(fvalid, axis=1)]
        origin[need] = np.where(fvalid.any(1)[:, None], alt, 0.0)
    return origin


def _window_scales(x: np.ndarray, lay: Layout) -> np.ndarray:
    """``[N]`` body scale per window, as ``body_scale(by="auto")`` measures it for one clip (1 if none)."""
    scale = np.full(len(x), np.nan, dtype=np.float64)
    pair = T.shoulder_pair(lay)
    if pair is not None:
        scale = _nanmedian_rows(np.linalg.norm(x[:, :, pair[0]] - x[:, :, pair[1]], axis=-1))
    partner = next((p for p in T.TORSO_PARTNERS if p in lay.index and p != lay.center), None)
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
    return np.where(np.isfinite(scale) & (scale > 1e-8), scale, 1.0).astype(np.float32)
