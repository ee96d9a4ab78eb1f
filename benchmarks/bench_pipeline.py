"""Pipeline speed on this machine: (1) iMiGUE video 298 (21,068 frames) → MG timeline, (2) video → skeletons.

Run: ``.venv/bin/python benchmarks/bench_pipeline.py [--frames 200] [--skip-video] [--skip-stream]``.

(1) times the default path of ``analyze`` on the complete OpenPose stream of video 298 — reading the JSON folder
and the kinematic detectors (target: the whole stream in <= 30 s on 2 CPU cores) — then the window-model path on
the same stream (conversion, batched window preparation, model, decoding), comparing the batched window
preparation with a per-window ``prepare_clip`` loop measured in the same process. (2) measures
frames per second of MediaPipe on a 640x360 H.264 video of a real photograph (decode included), for
Holistic (pose + hands) and Pose only (target: >= 15 fps).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import av
import numpy as np

from microgesture.data.clip import Clip, ClipMeta
from microgesture.data.convert import convert_clip
from microgesture.data.inputs import prepare_clip
from microgesture.data.readers.openpose import read_openpose_folder
from microgesture.data.readers.video import extract_video
from microgesture.data.sample_video import write_person_video
from microgesture.data.transforms import fill_missing
from microgesture.data.windows import extract_windows, window_starts
from microgesture.pipeline.recognizers import DetectorRecognizer
from microgesture.training.windows import OnlineConfig, recognize_stream, synthetic_window_model
from microgesture.utils.paths import data_root


def bench_stream(threads: int | None) -> None:
    folder = data_root() / "imigue" / "raw" / "Data" / "skeleton" / "raw" / "298"
    if not folder.is_dir():
        print(f"(1) skipped: {folder} not found (set MICROGESTURE_DATA)")
        return
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    clip, _ = read_openpose_folder(folder, layout="openpose_full", progress=False)
    timings["load (21k OpenPose JSON files)"] = time.perf_counter() - t0
    t_frames = clip.num_frames
    rec = DetectorRecognizer()
    t0 = time.perf_counter()
    res = rec.recognize(clip)
    timings["kinematic detectors (default of analyze)"] = time.perf_counter() - t0
    total = sum(timings.values())
    print(f"(1) iMiGUE video 298: {t_frames} frames ({t_frames / 25 / 60:.1f} min at 25 fps), "
          f"{len(res.events)} events from the default recogniser")
    for k, v in timings.items():
        print(f"    {k:<52s} {v:7.2f} s")
    print(f"    {'TOTAL (default path)':<52s} {total:7.2f} s   (target <= 30 s: {'met' if total <= 30 else 'NOT met'}); "
          f"{t_frames / total:.0f} frames/s")

    # the window-model path on the same stream: conversion, batched window preparation, model, decoding
    wm = synthetic_window_model(progress=False)
    cfg = OnlineConfig() if threads is None else OnlineConfig(num_threads=threads)
    t0 = time.perf_counter()
    small = convert_clip(clip, wm.layout)
    small = small.with_(keypoints=np.ascontiguousarray(small.keypoints[..., :wm.num_coords]))
    t_conv = time.perf_counter() - t0
    res_w = recognize_stream(small, wm, cfg)
    print(f"    window model (synthetic, {wm.describe()['params']} params, window {wm.window}, stride {cfg.stride}, "
          f"{cfg.num_threads} thread(s)): convert {t_conv:.2f} s + " +
          " + ".join(f"{k} {v:.2f} s" for k, v in res_w.timings.items()) + f"; {res_w.extra['windows']} windows")
    x = small.keypoints[0]
    starts = window_starts(t_frames, wm.window, cfg.stride)
    t0 = time.perf_counter()
    wm.spec.prepare_windows(extract_windows(x, starts, wm.window))
    vec = time.perf_counter() - t0
    n = min(400, len(starts))
    t0 = time.perf_counter()
    for a in starts[:n]:  # baseline: one prepare_clip call per window, as a naive implementation would do
        c = Clip(x[None, a:a + wm.window], ClipMeta("w", layout=wm.layout))
        fill_missing(prepare_clip(c, num_frames=wm.window, center=True, scale=True))
    loop = (time.perf_counter() - t0) / n * len(starts)
    print(f"    window preparation: per-window prepare_clip loop {loop:.2f} s (extrapolated from {n}) vs "
          f"batched InputSpec.prepare_windows {vec:.2f} s -> {loop / vec:.1f}x faster")


def bench_video(frames: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = write_person_video(Path(tmp) / "bench.mp4", num_frames=frames, width=640, height=360)
        t0 = time.perf_counter()
        with av.open(str(path)) as c:
            n = sum(1 for f in c.decode(video=0) if f.to_ndarray(format="rgb24") is not None)
        dec = time.perf_counter() - t0
        print(f"(2) video -> skeletons, {frames} frames of 640x360 H.264 (a real photograph, moving), CPU:")
        print(f"    decode only (PyAV -> RGB)                      {n / dec:7.1f} fps")
        for hands, name in ((False, "MediaPipe Pose (no hands)"), (True, "MediaPipe Holistic (pose + hands)")):
            extract_video(path, max_frames=5, hands=hands, progress=False)  # warm-up: graph start
            t0 = time.perf_counter()
            clip, stats = extract_video(path, hands=hands, progress=False)
            dt = time.perf_counter() - t0
            print(f"    {name:<46s} {stats.frames_processed / dt:7.1f} fps  (person in "
                  f"{stats.frames_with_person}/{stats.frames_processed} frames; target >= 15 fps: "
                  f"{'met' if stats.frames_processed / dt >= 15 else 'NOT met'})")
        for stride in (2,):
            t0 = time.perf_counter()
            clip, stats = extract_video(path, hands=True, stride=stride, progress=False)
            dt = time.perf_counter() - t0
            print(f"    Holistic, stride {stride} (every {stride}nd frame analysed)       "
                  f"{stats.frames_decoded / dt:7.1f} video fps")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=200, help="frames of the synthetic test video")
    ap.add_argument("--threads", type=int, default=None, help="torch threads for the model (default: OnlineConfig's, 1)")
    ap.add_argument("--skip-video", action="store_true")
    ap.add_argument("--skip-stream", action="store_true")
    args = ap.parse_args()
    print(f"cpu cores: {os.cpu_count()}; load average: {os.getloadavg()[0]:.1f} (others' jobs make numbers noisy)")
    if not args.skip_stream:
        bench_stream(args.threads)
    if not args.skip_video:
        bench_video(args.frames)


if __name__ == "__main__":
    main()
