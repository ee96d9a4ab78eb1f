"""Scoring online (continuous-stream) micro-gesture recognition: detection P/R/F1 at a temporal IoU, and SMG's metric.

Why two metrics: the detection metric (greedy one-to-one matching at tIoU >= 0.5, per class or class
agnostic) is the standard temporal-detection reading; the published online baselines on SMG and iMiGUE
(FCN-sliding, DBN-HMM, STABNet, AED-BiLSTM; "Rec / Acc / F1") were computed with the dataset authors'
own evaluation, reproduced here as :func:`smg_online_metric` so our numbers can sit beside theirs.

Events are tables with columns ``start_frame, end_frame`` (inclusive), ``label`` and, for predictions,
``score``. Counts are summed over streams before the ratios are taken (micro-averaging), as in SMG's code.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from ..errors import DataError

# Published online-recognition results (SMG README, "Rec / Acc / F1"): reference numbers, not ours.
PUBLISHED_ONLINE = {
    "SMG": {
        "FCN-sliding": (0.082, 0.110, 0.094),
        "DBN-HMM": (0.128, 0.167, 0.145),
        "STABNet": (0.206, 0.164, 0.182),
        "AED-BiLSTM": (0.173, 0.245, 0.203),
    },
    "iMiGUE": {
        "FCN-sliding": (0.059, 0.067, 0.063),
        "STABNet": (0.137, 0.082, 0.103),
        "AED-BiLSTM": (0.166, 0.177, 0.171),
    },
}


@dataclass
class DetectionScore:
    tp: int
    n_pred: int
    n_gt: int
    precision: float
    recall: float
    f1: float
    iou_threshold: float
    class_agnostic: bool

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class SMGScore:
    """SMG's online metric. ``acc`` is SMG's name for correct / predicted (a precision)."""

    correct: int
    n_pred: int
    n_gt: int
    rec: float
    acc: float
    f1: float
    alpha: float

    def to_dict(self) -> dict:
        return asdict(self)


def _arrays(events: pd.DataFrame, what: str, need_score: bool = False):
    cols = ["start_frame", "end_frame", "label"] + (["score"] if need_score else [])
    missing = [c for c in cols if c not in events.columns]
    if missing:
        raise DataError(None, f"{what} events lack columns {missing}")
    s = events["start_frame"].to_numpy(np.int64)
    e = events["end_frame"].to_numpy(np.int64)
    if (e < s).any():
        raise DataError(None, f"{what} events have end_frame < start_frame")
    lab = events["label"].to_numpy(np.int64)
    sc = events["score"].to_numpy(np.float64) if need_score else None
    return s, e, lab, sc


def temporal_iou(s1: np.ndarray, e1: np.ndarray, s2: np.ndarray, e2: np.ndarray) -> np.ndarray:
    """``[N1, N2]`` IoU of inclusive frame intervals."""
    inter = np.minimum(e1[:, None], e2[None]) - np.maximum(s1[:, None], s2[None]) + 1
    inter = np.clip(inter, 0, None)
    union = (e1 - s1 + 1)[:, None] + (e2 - s2 + 1)[None] - inter
    return inter / np.maximum(union, 1)


def match_events(pred: pd.DataFrame, gt: pd.DataFrame, iou_threshold: float = 0.5,
                 class_agnostic: bool = False) -> np.ndarray:
    """Greedy one-to-one matching: predictions by descending score take the best free ground truth.

    Returns ``[n_pred]`` indices of the matched ground-truth row, -1 for false positives.
    """
    ps, pe, pl, psc = _arrays(pred, "predicted", need_score=True)
    gs, ge, gl, _ = _arrays(gt, "ground-truth")
    match = np.full(len(ps), -1, dtype=np.int64)
    if not len(ps) or not len(gs):
        return match
    iou = temporal_iou(ps, pe, gs, ge)
    if not class_agnostic:
        iou = np.where(pl[:, None] == gl[None], iou, 0.0)
    taken = np.zeros(len(gs), dtype=bool)
    for i in np.argsort(-psc, kind="stable"):  # one pass over predictions; events are few
        cand = np.where(taken, -1.0, iou[i])
        j = int(np.argmax(cand))
        if cand[j] >= iou_threshold:
            match[i] = j
            taken[j] = True
    return match


def _prf(tp: int, n_pred: int, n_gt: int) -> tuple[float, float, float]:
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_gt if n_gt else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def detection_scores(pairs: Iterable[tuple[pd.DataFrame, pd.DataFrame]], iou_threshold: float = 0.5,
                     class_agnostic: bool = False) -> DetectionScore:
    """Precision / recall / F1 over one or more ``(predicted, ground truth)`` streams (counts summed)."""
    tp = n_pred = n_gt = 0
    for pred, gt in pairs:
        m = match_events(pred, gt, iou_threshold, class_agnostic)
        tp += int((m >= 0).sum())
        n_pred += len(pred)
        n_gt += len(gt)
    p, r, f = _prf(tp, n_pred, n_gt)
    return DetectionScore(tp, n_pred, n_gt, p, r, f, iou_threshold, class_agnostic)


def smg_online_metric(pairs: Iterable[tuple[pd.DataFrame, pd.DataFrame]], alpha: float = 0.3) -> SMGScore:
    """The online metric of the SMG dataset authors (Chen et al., IJCV 2023), as their released code computes it.

    Read from ``online recognition/SMG/THDutils.py::tester_SMG`` in github.com/mikecheninoulu/SMG:
    a ground-truth gesture counts as correctly recognised when some predicted gesture has the *same label*
    and an overlap ratio ``(min(end) - max(start)) / (max(end) - min(start)) > alpha`` (their
    ``threshold_alpha = 0.3``; frame differences, not inclusive counts). ``Rec`` = correct / number of
    ground-truth gestures, ``Acc`` = correct / number of predictions, ``F1`` = their harmonic mean; counts
    are summed over all test sequences. Two details are kept as released: each ground truth takes the first
    qualifying prediction in time order, and predictions are *not* removed once matched (the code's
    ``numpy.delete`` results are discarded), so one long prediction may count for several ground truths.
    Whether the iMiGUE online numbers in the same README used the identical script is not stated there;
    this is the closest documented definition.
    """
    correct = n_pred = n_gt = 0
    for pred, gt in pairs:
        ps, pe, pl, _ = _arrays(pred, "predicted")
        gs, ge, gl, _ = _arrays(gt, "ground-truth")
        n_pred += len(ps)
        n_gt += len(gs)
        if not len(ps) or not len(gs):
            continue
        order = np.argsort(ps, kind="stable")
        ps, pe, pl = ps[order], pe[order], pl[order]
        inter = np.minimum(pe[None], ge[:, None]) - np.maximum(ps[None], gs[:, None])
        span = np.maximum(pe[None], ge[:, None]) - np.minimum(ps[None], gs[:, None])
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(span > 0, inter / np.where(span > 0, span, 1), 0.0)
        hit = (pl[None] == gl[:, None]) & (ratio > alpha)  # [n_gt, n_pred]
        correct += int(hit.any(axis=1).sum())
    rec, acc = (correct / n_gt if n_gt else 0.0), (correct / n_pred if n_pred else 0.0)
    f1 = 2 * rec * acc / (rec + acc) if rec + acc else 0.0
    return SMGScore(correct, n_pred, n_gt, rec, acc, f1, alpha)


def evaluate_streams(pairs: list[tuple[pd.DataFrame, pd.DataFrame]], iou_threshold: float = 0.5,
                     smg_alpha: float = 0.3) -> dict:
    """All online metrics for a list of ``(predicted, ground truth)`` streams, as one JSON-able dict."""
    return {
        "detection": detection_scores(pairs, iou_threshold).to_dict(),
        "detection_class_agnostic": detection_scores(pairs, iou_threshold, class_agnostic=True).to_dict(),
        "smg_online": smg_online_metric(pairs, smg_alpha).to_dict(),
    }


def split_stream_events(events: pd.DataFrame, cut: int) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """Events wholly before frame ``cut`` (train), wholly from ``cut`` on (test), and the number dropped
    because they straddle the cut."""
    train = events[events["end_frame"] < cut].reset_index(drop=True)
    test = events[events["start_frame"] >= cut].reset_index(drop=True)
    return train, test, len(events) - len(train) - len(test)
