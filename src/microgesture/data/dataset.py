"""A labelled collection of clips with its splits, class names and the files that could not be read.

Why ``skipped`` lives here: one bad file never sinks an import; it is carried along, counted and
reported (``microgesture data check``) instead of crashing the run or vanishing silently.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, overload

import numpy as np

from ..errors import ConfigError
from .clip import Clip


class LazyClips(Sequence[Clip]):
    """A read-only clip sequence built on access (memory-mapped stores, release arrays, chains of those).

    Subclasses give ``__len__`` and ``_get(i)`` for ``0 <= i < len``; indexing (negative indices, slices,
    range errors) is done here once.
    """

    def _get(self, i: int) -> Clip:  # pragma: no cover - abstract
        raise NotImplementedError

    @overload
    def __getitem__(self, i: int) -> Clip: ...

    @overload
    def __getitem__(self, i: slice) -> list[Clip]: ...

    def __getitem__(self, i: int | slice) -> Clip | list[Clip]:
        n = len(self)
        if isinstance(i, slice):
            return [self._get(k) for k in range(*i.indices(n))]
        if not -n <= i < n:
            raise IndexError(f"clip index {i} out of range for {n} clips")
        return self._get(int(i) + n if i < 0 else int(i))


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
    meta: dict[str, Any] = field(default_factory=dict)  # dataset-level facts a checkpoint keeps (JSON-able)

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
