"""Online metrics: temporal IoU, greedy one-to-one detection P/R/F1, SMG's released online metric; video 298."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from microgesture.evaluation.online import evaluate_video298
from microgesture.evaluation.online_metrics import (
    PUBLISHED_ONLINE,
    detection_scores,
    match_events,
    smg_online_metric,
    split_stream_events,
    temporal_iou,
)


def ev(rows, score=True):
    cols = ["start_frame", "end_frame", "label"] + (["score"] if score else [])
    return pd.DataFrame(rows, columns=cols)


def test_temporal_iou_inclusive_frames():
    iou = temporal_iou(np.array([0, 10]), np.array([9, 19]), np.array([5, 30]), np.array([14, 40]))
    assert iou[0, 0] == pytest.approx(5 / 15)
    assert iou[1, 0] == pytest.approx(5 / 15)
    assert iou[0, 1] == 0 and iou[1, 1] == 0
    assert temporal_iou(np.array([3]), np.array([3]), np.array([3]), np.array([3]))[0, 0] == 1.0


def test_greedy_matching_is_one_to_one_and_by_score():
    gt = ev([(0, 99, 1)], score=False)
    pred = ev([(0, 90, 1, 0.5), (5, 99, 1, 0.9)])
    m = match_events(pred, gt, 0.5)
    assert m.tolist() == [-1, 0]  # the higher-scored prediction takes the only ground truth
    s = detection_scores([(pred, gt)])
    assert (s.tp, s.n_pred, s.n_gt) == (1, 2, 1)
    assert s.precision == 0.5 and s.recall == 1.0 and s.f1 == pytest.approx(2 / 3)


def test_class_aware_vs_agnostic():
    gt = ev([(0, 49, 1), (100, 149, 2)], score=False)
    pred = ev([(0, 49, 2, 0.9), (100, 149, 2, 0.8)])
    assert detection_scores([(pred, gt)]).tp == 1
    assert detection_scores([(pred, gt)], class_agnostic=True).tp == 2
    assert detection_scores([(pred, gt)], iou_threshold=1.01).tp == 0


def test_counts_are_summed_over_streams_and_empty_cases():
    gt = ev([(0, 9, 0)], score=False)
    pred_hit, pred_none = ev([(0, 9, 0, 1.0)]), ev([])
    s = detection_scores([(pred_hit, gt), (pred_none, gt)])
    assert (s.tp, s.n_pred, s.n_gt) == (1, 1, 2) and s.precision == 1.0 and s.recall == 0.5
    z = detection_scores([(pred_none, ev([], score=False))])
    assert z.f1 == 0.0 and z.precision == 0.0


def test_smg_metric_as_released():
    # overlap ratio (min(end)-max(start)) / (max(end)-min(start)) > 0.3, same label, predictions not consumed
    gt = ev([(0, 100, 1), (110, 200, 1), (300, 400, 2)], score=False)
    pred = ev([(0, 200, 1, 1.0), (330, 400, 3, 1.0)])
    s = smg_online_metric([(pred, gt)])
    # the long prediction overlaps gt0 by 100/200 and gt1 by 90/200 -> both count; the other has a wrong label
    assert (s.correct, s.n_gt, s.n_pred) == (2, 3, 2)
    assert s.rec == pytest.approx(2 / 3) and s.acc == pytest.approx(1.0)
    assert s.f1 == pytest.approx(2 * (2 / 3) / (2 / 3 + 1))
    # below the 0.3 ratio: no credit
    s2 = smg_online_metric([(ev([(0, 25, 1, 1.0)]), ev([(0, 100, 1)], score=False))])
    assert s2.correct == 0
    assert smg_online_metric([(ev([(0, 25, 1, 1.0)]), ev([(0, 100, 1)], score=False))], alpha=0.2).correct == 1


def test_split_stream_events_drops_straddlers():
    e = ev([(0, 10, 1), (95, 105, 1), (100, 120, 2)], score=False)
    tr, te, dropped = split_stream_events(e, 100)
    assert len(tr) == 1 and len(te) == 1 and dropped == 1


def test_published_numbers_are_the_readme_ones():
    assert PUBLISHED_ONLINE["iMiGUE"]["AED-BiLSTM"] == (0.166, 0.177, 0.171)
    assert PUBLISHED_ONLINE["iMiGUE"]["FCN-sliding"][2] == 0.063
    assert PUBLISHED_ONLINE["SMG"]["AED-BiLSTM"][2] == 0.203


@pytest.mark.real_data
def test_video298_rows_at_the_mg_class_level(video298_dir, imigue_labels_csv, tmp_path):
    r = evaluate_video298(video298_dir, imigue_labels_csv, tmp_path, train_fraction=0.6, progress=False,
                          methods=("default", "within"), finetune_epochs=2)
    assert r["train_events"] + r["test_events"] + r["dropped_events"] == 56
    assert r["test_events"] >= 10 and "within-video" in r["protocol"]
    rows = {row["method"]: row for row in r["rows"] if row["part"] == "after cut"}
    default = next(row for m, row in rows.items() if m.startswith("default"))
    within = next(row for m, row in rows.items() if "pre-cut frames (iMiGUE classes)" in m)
    for row in (default, within):
        assert row["gt_events"] == r["test_events"] and row["part"] == "after cut"
        for key in ("det_f1@0.5", "det_f1_agnostic@0.5", "f1"):
            assert 0.0 <= row[key] <= 1.0
        assert row["det_f1@0.5"] <= row["det_f1_agnostic@0.5"]  # a class-aware match is also an agnostic one
    assert "det_f1@0.5_imigue_classes" in within


@pytest.mark.real_data
def test_default_profile_is_rebuilt_by_a_fit_on_the_pre_cut_frames(video298_dir, imigue_labels_csv, tmp_path):
    """The packaged default profile is exactly what the documented fit produces (no hand edits)."""
    import yaml

    from microgesture.evaluation.online import fit_default_profile
    from microgesture.models.kinematic import DEFAULT_PROFILE

    fresh = yaml.safe_load(fit_default_profile(video298_dir, imigue_labels_csv, tmp_path / "p.yaml").read_text())
    assert fresh == yaml.safe_load(DEFAULT_PROFILE.read_text())
    assert not any("enabled" in keys for keys in fresh.values())  # the fit's on/off switches are not adopted
