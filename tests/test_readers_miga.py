"""MiGA/iMiGUE ST-GCN release layout: safe label pickles, memory-mapped arrays, padding, splits."""

from __future__ import annotations

import pickle
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from microgesture.data.readers import detect_kind, open_dataset
from microgesture.data.readers.miga import frame_ranges, open_release_data, read_miga, read_release_labels
from microgesture.errors import DataError, UnsafePickleError


def write_release(folder: Path, split: str, lengths: list[tuple[int, int]], labels: list[int],
                  names: list[str], t: int = 90, v: int = 22, c: int = 3) -> np.ndarray:
    """``<split>_data.npy`` (N×C×T×V×1, zero outside each (first, last) range) + ``<split>_label.pkl``."""
    rng = np.random.default_rng(len(names))
    data = np.zeros((len(names), c, t, v, 1), np.float32)
    for i, (a, b) in enumerate(lengths):
        if b >= a:
            data[i, :, a:b + 1] = rng.uniform(1, 500, (c, b - a + 1, v, 1))
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / f"{split}_data.npy", data)
    with open(folder / f"{split}_label.pkl", "wb") as fh:
        pickle.dump((names, labels), fh)
    return data


def test_frame_ranges_find_leading_and_trailing_padding() -> None:
    data = np.zeros((4, 3, 10, 2, 1), np.float32)
    data[0, :, 2:8] = 1
    data[1, 0, 0, 0, 0] = 1  # one non-zero value is enough for a frame to count
    data[2, :, :] = 1
    first, last = frame_ranges(data, chunk=3)  # chunking must not change the answer
    assert first.tolist() == [2, 0, 0, 0] and last.tolist() == [7, 0, 9, -1]


def test_read_miga_fixture(tmp_path: Path) -> None:
    names = ["0187_0", "0187_1", "0300_0", "0009_4"]
    data = write_release(tmp_path, "train", [(0, 89), (30, 89), (0, 39), (5, 60)], [8, 23, 31, 0], names)
    write_release(tmp_path, "test", [(0, 49), (-1, -2)], [1, 2], ["0001_0", "0001_1"])  # second all zero
    assert detect_kind(tmp_path) == "miga"
    ds = open_dataset(tmp_path)
    assert ds.layout == "imigue22" and len(ds) == 5 and len(ds.class_names) == 32
    assert ds.splits["train"] == names and ds.splits["test"] == ["0001_0"]
    assert ds.splits["emotion_test"] == ["0009_4"] and "0001_0" in ds.splits["emotion_train"]
    assert len(ds.skipped) == 1 and "all zeros" in ds.skipped[0].reason and "0001_1" in ds.skipped[0].path
    lengths = [c.num_frames for c in ds.clips]
    assert lengths == [90, 60, 40, 56, 50]
    c = ds.clips[1]
    assert c.keypoints.shape == (1, 60, 22, 2) and c.scores.shape == (1, 60, 22)
    assert c.meta.frame_range == (30, 89) and c.meta.label == 23 and c.meta.label_name == "cross finger"
    assert c.meta.extra == {"row": 1, "video_id": 187, "clip_index": 1}
    np.testing.assert_array_equal(c.keypoints[0, :, :, 0], data[1, 0, 30:90, :, 0])
    np.testing.assert_array_equal(c.scores[0], data[1, 2, 30:90, :, 0])
    assert ds.clips[-1].meta.clip_id == "0001_0" and ds.clips[-5].meta.clip_id == "0187_0"
    assert [x.meta.clip_id for x in ds.clips[1:3]] == ["0187_1", "0300_0"]
    with pytest.raises(IndexError):
        ds.clips[5]
    assert ds.subset("test").clip_ids() == ["0001_0"]


def test_zero_joints_inside_a_clip_are_missing(tmp_path: Path) -> None:
    data = write_release(tmp_path, "train", [(0, 9)], [3], ["0010_0"], t=10)
    data[0, :, 4, 5] = 0  # joint 5 undetected in frame 4
    np.save(tmp_path / "train_data.npy", data)
    c = read_miga(tmp_path).clips[0]
    assert np.isnan(c.keypoints[0, 4, 5]).all() and c.scores[0, 4, 5] == 0
    assert np.isfinite(c.keypoints[0, 3]).all()


def test_release_arrays_are_memory_mapped(tmp_path: Path) -> None:
    write_release(tmp_path, "train", [(0, 9)], [0], ["0010_0"], t=10)
    arr = open_release_data(tmp_path / "train_data.npy")
    assert isinstance(arr, np.memmap)


def test_malicious_label_pickle_is_refused_not_run(tmp_path: Path) -> None:
    class Boom:
        def __reduce__(self):
            return (print, ("pwned",))

    write_release(tmp_path, "train", [(0, 9)], [0], ["0010_0"], t=10)
    with open(tmp_path / "train_label.pkl", "wb") as fh:
        pickle.dump((["0010_0"], [Boom()]), fh)
    with pytest.raises(UnsafePickleError, match="builtins.print"):
        read_miga(tmp_path)


@pytest.mark.parametrize("problem", ["count", "joints", "channels", "labels", "dims", "object"])
def test_inconsistent_release_files(tmp_path: Path, problem: str) -> None:
    names = ["0010_0", "0010_1"]
    if problem == "count":
        write_release(tmp_path, "train", [(0, 9), (0, 9)], [0, 1], names, t=10)
        with open(tmp_path / "train_label.pkl", "wb") as fh:
            pickle.dump((names[:1], [0]), fh)
        needle = "has 2 samples but train_label.pkl has 1"
    elif problem == "joints":
        write_release(tmp_path, "train", [(0, 9), (0, 9)], [0, 1], names, t=10, v=25)
        needle = "V=25 joints but layout imigue22 has 22"
    elif problem == "channels":
        write_release(tmp_path, "train", [(0, 9), (0, 9)], [0, 1], names, t=10, c=2)
        needle = "expected 3 channels"
    elif problem == "labels":
        write_release(tmp_path, "train", [(0, 9), (0, 9)], [0, 40], names, t=10)
        needle = "out of range"
    elif problem == "dims":
        write_release(tmp_path, "train", [(0, 9), (0, 9)], [0, 1], names, t=10)
        np.save(tmp_path / "train_data.npy", np.zeros((2, 3, 10, 22), np.float32))
        needle = "5 axes"
    else:
        write_release(tmp_path, "train", [(0, 9), (0, 9)], [0, 1], names, t=10)
        np.save(tmp_path / "train_data.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
        needle = "not a plain numeric"
    with pytest.raises(DataError, match=needle):
        read_miga(tmp_path)


def test_truncated_npy_and_missing_split(tmp_path: Path) -> None:
    write_release(tmp_path, "train", [(0, 9)], [0], ["0010_0"], t=10)
    raw = (tmp_path / "train_data.npy").read_bytes()
    (tmp_path / "train_data.npy").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DataError, match="train_data.npy"):
        read_miga(tmp_path)
    with pytest.raises(DataError, match="has no val_data.npy"):
        read_miga(tmp_path, splits=["val"])
    with pytest.raises(DataError, match="no <split>_data.npy"):
        read_miga(tmp_path / "nothing_here")


def test_nan_sample_is_skipped_or_strict(tmp_path: Path) -> None:
    data = write_release(tmp_path, "train", [(0, 9), (0, 9)], [0, 1], ["0010_0", "0010_1"], t=10)
    data[1, 0, 3, 3, 0] = np.nan
    np.save(tmp_path / "train_data.npy", data)
    ds = read_miga(tmp_path)
    assert ds.clip_ids() == ["0010_0"] and "NaN" in ds.skipped[0].reason
    with pytest.raises(DataError, match="0010_1"):
        read_miga(tmp_path, strict=True)


def test_annotations_add_subjects(tmp_path: Path) -> None:
    write_release(tmp_path / "rel", "train", [(0, 9)], [0], ["0298_0"], t=10)
    csv = tmp_path / "labels.csv"
    csv.write_text("video_id,label_id,start_time,start_frame,end_time,end_frame,class,subject_id,subject_gender,"
                   "subject_nationality,win_or_lose\n298,1,1.0,25,2.0,50,4,22,M,Finland,Win\n")
    ds = read_miga(tmp_path / "rel", annotations=csv)
    assert ds.clips[0].meta.subject == "22"


@pytest.mark.real_data
def test_real_train_labels(imigue_root: Path) -> None:
    names, labels = read_release_labels(imigue_root / "raw_release_labels" / "train_label.pkl")
    assert len(names) == len(labels) == 10228
    assert min(labels) == 0 and max(labels) == 31
    counts = Counter(labels)
    assert counts[31] == 2882 and counts[30] == 1786 and counts[18] == 1 and len(counts) == 32
    assert all(n.count("_") == 1 and n.split("_")[0].isdigit() for n in names)
    videos = {int(n.split("_")[0]) for n in names}
    assert len(videos) == 184
