"""Bring-your-own-data importer: per-clip .npy/.csv files plus labels.csv."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from microgesture.data.layouts import get_layout
from microgesture.data.readers import open_dataset
from microgesture.data.readers.generic import read_generic
from microgesture.errors import ConfigError, DataError

V = 17  # coco17


def _kp(t: int, m: int | None = None, seed: int = 0) -> np.ndarray:
    shape = (t, V, 2) if m is None else (m, t, V, 2)
    return np.random.default_rng(seed).uniform(0, 100, shape).astype(np.float32)


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "mydata"
    (root / "clips").mkdir(parents=True)
    a = _kp(5)
    a[2, 3] = np.nan  # a missing joint
    np.save(root / "clips" / "a.npy", a)
    np.save(root / "clips" / "b.npy", _kp(4, m=2, seed=1))
    # wide CSV: x0,y0,...,x16,y16 plus scores, one row per frame
    wide = _kp(3, seed=2)
    cols = {f"{ax}{j}": wide[:, j, k] for j in range(V) for k, ax in enumerate("xy")}
    cols.update({f"s{j}": np.full(3, 0.5) for j in range(V)})
    import pandas as pd

    pd.DataFrame(cols).to_csv(root / "c.csv", index=False)
    # long CSV with joint names; LeftWrist never observed in frame 1
    lay = get_layout("coco17")
    rows = [(f, name, 10.0 + f, 20.0 + j, 0.9) for f in range(3) for j, name in enumerate(lay.joints)
            if not (f == 1 and name == "LeftWrist")]
    pd.DataFrame(rows, columns=["frame", "joint", "x", "y", "score"]).to_csv(root / "d.csv", index=False)
    (root / "labels.csv").write_text(
        "clip_id,label,subject,split\n"
        "a,wave,s1,train\nb,nod,s2,train\nc,wave,s3,test\nd,nod,s3,test\n")
    return root


def test_reads_npy_and_both_csv_shapes(folder):
    ds = open_dataset(folder, layout="coco17")  # sniffed as generic
    assert ds.skipped == [] and ds.clip_ids() == ["a", "b", "c", "d"]
    assert ds.class_names == ["nod", "wave"] and ds.labels().tolist() == [1, 0, 1, 0]
    assert ds.splits == {"train": ["a", "b"], "test": ["c", "d"]}
    a, b, c, d = ds.clips
    assert a.keypoints.shape == (1, 5, V, 2) and np.isnan(a.keypoints[0, 2, 3]).all()
    assert np.isfinite(a.keypoints).all(axis=-1).sum() == 5 * V - 1
    assert b.keypoints.shape == (2, 4, V, 2) and a.meta.subject == "s1" and a.meta.label_name == "wave"
    assert c.keypoints.shape == (1, 3, V, 2) and np.allclose(c.scores, 0.5)
    assert d.keypoints.shape == (1, 3, V, 2)
    lw = get_layout("coco17").index["LeftWrist"]
    assert np.isnan(d.keypoints[0, 1, lw]).all() and d.scores[0, 1, lw] == 0
    assert d.keypoints[0, 2, 4, 1] == 24.0


def test_layout_is_required_and_checked(folder):
    with pytest.raises(ConfigError, match="--layout"):
        read_generic(folder)
    ds = read_generic(folder, layout="openpose_body25")  # 25 joints: the arrays have the wrong count
    assert sorted(s.path.rsplit("/", 1)[-1] for s in ds.skipped) == ["a.npy", "b.npy", "c.csv"]
    assert all("has 17 joints but layout 'openpose_body25' has 25" in s.reason for s in ds.skipped)
    # the long CSV names its joints, so it maps onto BODY_25 by name; joints it never names are missing
    (d,) = ds.clips
    assert d.keypoints.shape == (1, 3, 25, 2)
    assert np.isnan(d.keypoints[0, :, get_layout("openpose_body25").index["MidHip"]]).all()


def test_bad_files_are_reported_not_fatal(folder):
    (folder / "clips" / "e.npy").write_bytes(pickle.dumps({"not": "an array"}))
    np.save(folder / "f.npy", np.array([object()], dtype=object), allow_pickle=True)
    np.save(folder / "g.npy", np.full((4, V, 2), np.nan, np.float32))
    np.save(folder / "h.npy", _kp(3)[..., :1])  # one coordinate
    np.save(folder / "stray.npy", _kp(3))
    (folder / "labels.csv").write_text(
        (folder / "labels.csv").read_text() + "e,nod,,\nf,nod,,\ng,nod,,\nh,nod,,\nmissing,nod,,\n")
    ds = read_generic(folder, layout="coco17")
    assert ds.clip_ids() == ["a", "b", "c", "d"]
    reasons = {s.path.rsplit("/", 1)[-1]: s.reason for s in ds.skipped}
    assert "truncated or corrupt" in reasons["e.npy"] or "not a plain numeric" in reasons["e.npy"]
    assert "pickled objects are refused" in reasons["f.npy"]
    assert "all NaN" in reasons["g.npy"]
    assert "expected [T, V, C]" in reasons["h.npy"]
    assert "not listed in labels.csv" in reasons["stray.npy"]
    assert "no missing.npy or missing.csv" in reasons["labels.csv:missing"]
    with pytest.raises(DataError):
        read_generic(folder, layout="coco17", strict=True)


def test_bad_labels_tables(tmp_path):
    root = tmp_path / "d"
    root.mkdir()
    np.save(root / "a.npy", _kp(3))
    (root / "labels.csv").write_text("clip,class\na,1\n")
    with pytest.raises(DataError, match="lacks column"):
        read_generic(root, layout="coco17")
    (root / "labels.csv").write_text("clip_id,label\na,1\na,2\n")
    with pytest.raises(DataError, match="more than once"):
        read_generic(root, layout="coco17")
    (root / "labels.csv").write_text("clip_id,label\na,1\nb,wave\n")
    with pytest.raises(DataError, match="mixes integer labels"):
        read_generic(root, layout="coco17")
    (root / "labels.csv").write_text("clip_id,label\na,3\n")
    ds = read_generic(root, layout="coco17")
    assert ds.labels().tolist() == [3] and ds.class_names is None
