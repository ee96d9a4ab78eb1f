"""MSR Action3D reader: defective files reported, the CVPR 2012 list, subject splits and the .mat splits."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from microgesture.data.readers import detect_kind, open_dataset
from microgesture.data.readers.msr_action3d import read_joint_rows, read_msr_action3d, read_msr_file
from microgesture.errors import DataError


def _write(folder: Path, name: str, frames: int = 4) -> Path:
    rng = np.random.default_rng(frames)
    rows = np.concatenate([rng.normal(0, 1, (frames * 20, 3)), rng.uniform(0, 1, (frames * 20, 1))], axis=1)
    p = folder / f"{name}_skeleton3D.txt"
    np.savetxt(p, rows, fmt="%.6f")
    return p


def test_fixture_dataset_and_confidence_is_a_score(tmp_path: Path) -> None:
    p = _write(tmp_path, "a01_s01_e01")
    _write(tmp_path, "a20_s02_e03", frames=6)
    (tmp_path / "a13_s09_e02_skeleton3D.txt").write_text("0 0 0 0\n" * 40)
    assert detect_kind(tmp_path) == "msr_action3d"
    ds = open_dataset(tmp_path, progress=False)
    assert ds.clip_ids() == ["a01_s01_e01", "a20_s02_e03"] and ds.layout == "msr_action3d"
    assert ds.skipped[0].reason == "all coordinates are zero (no skeleton recorded)"
    assert ds.splits["train"] == ["a01_s01_e01"] and ds.splits["test"] == ["a20_s02_e03"]
    assert ds.splits["AS1_test"] == ["a20_s02_e03"] and ds.splits["AS2_train"] == ["a01_s01_e01"]
    c = read_msr_file(p)
    raw = np.loadtxt(p).reshape(4, 20, 4)
    assert np.allclose(c.keypoints[0], raw[..., :3]) and np.allclose(c.scores[0], raw[..., 3])
    assert c.meta.label == 0 and c.meta.fps == 15


@pytest.mark.parametrize("content,needle", [
    ("", "empty file"),
    ("1 2 3 4\n" * 30, "30 rows is not a multiple of 20"),
    ("1 2 3\n" * 20, "rows have 3 values"),
    ("1 2 3 4\n" * 19 + "1 2 3\n", "malformed row"),
    ("1 2 3 4\n" * 5 + "1 nan 3 4\n" + "1 2 3 4\n" * 14, "line 6 has a NaN"),
    ("1 2 x 4\n" * 20, "malformed row"),
])
def test_bad_text_files(tmp_path: Path, content: str, needle: str) -> None:
    p = tmp_path / "a01_s01_e01_skeleton3D.txt"
    p.write_text(content)
    with pytest.raises(DataError, match=needle) as e:
        read_joint_rows(p, 20, 4)
    assert e.value.path == str(p)
    ds = read_msr_action3d(tmp_path, progress=False)
    assert len(ds) == 0 and ds.skipped[0].path == str(p)


@pytest.mark.real_data
def test_golden(msr_dir: Path) -> None:
    ds = read_msr_action3d(msr_dir, progress=False)
    assert len(ds) + len(ds.skipped) == 567 and len(ds) == 566
    assert [(Path(s.path).name, s.reason) for s in ds.skipped] == [
        ("a13_s09_e02_skeleton3D.txt", "all coordinates are zero (no skeleton recorded)")]
    assert max(c.num_frames for c in ds.clips) == 936 and min(c.num_frames for c in ds.clips) == 13
    assert Counter(c.meta.label for c in ds.clips)[14] == 20
    assert len(ds.splits["train"]) + len(ds.splits["test"]) == 566
    for k in range(1, 11):
        tr, te = set(ds.splits[f"random{k}_train"]), set(ds.splits[f"random{k}_test"])
        assert not tr & te and len(tr | te) == 566
    std = read_msr_action3d(msr_dir, progress=False, subset="cvpr12")
    assert len(std) == 557 and len(std.skipped) == 10
    assert {Path(s.path).name[:11] for s in std.skipped} == {
        "a02_s03_e02", "a04_s03_e01", "a07_s04_e01", "a13_s09_e01", "a13_s09_e02", "a13_s09_e03",
        "a14_s03_e01", "a20_s07_e01", "a20_s07_e03", "a20_s10_e03"}
    assert len(std.splits["train"]) == 284 and len(std.splits["test"]) == 273
