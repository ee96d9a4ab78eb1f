"""Dataset clips → the fixed-size arrays an encoder was trained on, exactly as its checkpoint recorded.

Why here: evaluating a checkpoint on inputs prepared differently from its pretraining (another clip length,
no centring, a missing confidence channel) silently costs accuracy. :class:`InputSpec` is read from the
checkpoint's metadata (falling back to the encoder's own geometry) and :func:`data.transforms.prepare_clip`
does the work; arrays keep NaN for missing joints so augmentations still see what was never observed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np
from torch import nn

from ..data.clip import Clip
from ..data.dataset import SkeletonDataset
from ..data.transforms import prepare_clip, stream_channels
from ..errors import ConfigError, DataError


@dataclass
class InputSpec:
    """The preprocessing recipe (arguments of ``prepare_clip``) that defines an encoder's input."""

    layout: str
    num_frames: int = 64
    max_persons: int = 1
    streams: list[str] = field(default_factory=lambda: ["joint"])
    with_scores: bool = False
    center: bool | str = True
    scale: bool | str = True
    align: bool = False
    sampling: str = "resize"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_mapping(cls, d: Mapping[str, Any], **defaults: Any) -> InputSpec:
        known = {f.name for f in fields(cls)}
        aliases = {"frames": "num_frames", "t": "num_frames", "persons": "max_persons", "num_persons": "max_persons",
                   "centre": "center"}
        values = dict(defaults)
        for k, v in dict(d).items():
            k = aliases.get(k, k)
            if k in known and v is not None:
                values[k] = v
        if isinstance(values.get("streams"), str):
            values["streams"] = [s.strip() for s in values["streams"].split(",")]
        if "layout" not in values:
            raise ConfigError("input spec needs a layout name")
        return cls(**{k: values[k] for k in known if k in values})

    @classmethod
    def for_encoder(cls, encoder: nn.Module, meta: Mapping[str, Any] | None = None) -> InputSpec:
        """The spec stored in checkpoint metadata (``meta["data"]`` / ``meta["input"]``), completed from the
        encoder's recorded geometry (layout, frames, persons)."""
        meta = dict(meta or {})
        stored: dict[str, Any] = {}
        for key in ("data", "input", "input_spec"):
            if isinstance(meta.get(key), Mapping):
                stored.update(meta[key])
        if isinstance(stored.get("input"), Mapping):  # training checkpoints: meta["data"]["input"]
            stored.update(stored["input"])
        cfg = dict(getattr(encoder, "config", {}) or {})
        defaults: dict[str, Any] = {}
        layout = cfg.get("layout") or getattr(encoder, "layout_name", None)
        if layout:
            defaults["layout"] = layout
        if cfg.get("num_frames"):
            defaults["num_frames"] = int(cfg["num_frames"])
        if cfg.get("num_persons"):
            defaults["max_persons"] = int(cfg["num_persons"])
        return cls.from_mapping(stored, **defaults)

    def channels(self, num_coords: int) -> int:
        return stream_channels(self.streams, num_coords, self.with_scores)

    def augmentable_coords(self, num_coords: int) -> int | None:
        """How many leading input channels batch augmentation may treat as coordinates: all of them for the
        plain joint stream, none once derived streams (motion, bones) are concatenated after preparation."""
        return int(num_coords) if list(self.streams) == ["joint"] else None

    def prepare_one(self, clip: Clip, *, train: bool = False, seed: int | None = None) -> np.ndarray:
        if clip.meta.layout and clip.meta.layout != self.layout:
            from ..data.convert import convert_clip

            clip = convert_clip(clip, self.layout)
        return prepare_clip(clip, num_frames=self.num_frames, max_persons=self.max_persons, center=self.center,
                            scale=self.scale, align=self.align, sampling=self.sampling, train=train, seed=seed,
                            streams=self.streams, with_scores=self.with_scores, layout=self.layout)

    def prepare(self, clips: Sequence[Clip], *, progress: bool = False, desc: str = "preparing clips"
                ) -> np.ndarray:
        """``[N, M, T, V, C']`` float32 (NaN = missing) for ``clips``, deterministic (test-mode sampling)."""
        if len(clips) == 0:
            raise ConfigError("no clips to prepare")
        it: Any = clips
        if progress:
            from tqdm.auto import tqdm

            it = tqdm(clips, desc=desc, unit="clip", leave=False)
        first = None
        out: np.ndarray | None = None
        for i, clip in enumerate(it):
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


@dataclass
class LabelledArrays:
    """Prepared inputs with integer labels, plus where they came from (for reports)."""

    x: np.ndarray
    y: np.ndarray
    clip_ids: list[str]
    groups: list[str | None] = field(default_factory=list)  # subject (or source video) per clip


def labelled_arrays(dataset: SkeletonDataset, indices: np.ndarray | Sequence[int], spec: InputSpec, *,
                    progress: bool = False, desc: str = "preparing clips") -> LabelledArrays:
    """Prepare the clips at ``indices``; every one must carry a label."""
    clips = [dataset.clips[int(i)] for i in indices]
    unlabelled = [c.meta.clip_id for c in clips if c.meta.label is None]
    if unlabelled:
        raise DataError(dataset.name, f"{len(unlabelled)} evaluation clips have no label (first: {unlabelled[0]})")
    y = np.array([int(c.meta.label) for c in clips], dtype=np.int64)
    x = spec.prepare(clips, progress=progress, desc=desc)
    return LabelledArrays(x, y, [c.meta.clip_id for c in clips],
                          [c.meta.subject or c.meta.source for c in clips])


def num_classes_of(dataset: SkeletonDataset) -> int:
    """Class count: the dataset's class-name list, else the largest label + 1."""
    if dataset.class_names:
        return len(dataset.class_names)
    labels = dataset.labels()
    if (labels < 0).all():
        raise DataError(dataset.name, "dataset has no labels")
    return int(labels.max()) + 1
