"""The synthetic MG set: labelled synthetic, deterministic, subject-disjoint, learnable but not trivial."""

from __future__ import annotations

import numpy as np
import pytest

from microgesture.data.layouts import get_layout
from microgesture.data.synthetic import CLASS_NAMES, IMG_SHAPE, make_interview_stream, make_mg_dataset
from microgesture.errors import ConfigError


@pytest.fixture(scope="module")
def ds():
    return make_mg_dataset(seed=0, clips_per_class=20, num_subjects=10)


def test_shapes_layout_and_synthetic_labels(ds):
    assert ds.name == "synthetic-mg" and ds.layout == "imigue22" and ds.class_names == list(CLASS_NAMES)
    assert len(ds) == 20 * len(CLASS_NAMES) and np.bincount(ds.labels()).tolist() == [20] * len(CLASS_NAMES)
    v = get_layout("imigue22").num_joints
    for c in ds.clips:
        assert c.keypoints.dtype == np.float32 and c.keypoints.shape[::2] == (1, v) and c.keypoints.shape[3] == 2
        assert 40 <= c.num_frames <= 120 and c.scores.shape == c.keypoints.shape[:3]
        assert c.meta.dataset == "synthetic-mg" and c.meta.extra["synthetic"] is True
        assert c.meta.layout == "imigue22" and c.meta.label_name == CLASS_NAMES[c.meta.label]
        assert c.meta.img_shape == IMG_SHAPE and c.meta.fps == 25.0


def test_missing_joints_are_nan_with_zero_score(ds):
    missing = np.concatenate([(~c.valid_mask()).ravel() for c in ds.clips])
    scores = np.concatenate([c.scores.ravel() for c in ds.clips])
    assert 0.001 < missing.mean() < 0.1
    assert (scores[missing] == 0).all() and (scores[~missing] > 0).all()
    kp = np.concatenate([c.keypoints.reshape(-1, 2) for c in ds.clips])
    inside = (kp[:, 0] >= 0) & (kp[:, 0] < IMG_SHAPE[1]) & (kp[:, 1] >= 0) & (kp[:, 1] < IMG_SHAPE[0])
    assert inside[np.isfinite(kp).all(1)].mean() > 0.99


def test_deterministic_and_seed_dependent(ds):
    again = make_mg_dataset(seed=0, clips_per_class=20, num_subjects=10)
    for a, b in zip(ds.clips, again.clips, strict=True):
        np.testing.assert_array_equal(a.keypoints, b.keypoints)
        np.testing.assert_array_equal(a.scores, b.scores)
    other = make_mg_dataset(seed=1, clips_per_class=20, num_subjects=10)
    assert not np.array_equal(ds.clips[0].keypoints[0, :10], other.clips[0].keypoints[0, :10], equal_nan=True)


def test_splits_are_subject_disjoint_and_cover_every_class(ds):
    subj = {c.meta.clip_id: c.meta.subject for c in ds.clips}
    train = {subj[i] for i in ds.splits["train"]}
    test = {subj[i] for i in ds.splits["test"]}
    assert train and test and not train & test
    assert len(ds.splits["train"]) + len(ds.splits["test"]) == len(ds)
    for split in ("train", "test"):
        assert set(ds.subset(split).labels()) == set(range(len(CLASS_NAMES)))


def _features(clip):
    """Pose and motion summaries normalised by the shoulders: enough for a forest, not for a perfect score."""
    lay = get_layout("imigue22")
    k = clip.keypoints[0]
    width = np.nanmedian(np.linalg.norm(k[:, lay.index["ShoulderLeft"]] - k[:, lay.index["ShoulderRight"]], axis=-1))
    k = np.nan_to_num((k - np.nanmedian(k[:, lay.center_index], axis=0)) / width)
    return np.concatenate([k.mean(0).ravel(), k.std(0).ravel(), k.min(0).ravel(), k.max(0).ravel(),
                           np.abs(np.diff(k, axis=0)).mean(0).ravel()])


def test_learnable_but_not_trivial(ds):
    from sklearn.ensemble import RandomForestClassifier

    x = np.stack([_features(c) for c in ds.clips])
    y = ds.labels()
    train = np.isin(ds.clip_ids(), ds.splits["train"])
    clf = RandomForestClassifier(n_estimators=60, random_state=0).fit(x[train], y[train])
    acc = (clf.predict(x[~train]) == y[~train]).mean()
    chance = 1 / len(CLASS_NAMES)
    assert 4 * chance < acc < 1.0, acc


def test_interview_stream_events():
    clip, events = make_interview_stream(seed=3, duration_s=60, fps=25)
    assert clip.keypoints.shape == (1, 1500, 22, 2) and clip.meta.extra["synthetic"] is True
    assert list(events.columns) == ["start_frame", "end_frame", "label", "label_name"]
    assert len(events) == 6
    s, e = events["start_frame"].to_numpy(), events["end_frame"].to_numpy()
    assert (s >= 0).all() and (e < 1500).all() and (s < e).all()
    assert (s[1:] > e[:-1]).all()  # sorted and non-overlapping
    assert events["label_name"].tolist() == [CLASS_NAMES[i] for i in events["label"]]
    # the hands (or, for a shrug, the shoulders) are further from their resting place during events
    joints = get_layout("imigue22").joint_indices(["HandLeft", "HandRight", "ShoulderLeft", "ShoulderRight"])
    pos = clip.keypoints[0][:, joints]
    away = np.nan_to_num(np.linalg.norm(pos - np.nanmedian(pos, axis=0), axis=-1)).max(-1)
    inside = np.zeros(1500, bool)
    for a, b in zip(s, e, strict=True):
        inside[a:b + 1] = True
    assert away[inside].mean() > 2 * away[~inside].mean()
    again, ev2 = make_interview_stream(seed=3, duration_s=60, fps=25)
    np.testing.assert_array_equal(again.keypoints, clip.keypoints)
    assert ev2.equals(events)


def test_bad_arguments():
    with pytest.raises(ConfigError):
        make_mg_dataset(clips_per_class=0)
    with pytest.raises(ConfigError, match="do not fit"):
        make_interview_stream(duration_s=10, events=20)
    with pytest.raises(ConfigError):
        make_interview_stream(classes=[99])
