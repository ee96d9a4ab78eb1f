"""PYSKL annotation pickles: layout inference, zeros <-> NaN, validation of every annotation, round trip."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from microgesture.data.pyskl import infer_layout, read_pyskl, write_pyskl
from microgesture.data.readers import open_dataset
from microgesture.data.synthetic import make_mg_dataset
from microgesture.errors import ConfigError, DataError, UnsafePickleError


def _coco_ann(cid: str, label: int, t: int = 6, m: int = 1, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    kp = rng.uniform(10, 100, (m, t, 17, 2)).astype(np.float32)
    sc = rng.uniform(0.3, 1.0, (m, t, 17)).astype(np.float32)
    kp[0, 2, 5] = 0.0  # undetected joint: zeros and score 0
    sc[0, 2, 5] = 0.0
    sc[0, 3, 7] = 0.0  # detected coordinates but zero confidence -> also missing
    return {"frame_dir": cid, "label": label, "keypoint": kp, "keypoint_score": sc, "total_frames": t,
            "img_shape": (480, 640), "original_shape": (480, 640)}


def _dump(path, obj):
    path.write_bytes(pickle.dumps(obj, protocol=4))
    return path


def test_reads_2d_coco_with_missing_joints_and_splits(tmp_path):
    anns = [_coco_ann("a", 0), _coco_ann("b", 2, seed=1), _coco_ann("c", 1, m=2, seed=2)]
    path = _dump(tmp_path / "coco.pkl", {"split": {"train": ["a", "b"], "val": ["c"]}, "annotations": anns})
    ds = read_pyskl(path)
    assert ds.layout == "coco17" and ds.name == "coco" and len(ds) == 3 and ds.skipped == []
    assert ds.splits == {"train": ["a", "b"], "val": ["c"]}
    a = ds.clips[0]
    assert a.keypoints.dtype == np.float32 and a.keypoints.shape == (1, 6, 17, 2)
    assert np.isnan(a.keypoints[0, 2, 5]).all() and np.isnan(a.keypoints[0, 3, 7]).all()
    assert np.isfinite(a.keypoints).all(axis=-1).sum() == 6 * 17 - 2
    assert a.meta.img_shape == (480, 640) and a.meta.label == 0 and a.meta.frame_range == (0, 5)
    np.testing.assert_array_equal(a.scores, anns[0]["keypoint_score"])
    assert ds.clips[2].num_persons == 2


def test_reads_ntu_style_float16_3d_with_filename_key(tmp_path):
    kp = np.random.default_rng(0).normal(0, 1, (2, 5, 25, 3)).astype(np.float16)
    kp[1] = 0  # padded second body
    anns = [{"filename": "S001C002P003R001A010", "label": 9, "keypoint": kp, "total_frames": 5}]
    ds = read_pyskl(_dump(tmp_path / "ntu.pkl", {"split": {"xsub_train": ["S001C002P003R001A010"]},
                                                 "annotations": anns}))
    clip = ds.clips[0]
    assert ds.layout == "ntu25" and clip.keypoints.dtype == np.float32 and clip.scores is None
    np.testing.assert_array_equal(clip.keypoints[0], kp[0].astype(np.float32))
    assert np.isnan(clip.keypoints[1]).all()
    assert clip.meta.subject == "P003" and clip.meta.extra["camera"] == 2


def test_layout_inference():
    assert infer_layout(17, 2) == "coco17"
    assert infer_layout(25, 3) == "ntu25"
    assert infer_layout(22, 2) == "imigue22"
    with pytest.raises(ConfigError, match="--layout"):
        infer_layout(25, 2)  # OpenPose BODY_25 or 2-D NTU: the user must say
    with pytest.raises(ConfigError, match="no known layout"):
        infer_layout(18, 2)


def test_ambiguous_joint_count_needs_layout(tmp_path):
    ann = {"frame_dir": "x", "label": 0, "keypoint": np.ones((1, 4, 25, 2), np.float32), "total_frames": 4}
    path = _dump(tmp_path / "amb.pkl", {"annotations": [ann]})
    with pytest.raises(ConfigError, match="--layout"):
        read_pyskl(path)
    assert read_pyskl(path, layout="openpose_body25").layout == "openpose_body25"


@pytest.mark.parametrize("mutate, reason", [
    (lambda a: a.update(keypoint=np.ones((1, 6, 18, 2), np.float32)), "has 18 joints but layout 'coco17' has 17"),
    (lambda a: a.update(total_frames=7), "total_frames=7"),
    (lambda a: a.update(label="three"), "not a non-negative integer"),
    (lambda a: a.pop("keypoint"), "no 'keypoint' array"),
    (lambda a: a.update(keypoint_score=np.ones((1, 6, 16), np.float32)), "'keypoint_score' has shape"),
    (lambda a: a.update(keypoint=np.full((1, 6, 17, 2), np.inf, np.float32)), "infinite"),
    (lambda a: a.pop("frame_dir"), "no 'frame_dir'"),
    (lambda a: a.update(img_shape="big"), "img_shape"),
])
def test_bad_annotation_is_skipped_with_reason_or_raises_when_strict(tmp_path, mutate, reason):
    bad = _coco_ann("bad", 1, seed=3)
    mutate(bad)
    path = _dump(tmp_path / "mixed.pkl", {"split": {"train": ["good", "bad"]},
                                          "annotations": [_coco_ann("good", 0), bad]})
    ds = read_pyskl(path, layout="coco17")
    assert ds.clip_ids() == ["good"]
    assert any(reason in s.reason for s in ds.skipped), ds.skipped
    assert ds.skipped[0].path.startswith(f"{path}:annotations[1]")
    assert ds.splits["train"] == ["good"]  # the split no longer names a clip that is not there
    with pytest.raises(DataError, match="annotations\\[1\\]"):
        read_pyskl(path, layout="coco17", strict=True)


def test_not_a_pyskl_file_and_unsafe_pickles(tmp_path):
    with pytest.raises(DataError, match="not a PYSKL annotation file"):
        read_pyskl(_dump(tmp_path / "ints.pkl", [1, 2, 3]))
    with pytest.raises(DataError, match="empty 'annotations'"):
        read_pyskl(_dump(tmp_path / "empty.pkl", {"annotations": []}))

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {tmp_path / 'ran'}",))

    with pytest.raises(UnsafePickleError):
        read_pyskl(_dump(tmp_path / "evil.pkl", {"annotations": [Evil()]}))
    assert not (tmp_path / "ran").exists()
    good = pickle.dumps({"annotations": [_coco_ann("a", 0)]})
    (tmp_path / "cut.pkl").write_bytes(good[: len(good) // 2])
    with pytest.raises(DataError, match="truncated or corrupt"):
        read_pyskl(tmp_path / "cut.pkl")


def test_round_trip_keeps_numbers_and_missing_joints(tmp_path):
    ds = make_mg_dataset(seed=3, clips_per_class=2, num_subjects=3, num_frames=(20, 30))
    assert any(np.isnan(c.keypoints).any() for c in ds.clips)
    path = write_pyskl(ds, tmp_path / "syn.pkl")
    raw = pickle.loads(path.read_bytes())  # our own file: plain pickle is fine here
    ann = raw["annotations"][0]
    assert ann["keypoint"].dtype == np.float32 and not np.isnan(ann["keypoint"]).any()
    back = open_dataset(path)  # sniffed as pyskl
    assert back.layout == "imigue22" and back.class_names == ds.class_names and back.splits == ds.splits
    for a, b in zip(ds.clips, back.clips, strict=True):
        np.testing.assert_array_equal(a.keypoints, b.keypoints)  # NaN in the same places
        np.testing.assert_array_equal(a.scores, b.scores)
        assert (a.meta.clip_id, a.meta.label, a.meta.subject, a.meta.img_shape) == \
               (b.meta.clip_id, b.meta.label, b.meta.subject, b.meta.img_shape)


def test_write_refuses_empty_dataset(tmp_path):
    from microgesture.data.dataset import SkeletonDataset

    with pytest.raises(DataError, match="no clips"):
        write_pyskl(SkeletonDataset("e", "coco17", []), tmp_path / "e.pkl")
