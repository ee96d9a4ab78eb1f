"""What is in a dataset, and what is wrong with it: the report behind ``microgesture data check``.

Why: the field's silent failures are data failures (wrong layout, half the joints missing, a class with
three clips, files that quietly did not load). This report puts them on one screen before anyone trains.
Statistics are computed with array operations over all person-frames at once — straight from the
memory-mapped arrays for a ``NativeStore`` — so a 10k-clip store checks in seconds.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from .dataset import SkeletonDataset
from .layouts import get_layout
from .native import NativeStore

_CHUNK_ROWS = 1 << 18
TOP_JOINTS = 5
MAX_LISTED = 20


class _Acc:
    """Accumulates missing-joint counts over ``[rows, V, C]`` person-frame blocks."""

    def __init__(self, num_joints: int, num_coords: int):
        self.rows = 0
        self.empty_rows = 0
        self.missing = np.zeros(num_joints, np.int64)  # among non-empty person-frames
        self.slots_missing = 0
        self.lo = np.full(num_coords, np.inf)
        self.hi = np.full(num_coords, -np.inf)

    def add(self, block: np.ndarray) -> np.ndarray:
        """Add ``block`` ([R, V, C]); return per-row counts of missing joints."""
        # per-coordinate isnan (10x faster than isfinite(...).all(-1) over a 2-3 long axis); Clip forbids inf
        miss = np.isnan(block[..., 0])  # [R, V]
        for c in range(1, block.shape[-1]):
            miss |= np.isnan(block[..., c])
        per_row = miss.sum(axis=1)
        empty = per_row == block.shape[1]
        self.rows += len(block)
        self.empty_rows += int(empty.sum())
        self.missing += miss[~empty].sum(axis=0)
        self.slots_missing += int(per_row.sum())
        if block.size and not miss.all():  # fmin/fmax skip NaN without nanmin's temporary copies
            lo = [np.fmin.reduce(block[..., c].ravel()) for c in range(block.shape[-1])]
            hi = [np.fmax.reduce(block[..., c].ravel()) for c in range(block.shape[-1])]
            self.lo, self.hi = np.fmin(self.lo, lo), np.fmax(self.hi, hi)
        return per_row


def check_dataset(dataset: SkeletonDataset) -> dict[str, Any]:
    """A JSON-ready report: sizes, classes, subjects, lengths, missing joints, layout and skipped files."""

    layout = get_layout(dataset.layout) if dataset.layout else None
    clips = dataset.clips
    if isinstance(clips, NativeStore):
        ids = clips.clip_ids()
        idx = clips.index
        labels = idx["label"].to_numpy()
        subjects = idx["subject"].tolist()
        frames = idx["num_frames"].to_numpy()
        persons = idx["num_persons"].to_numpy()
        kp, _, starts, counts = clips.rows()
        num_coords = kp.shape[-1]
        acc = _Acc(kp.shape[1], num_coords)
        empty_clips = _store_stats(kp, starts, counts, acc, ids)
    else:
        ids = [c.meta.clip_id for c in clips]
        labels = dataset.labels()
        subjects = [c.meta.subject for c in clips]
        frames = np.array([c.num_frames for c in clips], np.int64)
        persons = np.array([c.num_persons for c in clips], np.int64)
        num_coords = clips[0].num_coords if len(clips) else 0
        acc = _Acc(clips[0].num_joints if len(clips) else 0, num_coords)
        empty_clips = _clip_stats(clips, acc)

    report: dict[str, Any] = {
        "name": dataset.name,
        "layout": dataset.layout,
        "num_joints": layout.num_joints if layout else None,
        "coordinate_dims": int(num_coords),
        "clips": len(ids),
        "skipped": len(dataset.skipped),
        "splits": {k: len(v) for k, v in dataset.splits.items()},
    }
    report.update(_class_report(labels, dataset.class_names))
    subj = Counter(s for s in subjects if s is not None)
    report["subjects"] = len(subj)
    report["clips_without_subject"] = int(sum(s is None for s in subjects))
    report["split_subject_overlap"] = _split_overlap(dataset.splits, ids, subjects)
    report["frames"] = _describe(frames)
    report["persons"] = {str(k): int(v) for k, v in sorted(Counter(persons.tolist()).items())}
    report["missing"] = _missing_report(acc, layout)
    report["coordinate_range"] = (
        {"min": acc.lo.round(4).tolist(), "max": acc.hi.round(4).tolist()} if np.isfinite(acc.lo).all() else None)
    report["empty_clips"] = empty_clips[:MAX_LISTED]
    report["num_empty_clips"] = len(empty_clips)
    report["problems"] = _problems(report, dataset)
    report["skipped_files"] = [s.to_dict() for s in dataset.skipped]
    return report


def _clip_stats(clips, acc: _Acc) -> list[str]:
    """Feed in-memory clips to ``acc`` in blocks of many clips (few large array ops, not one per clip)."""
    empty: list[str] = []
    pending: list = []

    def flush() -> None:
        counts = np.array([c.num_persons * c.num_frames for c in pending])
        per_row = acc.add(np.concatenate([c.keypoints.reshape(-1, *c.keypoints.shape[2:]) for c in pending]))
        full = np.add.reduceat(per_row == acc.missing.shape[0], np.concatenate([[0], counts.cumsum()[:-1]]))
        empty.extend(c.meta.clip_id for c, f, n in zip(pending, full, counts, strict=True) if f == n)
        pending.clear()

    rows = 0
    for c in clips:
        if c.num_persons * c.num_frames == 0:
            empty.append(c.meta.clip_id)
            continue
        pending.append(c)
        rows += c.num_persons * c.num_frames
        if rows >= _CHUNK_ROWS:
            flush()
            rows = 0
    if pending:
        flush()
    return empty


def _store_stats(kp: np.ndarray, starts: np.ndarray, counts: np.ndarray, acc: _Acc, ids: list[str]) -> list[str]:
    """Stream the selected rows of a store in large chunks; return clips with no observed joint."""
    v = kp.shape[1]
    sel_all = len(starts) and starts[0] == 0 and (starts[1:] == (starts + counts)[:-1]).all() \
        and int((starts + counts)[-1]) == kp.shape[0]
    if sel_all:  # the whole store, in order: one pass over contiguous chunks
        per_row = np.concatenate([acc.add(np.asarray(kp[s:s + _CHUNK_ROWS]))
                                  for s in range(0, kp.shape[0], _CHUNK_ROWS)])
        full = per_row == v
        empty = np.add.reduceat(full, starts) == counts if len(starts) else np.zeros(0, bool)
    else:
        empty = np.zeros(len(starts), bool)
        for i, (s, n) in enumerate(zip(starts, counts, strict=True)):
            empty[i] = (acc.add(np.asarray(kp[s:s + n])) == v).all()
    return [ids[i] for i in np.flatnonzero(empty)]


def _split_overlap(splits: dict[str, list[str]], ids: list[str], subjects: list) -> dict[str, int]:
    """Subjects shared by each pair of splits (a subject-disjoint protocol must show 0)."""
    who = dict(zip(ids, subjects, strict=True))
    sets = {k: {who.get(c) for c in v} - {None} for k, v in splits.items()}
    names = sorted(sets)
    return {f"{a}&{b}": len(sets[a] & sets[b]) for i, a in enumerate(names) for b in names[i + 1:]
            if sets[a] and sets[b]}


def _class_report(labels: np.ndarray, class_names: list[str] | None) -> dict[str, Any]:
    labelled = labels[labels >= 0]
    counts = np.bincount(labelled) if len(labelled) else np.zeros(0, np.int64)
    n_classes = max(len(counts), len(class_names) if class_names else 0)
    rows = []
    for k in range(n_classes):
        n = int(counts[k]) if k < len(counts) else 0
        rows.append({"label": k, "name": class_names[k] if class_names and k < len(class_names) else None,
                     "clips": n})
    present = [r["clips"] for r in rows if r["clips"]]
    return {
        "num_classes": n_classes,
        "classes": rows,
        "unlabelled_clips": int((labels < 0).sum()),
        "class_imbalance": round(max(present) / min(present), 3) if present else None,
    }


def _describe(x: np.ndarray) -> dict[str, float | int | None]:
    if len(x) == 0:
        return {"min": None, "median": None, "mean": None, "max": None, "total": 0}
    return {"min": int(x.min()), "median": float(np.median(x)), "mean": round(float(x.mean()), 2),
            "max": int(x.max()), "total": int(x.sum())}


def _missing_report(acc: _Acc, layout) -> dict[str, Any]:
    slots = acc.rows * len(acc.missing)
    observed_rows = acc.rows - acc.empty_rows
    per_joint = acc.missing / observed_rows if observed_rows else np.zeros_like(acc.missing, float)
    names = list(layout.joints) if layout is not None and layout.num_joints == len(per_joint) \
        else [str(i) for i in range(len(per_joint))]
    order = np.argsort(-per_joint, kind="stable")
    return {
        "rate": round(acc.slots_missing / slots, 6) if slots else None,
        "empty_person_frames": acc.empty_rows,
        "empty_person_frame_rate": round(acc.empty_rows / acc.rows, 6) if acc.rows else None,
        "rate_in_observed_frames": round(float(acc.missing.sum()) / (observed_rows * len(acc.missing)), 6)
        if observed_rows else None,
        "per_joint": {names[i]: round(float(per_joint[i]), 6) for i in range(len(names))},
        "top_joints": [{"joint": names[i], "rate": round(float(per_joint[i]), 6)}
                       for i in order[:TOP_JOINTS] if per_joint[i] > 0],
    }


def _problems(report: dict[str, Any], dataset: SkeletonDataset) -> list[str]:
    """Plain-language warnings a user should read before training."""
    out = []
    if report["clips"] == 0:
        out.append("no clip could be read")
    if report["skipped"]:
        out.append(f"{report['skipped']} file(s)/clip(s) were skipped; see skipped_files")
    if report["num_empty_clips"]:
        out.append(f"{report['num_empty_clips']} clip(s) have no observed joint at all")
    rate = report["missing"]["rate_in_observed_frames"]
    if rate is not None and rate > 0.2:
        out.append(f"{rate:.0%} of joints are missing in frames where a person was seen")
    small = [r for r in report["classes"] if 0 < r["clips"] < 5]
    if small:
        out.append(f"{len(small)} class(es) have fewer than 5 clips")
    empty_cls = [r["label"] for r in report["classes"] if r["clips"] == 0]
    if empty_cls and dataset.class_names:
        out.append(f"{len(empty_cls)} named class(es) have no clips: {empty_cls[:10]}")
    if report["unlabelled_clips"]:
        out.append(f"{report['unlabelled_clips']} clip(s) have no label")
    for split, ids in dataset.splits.items():
        if not ids:
            out.append(f"split {split!r} is empty")
    return out
