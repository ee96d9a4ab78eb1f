"""The HTML report as a person sees it: opened in headless Chromium, its script must run, the skeleton replay
must draw joints, the timeline must show every event; the file must be self-contained and small."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import require_executable
from microgesture.data.dataset import SkeletonDataset
from microgesture.data.native import write_native
from microgesture.data.synthetic import CLASS_NAMES, make_interview_stream
from microgesture.pipeline.analyze import AnalyzeOptions, analyze
from microgesture.report.html import ReportData, counts_table, render_report, replay_payload
from microgesture.training.windows import train_window_model

ARTIFACTS = Path(__file__).parent / "artifacts"
EXTERNAL = re.compile(r"""(?:src|href|action)\s*=\s*["']?\s*(?:https?:)?//|url\(\s*["']?(?:https?:)?//|@import""", re.I)


def chromium() -> str:
    return require_executable("chromium", "chromium-browser")


def run_chromium(html: Path, tmp: Path, *extra: str) -> subprocess.CompletedProcess:
    args = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={tmp / 'chromium-profile'}", "--virtual-time-budget=3000", *extra, html.as_uri()]
    return subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)


def _events_from_truth(truth: pd.DataFrame, fps: float) -> pd.DataFrame:
    return truth.assign(score=0.8, start=truth["start_frame"] / fps, end=(truth["end_frame"] + 1) / fps)


@pytest.fixture(scope="module")
def pipeline_report(tmp_path_factory):
    """A report made by the real pipeline: a synthetic interview stream through a small trained model."""
    tmp = tmp_path_factory.mktemp("report")
    streams = [make_interview_stream(seed=s, duration_s=90) for s in range(2)]
    ckpt = train_window_model(streams, list(CLASS_NAMES), out=tmp / "m", window=32, label_space="synthetic",
                              overrides=["model.channels=[32,32]", "trainer.max_epochs=6", "optim.lr=5e-3"],
                              progress=False).path
    clip, truth = make_interview_stream(seed=21, duration_s=90)
    store = write_native(SkeletonDataset("syn", "imigue22", [clip], list(CLASS_NAMES)), tmp / "store")
    truth.to_csv(tmp / "truth.csv", index=False)
    res = analyze(store, tmp / "out", AnalyzeOptions(model=ckpt, reasoner="none", truth=tmp / "truth.csv",
                                                     progress=False))
    assert res.status == "complete", res.error
    return tmp / "out", pd.read_csv(tmp / "out" / "events.csv")


def test_report_is_self_contained_and_small_for_a_long_stream(tmp_path):
    clip, truth = make_interview_stream(seed=2, duration_s=21068 / 25)  # as long as iMiGUE video 298
    events = _events_from_truth(truth, 25.0)
    data = ReportData(title="long", clip=clip, events=events, duration_s=clip.num_frames / 25.0)
    paths = render_report(data, tmp_path)
    html = paths["html"].read_text(encoding="utf-8")
    assert not EXTERNAL.search(html), EXTERNAL.search(html).group(0)
    assert paths["html"].stat().st_size < 3_000_000
    payload = replay_payload(clip)
    assert payload["num_frames"] <= 3000 and payload["frame_step"] == 8
    assert html.count('class="mg-event"') == len(events)


def test_replay_payload_roundtrip_and_missing_joints():
    clip, _ = make_interview_stream(seed=3, duration_s=10)
    kp = clip.keypoints.copy()
    kp[0, 5, 3] = np.nan
    clip = clip.with_(keypoints=kp)
    p = replay_payload(clip)
    import base64

    arr = np.frombuffer(base64.b64decode(p["data"]), "<i2").reshape(p["num_frames"], p["num_joints"], 2)
    assert (arr[5, 3] == -32768).all()
    back = arr[0].astype(np.float64) * p["scale"] + np.array(p["origin"])
    np.testing.assert_allclose(back, kp[0, 0], atol=p["scale"])


def test_untrusted_strings_are_escaped(tmp_path):
    ev = pd.DataFrame({"start": [1.0], "end": [2.0], "label": [0], "label_name": ["<script>alert(1)</script>"],
                       "score": [0.9], "start_frame": [25], "end_frame": [49]})
    data = ReportData(title="<b>x</b>", events=ev, duration_s=10.0, warnings=["<img src=x onerror=1>"],
                      provenance={"note": "</script><script>alert(2)</script>"})
    html = render_report(data, tmp_path)["html"].read_text(encoding="utf-8")
    assert "<script>alert" not in html and "<img src=x" not in html and "<b>x</b>" not in html


def test_counts_table_rates():
    ev = pd.DataFrame({"label_name": ["a", "a", "b"], "start": [0.0, 10.0, 5.0], "end": [2.0, 13.0, 6.0],
                       "score": [1.0, 0.5, 0.2]})
    rows = counts_table(ev, 120.0)
    assert rows[0] == {"class": "a", "count": 2, "seconds": 5.0, "per_minute": 1.0, "mean_score": 0.75}
    assert rows[1]["class"] == "b" and rows[1]["per_minute"] == 0.5


def test_chromium_renders_replay_and_timeline(pipeline_report, tmp_path):
    out, events = pipeline_report
    html = out / "report.html"
    assert not EXTERNAL.search(html.read_text(encoding="utf-8"))
    dom = run_chromium(html, tmp_path, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    d = dom.stdout
    assert 'data-js="ran"' in d and 'data-replay-state="ready"' in d
    drawn = re.search(r'data-frames-drawn="(\d+)"', d)
    joints = re.search(r'data-joints-drawn="(\d+)"', d)
    assert drawn and int(drawn.group(1)) >= 1 and joints and int(joints.group(1)) >= 12
    assert f'data-events-rendered="{len(events)}"' in d and len(events) > 0
    assert d.count('class="gt"') > 0  # ground truth drawn beside the predictions
    assert 'id="counts"' in d and 'id="model-line"' in d and 'id="metrics-table"' in d and "<pre>{" not in d
    shot = tmp_path / "report.png"
    r = run_chromium(html, tmp_path, "--window-size=1280,1400", f"--screenshot={shot}")
    assert r.returncode == 0 and shot.is_file(), r.stderr[-2000:]
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(shot, ARTIFACTS / "report_screenshot.png")
    import matplotlib.image as mpimg

    img = mpimg.imread(shot)[..., :3]
    assert img.std() > 0.05  # not a blank page
    skeleton_blue = np.all(np.abs(img - np.array([0.0, 0x72 / 255, 0xB2 / 255])) < 0.06, axis=-1)
    joint_orange = np.all(np.abs(img - np.array([0xD5 / 255, 0x5E / 255, 0.0])) < 0.06, axis=-1)
    assert skeleton_blue.sum() > 200 and joint_orange.sum() > 50  # bones and joints on the canvas


def test_chromium_renders_a_failed_report(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    res = analyze(empty, tmp_path / "out", AnalyzeOptions(reasoner="none", progress=False))
    assert res.status == "failed" and res.exit_code == 1
    dom = run_chromium(tmp_path / "out" / "report.html", tmp_path, "--dump-dom")
    assert dom.returncode == 0
    assert 'data-js="ran"' in dom.stdout and 'id="error-banner"' in dom.stdout and 'id="no-replay"' in dom.stdout
    shot = tmp_path / "failed.png"
    run_chromium(tmp_path / "out" / "report.html", tmp_path, "--window-size=1280,900", f"--screenshot={shot}")
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(shot, ARTIFACTS / "failed_report_screenshot.png")


def _emotion_reports(tmp_path):
    """Two real emotion readings of one synthetic stream: the shipped default reasoner, and an LLM (behind a
    real local HTTP server) whose answer cites two events of the timeline correctly."""
    import json

    import test_emotion_openai as srv_mod
    from microgesture.emotion.reading import read_emotion
    from microgesture.emotion.scenario import mmss
    from microgesture.emotion.timeline import timeline_from_predictions

    clip, truth = make_interview_stream(seed=5, duration_s=90)
    ev = _events_from_truth(truth, 25.0)
    ev = ev.assign(evidence=[json.dumps({"text": f"hand within 0.2{i % 10} shoulder widths of the chin"})
                             for i in range(len(ev))]).iloc[::-1]  # any order: the report orders by time
    tl = timeline_from_predictions(ev, duration_s=clip.num_frames / 25.0)
    default = read_emotion(tl)
    e1, e2 = tl.events[0], tl.events[1]
    answer = {"valence": "negative", "arousal": "medium", "confidence": 0.6, "rationale": "Early self-touches.",
              "evidence": [{"event_id": f"e{i}", "time": mmss(e.start_s), "class": e.label_name,
                            "reading": "a self-soothing movement"} for i, e in ((1, e1), (2, e2))]}
    old = srv_mod.ANSWER
    srv_mod.ANSWER = answer
    try:
        with srv_mod.ScriptedServer(["fixed"]) as s:
            llm = read_emotion(tl, reasoner="openai", base_url=s.url, model="m", max_retries=0)
        srv_mod.ANSWER = {**answer, "evidence": ["empty if none"], "rationale": "one or two sentences"}
        with srv_mod.ScriptedServer(["fixed"]) as s:
            bad = read_emotion(tl, reasoner="openai", base_url=s.url, model="m", max_retries=0)
    finally:
        srv_mod.ANSWER = old
    assert default["status"] == "ok" and llm["status"] == "ok" and bad["status"] == "no usable reading"
    out = {}
    for name, emo in (("default", default), ("llm", llm), ("bad", bad)):
        data = ReportData(title=f"emotion {name}", clip=clip, events=ev, duration_s=clip.num_frames / 25.0,
                          emotion=emo)
        out[name] = (render_report(data, tmp_path / name)["html"], emo)
    return out


def test_chromium_renders_the_emotion_section(tmp_path):
    reports = _emotion_reports(tmp_path)
    doms = {}
    for name, (html, _) in reports.items():
        assert not EXTERNAL.search(html.read_text(encoding="utf-8"))
        dom = run_chromium(html, tmp_path, "--dump-dom")
        assert dom.returncode == 0, dom.stderr[-2000:]
        doms[name] = dom.stdout
    d, emo = doms["default"], reports["default"][1]
    assert 'id="emotion-answer"' in d and 'id="probbar"' in d and 'id="emotion-interval"' in d
    assert 'id="emotion-features"' in d and 'data-reasoner="default"' in d and "how sure" in d
    assert emo["reasoner"]["how_sure"]["text"] in d and f"{100 * emo['probability']:.0f}%" in d
    assert 'id="rate-svg"' in d and 'id="events-table"' in d and "shoulder widths of the chin" in d
    llm = doms["llm"]
    assert 'data-evidence-links="2"' in llm and 'data-evidence-linked="2"' in llm  # both anchors have targets
    assert 'href="#ev-e1"' in llm and 'id="ev-e1"' in llm and "a self-soothing movement" in llm
    assert "Early self-touches." in llm and "uncalibrated" in llm
    bad = doms["bad"]
    assert 'id="emotion-no-reading"' in bad and "The LLM gave no usable reading" in bad
    assert 'id="evidence"' not in bad and 'data-evidence-links="0"' in bad
    section = bad[bad.index('id="emotion-section"'):bad.index('id="provenance-section"')]
    no_reading = section[section.index('id="emotion-no-reading"'):section.index("</div>", section.index(
        'id="emotion-no-reading"'))]
    raw = section[section.index('id="emotion-raw"'):]
    outside = section.replace(no_reading, "").replace(raw, "")
    assert "empty if none" in raw and "empty if none" in no_reading  # the raw reply, and why it was rejected
    assert "empty if none" not in outside
    ARTIFACTS.mkdir(exist_ok=True)
    for name in ("default", "llm"):
        shot = tmp_path / f"{name}.png"
        r = run_chromium(reports[name][0], tmp_path, "--window-size=1280,2600", f"--screenshot={shot}")
        assert r.returncode == 0 and shot.is_file(), r.stderr[-2000:]
        shutil.copy(shot, ARTIFACTS / f"report_emotion_{name}.png")
