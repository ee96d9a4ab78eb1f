"""Annotations in and out: ELAN .eaf round trips (one tier per class, evidence kept), CSV in seconds or frames,
iMiGUE label files, label resolution, and clear errors for broken files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pympi import Elan

from microgesture.data.annotations import (
    read_annotations,
    read_eaf,
    read_events_csv,
    resolve_labels,
    to_mg_classes,
    write_eaf,
)
from microgesture.data.mg_classes import MG_CLASS_NAMES, MG_INDEX
from microgesture.errors import DataError


def _events() -> pd.DataFrame:
    rows = [(25, 74, "touch face", 0.81, {"text": "right hand 0.10 shoulder widths from the chin for 2.0 s"}),
            (100, 139, "fold arms", 0.66, {"text": "forearms crossed for 1.6 s"}),
            (130, 160, "touch face", 0.5, {"text": "left hand on the cheek"})]
    return pd.DataFrame({"start_frame": [r[0] for r in rows], "end_frame": [r[1] for r in rows],
                         "label": [MG_INDEX[r[2]] for r in rows], "label_name": [r[2] for r in rows],
                         "score": [r[3] for r in rows], "start": [r[0] / 25 for r in rows],
                         "end": [(r[1] + 1) / 25 for r in rows], "evidence": [r[4] for r in rows]})


def test_eaf_round_trip_one_tier_per_class_with_evidence(tmp_path):
    ev = _events()
    path = write_eaf(ev, tmp_path / "t.eaf", class_names=list(MG_CLASS_NAMES))
    eaf = Elan.Eaf(str(path))
    assert set(eaf.get_tier_names()) == set(MG_CLASS_NAMES)  # empty tiers too: room for what was missed
    values = [a[2] for a in eaf.get_annotation_data_for_tier("touch face")]
    assert any("0.10 shoulder widths from the chin" in v and "score 0.81" in v for v in values)
    back = read_eaf(path, fps=25)
    assert back[["start_frame", "end_frame", "label"]].values.tolist() == \
        ev.sort_values("start_frame")[["start_frame", "end_frame", "label"]].values.tolist()
    assert (back["label_space"] == "mg").all()


def test_eaf_written_by_an_annotator_with_class_values(tmp_path):
    eaf = Elan.Eaf()
    eaf.add_tier("gestures")
    eaf.add_annotation("gestures", 1000, 2500, "touch chin")  # an iMiGUE class name
    eaf.add_annotation("gestures", 4000, 4400, "bite lip: corrected")
    Elan.to_eaf(str(tmp_path / "a.eaf"), eaf)
    ev = read_eaf(tmp_path / "a.eaf", fps=25)
    assert ev["label_space"].tolist() == ["imigue", "imigue"] and ev["start_frame"].tolist() == [25, 100]
    mg = to_mg_classes(ev)
    assert mg["label_name"].tolist() == ["touch face", "touch face"]
    eaf.add_annotation("gestures", 5000, 5200, "juggling")
    Elan.to_eaf(str(tmp_path / "b.eaf"), eaf)
    with pytest.raises(DataError, match="juggling"):
        read_eaf(tmp_path / "b.eaf")
    (tmp_path / "broken.eaf").write_text("<ANNOTATION_DOCUMENT><TIER", encoding="utf-8")
    with pytest.raises(DataError, match="broken.eaf"):
        read_eaf(tmp_path / "broken.eaf")


def test_csv_in_seconds_or_frames_and_errors(tmp_path):
    (tmp_path / "s.csv").write_text("start,end,label\n1.0,2.0,fold arms\n3.5,4.0,Touch_Face\n")
    ev = read_events_csv(tmp_path / "s.csv", fps=25)
    assert ev["start_frame"].tolist() == [25, 88] and ev["end_frame"].tolist() == [49, 99]
    assert ev["label_name"].tolist() == ["fold arms", "touch face"]
    (tmp_path / "f.csv").write_text("start_frame,end_frame,label\n10,20,3\n")  # integer labels: iMiGUE indices
    ev = read_annotations(tmp_path / "f.csv", fps=25)
    assert ev.iloc[0][["start_frame", "end_frame", "label_space"]].tolist() == [10, 20, "imigue"]
    (tmp_path / "bad.csv").write_text("start,end,label\n2.0,1.0,fold arms\n")
    with pytest.raises(DataError, match="ends .* before it starts"):
        read_events_csv(tmp_path / "bad.csv")
    (tmp_path / "cols.csv").write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match="label"):
        read_events_csv(tmp_path / "cols.csv")
    with pytest.raises(DataError, match="unsupported annotation file"):
        (tmp_path / "x.json").write_text("{}")
        read_annotations(tmp_path / "x.json")


def test_resolve_labels_prefers_the_mg_class_set():
    labels, space = resolve_labels(["touch face", "fold arms"], "here")
    assert space == "mg" and labels.tolist() == [MG_INDEX["touch face"], MG_INDEX["fold arms"]]
    labels, space = resolve_labels(["touch chin", "fold arm"], "here")
    assert space == "imigue" and labels.tolist() == [10, 16]


@pytest.mark.real_data
def test_imigue_labels_csv_and_per_video_txt_agree_on_video_298(imigue_labels_csv, imigue_root):
    from_csv = read_annotations(imigue_labels_csv, fps=25, recording="298")
    assert len(from_csv) == 56 and (from_csv["label_space"] == "imigue").all()
    mg = to_mg_classes(from_csv)
    assert len(mg) == 56 and set(mg["label_name"]) <= set(MG_CLASS_NAMES)
    txt = imigue_root / "raw" / "Label" / "raw" / "298.txt"
    if txt.is_file():
        from_txt = read_annotations(txt, fps=25)
        assert len(from_txt) > 0 and np.isfinite(from_txt["start"]).all()
