"""What turns a skeleton stream into an MG timeline: kinematic detectors or a trained window model, behind one
small interface.

Why an interface: ``analyze`` (and a batch of recordings) must not care whether the timeline comes from the
kinematic detectors (rules over named joints, ``models.kinematic``) or from a window classifier trained on
annotated streams; each takes the main person's stream in whatever layout it was read, converts it to what it
needs by joint name, and returns a :class:`~microgesture.models.decoding.Recognition` whose events carry their
evidence.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..data.clip import Clip
from ..data.convert import convert_clip, list_conversions
from ..data.mg_classes import MG_CLASS_NAMES
from ..errors import ConfigError, DataError
from ..models.decoding import EVENT_COLUMNS, Recognition
from ..models.kinematic import DEFAULT_PROFILE, DetectorConfig, detect_events, load_detector_config
from ..training.windows import (
    OnlineConfig,
    WindowModel,
    load_window_model,
    recognize_stream,
    synthetic_window_model,
)


class Recognizer(Protocol):
    """Stream → timeline. ``label_space`` names the vocabulary of its classes (``mg``, ``imigue``, ...)."""

    name: str

    @property
    def label_space(self) -> str | None: ...

    @property
    def class_names(self) -> list[str]: ...

    def recognize(self, clip: Clip) -> Recognition: ...

    def describe(self) -> dict[str, Any]: ...


def to_layout(clip: Clip, layout: str) -> Clip:
    """``clip`` in ``layout`` (joints mapped by name), or a clear error when no conversion exists."""
    if clip.meta.layout == layout:
        return clip
    if (clip.meta.layout, layout) not in list_conversions():
        known = ", ".join(f"{a}->{b}" for a, b in list_conversions() if b == layout)
        raise DataError(clip.meta.source or clip.meta.clip_id,
                        f"layout {clip.meta.layout!r} cannot be converted to {layout!r} (known: {known})")
    return convert_clip(clip, layout)


@dataclass
class WindowRecognizer:
    """A window classifier slid over the stream (``pipeline.online``)."""

    model: WindowModel
    config: OnlineConfig = field(default_factory=OnlineConfig)
    source: str = ""
    name: str = "window model"

    @property
    def label_space(self) -> str | None:
        return self.model.label_space

    @property
    def class_names(self) -> list[str]:
        return [n for i, n in enumerate(self.model.class_names) if i != self.model.background_index]

    def recognize(self, clip: Clip) -> Recognition:
        clip = to_layout(clip, self.model.layout)
        if clip.num_coords > self.model.num_coords:
            clip = clip.with_(keypoints=np.ascontiguousarray(clip.keypoints[..., :self.model.num_coords]))
        return recognize_stream(clip, self.model, self.config)

    def describe(self) -> dict[str, Any]:
        d = self.model.describe()
        d.pop("metrics", None)
        return {"recognizer": self.name, "source": self.source, "settings": self.config.to_dict(), **d}


@dataclass
class DetectorRecognizer:
    """The kinematic detectors (``models.kinematic``) on the stream as read: no training data, every event backed
    by the body geometry or motion that fired it; classes the layout cannot define are listed, not guessed."""

    config: DetectorConfig = field(default_factory=lambda: load_detector_config(DEFAULT_PROFILE))
    source: str = f"default profile ({DEFAULT_PROFILE.name}: thresholds fitted on iMiGUE video 298's first 60 %)"
    name: str = "kinematic detectors"

    @property
    def label_space(self) -> str:
        return "mg"

    @property
    def class_names(self) -> list[str]:
        return list(MG_CLASS_NAMES)

    def recognize(self, clip: Clip) -> Recognition:
        res = detect_events(clip, self.config)
        fps = res.fps
        events = res.events.assign(start=((res.events["start_frame"] - res.frame_offset) / fps).round(3),
                                   end=((res.events["end_frame"] + 1 - res.frame_offset) / fps).round(3))
        events = events[list(EVENT_COLUMNS)].reset_index(drop=True)
        observed = np.isfinite(clip.keypoints[0]).all(-1).any(-1)
        return Recognition(events, res.frame_scores, observed, list(MG_CLASS_NAMES), fps, self.name,
                           {"thresholds": self.source}, dict(res.timings),
                           {"cannot_tell": dict(res.cannot_tell), "notes": list(res.notes), "layout": res.layout})

    def describe(self) -> dict[str, Any]:
        return {"recognizer": self.name, "source": self.source, "classes": self.class_names,
                "label_space": self.label_space,
                "method": "rules over named joints in body units (contact, posture, periodic motion) with "
                          "hysteresis and minimum durations; thresholds in models/kinematic/thresholds.yaml"}


def load_recognizer(spec: str | Path | None, *, online: OnlineConfig | None = None,
                    progress: bool = True) -> Recognizer:
    """The recogniser named by ``spec``: ``None`` or ``detectors`` (the kinematic detectors with the default
    profile), ``detectors-unfitted`` (their geometry thresholds, no fit), a detector thresholds ``.yaml``
    (overrides of the geometry thresholds, e.g. from ``train-detector --method thresholds``), a window-model
    checkpoint, or ``synthetic`` (the cached window model trained on synthetic streams)."""
    if spec is None or str(spec) == "detectors":
        return DetectorRecognizer()
    if str(spec) == "detectors-unfitted":
        return DetectorRecognizer(load_detector_config(None), "geometry thresholds (no fit)")
    if str(spec) == "synthetic":
        wm = synthetic_window_model(progress=progress)
        return WindowRecognizer(wm, online or OnlineConfig(), f"window model trained on synthetic streams ({wm.path})",
                                "synthetic window model")
    path = Path(spec)
    if not path.exists():
        raise ConfigError(f"--model {spec}: no such file (give a window-model checkpoint, a detector thresholds "
                          "YAML, 'detectors' or 'synthetic')")
    if path.suffix.lower() in (".yaml", ".yml"):
        return DetectorRecognizer(load_detector_config(path), f"thresholds {path}")
    return WindowRecognizer(load_window_model(path), online or OnlineConfig(), f"checkpoint {path}")
