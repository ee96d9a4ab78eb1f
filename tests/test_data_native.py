"""The native store: exact round trip, lazy memory-mapped reads, atomic writes, corruption detection."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

from microgesture.data.clip import Clip, ClipMeta
from microgesture.data.dataset import SkeletonDataset
from microgesture.data.native import NativeStore, is_native_store, write_native
from microgesture.data.readers import open_dataset
from microgesture.data.synthetic import make_mg_dataset
from microgesture.errors import DataError


@pytest.fixture(scope="module")
def small():
    return make_mg_dataset(seed=1, clips_per_class=3, num_subjects=4, num_frames=(16, 40))


@pytest.fixture
def store_dir(tmp_path, small):
    return write_native(small, tmp_path / "store")


def test_round_trip_is_exact(small, store_dir):
    store = NativeStore(store_dir)
    assert len(store) == len(small) and store.name == small.name and store.layout == "imigue22"
    assert store.class_names == small.class_names and store.splits == small.splits
    for a, b in zip(small.clips, store, strict=True):
        np.testing.assert_array_equal(a.keypoints, b.keypoints)
        np.testing.assert_array_equal(a.scores, b.scores)
        assert a.meta == b.meta
    np.testing.assert_array_equal(store.labels(), small.labels())
    assert list(store.index.columns[:6]) == ["clip_id", "label", "label_name", "subject", "num_frames",
                                             "num_persons"]
    assert store.index["num_frames"].tolist() == [c.num_frames for c in small.clips]
    store.verify()


def test_reads_are_lazy_slices_of_a_memmap(store_dir, small):
    store = NativeStore(store_dir)
    kp, sc, starts, counts = store.rows()
    assert isinstance(kp, np.memmap) and isinstance(sc, np.memmap)
    clip = store[5]
    assert not isinstance(clip.keypoints, np.memmap)
    assert not np.shares_memory(clip.keypoints, kp)  # a private copy of just this clip's rows
    assert clip.keypoints.nbytes == counts[5] * kp.shape[1] * kp.shape[2] * 4 < kp.nbytes / 10
    batch = store[2:6]
    assert [c.meta.clip_id for c in batch] == small.clip_ids()[2:6]
    ds = store.as_dataset()
    assert ds.clips is store  # nothing was loaded to build the dataset
    assert store[-1].meta.clip_id == small.clip_ids()[-1]
    with pytest.raises(IndexError):
        store[len(store)]


def test_select_and_pickle_send_paths_not_arrays(store_dir, small):
    store = NativeStore(store_dir)
    view = store.select([4, 0, 7])
    assert view.clip_ids() == [small.clip_ids()[i] for i in (4, 0, 7)]
    assert view.index["clip_id"].tolist() == view.clip_ids()
    blob = pickle.dumps(view)
    assert len(blob) < 2000  # the path and the selection, not the data
    again = pickle.loads(blob)
    np.testing.assert_array_equal(again[0].keypoints, small.clips[4].keypoints)
    sub = view.as_dataset()
    assert set(sum(sub.splits.values(), [])) == set(view.clip_ids())


def test_fingerprint_is_content_based(tmp_path, small, store_dir):
    again = write_native(small, tmp_path / "again")
    assert NativeStore(again).fingerprint == NativeStore(store_dir).fingerprint
    other = make_mg_dataset(seed=2, clips_per_class=3, num_subjects=4, num_frames=(16, 40))
    assert NativeStore(write_native(other, tmp_path / "other")).fingerprint != NativeStore(store_dir).fingerprint


def test_write_is_atomic_and_respects_overwrite(tmp_path, small, store_dir):
    with pytest.raises(DataError, match="already exists"):
        write_native(small, store_dir)
    write_native(make_mg_dataset(seed=5, clips_per_class=1, num_subjects=2), store_dir, overwrite=True)
    assert len(NativeStore(store_dir)) == 9
    assert sorted(p.name for p in tmp_path.iterdir()) == ["store"]  # no temp dirs left behind
    bad = SkeletonDataset("mixed", "", [small.clips[0], Clip(np.zeros((1, 3, 17, 2), np.float32),
                                                             ClipMeta("x"))])
    with pytest.raises(DataError, match="one layout"):
        write_native(bad, tmp_path / "mixed")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["store"]


def test_clips_with_and_without_scores(tmp_path):
    a = Clip(np.ones((1, 4, 17, 2), np.float32), ClipMeta("a", layout="coco17"), np.ones((1, 4, 17), np.float32))
    b = Clip(np.full((2, 3, 17, 2), 2.0, np.float32), ClipMeta("b", layout="coco17"))
    store = NativeStore(write_native(SkeletonDataset("s", "coco17", [a, b]), tmp_path / "s"))
    assert store[0].scores is not None and store[1].scores is None
    assert store[1].keypoints.shape == (2, 3, 17, 2)


def test_detection_and_open_dataset(store_dir, tmp_path):
    assert is_native_store(store_dir) and not is_native_store(tmp_path)
    ds = open_dataset(store_dir)
    assert isinstance(ds.clips, NativeStore)
    with pytest.raises(DataError, match="not 'coco17'"):
        open_dataset(store_dir, layout="coco17")


def test_truncated_arrays_are_reported_with_the_file(store_dir):
    kp_file = store_dir / "keypoints.npy"
    kp_file.write_bytes(kp_file.read_bytes()[:-1000])
    with pytest.raises(DataError, match=r"keypoints\.npy: .*(truncated|shape)"):
        NativeStore(store_dir)


def test_corrupt_index_and_missing_files(store_dir):
    index = store_dir / "index.json"
    good = index.read_text()
    index.write_text(good[: len(good) // 2])
    with pytest.raises(DataError, match=r"index\.json: is not valid JSON"):
        NativeStore(store_dir)
    doc = json.loads(good)
    doc["clips"]["offset"][1] += 1
    index.write_text(json.dumps(doc))
    with pytest.raises(DataError, match="offsets"):
        NativeStore(store_dir)
    index.write_text(good)
    (store_dir / "scores.npy").unlink()
    with pytest.raises(DataError, match=r"scores\.npy: is missing"):
        NativeStore(store_dir)


def test_modified_arrays_fail_verification(store_dir):
    kp = np.load(store_dir / "keypoints.npy", mmap_mode="r+")
    kp[3, 2, 0] += 1.0
    kp.flush()
    del kp
    store = NativeStore(store_dir)  # opening stays cheap: the hash is checked on request
    with pytest.raises(DataError, match="fingerprint"):
        store.verify()


def test_dataset_helpers_stay_lazy_on_a_store(store_dir, small, monkeypatch):
    store = NativeStore(store_dir)
    ds = store.as_dataset()
    monkeypatch.setattr(NativeStore, "_clip", lambda self, j: pytest.fail("a clip was loaded"))
    assert ds.clip_ids() == small.clip_ids()
    np.testing.assert_array_equal(ds.labels(), small.labels())
    test = ds.subset("test")
    assert isinstance(test.clips, NativeStore) and test.clip_ids() == small.subset("test").clip_ids()
