"""``analyze-batch`` on a real Dask ``LocalCluster`` (2 worker processes): a mixed folder with a corrupt video
and an empty OpenPose folder, resume without work, a worker killed mid-batch, the cohort report in Chromium;
plus the discovery, manifest, hashing and statistics rules without a cluster."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import require_executable, require_module
from microgesture.cli.main import main
from microgesture.data.dataset import SkeletonDataset
from microgesture.data.native import write_native
from microgesture.data.synthetic import CLASS_NAMES, make_interview_stream
from microgesture.errors import ConfigError, DataError
from microgesture.pipeline.analyze import AnalyzeOptions
from microgesture.pipeline.batch import (
    RECORD_FILE,
    RECORDINGS_DIR,
    Recording,
    analyze_recording,
    collect_inputs,
    content_hash,
    discover,
    emotion_columns,
    local_cluster,
    plan,
    read_manifest,
    run_batch,
    worker_state,
)
from microgesture.report.cohort import compare_groups

EXTERNAL = re.compile(r"""(?:src|href|action)\s*=\s*["']?\s*(?:https?:)?//|url\(\s*["']?(?:https?:)?//|@import""", re.I)


def _npy(path: Path, seed: int, seconds: float = 30.0) -> Path:
    clip, _ = make_interview_stream(seed=seed, duration_s=seconds)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, clip.keypoints)
    return path


# ------------------------------------------------------------------------------------------------
# rules (no cluster)


def test_discovery_finds_one_recording_per_input(tmp_path):
    root = tmp_path / "in"
    _npy(root / "a" / "s 1.npy", 1, 5)
    clip, _ = make_interview_stream(seed=2, duration_s=5)
    write_native(SkeletonDataset("x", "imigue22", [clip], list(CLASS_NAMES)), root / "store")
    op = root / "b" / "op"
    op.mkdir(parents=True)
    for k in range(3):
        (op / f"v_{k:012d}_keypoints.json").write_text('{"version": 1.3, "people": []}')
    (root / "empty").mkdir()
    (root / "clip.mp4").write_bytes(b"not a video")
    (root / "notes.txt").write_text("x")
    (root / "out").mkdir()
    _npy(root / "out" / "old.npy", 3, 5)  # inside the batch folder: never an input
    (root / "earlier" / "recordings").mkdir(parents=True)  # another batch's outputs: not inputs either
    (root / "earlier" / "batch.json").write_text("{}")
    _npy(root / "earlier" / "recordings" / "x.npy", 4, 5)
    recs, ignored = discover(root, exclude=[root / "out"])
    assert {r.id: Path(r.path).relative_to(root).as_posix() for r in recs} == {
        "a__s_1.npy": "a/s 1.npy", "b__op": "b/op", "clip.mp4": "clip.mp4", "empty": "empty", "store": "store"}
    assert [Path(p).name for p in ignored] == ["notes.txt"]
    one, _ = collect_inputs([op])  # an OpenPose folder given directly is one recording
    assert [r.id for r in one] == ["op"]


def test_manifest_paths_ids_and_errors(tmp_path):
    _npy(tmp_path / "d" / "x.npy", 1, 5)
    (tmp_path / "m.csv").write_text("path,speaker,group,setting\nd/x.npy,s1,win,\n/abs/y.npy,s2,lose,job_interview\n")
    recs = read_manifest(tmp_path / "m.csv")
    assert recs[0] == Recording("d__x.npy", str(tmp_path / "d" / "x.npy"), "s1", "win", None)
    assert recs[1].id == "y.npy" and recs[1].setting == "job_interview" and recs[1].path == "/abs/y.npy"
    (tmp_path / "dup.csv").write_text("path,recording_id\na.npy,r1\nb.npy,r1\n")
    with pytest.raises(DataError, match="unique"):
        read_manifest(tmp_path / "dup.csv")
    (tmp_path / "bad.csv").write_text("file,speaker\na.npy,s\n")
    with pytest.raises(DataError, match="'path' column"):
        read_manifest(tmp_path / "bad.csv")
    with pytest.raises(ConfigError, match="repeat"):
        collect_inputs([tmp_path / "m.csv", tmp_path / "m.csv"])


def test_content_hash_and_plan(tmp_path):
    f = _npy(tmp_path / "a.npy", 1, 5)
    h = content_hash(f)
    os.utime(f, (1, 1))
    assert content_hash(f) == h  # touching is not changing
    _npy(f, 2, 5)
    assert content_hash(f) != h
    folder = tmp_path / "op"
    folder.mkdir()
    (folder / "v_000000000000_keypoints.json").write_text("{}")
    h1 = content_hash(folder)
    (folder / "v_000000000001_keypoints.json").write_text("{}")
    assert content_hash(folder) != h1 and content_hash(tmp_path / "nope") == "missing"
    rec = Recording("a", str(f))
    opts = AnalyzeOptions(reasoner="none")
    todo, done = plan([rec], tmp_path / "out", opts)
    assert [r.id for r, reuse in todo] == ["a"] and not done
    bad = tmp_path / "bad.npy"
    bad.write_bytes(b"\x93NUMPY garbage")
    rb = Recording("bad", str(bad))
    record = analyze_recording(rb, str(tmp_path / "out"), opts)  # the task function, in this process
    assert record["status"] == "failed" and record["final"] and "bad.npy" in record["error"]
    assert (tmp_path / "out" / RECORDINGS_DIR / "bad" / "report.html").is_file()
    assert plan([rb], tmp_path / "out", opts)[1] == [rb]  # done: same input, same settings
    assert plan([rb], tmp_path / "out", opts, redo_failed=True)[0] == [(rb, False)]
    assert plan([rb], tmp_path / "out", replace(opts, gap_fill=3))[0] == [(rb, True)]  # settings changed
    os.utime(bad, (5, 5))
    assert plan([rb], tmp_path / "out", opts)[0] == [(rb, True)]  # touched: the task compares content
    again = analyze_recording(rb, str(tmp_path / "out"), opts)
    assert again["outcome"] == "unchanged" and plan([rb], tmp_path / "out", opts)[1] == [rb]


def test_group_statistics():
    t = pd.DataFrame({"status": "complete", "group": ["a"] * 5 + ["b"] * 5, "speaker": list("pqrstuvwxy"),
                      "m": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10.0], "flat": 1.0})
    rows = {r["metric"]: r for r in compare_groups(t, "group", {"m": "m", "flat": "flat"})["rows"]}
    assert rows["m"]["test"] == "Mann-Whitney U" and rows["m"]["effect"] == -1.0  # every a below every b
    assert rows["m"]["p"] < 0.05 and rows["m"]["q"] >= rows["m"]["p"]
    assert rows["flat"]["test"] is None and rows["flat"]["note"] == "all values are equal"
    t3 = t.assign(group=["a"] * 4 + ["b"] * 3 + ["c"] * 3)
    r3 = compare_groups(t3, "group", {"m": "m"})
    assert r3["rows"][0]["test"] == "Kruskal-Wallis H" and 0.5 < r3["rows"][0]["effect"] <= 1.0
    rep = t.assign(speaker=["p", "p", "q", "q", "r", "s", "s", "t", "t", "u"])  # speakers with 2 recordings
    res = compare_groups(rep, "group", {"m": "m"})
    assert res["unit"] == "speaker" and res["rows"][0]["n"] == [3, 3]


def test_emotion_columns_read_both_shapes():
    new = {"reasoner": {"name": "default"}, "status": "ok", "label": "negative", "probability": 0.31,
           "probability_of": "positive", "confidence": 0.69}
    old = {"reasoner": {"name": "llamacpp"}, "result": {"valence": "positive", "confidence": 0.8, "valid": True}}
    assert emotion_columns(new) == {"emotion_status": "ok", "emotion_label": "negative", "emotion_probability": 0.31,
                                    "emotion_probability_of": "positive", "emotion_confidence": 0.69,
                                    "emotion_reasoner": "default"}
    assert emotion_columns(old)["emotion_label"] == "positive" and emotion_columns(old)["emotion_status"] == "ok"
    assert emotion_columns({"error": "no reasoner"})["emotion_status"] == "none"


# ------------------------------------------------------------------------------------------------
# on a real cluster


@pytest.fixture(scope="module")
def client():
    require_module("distributed", "pip install 'microgesture[batch]'")
    require_module("pyarrow", "pip install 'microgesture[batch]'")
    from distributed import Client

    with local_cluster(2, 1, dashboard=False) as cluster, Client(cluster) as cl:
        yield cl


@pytest.fixture(scope="module")
def opts():
    return AnalyzeOptions(reasoner="none", progress=False)  # the default recogniser: the kinematic MG detectors


@pytest.fixture(scope="module")
def mixed(tmp_path_factory, video298_dir):
    """A study folder: a person video, a corrupt video, an OpenPose folder (iMiGUE 298), an empty OpenPose
    folder, .npy streams, a native store and a file that is not a recording."""
    require_module("mediapipe")
    require_module("skimage")
    from microgesture.data.sample_video import write_person_video

    root = tmp_path_factory.mktemp("study")
    write_person_video(root / "videos" / "interview.mp4", num_frames=30, width=320, height=240)
    (root / "videos" / "corrupt.mp4").write_bytes(np.random.default_rng(0).bytes(4000))
    op = root / "openpose" / "298"
    op.mkdir(parents=True)
    for k in range(1200, 1450):
        name = f"298_{k:012d}_keypoints.json"
        (op / name).write_bytes((video298_dir / name).read_bytes())
    (root / "openpose" / "empty").mkdir()
    for s in range(3):
        _npy(root / "npy" / f"s{s}.npy", 10 + s)
    clip, _ = make_interview_stream(seed=20, duration_s=30)
    write_native(SkeletonDataset("x", "imigue22", [clip], list(CLASS_NAMES)), root / "store")
    (root / "README.txt").write_text("not a recording")
    return root


@pytest.fixture(scope="module")
def first_batch(client, opts, mixed, tmp_path_factory):
    out = tmp_path_factory.mktemp("batch")
    recs, ignored = collect_inputs([mixed])
    res = run_batch(recs, out, opts, client=client, progress=False, ignored=ignored)
    return recs, out, res


def _records(out: Path) -> dict[str, float]:
    return {p.parent.name: p.stat().st_mtime_ns for p in (out / RECORDINGS_DIR).glob(f"*/{RECORD_FILE}")}


def test_mixed_folder_then_resume(client, opts, mixed, first_batch):
    recs, out, res = first_batch
    assert res.recordings == 8 and res.analysed == 8 and res.ignored == 1, res
    assert res.counts == {"complete": 6, "failed": 2}, res.failed
    reasons = {f["id"]: f["error"] for f in res.failed}
    assert set(reasons) == {"videos__corrupt.mp4", "openpose__empty"}
    assert "video" in reasons["videos__corrupt.mp4"] and "empty folder" in reasons["openpose__empty"]
    table = pd.read_parquet(out / "cohort.parquet")
    assert sorted(table["id"]) == sorted(r.id for r in recs) and table["id"].is_unique
    ok = table[table["status"] == "complete"]
    assert ok["duration_s"].gt(0).all() and ok["events_per_min"].notna().all()
    assert table.set_index("id").loc["openpose__298", "duration_s"] == pytest.approx(250 / 25)
    assert table[table["status"] == "failed"]["events"].isna().all()  # failures are not zeros
    n_cols = [c for c in table.columns if c.startswith("n_") and not c.startswith("n_cat_")]
    cat_cols = [c for c in table.columns if c.startswith("n_cat_")]
    assert len(n_cols) == 14 and "per_min_cat_head_face" in table.columns  # the MG class set and its categories
    assert (ok[n_cols].sum(axis=1) == ok["events"]).all() and (ok[cat_cols].sum(axis=1) == ok["events"]).all()
    assert (ok["mg_events"] == ok["events"] - ok["n_illustrative"]).all()
    states = client.run(worker_state)
    assert all(s["analyzers_made"] <= 1 and s["pinned"] == 1 for s in states.values())  # once per worker
    assert sum(s["analyzers_made"] for s in states.values()) >= 1
    assert not [p for p in (out / RECORDINGS_DIR).iterdir() if p.name.startswith(".")]

    before = _records(out)
    again = run_batch(recs, out, opts, client=client, progress=False)
    assert again.analysed == 0 and again.reused == 8 and _records(out) == before  # no work at all

    touched, changed = mixed / "npy" / "s0.npy", mixed / "npy" / "s1.npy"
    os.utime(touched, (time.time() + 5, time.time() + 5))
    _npy(changed, 99)
    third = run_batch(recs, out, opts, client=client, progress=False)
    assert third.analysed == 1 and third.reused == 7
    after = _records(out)
    assert sorted(k for k in after if after[k] != before[k]) == ["npy__s0.npy", "npy__s1.npy"]
    rec = json.loads((out / RECORDINGS_DIR / "npy__s1.npy" / RECORD_FILE).read_text())
    assert rec["input_hash"] == content_hash(changed)
    assert len(pd.read_csv(out / "cohort.csv")) == 8


def test_cohort_report_in_chromium(first_batch, tmp_path):
    exe = require_executable("chromium", "chromium-browser")
    recs, out, _ = first_batch
    html = out / "cohort.html"
    text = html.read_text(encoding="utf-8")
    assert not EXTERNAL.search(text)
    args = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=3000", "--dump-dom", html.as_uri()]
    dom = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    assert dom.returncode == 0, dom.stderr[-2000:]
    d = dom.stdout
    assert 'data-js="ran"' in d and f'data-rows="{len(recs)}"' in d
    links = re.findall(r'class="rec-link" href="([^"]+)"', d)
    assert len(links) == len(recs) and all((out / h).is_file() for h in links)
    assert d.count('class="failed-row"') == 2 and "empty folder" in d


def test_cli_manifest_on_an_existing_scheduler(client, opts, tmp_path, capsys):
    for s in range(6):
        _npy(tmp_path / "rec" / f"r{s}.npy", 30 + s, 20)
    rows = [f"rec/r{s}.npy,P{s // 2},{'calm' if s < 3 else 'stress'}" for s in range(6)]
    (tmp_path / "m.csv").write_text("path,speaker,group\n" + "\n".join(rows) + "\n")
    code = main(["analyze-batch", str(tmp_path / "m.csv"), "--out", str(tmp_path / "out"), "--scheduler",
                 client.scheduler.address, "--reasoner", "none", "--no-progress", "--json"])
    res = json.loads(capsys.readouterr().out)
    assert code == 0 and res["counts"] == {"complete": 6} and res["cluster"].startswith("scheduler tcp://")
    table = pd.read_csv(tmp_path / "out" / "cohort.csv")
    assert list(table["group"]) == ["calm"] * 3 + ["stress"] * 3 and list(table["speaker"].unique()) == \
        ["P0", "P1", "P2"]
    html = (tmp_path / "out" / "cohort.html").read_text(encoding="utf-8")
    assert "Comparison by group" in html and "Mann-Whitney U" in html
    assert "Unit of analysis: <b>speaker</b>" in html  # P1 has recordings in both groups and repeats


def test_killed_worker_loses_and_duplicates_nothing(client, opts, tmp_path):
    recs = [Recording(f"k{s}", str(_npy(tmp_path / "in" / f"k{s}.npy", 50 + s, 90))) for s in range(6)]
    pids = client.run(os.getpid)
    killed: list[tuple[str, list]] = []

    def kill_one(record):
        if killed:
            return
        busy = {w: list(ts) for w, ts in client.processing().items() if ts}
        victim = next(iter(busy), next(iter(pids)))
        os.kill(pids[victim], signal.SIGKILL)
        killed.append((victim, busy.get(victim, [])))

    res = run_batch(recs, tmp_path / "out", opts, client=client, progress=False, on_result=kill_one)
    assert killed and killed[0][1], "the killed worker held no task"  # it died mid-task
    # a recording the killed worker had already written but not reported is found done on the retry (reused)
    assert res.counts == {"complete": 6} and res.analysed + res.reused == 6
    table = pd.read_parquet(tmp_path / "out" / "cohort.parquet")
    assert sorted(table["id"]) == [r.id for r in recs] and table["status"].eq("complete").all()
    folders = sorted(p.name for p in (tmp_path / "out" / RECORDINGS_DIR).iterdir())
    assert folders == [r.id for r in recs]  # no half-written temporary folder left behind
    for r in recs:
        rec = json.loads((tmp_path / "out" / RECORDINGS_DIR / r.id / RECORD_FILE).read_text())
        assert rec["status"] == "complete" and (tmp_path / "out" / RECORDINGS_DIR / r.id / "events.csv").is_file()
