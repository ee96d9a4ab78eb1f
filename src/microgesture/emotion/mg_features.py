"""Named, interpretable features of one MG timeline in the toolkit's 14-class MG set (``data.mg_classes``).

Why: the default emotion reasoner must read what ``analyze`` produces — MG-set timelines of any length — so
every feature is a rate per minute of *visible* time, a share of that time, or a composition (fraction of
events), never a raw count. Each feature has a name and a plain-language label, so the report can say
"touch face: 3.1 per minute, 2.4x the training median" instead of "feature 17". The span itself
(``duration`` block) is a known confound on iMiGUE (longer press conferences go with winning); it exists to
measure that confound and is not used by the default reasoner.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..data.mg_classes import CATEGORIES, IMIGUE_TO_MG, MG_CLASS_NAMES, MG_CLASSES, MG_INDEX
from ..data.readers.imigue import IMIGUE_CLASS_NAMES
from ..errors import ConfigError
from .descriptions import describe
from .timeline import Timeline

N_CLASSES = len(MG_CLASS_NAMES)
N_CATEGORIES = len(CATEGORIES)
CLASS_CATEGORY = np.array([CATEGORIES.index(c.category) for c in MG_CLASSES], dtype=np.int64)
ILLUSTRATIVE = MG_INDEX["illustrative"]
CATEGORY_LABELS = {"head_face": "head or face touches", "neck_chest": "neck or chest touches",
                   "hands": "hands-together gestures", "arms": "arm postures and arm touches",
                   "shoulders_torso": "shoulder or torso movements", "head": "head movements",
                   "illustrative": "illustrative (speech) gestures"}
# names outside the MG set that older models and demo data use, mapped onto it
_ALIASES = {"scratching head": "touch head", "touching face": "touch face", "touching nose or chin": "touch face",
            "folding arms": "fold arms", "rubbing hands": "hands together", "crossing fingers": "hands together",
            "shaking shoulders": "shake shoulders", "adjusting collar": "touch neck",
            "illustrative gesture (non-mg)": "illustrative", "illustrative (non-mg)": "illustrative",
            "non-mg": "illustrative"}


def mg_index(name: str) -> int:
    """The MG class index of a class name (MG set names, their iMiGUE / demo aliases); -1 if unknown."""
    key = name.strip().lower().replace("_", " ")
    if key in MG_INDEX:
        return MG_INDEX[key]
    if key in _ALIASES:
        return MG_INDEX[_ALIASES[key]]
    canon = describe(key).name
    if canon in IMIGUE_CLASS_NAMES:
        m = IMIGUE_TO_MG[IMIGUE_CLASS_NAMES.index(canon)]
        return -1 if m is None else m
    return -1


@dataclass(frozen=True)
class Feature:
    """One feature column: ``block`` it belongs to, a stable ``name``, what it means, and its natural unit.

    ``unit`` says how :func:`human_value` turns the stored value back into something a person reads:
    ``log1p_per_min`` (events per minute), ``share`` / ``fraction`` (per cent), ``log1p_s`` (seconds),
    ``log_s`` (seconds), ``ratio`` (as is).
    """

    block: str
    name: str
    label: str
    unit: str


def _class_features(block: str, unit: str, template: str) -> list[Feature]:
    return [Feature(block, f"{block}:{n}", template.format(x=f"'{n}'"), unit) for n in MG_CLASS_NAMES]


def _cat_features(block: str, unit: str, template: str) -> list[Feature]:
    return [Feature(block, f"{block}:{c}", template.format(x=CATEGORY_LABELS[c]), unit) for c in CATEGORIES]


FEATURES: dict[str, list[Feature]] = {
    "rate": _class_features("rate", "log1p_per_min", "{x} per minute"),
    "share": _class_features("share", "share", "share of time in {x}"),
    "frac": _class_features("frac", "fraction", "{x} as a share of all gestures"),
    "cat_rate": _cat_features("cat_rate", "log1p_per_min", "{x} per minute"),
    "cat_share": _cat_features("cat_share", "share", "share of time in {x}"),
    "cat_frac": _cat_features("cat_frac", "fraction", "{x} as a share of all gestures"),
    "global": [Feature("global", "global:mg_rate", "micro-gestures per minute", "log1p_per_min"),
               Feature("global", "global:illustrative_frac", "illustrative fraction of all gestures", "fraction"),
               Feature("global", "global:mean_duration", "mean gesture duration", "log1p_s"),
               Feature("global", "global:burstiness", "burstiness of the gaps (-1 regular, 0 random, 1 bursty)",
                       "ratio"),
               Feature("global", "global:median_gap", "median gap between gestures", "log1p_s")],
    "dynamics": [*(Feature("dynamics", f"dynamics:{c}", f"{CATEGORY_LABELS[c]}, change from first to last third",
                           "ratio") for c in CATEGORIES),
                 Feature("dynamics", "dynamics:first_third", "fraction of gestures in the first third", "fraction"),
                 Feature("dynamics", "dynamics:last_third", "fraction of gestures in the last third", "fraction")],
    "duration": [Feature("duration", "duration:log_span", "observed span", "log_s"),
                 Feature("duration", "duration:log_events", "number of gestures (log1p)", "ratio")],
}
BLOCKS: tuple[str, ...] = tuple(FEATURES)
DURATION_FREE: tuple[str, ...] = tuple(b for b in BLOCKS if b != "duration")


def human_value(feature: Feature, value: float) -> float:
    """The stored value in the feature's natural unit (events per minute, per cent, seconds)."""
    if feature.unit in ("log1p_per_min", "log1p_s"):
        return float(np.expm1(value))
    if feature.unit == "log_s":
        return float(np.exp(value))
    if feature.unit in ("share", "fraction"):
        return float(100.0 * value)
    return float(value)


def unit_suffix(feature: Feature) -> str:
    return {"log1p_per_min": "/min", "share": "%", "fraction": "%", "log1p_s": " s", "log_s": " s"}.get(feature.unit, "")


def event_arrays(tl: Timeline) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(MG class index, start, end) of the events whose class maps onto the MG set (others are dropped)."""
    cls = np.array([mg_index(e.label_name) for e in tl.events], dtype=np.int64)
    start = np.array([e.start_s for e in tl.events], dtype=np.float64)
    end = np.array([e.end_s for e in tl.events], dtype=np.float64)
    keep = cls >= 0
    return cls[keep], start[keep], end[keep]


def block_values(cls: np.ndarray, start: np.ndarray, end: np.ndarray, span_s: float,
                 observed_s: float | None = None) -> dict[str, np.ndarray]:
    """Every block for one timeline given as arrays (``cls`` MG indices; times in seconds from the start).

    ``span_s`` places events in thirds; ``observed_s`` (visible time, default the span) normalises rates.
    """
    span = max(float(span_s), 1.0)
    seen = max(float(observed_s if observed_s else span_s), 1.0)
    minutes = seen / 60.0
    dur = np.clip(end - start, 0.0, None)
    n = int(cls.size)
    counts = np.bincount(cls, minlength=N_CLASSES).astype(np.float64)
    secs = np.bincount(cls, weights=dur, minlength=N_CLASSES)
    cat = CLASS_CATEGORY[cls]
    cat_counts = np.bincount(cat, minlength=N_CATEGORIES).astype(np.float64)
    cat_secs = np.bincount(cat, weights=dur, minlength=N_CATEGORIES)
    order = np.argsort(start, kind="stable")
    gaps = np.diff(start[order])
    mu, sd = (float(gaps.mean()), float(gaps.std())) if gaps.size >= 2 else (0.0, 0.0)
    third = np.clip((start / span * 3).astype(np.int64), 0, 2)
    per_third = np.bincount(cat * 3 + third, minlength=N_CATEGORIES * 3).reshape(N_CATEGORIES, 3)
    n_mg = n - int(counts[ILLUSTRATIVE])
    thirds = np.bincount(third, minlength=3)
    return {
        "rate": np.log1p(counts / minutes),
        "share": secs / seen,
        "frac": counts / max(n, 1),
        "cat_rate": np.log1p(cat_counts / minutes),
        "cat_share": cat_secs / seen,
        "cat_frac": cat_counts / max(n, 1),
        "global": np.array([np.log1p(n_mg / minutes), counts[ILLUSTRATIVE] / max(n, 1),
                            np.log1p(float(dur.mean())) if n else 0.0,
                            (sd - mu) / (sd + mu) if sd + mu > 0 else 0.0,
                            np.log1p(float(np.median(gaps))) if gaps.size else 0.0]),
        "dynamics": np.concatenate([3.0 * (per_third[:, 2] - per_third[:, 0]) / np.maximum(cat_counts, 1.0),
                                    [thirds[0] / max(n, 1), thirds[2] / max(n, 1)]]),
        "duration": np.array([np.log(span), np.log1p(n)]),
    }


def feature_names(blocks: Sequence[str]) -> list[Feature]:
    unknown = [b for b in blocks if b not in FEATURES]
    if unknown:
        raise ConfigError(f"unknown feature blocks {unknown}; choose from {', '.join(BLOCKS)}")
    return [f for b in blocks for f in FEATURES[b]]


def timeline_features(tl: Timeline, blocks: Sequence[str]) -> np.ndarray:
    """One float64 vector: the named blocks of ``tl`` in order (see :data:`FEATURES` for the columns)."""
    feature_names(blocks)
    cls, start, end = event_arrays(tl)
    vals = block_values(cls, start, end, tl.duration_s, tl.observed_s)
    return np.concatenate([vals[b] for b in blocks])


def feature_matrix(tls: Sequence[Timeline], blocks: Sequence[str]) -> np.ndarray:
    return np.stack([timeline_features(t, blocks) for t in tls]) if tls else \
        np.zeros((0, len(feature_names(blocks))))


def resampled_features(tl: Timeline, blocks: Sequence[str], n: int, seed: int = 0) -> np.ndarray:
    """``n`` feature vectors of event-bootstrap resamples of ``tl`` (events drawn with replacement).

    Why: the same person filmed for another few minutes would show a different sample of gestures; the
    spread of a reading over resamples says how much it rests on few events (a 6-second clip) or many.
    Gap statistics are computed on the distinct events of a resample (duplicates would add zero gaps).
    """
    cls, start, end = event_arrays(tl)
    rng = np.random.default_rng(seed)
    out = np.empty((n, len(feature_names(blocks))))
    for i in range(n):  # n small (~100) resamples of one timeline; each is a few vectorised bincounts
        idx = np.sort(rng.integers(0, cls.size, cls.size)) if cls.size else np.zeros(0, dtype=np.int64)
        vals = block_values(cls[idx], start[idx], end[idx], tl.duration_s, tl.observed_s)
        if cls.size:
            u = np.unique(idx)
            vals["global"][3:] = block_values(cls[u], start[u], end[u], tl.duration_s, tl.observed_s)["global"][3:]
        out[i] = np.concatenate([vals[b] for b in blocks])
    return out
