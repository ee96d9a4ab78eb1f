"""Official train/test splits of every supported dataset, in one table, plus seeded stratified sampling.

Why a table: a protocol name ("xsub", "xview") means something precise per dataset, and published numbers are
only comparable under that exact split. Readers that already define the split (``dataset.splits``) are used
as-is; otherwise the rule below derives it from clip metadata (subject / view / setup). A dataset that cannot
provide the requested split is an error, never a silent random split.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..data.clip import ClipMeta
from ..data.dataset import SkeletonDataset
from ..errors import ConfigError

Side = str  # "train" | "test"; a rule returns None for a clip outside the protocol

_IMIGUE_TRAIN_SUBJECTS = frozenset({
    2, 4, 5, 6, 9, 10, 12, 13, 14, 15, 17, 18, 20, 21, 22, 23, 25, 28, 29, 30, 31, 35, 36, 38, 39, 41, 42, 43,
    44, 46, 47, 48, 52, 53, 59, 61, 62})
_IMIGUE_TEST_SUBJECTS = frozenset({
    1, 3, 7, 8, 11, 16, 19, 24, 26, 27, 32, 33, 34, 37, 40, 45, 49, 50, 51, 54, 55, 56, 57, 58, 60, 63, 64, 65,
    66, 67, 68, 69, 70, 71, 72})
_NTU60_TRAIN_SUBJECTS = frozenset({1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38})
_NTU120_TRAIN_SUBJECTS = _NTU60_TRAIN_SUBJECTS | frozenset({
    45, 46, 47, 49, 50, 52, 53, 54, 55, 56, 57, 58, 59, 70, 74, 78, 80, 81, 82, 83, 84, 85, 86, 89, 91, 92, 93,
    94, 95, 97, 98, 100, 103})


def _number(text: object, pattern: str | None = None) -> int | None:
    """The integer in ``text`` (or in the named group of ``pattern``), e.g. subject "s07" → 7."""
    if text is None:
        return None
    s = str(text)
    m = re.search(pattern, s) if pattern else re.search(r"(\d+)", s)
    return int(m.group(1)) if m else None


def _subject(meta: ClipMeta, id_pattern: str | None = None) -> int | None:
    if meta.subject is not None:
        return _number(meta.subject)
    return _number(meta.clip_id, id_pattern) if id_pattern else None


def _field(meta: ClipMeta, key: str, id_pattern: str) -> int | None:
    if key in meta.extra and meta.extra[key] is not None:
        return _number(meta.extra[key])
    return _number(meta.clip_id, id_pattern)


def _by(values_train: frozenset[int], values_test: frozenset[int] | None, get: Callable[[ClipMeta], int | None]
        ) -> Callable[[ClipMeta], Side | None]:
    def rule(meta: ClipMeta) -> Side | None:
        v = get(meta)
        if v is None:
            return None
        if v in values_train:
            return "train"
        if values_test is None or v in values_test:
            return "test"
        return None

    return rule


@dataclass(frozen=True)
class OfficialSplit:
    name: str
    description: str
    rule: Callable[[ClipMeta], Side | None]
    reader_names: tuple[tuple[str, str], ...] = ()  # (train, test) split names a reader may already provide

    def candidates(self, is_default: bool = False) -> tuple[tuple[str, str], ...]:
        """Split-name pairs a reader may use for this protocol; plain ``train``/``test`` only for the dataset's
        default protocol (the one its reader implements under those names)."""
        n = self.name
        plain = (("train", "test"),) if is_default else ()
        return (*self.reader_names, (f"{n}_train", f"{n}_test"), (f"{n}_train", f"{n}_val"),
                (f"{n}/train", f"{n}/test"), *plain)


_NTU_ID = r"[Ss](\d{3})"  # S001C001P001R001A001: setup, camera, performer, replication, action
_NTU_P, _NTU_C = r"[Pp](\d{3})", r"[Cc](\d{3})"

OFFICIAL_SPLITS: dict[str, dict[str, OfficialSplit]] = {
    "imigue": {
        "xsub": OfficialSplit("xsub", "iMiGUE cross-subject: 37 training / 35 test subjects (evaluation protocol)",
                              _by(_IMIGUE_TRAIN_SUBJECTS, _IMIGUE_TEST_SUBJECTS, _subject)),
    },
    "smg": {
        "xsub": OfficialSplit("xsub", "SMG cross-subject: subjects 1-35 train, 36-40 test (authors' code)",
                              _by(frozenset(range(1, 36)), frozenset(range(36, 41)),
                                  lambda m: _subject(m, r"Sample(\d{3})"))),
    },
    "ntu60": {
        "xsub": OfficialSplit("xsub", "NTU RGB+D 60 cross-subject: 20 training performers",
                              _by(_NTU60_TRAIN_SUBJECTS, None, lambda m: _subject(m, _NTU_P))),
        "xview": OfficialSplit("xview", "NTU RGB+D 60 cross-view: cameras 2, 3 train; camera 1 test",
                               _by(frozenset({2, 3}), frozenset({1}), lambda m: _field(m, "camera", _NTU_C))),
    },
    "ntu": {  # the reader serves NTU-60 and NTU-120; the NTU-120 x-sub list extends NTU-60's (ids > 40)
        "xsub": OfficialSplit("xsub", "NTU RGB+D cross-subject (NTU-60 list; NTU-120 list beyond performer 40)",
                              _by(_NTU120_TRAIN_SUBJECTS, None, lambda m: _subject(m, _NTU_P))),
        "xview": OfficialSplit("xview", "NTU RGB+D 60 cross-view: cameras 2, 3 train; camera 1 test",
                               _by(frozenset({2, 3}), frozenset({1}), lambda m: _field(m, "camera", _NTU_C))),
        "xset": OfficialSplit("xset", "NTU RGB+D 120 cross-setup: even setup ids train, odd test",
                              _by(frozenset(range(2, 33, 2)), frozenset(range(1, 33, 2)),
                                  lambda m: _field(m, "setup", _NTU_ID))),
    },
    "ntu120": {
        "xsub": OfficialSplit("xsub", "NTU RGB+D 120 cross-subject: 53 training performers",
                              _by(_NTU120_TRAIN_SUBJECTS, None, lambda m: _subject(m, _NTU_P))),
        "xset": OfficialSplit("xset", "NTU RGB+D 120 cross-setup: even setup ids train, odd test",
                              _by(frozenset(range(2, 33, 2)), frozenset(range(1, 33, 2)),
                                  lambda m: _field(m, "setup", _NTU_ID))),
    },
    "nw_ucla": {
        "xview": OfficialSplit("xview", "NW-UCLA cross-view: views 1, 2 train; view 3 test",
                               _by(frozenset({1, 2}), frozenset({3}), lambda m: _field(m, "view", r"_v(\d+)"))),
    },
    "msr_action3d": {
        "xsub": OfficialSplit("xsub", "MSR Action3D cross-subject (all 20 actions): odd subjects train, even test",
                              _by(frozenset({1, 3, 5, 7, 9}), frozenset({2, 4, 6, 8, 10}),
                                  lambda m: _subject(m, r"_s(\d+)"))),
    },
    "kard": {
        "xsub": OfficialSplit("xsub", "KARD new-person split (our convention, no single official one): "
                                      "odd subjects train, even test", _by(frozenset({1, 3, 5, 7, 9}),
                                                                           frozenset({2, 4, 6, 8, 10}),
                                                                           lambda m: _subject(m, r"_s(\d+)"))),
    },
}

KIND_ALIASES = {"imigue22": "imigue", "imigue_skeleton": "imigue", "nwucla": "nw_ucla", "nw-ucla": "nw_ucla",
                "ucla": "nw_ucla", "msr": "msr_action3d", "msraction3d": "msr_action3d",
                "ntu_rgbd": "ntu", "ntu60_3d": "ntu60", "ntu120_3d": "ntu120", "kard_realworld": "kard",
                "kard_screen": "kard", "smg_release": "smg"}
SPLIT_ALIASES = {"x-sub": "xsub", "cs": "xsub", "cross-subject": "xsub", "cross_subject": "xsub",
                 "x-view": "xview", "cv": "xview", "cross-view": "xview", "cross_view": "xview",
                 "x-set": "xset", "cross-setup": "xset", "cross_setup": "xset"}
DEFAULT_SPLIT = {"imigue": "xsub", "smg": "xsub", "ntu": "xsub", "ntu60": "xsub", "ntu120": "xsub", "nw_ucla": "xview",
                 "msr_action3d": "xsub", "kard": "xsub"}


def canonical_kind(kind: str | None) -> str | None:
    if kind is None:
        return None
    k = kind.lower().replace(" ", "_")
    return KIND_ALIASES.get(k, k)


def list_official_splits() -> list[dict[str, str]]:
    return [{"kind": kind, "split": name, "description": s.description}
            for kind, table in OFFICIAL_SPLITS.items() for name, s in table.items()]


@dataclass(frozen=True)
class ResolvedSplit:
    name: str
    train: np.ndarray  # indices into dataset.clips
    test: np.ndarray
    source: str  # "reader" | "rule" | "explicit"
    description: str = ""


def resolve_split(dataset: SkeletonDataset, split: str | None = None, kind: str | None = None) -> ResolvedSplit:
    """Train/test clip indices for ``split``: an official protocol name, ``NAME`` with ``NAME_train``/``NAME_test``
    in ``dataset.splits``, or an explicit ``TRAIN,TEST`` pair of split names."""
    kind = canonical_kind(kind) or canonical_kind(dataset.name)
    ids = dataset.clip_ids()
    if split is None:
        split = DEFAULT_SPLIT.get(kind or "", None)
        if split is None:
            if {"train", "test"} <= set(dataset.splits):
                split = "train,test"
            else:
                raise ConfigError(f"dataset {dataset.name!r} has no default split; pass --split "
                                  f"(its splits: {sorted(dataset.splits) or 'none'})")
    if "," in split:
        tr, te = (s.strip() for s in split.split(",", 1))
        return _from_reader(dataset, ids, split, tr, te, "explicit", "")
    name = SPLIT_ALIASES.get(split.lower(), split.lower())
    official = OFFICIAL_SPLITS.get(kind or "", {}).get(name)
    if official is not None:
        candidates = official.candidates(DEFAULT_SPLIT.get(kind or "") == name)
    else:
        candidates = ((f"{name}_train", f"{name}_test"), (f"{name}_train", f"{name}_val"))
    for tr, te in candidates:
        if tr in dataset.splits and te in dataset.splits:
            return _from_reader(dataset, ids, name, tr, te, "reader", official.description if official else "")
    if official is None:
        known = sorted(OFFICIAL_SPLITS.get(kind or "", {}))
        raise ConfigError(f"dataset {dataset.name!r} (kind {kind!r}) has no split {split!r}: "
                          f"official splits for this kind: {known or 'none'}; "
                          f"splits the reader defined: {sorted(dataset.splits) or 'none'}")
    sides = [official.rule(c.meta) for c in dataset.clips]
    train = np.array([i for i, s in enumerate(sides) if s == "train"], dtype=np.int64)
    test = np.array([i for i, s in enumerate(sides) if s == "test"], dtype=np.int64)
    if train.size == 0 or test.size == 0:
        raise ConfigError(f"dataset {dataset.name!r} lacks the metadata for split {name!r} ({official.description}): "
                          f"{train.size} training and {test.size} test clips matched")
    return ResolvedSplit(name, train, test, "rule", official.description)


def _from_reader(dataset: SkeletonDataset, ids: list[str], name: str, tr: str, te: str, source: str,
                 description: str) -> ResolvedSplit:
    for s in (tr, te):
        if s not in dataset.splits:
            raise ConfigError(f"dataset {dataset.name!r} has no split {s!r}; known: {sorted(dataset.splits)}")
    pos = {cid: i for i, cid in enumerate(ids)}
    train = np.array(sorted(pos[c] for c in dataset.splits[tr] if c in pos), dtype=np.int64)
    test = np.array(sorted(pos[c] for c in dataset.splits[te] if c in pos), dtype=np.int64)
    if train.size == 0 or test.size == 0:
        raise ConfigError(f"split {name!r} of dataset {dataset.name!r} is empty on one side "
                          f"({train.size} train / {test.size} test clips)")
    overlap = np.intersect1d(train, test)
    if overlap.size:
        raise ConfigError(f"split {name!r} of dataset {dataset.name!r}: {overlap.size} clips are in both "
                          f"{tr!r} and {te!r}")
    return ResolvedSplit(name, train, test, source, description)


# -- seeded, class-stratified sampling -----------------------------------------------------------------------
def _per_class_sample(labels: np.ndarray, seed: int, count) -> np.ndarray:
    """Sorted indices of ``count(class size)`` samples drawn without replacement from each class, in class order
    with one seeded generator (so the same seed gives the same subset)."""
    rng = np.random.default_rng(seed)
    keep: list[np.ndarray] = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        n = count(idx.size)
        if n > 0:
            keep.append(rng.choice(idx, size=n, replace=False))
    return np.sort(np.concatenate(keep)) if keep else np.zeros(0, dtype=np.int64)


def stratified_fraction(labels: np.ndarray, fraction: float, seed: int, *, min_per_class: int = 1) -> np.ndarray:
    """Sorted indices of a class-stratified ``fraction`` of ``labels`` with at least ``min_per_class`` per class
    (semi-supervised 1 % / 10 % protocols). Same seed → same subset."""
    if not 0 < fraction <= 1:
        raise ConfigError(f"label fraction must be in (0, 1], got {fraction}")
    return _per_class_sample(np.asarray(labels), seed,
                             lambda size: min(size, max(min_per_class, int(round(fraction * size)))))


def stratified_holdout(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split indices into (train, validation) with about ``fraction`` of each class held out; a class with a single
    sample stays in training (a validation split is for model selection, never a reason to lose a class)."""
    if not 0 < fraction < 1:
        raise ConfigError(f"validation fraction must be in (0, 1), got {fraction}")
    labels = np.asarray(labels)
    v = _per_class_sample(labels, seed, lambda size: min(size - 1, int(round(fraction * size))))
    return np.setdiff1d(np.arange(labels.size), v), v
