"""SMG release layout: sample names → subjects, subject split, 3-D Kinect v2 arrays (fixture) and real labels."""

from __future__ import annotations

import pickle
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from microgesture.data.readers import detect_kind, open_dataset
from microgesture.data.readers.smg import SMG_CLASS_NAMES, read_smg, read_smg_labels, smg_subject
from microgesture.errors import DataError


def _write(folder: Path, split: str, names: list[str], labels: list[int], frames: list[int]) -> np.ndarray:
    """``<split>_data.npy`` N×3×60×25×1 float32 (last ``frames`` frames used) + ``<split>_label.pkl``."""
    rng = np.random.default_rng(1)
    data = np.zeros((len(names), 3, 60, 25, 1), np.float32)
    for i, t in enumerate(frames):
        data[i, :, 60 - t:] = rng.normal(0, 0.5, (3, t, 25, 1))
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / f"{split}_data.npy", data)
    with open(folder / f"{split}_label.pkl", "wb") as fh:
        pickle.dump((names, labels), fh)
    return data


def test_subject_from_sample_names() -> None:
    assert smg_subject("Sample00360") == 36 and smg_subject("Sample0040112") == 40
    assert smg_subject("Sample000112") == 1 and smg_subject("0187_0") is None
    assert len(SMG_CLASS_NAMES) == 17


def test_read_smg_fixture(tmp_path: Path) -> None:
    data = _write(tmp_path, "train", ["Sample00010", "Sample003512"], [0, 16], [60, 20])
    _write(tmp_path, "test", ["Sample00360", "Sample00401"], [8, 7], [45, 60])
    assert detect_kind(tmp_path) == "smg"
    ds = open_dataset(tmp_path)
    assert ds.name == "smg" and ds.layout == "ntu25" and len(ds) == 4
    assert ds.splits == {"train": ["Sample00010", "Sample003512"], "test": ["Sample00360", "Sample00401"]}
    c = ds.clips[1]
    assert c.keypoints.shape == (1, 20, 25, 3) and c.scores is None and c.meta.frame_range == (40, 59)
    assert c.meta.subject == "35" and c.meta.label == 16 and c.meta.extra["clip_index"] == 12
    np.testing.assert_array_equal(c.keypoints[0], data[1, :, 40:, :, 0].transpose(1, 2, 0))
    assert [x.num_frames for x in ds.clips] == [60, 20, 45, 60]


def test_smg_rejects_other_layouts_and_bad_names(tmp_path: Path) -> None:
    _write(tmp_path, "test", ["Sample00360"], [8], [60])
    with pytest.raises(DataError, match="ntu25"):
        read_smg(tmp_path, layout="imigue22")
    with open(tmp_path / "test_label.pkl", "wb") as fh:
        pickle.dump((["clip_a"], [3]), fh)
    with pytest.raises(DataError, match="not Sample<subject:4><index>"):
        read_smg_labels(tmp_path / "test_label.pkl")


@pytest.mark.real_data
def test_real_test_labels(smg_label_pkl: Path) -> None:
    names, labels, subjects = read_smg_labels(smg_label_pkl)
    assert len(names) == 610 and names[0] == "Sample00360" and names[-1] == "Sample0040112"
    assert set(subjects) == {36, 37, 38, 39, 40}
    assert Counter(labels) == {8: 243, 7: 191, 4: 49, 9: 34, 11: 30, 2: 15, 0: 13, 16: 9, 10: 8, 13: 5, 12: 4,
                               1: 3, 6: 3, 3: 2, 5: 1}
