"""What turns a skeleton stream into an MG timeline: a trained window model, behind one small interface.

Why an interface: ``analyze`` (and a batch of recordings) must not care whether the timeline comes from a
window classifier trained on annotated streams or from another recogniser; each takes the main person's
stream in whatever layout it was read, converts it to what it needs by joint name, and returns an
:class:`~microgesture.models.decoding.Recognition` whose events carry their evidence.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..data.clip import Clip
from ..data.convert import convert_clip, list_conversions
from ..errors import ConfigError, DataError
from ..models.decoding import Recognition
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


def load_recognizer(spec: str | Path | None, *, online: OnlineConfig | None = None,
                    progress: bool = True) -> Recognizer:
    """The recogniser named by ``spec``: a window-model checkpoint path, or ``synthetic`` (the cached window
    model trained on synthetic streams)."""
    if spec is None or str(spec) == "synthetic":
        wm = synthetic_window_model(progress=progress)
        return WindowRecognizer(wm, online or OnlineConfig(), f"window model trained on synthetic streams ({wm.path})",
                                "synthetic window model")
    path = Path(spec)
    if not path.exists():
        raise ConfigError(f"--model {spec}: no such file (give a window-model checkpoint or 'synthetic')")
    return WindowRecognizer(load_window_model(path), online or OnlineConfig(), f"checkpoint {path}")
