"""Video → skeletons with MediaPipe Holistic on a real photograph; bad videos fail with clear messages."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from conftest import require_module

require_module("av")
require_module("mediapipe")
require_module("skimage")

from microgesture.data.convert import convert_clip  # noqa: E402
from microgesture.errors import ConfigError, DataError  # noqa: E402
from microgesture.data.sample_video import write_blank_video, write_person_video, write_video  # noqa: E402
from microgesture.data.readers.video import extract_video, landmarks_to_clip  # noqa: E402


@pytest.fixture(scope="module")
def person_video(tmp_path_factory):
    return write_person_video(tmp_path_factory.mktemp("vid") / "person.mp4", num_frames=30, width=640, height=360)


def test_person_video_gives_a_pixel_skeleton_stream(person_video):
    clip, stats = extract_video(person_video, progress=False)
    assert clip.meta.layout == "mediapipe_holistic" and clip.keypoints.shape == (1, 30, 75, 2)
    assert stats.width == 640 and stats.height == 360 and stats.fps == pytest.approx(25.0)
    assert stats.frames_decoded == 30 and stats.frames_with_person >= 27
    assert clip.meta.fps == pytest.approx(25.0) and clip.meta.img_shape == (360, 640)
    c = convert_clip(clip, "imigue22")
    body = c.keypoints[0, :, :12]  # nose, shoulders, elbows, wrists, eyes, ears
    seen = np.isfinite(body).all(-1)
    assert seen[:, [0, 1, 2, 5, 8, 9]].mean() > 0.9  # the head and shoulders of the portrait are found
    xy = body[seen]
    assert (xy[:, 0] >= -50).all() and (xy[:, 0] <= 690).all() and (xy[:, 1] >= -50).all()
    nose, shoulders = c.keypoints[0, :, 0, 1], c.keypoints[0, :, 1, 1]
    assert np.nanmedian(nose) < np.nanmedian(shoulders)  # the nose is above the shoulders (y grows down)
    assert c.scores is not None and np.nanmax(c.scores[0, :, 0]) > 0.9


def test_stride_and_max_frames(person_video):
    clip, stats = extract_video(person_video, stride=3, max_frames=5, progress=False)
    assert clip.num_frames == 5 and stats.frames_processed == 5 and stats.stride == 3
    assert clip.meta.fps == pytest.approx(25.0 / 3)


def test_keep_z_adds_a_channel():
    raw = np.random.default_rng(0).uniform(0, 1, size=(4, 75, 4)).astype(np.float32)
    raw[:, 33:54] = np.nan  # no left hand
    clip = landmarks_to_clip(raw, 100, 50, fps=25, clip_id="x", source="x", keep_z=True, min_visibility=0.0)
    assert clip.keypoints.shape == (1, 4, 75, 3)
    np.testing.assert_allclose(clip.keypoints[0, :, 0, 0], raw[:, 0, 0] * 100, rtol=1e-6)
    np.testing.assert_allclose(clip.keypoints[0, :, 0, 1], raw[:, 0, 1] * 50, rtol=1e-6)
    assert np.isnan(clip.keypoints[0, :, 33:54]).all() and (clip.scores[0, :, 33:54] == 0).all()
    assert (clip.scores[0, :, 54:] == 1.0).all()


def test_video_without_a_person_is_all_missing_with_a_warning(tmp_path):
    path = write_blank_video(tmp_path / "noise.mp4", num_frames=10)
    clip, stats = extract_video(path, progress=False)
    assert np.isnan(clip.keypoints).all() and stats.frames_with_person == 0
    assert any("no person" in w for w in stats.warnings)


def test_corrupt_and_missing_videos_raise_data_errors(tmp_path):
    bad = tmp_path / "corrupt.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 20)
    with pytest.raises(DataError, match="corrupt.mp4"):
        extract_video(bad, progress=False)
    with pytest.raises(DataError, match="does not exist"):
        extract_video(tmp_path / "nope.mp4", progress=False)


def test_truncated_video_keeps_what_decodes_or_fails_clearly(tmp_path, person_video):
    data = person_video.read_bytes()
    cut = tmp_path / "truncated.mp4"
    cut.write_bytes(data[: len(data) // 2])
    try:
        clip, stats = extract_video(cut, progress=False)
    except DataError as e:  # the moov atom may be at the end: then nothing at all can be read
        assert "truncated.mp4" in str(e)
    else:
        assert 0 < clip.num_frames <= 30


def test_mpeg4_codec_roundtrip(tmp_path):
    frames = np.full((5, 64, 64, 3), 128, np.uint8)
    p = write_video(tmp_path / "m.mp4", frames, codec="mpeg4")
    clip, stats = extract_video(p, progress=False)
    assert stats.codec == "mpeg4" and clip.num_frames == 5


def test_missing_mediapipe_says_which_extra_to_install(monkeypatch, person_video):
    monkeypatch.setitem(sys.modules, "mediapipe", None)
    with pytest.raises(ConfigError, match=r"microgesture\[pose\]"):
        extract_video(person_video, progress=False)
