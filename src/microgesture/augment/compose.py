"""Combinators: run augmentations in sequence, or pick one of several per sample."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .base import Augmentation, Tensor, rand, register


@register("identity")
class Identity(Augmentation):
    """No change (the ``none`` preset); keeps call sites uniform."""

    def __init__(self) -> None:
        super().__init__(1.0)

    def apply(self, x: Tensor, g: torch.Generator | None) -> Tensor:
        return x


class Compose(Augmentation):
    """Apply augmentations in order, all drawing from the same generator."""

    def __init__(self, augmentations: Sequence[Augmentation], p: float = 1.0):
        super().__init__(p)
        self.augmentations = list(augmentations)

    def apply(self, x: Tensor, g: torch.Generator | None) -> Tensor:
        for aug in self.augmentations:
            x = aug(x, g)
        return x

    def __len__(self) -> int:
        return len(self.augmentations)

    def __iter__(self):
        return iter(self.augmentations)

    def __repr__(self) -> str:
        if not self.augmentations:
            return "Compose([])"
        inner = ",\n".join("  " + repr(a).replace("\n", "\n  ") for a in self.augmentations)
        head = "Compose([" if self.p == 1.0 else f"Compose(p={self.p}, augmentations=["
        return f"{head}\n{inner}\n])"


@register("one_of")
class OneOf(Augmentation):
    """Per sample, apply exactly one of ``choices`` (chosen with ``weights``, uniform by default).

    Only the samples that picked an option are passed to it, so the cost is one pass over the batch.
    """

    def __init__(self, choices: Sequence[Augmentation], weights: Sequence[float] | None = None,
                 p: float = 1.0):
        super().__init__(p)
        if not choices:
            raise ValueError("one_of needs at least one choice")
        self.choices = list(choices)
        w = torch.ones(len(self.choices)) if weights is None else torch.as_tensor(list(weights), dtype=torch.float32)
        if w.numel() != len(self.choices) or bool((w < 0).any()) or float(w.sum()) <= 0:
            raise ValueError(f"one_of weights must be {len(self.choices)} non-negative numbers, got {weights}")
        self.weights = None if weights is None else [float(v) for v in weights]
        self._cdf = torch.cumsum(w / w.sum(), 0)

    def apply(self, x: Tensor, g: torch.Generator | None) -> Tensor:
        n = x.shape[0]
        pick = torch.searchsorted(self._cdf.to(x.device), rand((n,), g, x.device), right=True)
        pick = pick.clamp(max=len(self.choices) - 1)
        out = x
        for k, aug in enumerate(self.choices):
            idx = torch.nonzero(pick == k, as_tuple=True)[0]
            if idx.numel():
                out = out.index_put((idx,), aug(x[idx], g))
        return out

    def __repr__(self) -> str:
        inner = ",\n".join("  " + repr(a).replace("\n", "\n  ") for a in self.choices)
        extra = "" if self.weights is None else f", weights={self.weights}"
        return f"OneOf(p={self.p}{extra}, choices=[\n{inner}\n])"
