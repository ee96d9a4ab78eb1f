"""NW-UCLA all_sqe JSON reader: golden counts on the real release, and bad files reported by name."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from microgesture.data.readers import detect_kind, open_dataset
from microgesture.data.readers.nw_ucla import NW_UCLA_CLASS_NAMES, read_nw_ucla, read_nw_ucla_file
from microgesture.errors import DataError


def _write(folder: Path, name: str, frames: int = 8, label: int = 1, **override) -> Path:
    rng = np.random.default_rng(frames)
    doc = {"file_name": name, "skeletons": rng.normal(0, 1, (frames, 20, 3)).round(4).tolist(), "label": label}
    doc.update(override)
    p = folder / f"{name}.json"
    p.write_text(json.dumps(doc))
    return p


def test_fixture_dataset(tmp_path: Path) -> None:
    _write(tmp_path, "a01_s01_e00_v01", label=1)
    _write(tmp_path, "a12_s02_e01_v03", label=10, frames=3)
    zero = _write(tmp_path, "a08_s03_e02_v02", label=7)
    doc = json.loads(zero.read_text())
    doc["skeletons"][0][3] = [0, 0, 0]
    zero.write_text(json.dumps(doc))
    assert detect_kind(tmp_path) == "nw_ucla"
    ds = open_dataset(tmp_path, progress=False)
    assert ds.layout == "kinect_v1" and len(ds) == 3 and ds.class_names == list(NW_UCLA_CLASS_NAMES)
    assert ds.splits == {"train": ["a01_s01_e00_v01", "a08_s03_e02_v02"], "test": ["a12_s02_e01_v03"],
                         "view1": ["a01_s01_e00_v01"], "view2": ["a08_s03_e02_v02"], "view3": ["a12_s02_e01_v03"]}
    by_id = {c.meta.clip_id: c for c in ds.clips}
    c = by_id["a12_s02_e01_v03"]
    assert c.meta.label == 9 and c.meta.subject == "2" and c.meta.extra["view"] == 3
    assert c.meta.extra["too_short"] and not by_id["a01_s01_e00_v01"].meta.extra["too_short"]
    assert np.isnan(by_id["a08_s03_e02_v02"].keypoints[0, 0, 3]).all()


@pytest.mark.parametrize("content,needle", [
    ('{"file_name": "x", "skeletons": [[[1, 2', "truncated or corrupt"),
    ("", "empty file"),
    ('{"file_name": "x", "label": 1}', "'skeletons'"),
    ('{"file_name": "x", "skeletons": [[[1, 2, 3]]], "label": 1}', "shape (1, 1, 3)"),
    ('{"file_name": "x", "skeletons": [[[1, 2, 3]], [[1, 2]]], "label": 1}', "regular"),
    ('{"file_name": "x", "skeletons": [], "label": 1}', "T ≥ 1"),
    ('{"file_name": "x", "skeletons": [[[NaN, 2, 3]]], "label": 1}', "truncated or corrupt"),
])
def test_bad_files(tmp_path: Path, content: str, needle: str) -> None:
    _write(tmp_path, "a01_s01_e00_v01")
    bad = tmp_path / "a02_s01_e00_v01.json"
    bad.write_text(content)
    with pytest.raises(DataError) as e:
        read_nw_ucla_file(bad)
    assert str(e.value).startswith(str(bad)) and needle in str(e.value)
    ds = read_nw_ucla(tmp_path, progress=False)
    assert len(ds) == 1 and ds.skipped[0].path == str(bad)


def test_label_must_match_file_name_and_nan_values(tmp_path: Path) -> None:
    p = _write(tmp_path, "a03_s01_e00_v01", label=1)
    with pytest.raises(DataError, match="contradicts the file name"):
        read_nw_ucla_file(p)
    p = _write(tmp_path, "a03_s01_e00_v01", label=3)
    doc = json.loads(p.read_text())
    doc["skeletons"][0][0][0] = None
    p.write_text(json.dumps(doc))
    with pytest.raises(DataError, match="NaN"):
        read_nw_ucla_file(p)


@pytest.mark.real_data
def test_golden(nw_ucla_dir: Path) -> None:
    ds = read_nw_ucla(nw_ucla_dir, progress=False, strict=True)
    assert len(ds) == 1484 and not ds.skipped
    assert Counter(c.meta.extra["view"] for c in ds.clips) == {1: 516, 2: 504, 3: 464}
    assert len(ds.splits["train"]) == 1020 and len(ds.splits["test"]) == 464
    assert [len(ds.splits[f"view{v}"]) for v in (1, 2, 3)] == [516, 504, 464]  # SOURCE.md's per-view counts
    assert sorted(ds.splits["view1"] + ds.splits["view2"]) == sorted(ds.splits["train"])
    counts = Counter(c.meta.label for c in ds.clips)
    assert [counts[k] for k in range(10)] == [150, 152, 141, 173, 148, 149, 142, 142, 145, 142]
    assert len({c.meta.subject for c in ds.clips}) == 10
    short = sorted(c.meta.clip_id for c in ds.clips if c.meta.extra["too_short"])
    assert short == ["a02_s09_e04_v02", "a02_s09_e04_v03"]
    assert max(c.num_frames for c in ds.clips) == 201 and min(c.num_frames for c in ds.clips) == 1
    c = ds.clips[0]
    assert c.keypoints.dtype == np.float32 and c.keypoints.shape[2:] == (20, 3)
    y = np.nanmean(c.keypoints[0, :, :4, 1], axis=0)  # HipCenter < Spine < ShoulderCenter < Head
    assert (np.diff(y) > 0).all()
