"""Kinematic MG detectors on constructed skeletons (one gesture, one near miss, one stream lacking the joints
per class), the thresholds YAML, and real recordings (raga: seated performers, OpenPose BODY_25).

The constructed streams start from a neutral seated pose in the real ``openpose_full`` layout (BODY_25 + 2×21
hand points + 70 face points, image pixels, y down, shoulder width 200 px), add 0.3 px of keypoint noise, and
blend into a gesture pose for frames 100-175 (25 fps, 10 s): the detectors must find the gesture there, must
stay silent for the near miss, and must say "cannot tell" (never an event) when the joints are absent.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from _kinematic_poses import (
    ELBOWS,
    G0,
    G1,
    HEAD,
    HIPS,
    LAYOUT,
    LHAND,
    RHAND,
    T,
    _hand,
    events_of,
    head_pitch,
    overlaps_gesture,
    shake,
    shift,
    stream,
    wave,
)
from conftest import skip_or_fail
from microgesture.data.clip import Clip, ClipMeta
from microgesture.data.mg_classes import MG_CLASS_NAMES, MG_INDEX
from microgesture.data.readers.openpose import read_openpose_folder
from microgesture.errors import ConfigError, DataError
from microgesture.models.kinematic import detect_events, load_detector_config
from microgesture.models.kinematic.events import decode, hysteresis
from microgesture.models.kinematic.signals import fill_gaps

# class -> (gesture target, gesture extra motion), (near-miss target, extra), joints to remove for "cannot tell"
CASES = {
    "touch face": (({**_hand("Right", (470, 300), (0.3, -1))}, None),
                   ({**_hand("Right", (399, 300), (0, -1))}, None), HEAD),
    "touch head": (({**_hand("Right", (430, 170), (70, -40))}, None),
                   ({**_hand("Right", (500, 60), (0, -1))}, None), HEAD),
    "touch ear": (({**_hand("Right", (445, 300), (0, -1))}, None),
                  ({**_hand("Right", (385, 300), (0, -1))}, None),
                  ("RightEar", "LeftEar") + tuple(n for n in LAYOUT.joints if n.startswith("Face"))),
    "touch neck": (({**_hand("Right", (430, 290), (1, 0))}, None),
                   ({**_hand("Right", (430, 400), (1, 0))}, None), HEAD),
    "touch chest": (({**_hand("Right", (430, 400), (1, 0))}, None),
                    ({**_hand("Right", (430, 470), (1, 0))}, None), ELBOWS),
    "hands together": (({**_hand("Right", (470, 400), (1, -0.3)), **_hand("Left", (530, 400), (-1, -0.3))}, None),
                       ({**_hand("Right", (470, 560), (1, 0.3)), **_hand("Left", (530, 560), (-1, 0.3))}, None),
                       LHAND),
    "fold arms": (({**_hand("Right", (600, 430), (1, 0.2)), **_hand("Left", (400, 440), (-1, 0.2))}, None),
                  ({**_hand("Right", (490, 430), (0.3, 1)), **_hand("Left", (510, 430), (-0.3, 1))}, None), ELBOWS),
    "touch arm": (({**_hand("Right", (540, 390), (1, -0.25))}, None),
                  ({**_hand("Right", (470, 390), (1, -0.25))}, None), ELBOWS),
    "arms akimbo": (({**_hand("Right", (440, 520), (0.3, 1)), **_hand("Left", (560, 520), (-0.3, 1)),
                      "RightElbow": (320, 430), "LeftElbow": (680, 430)}, None),
                    ({**_hand("Right", (455, 575), (0.3, 1)), **_hand("Left", (545, 575), (-0.3, 1))}, None), HIPS),
    "arms behind": (({}, None), ({"RightElbow": (250, 450)}, None), ELBOWS),
    "shake shoulders": (({}, shake(4.0)), ({}, shake(0.7)), ("RightShoulder", "LeftShoulder")),
    "move torso": (({}, shift(60.0)), ({}, shift(6.0)), ("RightShoulder", "LeftShoulder")),
    "head up": (({}, head_pitch(0.35)), ({}, head_pitch(0.08)), ("Nose", "FaceNoseTip")),
    "illustrative": (({**_hand("Right", (300, 420), (-0.3, -1))}, wave),
                     ({**_hand("Right", (430, 555), (0.1, 1))}, None), RHAND + LHAND),
}
assert set(CASES) == set(MG_CLASS_NAMES)


def case_stream(name: str, which: int, drop: tuple[str, ...] = ()) -> Clip:
    target, extra = CASES[name][which]
    during = RHAND if name == "arms behind" and which in (0, 1) else ()
    return stream(target, extra=extra, drop=drop, drop_during=during)


@pytest.mark.parametrize("name", MG_CLASS_NAMES)
def test_gesture_fires(name):
    res = detect_events(case_stream(name, 0))
    assert name not in res.cannot_tell, res.cannot_tell.get(name)
    ev = events_of(res, name)
    assert overlaps_gesture(ev), f"{name}: no event over frames {G0}-{G1}; got {res.events[['start_frame', 'end_frame', 'label_name']].to_dict('records')}"
    e = ev.iloc[0]
    assert e["label"] == MG_INDEX[name] and 0 <= e["score"] <= 1
    assert {"joints", "measure", "value", "unit", "threshold", "duration_s", "text"} <= set(e["evidence"])
    assert e["evidence"]["joints"] and e["evidence"]["text"].endswith(" s")
    assert res.frame_scores.shape == (T, len(MG_CLASS_NAMES)) and res.frame_scores.dtype == np.float32
    k = MG_INDEX[name]
    assert res.frame_scores[G0 + 20:G1 - 20, k].max() > res.frame_scores[:G0 - 20, k].max()


@pytest.mark.parametrize("name", MG_CLASS_NAMES)
def test_near_miss_is_silent(name):
    res = detect_events(case_stream(name, 1))
    assert not len(events_of(res, name)), events_of(res, name)[["start_frame", "end_frame"]].to_dict("records")


@pytest.mark.parametrize("name", MG_CLASS_NAMES)
def test_missing_joints_cannot_tell(name):
    res = detect_events(case_stream(name, 0, drop=CASES[name][2]))
    assert name in res.cannot_tell and res.cannot_tell[name]
    assert not len(events_of(res, name))
    assert not res.frame_scores[:, MG_INDEX[name]].any()


def test_layouts_without_the_joints_cannot_tell():
    """Kinect v1 has no ears and no nose; iMiGUE-22 has no hips; BODY_25 alone still tells the body classes."""
    res = detect_events(stream(CASES["arms akimbo"][0][0], layout="imigue22"))
    assert "arms akimbo" in res.cannot_tell and not len(events_of(res, "arms akimbo"))
    assert "touch face" not in res.cannot_tell  # wrists + fingertips + nose/eyes are there
    res = detect_events(stream(CASES["touch face"][0][0], layout="openpose_body25"))
    assert overlaps_gesture(events_of(res, "touch face"))  # the wrist alone reaches the face
    assert "arms akimbo" not in res.cannot_tell
    kin = Clip(np.random.default_rng(0).normal(0, 1, (1, 50, 20, 3)).astype(np.float32) + np.array(
        [[0, -0.3, 2]], np.float32), ClipMeta("k", layout="kinect_v1", fps=30.0))
    res = detect_events(kin)
    assert {"touch ear", "head up"} <= set(res.cannot_tell)


def test_needed_joints_missing_in_the_gesture_frames_give_no_event():
    res = detect_events(stream(CASES["touch face"][0][0], drop_during=RHAND))
    assert "touch face" not in res.cannot_tell and not len(events_of(res, "touch face"))
    fold = CASES["fold arms"][0][0]
    res = detect_events(stream(fold, drop_during=("RightElbow", "LeftElbow")))
    assert not len(events_of(res, "fold arms"))


def test_event_frames_are_source_frames_and_result_serialises():
    import json

    res = detect_events(case_stream("touch face", 0))
    ev = events_of(res, "touch face").iloc[0]
    assert 1000 + G0 - 15 <= ev["start_frame"] <= 1000 + G0 + 15
    d = res.to_dict()
    json.dumps(d)
    assert d["frame_offset"] == 1000 and d["events"][0]["start_s"] >= 0 and d["counts"]["touch face"] >= 1


def test_bad_input_is_a_clear_error():
    clip = stream()
    with pytest.raises(DataError, match="one person"):
        detect_events(clip.with_(keypoints=np.concatenate([clip.keypoints] * 2)))
    with pytest.raises(DataError, match="layout"):
        detect_events(Clip(clip.keypoints, ClipMeta("x")))
    res = detect_events(Clip(np.full((1, 30, LAYOUT.num_joints, 2), np.nan, np.float32),
                             ClipMeta("empty", layout="openpose_full")))
    assert set(res.cannot_tell) == set(MG_CLASS_NAMES) and not len(res.events)
    assert any("assumed" in n for n in detect_events(Clip(clip.keypoints, ClipMeta(
        "nofps", layout="openpose_full"))).notes)


def test_whole_stream_speed_is_vectorised():
    """A 21k-frame stream (video 298's length) runs in seconds (the body frame and the detectors are vectorised)."""
    import time

    clip = stream()
    long = clip.with_(keypoints=np.tile(clip.keypoints, (1, 84, 1, 1)))  # 21,000 frames
    t0 = time.perf_counter()
    res = detect_events(long)
    assert time.perf_counter() - t0 < 30  # generous: shared CI cores; the benchmark reports the real figure
    assert res.frame_scores.shape[0] == 21000


# ---------------------------------------------------------------------------------------------------------
# Signals and decoding

def test_hysteresis_spans_the_weak_part_and_gaps():
    v = np.array([0, 1, 2, 3, 2, 1, 0, 2, 1, 0, 4, np.nan, 4], float)
    assert hysteresis(v, 3, 1).astype(int).tolist() == [0, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 0, 1]
    r = decode(v, enter=3, exit=1, higher=True, fps=1.0, min_duration_s=0, merge_gap_s=1)
    assert r.tolist() == [[1, 5], [10, 12]]
    assert decode(v, enter=3, exit=1, higher=True, fps=1.0, min_duration_s=4, merge_gap_s=0).tolist() == [[1, 5]]


def test_fill_gaps_bridges_only_short_gaps():
    x = np.array([np.nan, 1, np.nan, 3, np.nan, np.nan, np.nan, 7, np.nan], np.float32)
    assert np.allclose(fill_gaps(x, 1), [np.nan, 1, 2, 3, np.nan, np.nan, np.nan, 7, np.nan], equal_nan=True)
    assert np.allclose(fill_gaps(x, 3), [np.nan, 1, 2, 3, 4, 5, 6, 7, np.nan], equal_nan=True)


# ---------------------------------------------------------------------------------------------------------
# Thresholds YAML

def test_packaged_thresholds_are_documented_and_ship():
    from importlib import resources

    text = resources.files("microgesture.models.kinematic").joinpath("thresholds.yaml").read_text()
    cfg = load_detector_config(None)
    for sec, keys in cfg.to_dict().items():
        assert f"\n{sec}:" in "\n" + text
        for k in keys:
            line = next(ln for ln in text.splitlines() if ln.strip().startswith(f"{k}:"))
            assert "#" in line, f"{sec}.{k} has no comment (unit/meaning)"
    for n in MG_CLASS_NAMES:
        assert cfg.get(n.replace(" ", "_") + ".enabled") is True
    import tomllib

    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    assert "**/*.yaml" in pyproject["tool"]["setuptools"]["package-data"]["microgesture"]


def test_yaml_override_key_by_key(tmp_path):
    f = tmp_path / "mine.yaml"
    f.write_text("touch_face:\n  min_duration_s: 5.0\n")
    cfg = load_detector_config(f)
    assert cfg.touch_face.min_duration_s == 5.0 and cfg.touch_face.enter == load_detector_config(None).touch_face.enter
    assert cfg.overrides() == {"touch_face": {"min_duration_s": 5.0}}
    clip = case_stream("touch face", 0)
    assert overlaps_gesture(events_of(detect_events(clip), "touch face"))
    assert not len(events_of(detect_events(clip, cfg), "touch face"))  # the changed key takes effect
    off = detect_events(clip, {"touch_face": {"enabled": False}})
    assert "switched off" in off.cannot_tell["touch face"] and not len(events_of(off, "touch face"))


def test_yaml_unknown_or_mistyped_key_is_an_error_naming_it(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text("touch_face:\n  entr: 0.1\n")
    with pytest.raises(ConfigError, match=r"touch_face\.entr"):
        load_detector_config(f)
    with pytest.raises(ConfigError, match="tuch_face"):
        load_detector_config({"tuch_face": {"enter": 0.1}})
    with pytest.raises(ConfigError, match=r"touch_face\.enter must be a number"):
        load_detector_config({"touch_face": {"enter": "near"}})
    with pytest.raises(ConfigError, match="not found"):
        load_detector_config(tmp_path / "missing.yaml")


# ---------------------------------------------------------------------------------------------------------
# Real footage: raga (seated performers, real OpenPose BODY_25, no labels)

@pytest.mark.real_data
@pytest.mark.parametrize("folder, persons", [("example_1person", 1), ("example_3people", 3)])
def test_raga_no_event_spans_the_whole_clip(real_data, folder, persons):
    path = real_data / "raga" / "raw" / folder
    if not path.is_dir():
        skip_or_fail(f"raga OpenPose folder not found at {path}")
    clip, _ = read_openpose_folder(path, layout="openpose_body25", max_persons=persons, progress=False)
    told = 0
    for p in range(persons):
        one = clip.with_(keypoints=clip.keypoints[p:p + 1], scores=None if clip.scores is None else clip.scores[p:p + 1])
        one.meta.fps = 25.0
        res = detect_events(one)
        if len(res.cannot_tell) == len(MG_CLASS_NAMES):
            continue  # a track without shoulders (the reader's spare track): nothing is claimed
        told += 1
        assert {"touch face", "touch ear", "head up"} - set(res.cannot_tell)  # BODY_25 tells these
        lengths = res.events["end_frame"] - res.events["start_frame"] + 1
        assert (lengths < clip.num_frames).all(), res.events[["start_frame", "end_frame", "label_name"]]
        assert (lengths <= 0.8 * clip.num_frames).all()  # seated performers: no posture held for the whole clip
        assert len(res.events) <= 8  # 5 s of singing/playing: a few events, not a flood
    assert told >= 1


def test_a_hand_on_the_other_arm_is_not_also_a_chest_touch():
    res = detect_events(case_stream("touch arm", 0))
    assert overlaps_gesture(events_of(res, "touch arm")) and not len(events_of(res, "touch chest"))
    res = detect_events(case_stream("hands together", 0))
    assert overlaps_gesture(events_of(res, "hands together")) and not len(events_of(res, "touch chest"))
