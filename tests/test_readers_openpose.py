"""OpenPose JSON folder reader: frame order, gaps, empty/corrupt files, person tracking, and video 298."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from microgesture.data.readers import detect_kind, open_dataset
from microgesture.data.readers.openpose import assign_persons, read_openpose_folder
from microgesture.errors import DataError


def _person(neck: tuple[float, float], rng: np.random.Generator, conf: float = 0.8, spread: float = 100.0,
            face: bool = True) -> dict:
    """A plausible OpenPose person around ``neck`` (all 137 joints detected unless changed later)."""
    def part(n: int) -> list[float]:
        xy = np.asarray(neck) + rng.uniform(-spread, spread, size=(n, 2))
        return np.concatenate([xy, np.full((n, 1), conf)], axis=1).ravel().round(3).tolist()

    body = part(25)
    body[3:6] = [neck[0], neck[1], conf]  # joint 1 = neck
    return {
        "person_id": [-1], "pose_keypoints_2d": body, "face_keypoints_2d": part(70) if face else [],
        "hand_left_keypoints_2d": part(21), "hand_right_keypoints_2d": part(21),
        "pose_keypoints_3d": [], "face_keypoints_3d": [], "hand_left_keypoints_3d": [],
        "hand_right_keypoints_3d": [],
    }


def _write(folder: Path, frame: int, people: list[dict], video: str = "vid") -> Path:
    p = folder / f"{video}_{frame:012d}_keypoints.json"
    p.write_text(json.dumps({"version": 1.3, "people": people}))
    return p


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


def test_frames_in_number_order_with_gaps_and_empty_frames(tmp_path: Path, rng) -> None:
    for f in (0, 1, 2, 5, 6):  # 3 and 4 missing
        _write(tmp_path, f, [_person((300 + f, 200), rng)])
    _write(tmp_path, 7, [])  # empty people
    clip, rep = read_openpose_folder(tmp_path, progress=False)
    assert clip.keypoints.shape == (1, 8, 137, 2) and clip.scores.shape == (1, 8, 137)
    assert clip.meta.layout == "openpose_full" and clip.meta.frame_range == (0, 7)
    assert (rep.files, rep.frames, rep.gap_frames, rep.empty_frames) == (6, 8, 2, 1)
    present = np.isfinite(clip.keypoints[0]).all(-1).any(-1)
    assert present.tolist() == [True, True, True, False, False, True, True, False]
    assert clip.keypoints[0, 5, 1].tolist() == pytest.approx([305, 200])  # neck of frame 5


def test_stream_starting_late_keeps_video_frame_numbers(tmp_path: Path, rng) -> None:
    for f in (10, 11, 12):
        _write(tmp_path, f, [_person((300, 200), rng)])
    clip, rep = read_openpose_folder(tmp_path, progress=False)
    assert clip.num_frames == 3 and clip.meta.frame_range == (10, 12) and rep.first_frame == 10
    assert clip.slice_frames(1, 2).meta.frame_range == (11, 12)


def test_zero_joints_become_nan_and_scores_zero(tmp_path: Path, rng) -> None:
    p = _person((300, 200), rng)
    p["pose_keypoints_2d"][0:3] = [0, 0, 0]  # nose undetected
    p["hand_left_keypoints_2d"][3:6] = [12.0, 13.0, 0.0]  # coordinates but zero confidence
    _write(tmp_path, 0, [p])
    clip, _ = read_openpose_folder(tmp_path, progress=False)
    assert np.isnan(clip.keypoints[0, 0, 0]).all() and clip.scores[0, 0, 0] == 0
    assert np.isnan(clip.keypoints[0, 0, 26]).all()  # left hand joint 1 = layout joint 25 + 1
    assert np.isfinite(clip.keypoints[0, 0, 1]).all()


def test_missing_face_part_is_missing_not_an_error(tmp_path: Path, rng) -> None:
    _write(tmp_path, 0, [_person((300, 200), rng, face=False)])
    clip, _ = read_openpose_folder(tmp_path, progress=False)
    assert np.isnan(clip.keypoints[0, 0, 67:]).all() and np.isfinite(clip.keypoints[0, 0, :67]).all()


@pytest.mark.parametrize("layout,joints", [("openpose_body25", 25), ("openpose_body25_hands", 67),
                                           ("imigue22", 22)])
def test_smaller_and_converted_layouts(tmp_path: Path, rng, layout: str, joints: int) -> None:
    p = _person((300, 200), rng)
    p["pose_keypoints_2d"][30:33] = [0, 0, 0]  # a leg joint missing must not blank the converted joints
    _write(tmp_path, 0, [p])
    clip, _ = read_openpose_folder(tmp_path, progress=False, layout=layout)
    assert clip.meta.layout == layout and clip.num_joints == joints
    if layout == "imigue22":
        assert np.isfinite(clip.keypoints).all()
        assert clip.keypoints[0, 0, 1].tolist() == pytest.approx([300, 200])  # ShoulderCenter = neck


@pytest.mark.parametrize("content,needle", [
    ('{"version":1.3,"people":[{"pose_keypoints_2d":[1,2', "truncated or corrupt"),
    ("", "empty file"),
    ('{"version":1.3}', "no 'people' list"),
    ('{"version":1.3,"people":[{"pose_keypoints_2d":[1,2,3]}]}', "pose_keypoints_2d has 3 values"),
])
def test_bad_file_is_a_nan_frame_reported_by_name(tmp_path: Path, rng, content: str, needle: str) -> None:
    _write(tmp_path, 0, [_person((300, 200), rng)])
    bad = tmp_path / "vid_000000000001_keypoints.json"
    bad.write_text(content)
    _write(tmp_path, 2, [_person((300, 200), rng)])
    clip, rep = read_openpose_folder(tmp_path, progress=False)
    assert clip.num_frames == 3 and np.isnan(clip.keypoints[0, 1]).all()
    assert len(rep.corrupt) == 1 and rep.corrupt[0].path == str(bad) and needle in rep.corrupt[0].reason
    with pytest.raises(DataError) as e:
        read_openpose_folder(tmp_path, progress=False, strict=True)
    assert str(e.value).startswith(str(bad)) and needle in str(e.value)


def test_non_numeric_value_names_the_file(tmp_path: Path, rng) -> None:
    p = _person((300, 200), rng)
    p["pose_keypoints_2d"][4] = "abc"
    bad = _write(tmp_path, 0, [p])
    with pytest.raises(DataError, match="not a number") as e:
        read_openpose_folder(tmp_path, progress=False)
    assert e.value.path == str(bad)


def test_null_values_are_missing(tmp_path: Path, rng) -> None:
    p = _person((300, 200), rng)
    p["pose_keypoints_2d"][0:3] = [None, None, None]
    _write(tmp_path, 0, [p])
    clip, _ = read_openpose_folder(tmp_path, progress=False)
    assert np.isnan(clip.keypoints[0, 0, 0]).all() and clip.scores[0, 0, 0] == 0


def test_empty_folder_and_mixed_videos(tmp_path: Path, rng) -> None:
    with pytest.raises(DataError, match=r"no OpenPose \*_keypoints.json files"):
        read_openpose_folder(tmp_path, progress=False)
    _write(tmp_path, 0, [_person((300, 200), rng)], video="a")
    _write(tmp_path, 0, [_person((300, 200), rng)], video="b")
    with pytest.raises(DataError, match="2 videos"):
        read_openpose_folder(tmp_path, progress=False)
    clip, _ = read_openpose_folder(tmp_path, progress=False, video="b")
    assert clip.meta.clip_id == "b"
    ds = open_dataset(tmp_path, progress=False)  # detected as an OpenPose folder: one stream per video
    assert detect_kind(tmp_path) == "openpose" and ds.clip_ids() == ["a", "b"]


def test_main_person_stays_in_slot_zero_when_a_bystander_appears(tmp_path: Path, rng) -> None:
    """A larger bystander far away must not replace the tracked main person; max_persons=2 keeps both."""
    for f in range(30):
        people = [_person((300 + f, 200), rng)]
        if 10 <= f < 20:  # bystander listed first, bigger and more confident
            people.insert(0, _person((900, 250), rng, conf=0.95, spread=150.0))
        _write(tmp_path, f, people)
    clip, rep = read_openpose_folder(tmp_path, progress=False)
    neck = clip.keypoints[0, :, 1, 0]
    assert np.allclose(neck, 300 + np.arange(30)) and rep.multi_person_frames == 10
    assert rep.dropped_detections == 10
    clip2, rep2 = read_openpose_folder(tmp_path, progress=False, max_persons=2)
    assert clip2.num_persons == 2 and rep2.dropped_detections == 0
    assert np.allclose(clip2.keypoints[0, :, 1, 0], 300 + np.arange(30))
    assert np.allclose(clip2.keypoints[1, 10:20, 1, 0], 900) and np.isnan(clip2.keypoints[1, :10]).all()


def test_assign_persons_prefers_the_dominant_person() -> None:
    """With two people in every frame, the one that is larger and more confident becomes slot 0."""
    t = 20
    xy = np.zeros((2 * t, 25, 2), np.float32)
    conf = np.full((2 * t, 25), 0.9, np.float32)
    base = np.random.default_rng(1).uniform(-1, 1, (25, 2))
    xy[0::2] = np.array([100, 100]) + 10 * base  # small person
    xy[1::2] = np.array([500, 300]) + 200 * base  # large person
    conf[0::2] = 0.5
    frames = np.repeat(np.arange(t), 2)
    kp, sc, dropped = assign_persons(xy, conf, frames, t, 1)
    assert kp.shape == (1, t, 25, 2) and dropped == t
    assert np.allclose(kp[0, :, 1], xy[1::2, 1])


@pytest.mark.real_data
@pytest.mark.slow
def test_video_298_golden(video298_dir: Path) -> None:
    clip, rep = read_openpose_folder(video298_dir, progress=False)
    assert clip.keypoints.shape == (1, 21068, 137, 2) and clip.keypoints.dtype == np.float32
    assert (rep.files, rep.first_frame, rep.last_frame, rep.gap_frames) == (21068, 0, 21067, 0)
    assert rep.empty_frames == 175 and rep.multi_person_frames == 10 and not rep.corrupt
    observed = np.isfinite(clip.keypoints[0, :, 1]).all(-1)  # the neck
    assert observed.mean() > 0.95
    empty = np.isnan(clip.keypoints[0]).all(axis=(1, 2))
    assert int(empty.sum()) == 175
