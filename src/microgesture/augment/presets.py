"""Build augmentation pipelines from config or the command line; the named presets.

Presets (exact contents; ``p`` = per-sample probability):

``none``
    nothing (identity).
``action`` — ISC (Thoker et al. 2021) defaults, the "ordinary action" baseline the paper re-examines:
    1. ``temporal_crop_resize`` ratio U(0.1, 1) (relative to the prepared T), back to T;
    2. ``one_of`` with equal odds: ``shear`` s = 1.0 (off-diagonals U(-1, 1)) or ``joint_corruption``
       (60 % of joints, i.e. 15/25; zeroed with p 0.5, else mixed by a U(-1, 1) matrix).
``crossclr`` — SkeletonCLR/CrosSCLR "normal" view:
    ``temporal_crop`` (mirror-pad T/6) then ``shear`` s = 0.5.
``aimclr`` — AimCLR "extreme" view (aug_method '12345'):
    ``temporal_crop``, ``shear`` s = 0.5, then each with p 0.5: ``flip``, ``rotation`` (main axis 30°,
    others 1°), ``gaussian_noise`` σ 0.01, ``gaussian_blur`` (kernel 15, σ U(0.1, 2)), ``axis_mask``.
``mg`` — micro-gesture-aware set (paper-notes §3.3; all sizes relative to body scale):
    1. ``temporal_crop_resize`` ratio U(0.7, 1), p 0.5 (a mild crop, so brief MGs survive);
    2. ``one_of``, p 0.8: ``temporal_repetition`` (k ∈ {2, 3}, segment 25–100 % of T),
       ``time_posterisation`` (s ∈ {2, 3, 4}) or ``speed_perturbation`` (×U(0.75, 1.33), looping);
    3. ``viewpoint_perturbation`` ±10°, scale U(0.9, 1.1), p 0.8;
    4. ``coordinate_perturbation`` σ = 0.01 × shoulder width, i.i.d. per frame, p 0.8;
    5. ``limb_perturbation`` on the most moving limb (amplitude ×U(0.8, 1.25), σ 0.01), p 0.3.

Specs accepted by :func:`build_augmentation`: a preset name; an augmentation name; a comma- or
``+``-separated string of those (``"mg+time_reversal"``, ``"shear,temporal_crop_resize"``); a list of names
and/or ``{name: ..., **params}`` dicts (plain or OmegaConf); ``one_of`` takes ``choices`` (a list of
specs) and optional ``weights``. Augmentations that need joint structure get the ``layout``; spatial ones get
``coords`` (how many leading channels are coordinates) when it is given.
"""

from __future__ import annotations

import inspect
import re
from typing import Any

from ..data.layouts import Layout, get_layout
from ..errors import ConfigError
from . import mg as _mg  # noqa: F401  (registers)
from . import spatial as _spatial  # noqa: F401  (registers)
from . import temporal as _temporal  # noqa: F401  (registers)
from .base import AUGMENTATIONS, Augmentation
from .compose import Compose, Identity

PRESETS: dict[str, list[Any]] = {
    "none": [],
    "action": [
        {"name": "temporal_crop_resize", "ratio": [0.1, 1.0]},
        {"name": "one_of", "choices": [
            {"name": "shear", "s": 1.0},
            {"name": "joint_corruption", "ratio": 0.6, "zero_prob": 0.5},
        ]},
    ],
    "crossclr": [
        {"name": "temporal_crop", "padding_ratio": 1 / 6},
        {"name": "shear", "s": 0.5},
    ],
    "aimclr": [
        {"name": "temporal_crop", "padding_ratio": 1 / 6},
        {"name": "shear", "s": 0.5},
        {"name": "flip", "p": 0.5},
        {"name": "rotation", "angle": 30.0, "other_angle": 1.0, "p": 0.5},
        {"name": "gaussian_noise", "sigma": 0.01, "p": 0.5},
        {"name": "gaussian_blur", "kernel": 15, "sigma": [0.1, 2.0], "p": 0.5},
        {"name": "axis_mask", "p": 0.5},
    ],
    "mg": [
        {"name": "temporal_crop_resize", "ratio": [0.7, 1.0], "p": 0.5},
        {"name": "one_of", "p": 0.8, "choices": [
            {"name": "temporal_repetition", "repeats": [2, 3], "segment": [0.25, 1.0]},
            {"name": "time_posterisation", "steps": [2, 3, 4]},
            {"name": "speed_perturbation", "speed": [0.75, 1.33], "pad": "loop"},
        ]},
        {"name": "viewpoint_perturbation", "angle": 10.0, "scale": [0.9, 1.1], "p": 0.8},
        {"name": "coordinate_perturbation", "sigma": 0.01, "temporal": "iid", "p": 0.8},
        {"name": "limb_perturbation", "sigma": 0.01, "amplitude": [0.8, 1.25], "p": 0.3},
    ],
}


def list_augmentations() -> list[str]:
    return sorted(AUGMENTATIONS)


def list_presets() -> list[str]:
    return sorted(PRESETS)


def _plain(spec: Any) -> Any:
    """OmegaConf containers → plain Python (without importing OmegaConf unless it is in use)."""
    if type(spec).__module__.startswith("omegaconf"):
        from omegaconf import OmegaConf

        return OmegaConf.to_container(spec, resolve=True)
    return spec


def _expand(spec: Any) -> list[Any]:
    """Flatten a spec into a list of names / dicts, expanding presets."""
    spec = _plain(spec)
    if spec is None:
        return []
    if isinstance(spec, str):
        tokens = [t.strip() for t in re.split(r"[,+]", spec) if t.strip()]
        out: list[Any] = []
        for tok in tokens:
            out += _expand(PRESETS[tok]) if tok in PRESETS else [tok]
        return out
    if isinstance(spec, dict):
        return [spec]
    if isinstance(spec, (list, tuple)):
        out = []
        for item in spec:
            out += _expand(item) if isinstance(item, (str, list, tuple)) else [_plain(item)]
        return out
    if isinstance(spec, Augmentation):
        return [spec]
    raise ConfigError(f"cannot build an augmentation from {type(spec).__name__}: {spec!r}")


def _build_one(item: Any, layout: Layout | None, coords: int | None) -> Augmentation:
    if isinstance(item, Augmentation):
        return item
    if isinstance(item, str):
        item = {"name": item}
    if not isinstance(item, dict) or "name" not in item:
        raise ConfigError(f"an augmentation spec needs a 'name': {item!r}")
    params = dict(item)
    name = params.pop("name")
    if name in ("none", "identity"):
        return Identity()
    cls = AUGMENTATIONS.get(name)
    if cls is None:
        raise ConfigError(
            f"unknown augmentation {name!r}; known: {', '.join(list_augmentations())}; "
            f"presets: {', '.join(list_presets())}")
    if name == "one_of":
        params["choices"] = [_build_one(c, layout, coords) for c in _expand(params.get("choices", []))]
    accepted = inspect.signature(cls.__init__).parameters
    if "layout" in accepted and "layout" not in params:
        if layout is None and accepted["layout"].default is inspect.Parameter.empty:
            raise ConfigError(f"augmentation {name!r} needs the skeleton layout")
        params["layout"] = layout
    if "coords" in accepted and coords is not None:
        params.setdefault("coords", coords)
    unknown = sorted(set(params) - set(accepted) - {"self"})
    if unknown:
        known = sorted(k for k in accepted if k not in ("self", "layout", "choices"))
        raise ConfigError(f"augmentation {name!r} has no parameter(s) {unknown}; it takes {known}")
    try:
        return cls(**params)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"augmentation {name!r}: {err}") from None


def build_augmentation(spec: Any, layout: Layout | str | None = None, coords: int | None = None) -> Compose:
    """Build a pipeline from a preset name, names, a command-line string or config dicts (module docstring)."""
    lay = get_layout(layout) if isinstance(layout, str) else layout
    items = _expand(spec)
    augs = [_build_one(item, lay, coords) for item in items if not (isinstance(item, str) and item == "none")]
    return Compose([a for a in augs if not isinstance(a, Identity)])
