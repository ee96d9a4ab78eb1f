"""Online recognition: windows (data.windows), batched preparation (== prepare_clip), frame scores and event
decoding (models.decoding), window models trained by the training stage and their one checkpoint format."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from microgesture.data.clip import Clip, ClipMeta
from microgesture.data.inputs import InputSpec, prepare_clip
from microgesture.data.synthetic import CLASS_NAMES, make_interview_stream
from microgesture.data.windows import (
    BACKGROUND,
    extract_windows,
    training_windows,
    window_dataset,
    window_starts,
)
from microgesture.errors import CheckpointError, ConfigError, DataError
from microgesture.models.decoding import EVENT_COLUMNS, frame_labels, frame_scores, labels_to_events
from microgesture.training.checkpoint import load_checkpoint
from microgesture.training.windows import (
    OnlineConfig,
    load_window_model,
    recognize_stream,
    train_window_model,
)

TINY = ["model.channels=[32,32]", "trainer.max_epochs=8", "optim.lr=5e-3"]


@pytest.fixture(scope="module")
def streams():
    return [make_interview_stream(seed=s, duration_s=90, classes=[0, 2, 4]) for s in range(2)]


@pytest.fixture(scope="module")
def tiny_model(streams, tmp_path_factory):
    return train_window_model(streams, list(CLASS_NAMES), out=tmp_path_factory.mktemp("window") / "run", window=24,
                              overrides=TINY, label_space="synthetic", progress=False)


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


def test_prepare_windows_equals_prepare_clip_per_window():
    clip, _ = make_interview_stream(seed=3, duration_s=20)
    x = clip.keypoints[0].copy()
    x[40:60, 1] = np.nan  # centre joint missing at the start of some windows
    x[100:130] = np.nan  # the whole person missing
    x[200:230, 2] = np.nan  # a shoulder missing (scale falls back within the window)
    x[200:230, 5] = np.nan
    st = np.array([0, 40, 50, 90, 101, 110, 190, 200, 205])
    w = extract_windows(x, st, 24)
    spec = InputSpec("imigue22", num_frames=24)
    ours = spec.prepare_windows(w)
    assert ours.shape == (len(st), 1, 24, 22, 2)
    for i, a in enumerate(st):
        c = Clip(x[None, a:a + 24], ClipMeta("w", layout="imigue22"))
        ref = prepare_clip(c, num_frames=24, center=True, scale=True)
        np.testing.assert_allclose(ours[i], ref, rtol=1e-5, atol=1e-5, equal_nan=True)
    with pytest.raises(ConfigError, match="single-person spec of 24 frames"):
        InputSpec("imigue22", num_frames=32).prepare_windows(w)


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
    res = recognize_stream(clip, tiny_model, OnlineConfig(stride=4, threshold=0.3))
    assert list(res.events.columns) == EVENT_COLUMNS
    assert len(res.events) >= 1
    overlap = (res.events["start_frame"] < 600) & (res.events["end_frame"] >= 300)
    assert not overlap.any()
    assert (res.events["end"] > res.events["start"]).all()
    assert set(res.events["label_name"]) <= set(tiny_model.class_names[:-1])
    assert all("window model" in e["text"] for e in res.events["evidence"])
    s = res.summary()
    assert s["frames"] == clip.num_frames and s["frames_observed"] == clip.num_frames - 300


def test_recognize_stream_rejects_mismatches(tiny_model):
    clip, _ = make_interview_stream(seed=1, duration_s=10)
    with pytest.raises(DataError, match="layout"):
        recognize_stream(clip.with_(meta=ClipMeta("x", layout="coco17"), keypoints=clip.keypoints[:, :, :17],
                                    scores=None), tiny_model)
    two = clip.with_(keypoints=np.concatenate([clip.keypoints] * 2), scores=None)
    with pytest.raises(DataError, match="one person"):
        recognize_stream(two, tiny_model)


def test_window_checkpoint_is_a_training_checkpoint_with_its_input_spec(tmp_path, tiny_model):
    meta = load_checkpoint(tiny_model.path)["microgesture"]
    assert meta["task"] == "supervised" and meta["data"]["input"]["num_frames"] == 24
    assert meta["data"]["meta"]["window"]["class_labels"][-1] == -1
    back = load_window_model(tiny_model.path)
    assert back.class_names == tiny_model.class_names and back.window == 24 and back.label_space == "synthetic"
    assert back.spec == tiny_model.spec
    x = np.random.default_rng(0).normal(size=(5, 1, 24, 22, 2)).astype(np.float32)
    np.testing.assert_allclose(back.predict_proba(x), tiny_model.predict_proba(x), rtol=1e-5, atol=1e-6)
    (tmp_path / "bad.ckpt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="bad.ckpt"):
        load_window_model(tmp_path / "bad.ckpt")
    torch.save({"kind": "something else"}, tmp_path / "other.ckpt")
    with pytest.raises(CheckpointError, match="not a microgesture checkpoint"):
        load_window_model(tmp_path / "other.ckpt")


def test_a_clip_classifier_is_refused_as_a_window_model(tmp_path):
    """A supervised checkpoint trained on segmented clips has no background class: analyze must refuse it."""
    from microgesture.data.synthetic import make_mg_dataset
    from microgesture.training.config import load_config
    from microgesture.training.run import run

    ds = make_mg_dataset(seed=0, clips_per_class=4, num_frames=(16, 20))
    cfg = load_config("supervised", {"data": {"path": "synthetic", "num_frames": 16, "batch_size": 8,
                                              "val_split": None},
                                     "model": {"name": "tcn", "channels": [8]}, "out": str(tmp_path / "clf"),
                                     "trainer": {"max_epochs": 1, "progress_bar": False, "log_every_n_steps": 1}})
    ckpt = run(cfg, dataset=ds)["checkpoint"]
    with pytest.raises(CheckpointError, match="train-detector"):
        load_window_model(ckpt)


def test_window_dataset_balances_background_and_records_classes(streams):
    ds = window_dataset(streams, list(CLASS_NAMES), window=24, per_event=3, max_background_ratio=1.0)
    labels = ds.labels()
    bg = len(ds.class_names) - 1
    assert ds.class_names[-1] == BACKGROUND and (labels == bg).sum() <= (labels != bg).sum()
    win = ds.meta["window"]
    assert win["class_labels"] == [0, 2, 4, -1] and win["window"] == 24
    assert all(c.num_frames == 24 and c.meta.frame_range[1] - c.meta.frame_range[0] == 23 for c in ds.clips)


def test_training_needs_events(tmp_path):
    clip, ev = make_interview_stream(seed=0, duration_s=20)
    with pytest.raises(ConfigError):
        train_window_model([(clip, ev.iloc[:0])], list(CLASS_NAMES), out=tmp_path / "r", window=24, progress=False)
    with pytest.raises(ConfigError):
        OnlineConfig(smooth="gaussian").validate()


def test_ssl_pretraining_on_unlabelled_stream_windows_then_fine_tuning(tmp_path, streams):
    from microgesture.data.windows import stream_windows
    from microgesture.training.checkpoint import load_encoder
    from microgesture.training.windows import pretrain_on_streams

    clips = [c for c, _ in streams]
    ds = stream_windows(clips, window=24, stride=12)
    assert ds.class_names is None and all(c.meta.label is None for c in ds.clips)
    assert all(c.num_frames == 24 for c in ds.clips) and len(ds) >= 2 * (90 * 25 - 24) // 12
    ckpt = pretrain_on_streams(clips, out=tmp_path / "pre", window=24, stride=12, threads=1, progress=False,
                               overrides=["trainer.max_epochs=1", "model.spatial.channels=[8,8,8]",
                                          "model.temporal.hidden_size=16"])
    assert pretrain_on_streams(clips, out=tmp_path / "pre", window=24) == ckpt  # a finished run is reused
    pretrained, _ = load_encoder(ckpt)
    wm = train_window_model(streams, list(CLASS_NAMES), out=tmp_path / "ft", window=24, init_from=ckpt,
                            overrides=["trainer.max_epochs=1", "optim.lr=1e-9"], progress=False)
    meta = load_checkpoint(wm.path)["microgesture"]
    assert meta["config"]["supervised"]["init_from"] == ckpt
    assert meta["encoder_config"]["name"] == "dual_stream"
    # with a vanishing learning rate the fine-tuned encoder still holds the pretrained weights
    for (k, a), b in zip(pretrained.state_dict().items(), wm.model.encoder.state_dict().values(), strict=True):
        if a.is_floating_point() and "running" not in k and "num_batches" not in k:
            torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)
    with pytest.raises(CheckpointError, match="24-frame windows, not 32"):
        train_window_model(streams, list(CLASS_NAMES), out=tmp_path / "bad", window=32, init_from=ckpt,
                           progress=False)
