"""The dataset check report: counts, classes, lengths, missing joints and skipped files."""

from __future__ import annotations

import numpy as np

from microgesture.data.check import check_dataset
from microgesture.data.clip import Clip, ClipMeta
from microgesture.data.dataset import SkeletonDataset, Skipped
from microgesture.data.native import NativeStore, write_native
from microgesture.data.synthetic import make_mg_dataset


def _handmade() -> SkeletonDataset:
    a = np.ones((1, 4, 17, 2), np.float32)
    a[0, 0, 9] = np.nan  # LeftWrist missing in one frame
    a[0, 1, 9] = np.nan
    a[0, 1, 10] = np.nan  # RightWrist once
    b = np.ones((2, 2, 17, 2), np.float32)
    b[1] = np.nan  # second person never seen: 2 empty person-frames
    c = np.full((1, 3, 17, 2), np.nan, np.float32)  # nothing observed at all
    clips = [
        Clip(a, ClipMeta("a", label=0, subject="s1", layout="coco17")),
        Clip(b, ClipMeta("b", label=2, subject="s2", layout="coco17")),
        Clip(c, ClipMeta("c", label=2, subject="s1", layout="coco17")),
    ]
    return SkeletonDataset("hand", "coco17", clips, ["x", "y", "z"], {"train": ["a", "b"], "test": ["c"]},
                           [Skipped("bad.json", "truncated")])


def test_counts_classes_lengths_and_missing():
    r = check_dataset(_handmade())
    assert r["clips"] == 3 and r["num_classes"] == 3 and r["coordinate_dims"] == 2 and r["num_joints"] == 17
    assert [c["clips"] for c in r["classes"]] == [1, 0, 2] and r["classes"][2]["name"] == "z"
    assert r["frames"] == {"min": 2, "median": 3.0, "mean": 3.0, "max": 4, "total": 9}
    assert r["persons"] == {"1": 2, "2": 1} and r["subjects"] == 2
    assert r["split_subject_overlap"] == {"test&train": 1}
    m = r["missing"]
    rows = 4 + 4 + 3  # person-frames
    assert m["empty_person_frames"] == 2 + 3
    assert m["rate"] == round((3 + 5 * 17) / (rows * 17), 6)
    observed = rows - 5
    assert m["per_joint"]["LeftWrist"] == round(2 / observed, 6)
    assert [j["joint"] for j in m["top_joints"]] == ["LeftWrist", "RightWrist"]
    assert r["empty_clips"] == ["c"] and r["skipped_files"] == [{"path": "bad.json", "reason": "truncated"}]
    problems = " ".join(r["problems"])
    assert "skipped" in problems and "no observed joint" in problems and "no clips" in problems


def test_native_store_report_matches_in_memory(tmp_path):
    ds = make_mg_dataset(seed=4, clips_per_class=3, num_subjects=4, num_frames=(16, 30))
    store = NativeStore(write_native(ds, tmp_path / "s"))
    mem, nat = check_dataset(ds), check_dataset(store.as_dataset())
    assert mem == nat
    assert mem["split_subject_overlap"] == {"test&train": 0}
    assert 0 < mem["missing"]["rate"] < 0.2
    # a selection of the store (non-contiguous rows) is checked through the per-clip path
    sub = store.select([5, 1, 9])
    sub_mem = SkeletonDataset(ds.name, ds.layout, [ds.clips[i] for i in (5, 1, 9)], ds.class_names)
    a, b = check_dataset(SkeletonDataset(ds.name, ds.layout, sub, ds.class_names)), check_dataset(sub_mem)
    assert a == b and a["clips"] == 3


def test_empty_dataset_reports_no_clips():
    r = check_dataset(SkeletonDataset("e", "coco17", [], skipped=[Skipped("x", "unreadable")]))
    assert r["clips"] == 0 and "no clip could be read" in r["problems"]
    assert r["missing"]["rate"] is None and r["frames"]["total"] == 0
