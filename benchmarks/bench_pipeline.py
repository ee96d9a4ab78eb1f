"""Pipeline speed on this machine: (1) iMiGUE video 298 (21,068 frames) → MG timeline, (2) video → skeletons.

Run: ``.venv/bin/python benchmarks/bench_pipeline.py [--frames 200] [--skip-video] [--skip-stream]``.

(1) times every stage of the online path on the complete OpenPose stream of video 298 — reading the JSON
folder (with conversion to imigue22), window extraction + normalisation, the model, smoothing and event
decoding — and compares the vectorised window preparation with a per-window ``prepare_clip`` loop
measured in the same process (target: the whole stream in <= 30 s on 2 CPU cores). (2) measures
frames per second of MediaPipe on a 640x360 H.264 video of a real photograph (decode included), for
Holistic (pose + hands) and Pose only (target: >= 15 fps).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np


def bench_stream(threads: int | None) -> None:
    import torch

    from microgesture.data.clip import Clip, ClipMeta
    from microgesture.data.readers.openpose import read_openpose_folder
    from microgesture.data.transforms import fill_missing, prepare_clip
    from microgesture.pipeline.analyze import default_model
    from microgesture.pipeline.online import (
        OnlineConfig,
        frame_labels,
        frame_scores,
        labels_to_events,
        smooth_scores,
        window_inputs,
        window_starts,
    )
    from microgesture.utils.paths import data_root

    folder = data_root() / "imigue" / "raw" / "Data" / "skeleton" / "raw" / "298"
    if not folder.is_dir():
        print(f"(1) skipped: {folder} not found (set MICROGESTURE_DATA)")
        return
    t0 = time.perf_counter()
    wm, info = default_model(progress=False)
    t_model_load = time.perf_counter() - t0
    cfg = OnlineConfig(window=wm.window) if threads is None else OnlineConfig(window=wm.window, num_threads=threads)
    threads = cfg.num_threads
    print(f"(1) model: {info['source']} ({wm.describe()['params']} params, window {wm.window}, stride {cfg.stride}); "
          f"obtained in {t_model_load:.1f} s (not counted)")

    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    clip, report = read_openpose_folder(folder, layout="imigue22", progress=False)
    timings["load + convert (21k JSON files -> imigue22)"] = time.perf_counter() - t0
    x = clip.keypoints[0]
    t_frames = x.shape[0]
    t0 = time.perf_counter()
    starts = window_starts(t_frames, cfg.window, cfg.stride)
    inputs, obs = window_inputs(x, wm.layout, starts, cfg.window)
    timings["windows (extract + normalise)"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    from microgesture.pipeline.online import torch_threads

    with torch_threads(threads):
        probs = wm.predict_proba(inputs[obs >= cfg.min_observed], cfg.batch_size)
    timings[f"model ({cfg.num_threads} torch thread(s))"] = time.perf_counter() - t0
    alt = torch.get_num_threads() if cfg.num_threads == 1 else 1
    t1 = time.perf_counter()
    with torch_threads(alt):
        wm.predict_proba(inputs[obs >= cfg.min_observed], cfg.batch_size)
    t_alt = time.perf_counter() - t1
    full = np.zeros((len(starts), probs.shape[1]), np.float32)
    full[obs >= cfg.min_observed] = probs
    full[obs < cfg.min_observed, -1] = 1.0
    t0 = time.perf_counter()
    fs = smooth_scores(frame_scores(full, starts, cfg.window, t_frames), cfg.smooth, cfg.smooth_frames)
    timings["frame scores + smoothing"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    ev = labels_to_events(frame_labels(fs, wm.background_index, cfg.threshold, cfg.merge_gap), fs, cfg.min_frames)
    timings["events"] = time.perf_counter() - t0
    total = sum(timings.values())
    print(f"    stream: {t_frames} frames ({t_frames / 25 / 60:.1f} min at 25 fps), {len(starts)} windows, "
          f"{len(ev)} events")
    for k, v in timings.items():
        print(f"    {k:<46s} {v:7.2f} s")
    print(f"    {'TOTAL':<46s} {total:7.2f} s   (target <= 30 s: {'met' if total <= 30 else 'NOT met'}); "
          f"{t_frames / total:.0f} frames/s")
    print(f"    (the same model pass with {alt} torch thread(s): {t_alt:.2f} s)")

    n = min(400, len(starts))
    t0 = time.perf_counter()
    for a in starts[:n]:  # baseline: one prepare_clip call per window, as a naive implementation would do
        c = Clip(x[None, a:a + cfg.window], ClipMeta("w", layout=wm.layout))
        fill_missing(prepare_clip(c, num_frames=cfg.window, center=True, scale=True))
    loop = (time.perf_counter() - t0) / n * len(starts)
    vec = timings["windows (extract + normalise)"]
    print(f"    window preparation: per-window prepare_clip loop {loop:.2f} s (extrapolated from {n}) vs "
          f"vectorised {vec:.2f} s -> {loop / vec:.1f}x faster")


def bench_video(frames: int) -> None:
    try:
        from microgesture.data.sample_video import write_person_video
        from microgesture.data.readers.video import extract_video
    except ImportError as e:
        print(f"(2) skipped: {e}")
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = write_person_video(Path(tmp) / "bench.mp4", num_frames=frames, width=640, height=360)
        import av

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
    import os

    print(f"cpu cores: {os.cpu_count()}; load average: {os.getloadavg()[0]:.1f} (others' jobs make numbers noisy)")
    if not args.skip_stream:
        bench_stream(args.threads)
    if not args.skip_video:
        bench_video(args.frames)


if __name__ == "__main__":
    main()
