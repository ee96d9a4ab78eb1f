"""A labelled collection of clips with its splits, class names and the files that could not be read.

Why ``skipped`` lives here: one bad file never sinks an import; it is carried along, counted and
reported (``microgesture data check``) instead of crashing the run or vanishing silently.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..errors import ConfigError
from .clip import Clip


@dataclass(frozen=True)
class Skipped:
    """A file (or clip) that was not imported, and why."""

    path: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"path": self.path, "reason": self.reason}


@dataclass
class SkeletonDataset:
    name: str
    layout: str
    clips: Sequence[Clip]
    class_names: list[str] | None = None
    splits: dict[str, list[str]] = field(default_factory=dict)  # split name -> clip ids
    skipped: list[Skipped] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.clips)

    def clip_ids(self) -> list[str]:
        if hasattr(self.clips, "clip_ids"):  # lazy stores (data.native.NativeStore) answer from their index
            return self.clips.clip_ids()
        return [c.meta.clip_id for c in self.clips]

    def labels(self) -> np.ndarray:
        if hasattr(self.clips, "labels"):
            return self.clips.labels()
        return np.array([-1 if c.meta.label is None else c.meta.label for c in self.clips], dtype=np.int64)

    def subset(self, split: str) -> SkeletonDataset:
        """The clips of one named split, in dataset order."""
        if split not in self.splits:
            raise ConfigError(f"dataset {self.name} has no split {split!r}; known: {sorted(self.splits)}")
        keep = set(self.splits[split])
        if hasattr(self.clips, "select"):  # stay lazy: a view of the store, nothing loaded
            clips = self.clips.select([i for i, cid in enumerate(self.clip_ids()) if cid in keep])
        else:
            clips = [c for c in self.clips if c.meta.clip_id in keep]
        return SkeletonDataset(self.name, self.layout, clips, self.class_names, {split: self.splits[split]}, [])
