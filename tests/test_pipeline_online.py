"""Online recognition: windows, normalisation (== prepare_clip), frame scores, event decoding, training, checkpoints."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from microgesture.data.clip import Clip, ClipMeta
from microgesture.data.synthetic import CLASS_NAMES, make_interview_stream
from microgesture.data.transforms import prepare_clip
from microgesture.errors import CheckpointError, ConfigError, DataError
from microgesture.pipeline.online import (
    BACKGROUND,
    EVENT_COLUMNS,
    OnlineConfig,
    TrainConfig,
    WindowModel,
    extract_windows,
    frame_labels,
    frame_scores,
    labels_to_events,
    normalise_windows,
    recognize_stream,
    train_window_classifier,
    training_windows,
    window_starts,
)

TINY = TrainConfig(encoder="tcn", encoder_options={"channels": [32, 32]}, epochs=8, per_event=6, lr=5e-3)


@pytest.fixture(scope="module")
def streams():
    return [make_interview_stream(seed=s, duration_s=90, classes=[0, 2, 4]) for s in range(2)]


@pytest.fixture(scope="module")
def tiny_model(streams):
    return train_window_classifier(streams, list(CLASS_NAMES), window=24, config=TINY, progress=False)


def test_window_starts_cover_every_frame():
    for t, w, s in [(100, 32, 4), (33, 32, 5), (10, 32, 4), (32, 32, 7), (1000, 64, 64)]:
        st = window_starts(t, w, s)
        covered = np.zeros(max(t, w), bool)
        for a in st:
            covered[a:a + w] = True
        assert covered[:t].all()
        assert (st >= 0).all() and (st <= max(t - w, 0)).all()
        assert np.all(np.diff(st) > 0)


def test_extract_windows_matches_slicing_and_pads_short_streams():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 22, 2)).astype(np.float32)
    st = window_starts(50, 16, 5)
    w = extract_windows(x, st, 16)
    assert w.shape == (len(st), 16, 22, 2)
    for i, a in enumerate(st):
        np.testing.assert_array_equal(w[i], x[a:a + 16])
    short = extract_windows(x[:10], np.array([0]), 16)
    assert short.shape == (1, 16, 22, 2) and np.isnan(short[0, 10:]).all()


def test_normalise_windows_equals_prepare_clip_per_window():
    clip, _ = make_interview_stream(seed=3, duration_s=20)
    x = clip.keypoints[0].copy()
    x[40:60, 1] = np.nan  # centre joint missing at the start of some windows
    x[100:130] = np.nan  # the whole person missing
    x[200:230, 2] = np.nan  # a shoulder missing (scale falls back within the window)
    x[200:230, 5] = np.nan
    st = np.array([0, 40, 50, 90, 101, 110, 190, 200, 205])
    w = extract_windows(x, st, 24)
    ours = normalise_windows(w, "imigue22")
    for i, a in enumerate(st):
        c = Clip(x[None, a:a + 24], ClipMeta("w", layout="imigue22"))
        ref = prepare_clip(c, num_frames=24, center=True, scale=True)[0]
        np.testing.assert_allclose(ours[i], ref, rtol=1e-5, atol=1e-5, equal_nan=True)


def test_frame_scores_average_the_covering_windows():
    rng = np.random.default_rng(1)
    t, w = 37, 8
    st = window_starts(t, w, 3)
    probs = rng.dirichlet(np.ones(4), size=len(st)).astype(np.float32)
    fs = frame_scores(probs, st, w, t)
    for f in range(t):
        cov = [i for i, a in enumerate(st) if a <= f < a + w]
        np.testing.assert_allclose(fs[f], probs[cov].mean(0), rtol=1e-5)


def test_event_decoding_threshold_min_duration_and_gap_merge():
    t = 100
    s = np.zeros((t, 3), np.float32)
    s[:, 2] = 1.0  # background (index 2)
    s[10:30] = [0.8, 0.1, 0.1]  # class 0, 20 frames
    s[33:40] = [0.8, 0.1, 0.1]  # class 0 again after a 3-frame gap: merged
    s[50:54] = [0.1, 0.9, 0.0]  # class 1, 4 frames: shorter than min_frames
    s[70:90] = [0.35, 0.3, 0.35]  # weak: below threshold
    lab = frame_labels(s, background=2, threshold=0.4, merge_gap=4)
    ev = labels_to_events(lab, s, min_frames=5)
    assert ev[["start_frame", "end_frame", "class_index"]].values.tolist() == [[10, 39, 0]]
    assert ev["score"].iloc[0] == pytest.approx((27 * 0.8 + 3 * 0.0) / 30)
    lab_nomerge = frame_labels(s, background=2, threshold=0.4, merge_gap=0)
    assert len(labels_to_events(lab_nomerge, s, min_frames=5)) == 2


def test_training_windows_positives_on_events_background_off_events():
    x = np.zeros((500, 22, 2), np.float32)
    ev = pd.DataFrame({"start_frame": [100, 300], "end_frame": [140, 320], "label": [3, 5]})
    st, lab = training_windows(x, ev, 32, per_event=5, rng=np.random.default_rng(0))
    pos, bg = st[lab >= 0], st[lab < 0]
    assert len(pos) == 10 and set(lab[lab >= 0]) == {3, 5}
    busy = np.zeros(500, bool)
    busy[100:141] = busy[300:321] = True
    assert all(not busy[a:a + 32].any() for a in bg) and len(bg) > 5
    assert all(busy[a:a + 32].any() for a in pos)


def test_recognize_stream_finds_events_and_never_on_missing_frames(streams, tiny_model):
    assert tiny_model.class_names[-1] == BACKGROUND and tiny_model.class_labels[-1] == -1
    clip, truth = make_interview_stream(seed=50, duration_s=60, classes=[0, 2, 4])
    kp = clip.keypoints.copy()
    kp[:, 300:600] = np.nan  # the person leaves for 12 s
    clip = clip.with_(keypoints=kp)
    res = recognize_stream(clip, tiny_model, OnlineConfig(window=24, stride=4, threshold=0.3))
    assert list(res.events.columns) == EVENT_COLUMNS
    assert len(res.events) >= 1
    overlap = (res.events["start_frame"] < 600) & (res.events["end_frame"] >= 300)
    assert not overlap.any()
    assert (res.events["end"] > res.events["start"]).all()
    assert set(res.events["label_name"]) <= set(tiny_model.class_names[:-1])
    s = res.summary()
    assert s["frames"] == clip.num_frames and s["frames_observed"] == clip.num_frames - 300


def test_recognize_stream_rejects_mismatches(tiny_model):
    clip, _ = make_interview_stream(seed=1, duration_s=10)
    with pytest.raises(ConfigError, match="24-frame windows"):
        recognize_stream(clip, tiny_model, OnlineConfig(window=32))
    two = clip.with_(keypoints=np.concatenate([clip.keypoints] * 2), scores=None)
    with pytest.raises(DataError, match="one person"):
        recognize_stream(two, tiny_model)


def test_checkpoint_roundtrip_and_bad_checkpoints(tmp_path, tiny_model, streams):
    p = tiny_model.save(tmp_path / "m.pt")
    back = WindowModel.load(p)
    assert back.class_names == tiny_model.class_names and back.window == 24
    x = np.random.default_rng(0).normal(size=(5, 1, 24, 22, 2)).astype(np.float32)
    np.testing.assert_allclose(back.predict_proba(x), tiny_model.predict_proba(x), rtol=1e-5, atol=1e-6)
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="bad.pt"):
        WindowModel.load(tmp_path / "bad.pt")
    import torch

    torch.save({"kind": "something else"}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not an online window classifier"):
        WindowModel.load(tmp_path / "other.pt")


def test_training_needs_events():
    clip, ev = make_interview_stream(seed=0, duration_s=20)
    with pytest.raises(ConfigError):
        train_window_classifier([(clip, ev.iloc[:0])], list(CLASS_NAMES), window=24, config=TINY, progress=False)
    with pytest.raises(ConfigError):
        OnlineConfig(smooth="gaussian").validate()
