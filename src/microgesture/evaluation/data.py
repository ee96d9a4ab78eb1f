"""Dataset clips → labelled fixed-size arrays, prepared exactly as the checkpoint's input spec says.

Why: evaluation must feed an encoder what it was trained on; :class:`~microgesture.data.inputs.InputSpec`
(read from the checkpoint) does the preparation. Arrays keep NaN for missing joints so augmentations still
see what was never observed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..data.dataset import SkeletonDataset
from ..data.inputs import InputSpec
from ..errors import DataError

__all__ = ["InputSpec", "LabelledArrays", "labelled_arrays", "num_classes_of"]


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
