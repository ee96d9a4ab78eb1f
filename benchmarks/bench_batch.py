"""Batch analysis on Dask: throughput with 1 and 2 workers, the scheduler's overhead, a 200-recording batch.

Three measurements, each a ratio taken in this one run (absolute seconds depend on the machine and its load):

1. **Videos, 1 vs 2 workers.** The same videos (the two raga recordings, each linked ``--raga-copies`` times,
   plus ``--generated`` synthetic person videos from ``data.sample_video``) through a ``LocalCluster`` of 1 and
   of 2 worker processes (1 compute thread each). Workers are warmed first (imports, models) by a small
   batch, so the timed pass measures steady throughput; the speed-up ratio's target is ≥ 1.7× on 2 cores.
2. **Scheduler overhead.** A plain in-process loop over ``Analyzer.analyze`` against the 1-worker batch on
   the same recordings (both warm), for the videos and for ``--overhead-skeletons`` short skeleton files; the
   per-task overhead (hashing, the record, the rename, Dask's round trip) should stay ≤ 5 %.
3. **200 skeleton recordings end to end** (cold: cluster start, worker imports, cohort table and report
   included): ``--skeletons`` recordings, half cut from iMiGUE video 298's OpenPose stream (native stores),
   half synthetic interview streams (``.npy``), with 2 workers.

    uptime   # the ratios mean something only on a quiet machine
    .venv/bin/python benchmarks/bench_batch.py [--model synthetic] [--skeletons 200] [--quick]
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from microgesture.data.dataset import SkeletonDataset
from microgesture.data.native import write_native
from microgesture.data.readers.openpose import read_openpose_folder
from microgesture.data.synthetic import make_interview_stream
from microgesture.pipeline.analyze import AnalyzeOptions, Analyzer
from microgesture.pipeline.batch import Recording, analyze_recording, local_cluster, run_batch
from microgesture.utils.paths import data_root

RAGA = ("raga_1person_seated_singer.mp4", "raga_3people_seated_musicians.mp4")


def load_avg() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg()) + f" (cores: {os.cpu_count()})"
    except OSError:
        return "unknown"


def make_videos(folder: Path, copies: int, generated: int, frames: int) -> list[Recording]:
    from microgesture.data.sample_video import write_person_video

    recs = []
    src = data_root() / "raga" / "raw" / "videos"
    for name in RAGA:
        if not (src / name).is_file():
            print(f"  (raga video {src / name} not found: generated videos only)")
            continue
        for k in range(copies):
            link = folder / f"{Path(name).stem}-{k}.mp4"
            link.symlink_to(src / name)
            recs.append(Recording(link.stem, str(link)))
    for k in range(generated):
        p = write_person_video(folder / f"generated-{k}.mp4", num_frames=frames, width=640, height=360, seed=k)
        recs.append(Recording(p.stem, str(p)))
    return recs


def make_skeletons(folder: Path, n: int, seconds: float) -> list[Recording]:
    """``n`` skeleton recordings: half cut from iMiGUE 298 (native stores), half synthetic (.npy)."""
    recs = []
    n298 = n // 2
    v298 = data_root() / "imigue" / "raw" / "Data" / "skeleton" / "raw" / "298"
    if n298 and v298.is_dir():
        clip, _ = read_openpose_folder(v298, progress=False)
        length = max(50, clip.num_frames // n298)
        for k in range(n298):
            part = clip.slice_frames(k * length, min((k + 1) * length, clip.num_frames) - 1)
            store = folder / f"v298-{k:03d}"
            write_native(SkeletonDataset("v298", part.meta.layout, [part]), store, overwrite=True)
            recs.append(Recording(store.name, str(store)))
    else:
        n298 = 0
        print(f"  (iMiGUE 298 not found at {v298}: synthetic streams only)")
    for k in range(n - n298):
        clip, _ = make_interview_stream(seed=1000 + k, duration_s=seconds)
        p = folder / f"synthetic-{k:03d}.npy"
        np.save(p, clip.keypoints)
        recs.append(Recording(p.stem, str(p)))
    return recs


def loop(recs: list[Recording], out: Path, opts: AnalyzeOptions, analyzer: Analyzer) -> float:
    """Seconds for a plain loop over ``Analyzer.analyze``; also prints the CPU seconds it used per second (on a
    quiet machine: how many cores one analysis keeps busy, e.g. with decoder or pose-model threads)."""
    shutil.rmtree(out, ignore_errors=True)
    t0, c0 = time.perf_counter(), time.process_time()
    for r in recs:
        res = analyzer.analyze(r.path, out / r.id)
        if res.status == "failed":
            print(f"  loop: {r.id} failed: {res.error}")
    wall = time.perf_counter() - t0
    if len(recs) > 1:
        print(f"   (plain loop: {(time.process_time() - c0) / wall:.2f} CPU seconds per second over {len(recs)} "
              "recordings)")
    return wall


def batch_pass(client, recs: list[Recording], out: Path, opts: AnalyzeOptions) -> float:
    res = run_batch(recs, out, opts, client=client, force=True, progress=False, compare="none", warm_up=False)
    bad = [f for f in res.failed if f["status"] == "failed"]
    if bad:
        print(f"  batch: {len(bad)} failed, e.g. {bad[0]['id']}: {bad[0]['error']}")
    return res.timings["tasks"]


def throughput(recs: list[Recording], tmp: Path, opts: AnalyzeOptions, workers: int) -> float:
    """Recordings per second of a warm ``workers``-process cluster over ``recs``."""
    from distributed import Client

    with local_cluster(workers, 1, dashboard=False) as cluster, Client(cluster) as client:
        batch_pass(client, recs[:workers], tmp / f"warm{workers}", opts)  # imports and models on every worker
        secs = batch_pass(client, recs, tmp / f"timed{workers}", opts)
    return len(recs) / secs


def overhead(recs: list[Recording], tmp: Path, opts: AnalyzeOptions, name: str) -> dict[str, float]:
    """Per-task cost of the batch over a plain loop, both warm, three ways: the whole 1-worker batch against
    the whole loop; and, paired and interleaved recording by recording (robust to a load that drifts), the
    Dask task (submit, run on the worker, result) and the task function in this process (hash, record,
    rename; no Dask) against ``Analyzer.analyze`` on the same recording."""
    from distributed import Client

    analyzer = Analyzer(opts)
    loop(recs[:1], tmp / f"loopwarm-{name}", opts, analyzer)
    t_loop = loop(recs, tmp / f"loop-{name}", opts, analyzer)
    paired: dict[str, list[float]] = {"loop": [], "task": [], "inproc": []}
    cpu: dict[str, list[float]] = {"loop": [], "inproc": []}  # this process's CPU time: robust to other load
    with local_cluster(1, 1, dashboard=False) as cluster, Client(cluster) as client:
        batch_pass(client, recs[:1], tmp / f"bwarm-{name}", opts)
        t_batch = batch_pass(client, recs, tmp / f"batch-{name}", opts)
        for k, r in enumerate(recs):
            runs = [("loop", lambda r=r: analyzer.analyze(r.path, tmp / f"pl-{name}" / r.id)),
                    ("task", lambda r=r: client.submit(analyze_recording, r, str(tmp / f"pt-{name}"), opts, 1, False,
                                                       pure=False).result()),
                    ("inproc", lambda r=r: analyze_recording(r, str(tmp / f"pi-{name}"), opts, 1, False))]
            for what, fn in (runs if k % 2 == 0 else runs[::-1]):
                t0, c0 = time.perf_counter(), time.process_time()
                fn()
                paired[what].append(time.perf_counter() - t0)
                if what in cpu:
                    cpu[what].append(time.process_time() - c0)
    lo, ta, ip = (np.asarray(paired[k]) for k in ("loop", "task", "inproc"))
    return {"loop": t_loop, "batch": t_batch, "n": len(recs), "task_ratio": float(np.median(ta / lo)),
            "inproc_ratio": float(np.median(ip / lo)), "task_ms": float(np.median(ta - lo) * 1000),
            "inproc_ms": float(np.median(ip - lo) * 1000),
            "inproc_cpu_ratio": float(np.sum(cpu["inproc"]) / np.sum(cpu["loop"]))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None, help="recogniser (default: the default recogniser)")
    ap.add_argument("--raga-copies", type=int, default=2, help="links to each raga video in the video set")
    ap.add_argument("--generated", type=int, default=4, help="generated person videos in the video set")
    ap.add_argument("--frames", type=int, default=100, help="frames of each generated video")
    ap.add_argument("--max-frames", type=int, default=100, help="video frames analysed per recording")
    ap.add_argument("--overhead-skeletons", type=int, default=30, help="skeleton files for the overhead check")
    ap.add_argument("--skeletons", type=int, default=200, help="recordings in the end-to-end skeleton batch")
    ap.add_argument("--seconds", type=float, default=60.0, help="length of each synthetic skeleton stream")
    ap.add_argument("--parts", default="1,2,3", help="which measurements to run (comma-separated)")
    ap.add_argument("--quick", action="store_true", help="small sizes: check that the script runs")
    ap.add_argument("--keep", type=Path, default=None, help="keep the outputs in this folder")
    args = ap.parse_args()
    if args.quick:
        args.raga_copies, args.generated, args.frames, args.max_frames = 1, 2, 40, 40
        args.overhead_skeletons, args.skeletons, args.seconds = 8, 20, 30.0
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "warning")  # before distributed is imported (lazily)
    torch.set_num_threads(1)
    tmp = Path(args.keep or tempfile.mkdtemp(prefix="bench-batch-"))
    tmp.mkdir(parents=True, exist_ok=True)
    print(f"load average before: {load_avg()}")
    video_opts = AnalyzeOptions(model=args.model, reasoner="none", max_frames=args.max_frames, progress=False)
    skel_opts = AnalyzeOptions(model=args.model, reasoner="none", progress=False)
    Analyzer(skel_opts).recognizer  # noqa: B018 - a cached default model is prepared once, before any timing

    parts = {int(p) for p in args.parts.split(",")}
    (tmp / "videos").mkdir(exist_ok=True)
    videos = make_videos(tmp / "videos", args.raga_copies, args.generated, args.frames) if parts & {1, 2} else []
    if 1 in parts:
        section1(videos, tmp, video_opts, args.max_frames)
    if 2 in parts:
        section2(videos, tmp, video_opts, skel_opts, args)
    if 3 in parts:
        section3(tmp, skel_opts, args)
    print(f"\nload average after: {load_avg()}")
    print(f"outputs: {tmp}" if args.keep else "")
    if not args.keep:
        shutil.rmtree(tmp, ignore_errors=True)


def section1(videos: list[Recording], tmp: Path, video_opts: AnalyzeOptions, max_frames: int) -> None:
    print(f"\n1. videos: {len(videos)} recordings, {max_frames} frames analysed each")
    thr1 = throughput(videos, tmp, video_opts, 1)
    thr2 = throughput(videos, tmp, video_opts, 2)
    print(f"   1 worker : {thr1:.3f} recordings/s")
    print(f"   2 workers: {thr2:.3f} recordings/s")
    print(f"   speed-up 2 vs 1 workers: {thr2 / thr1:.2f}x (target >= 1.7x on 2 quiet cores)")


def section2(videos: list[Recording], tmp: Path, video_opts: AnalyzeOptions, skel_opts: AnalyzeOptions,
             args: argparse.Namespace) -> None:
    print("\n2. scheduler overhead: 1-worker batch vs a plain loop over Analyzer.analyze (both warm)")
    (tmp / "oskel").mkdir(exist_ok=True)
    oskel = make_skeletons(tmp / "oskel", args.overhead_skeletons, args.seconds)
    for name, recs, opts in (("videos", videos, video_opts), ("skeletons", oskel, skel_opts)):
        o = overhead(recs, tmp, opts, name)
        print(f"   {name:<9}: whole batch {o['batch']:.2f} s vs loop {o['loop']:.2f} s over {o['n']} recordings: "
              f"{100 * (o['batch'] / o['loop'] - 1):+.1f} %")
        print(f"   {'':<9}  paired per recording (median): Dask task {100 * (o['task_ratio'] - 1):+.1f} % "
              f"({o['task_ms']:+.0f} ms), task function without Dask {100 * (o['inproc_ratio'] - 1):+.1f} % "
              f"({o['inproc_ms']:+.0f} ms)   (target <= 5 %)")
        print(f"   {'':<9}  CPU time of this process, task function without Dask vs loop: "
              f"{100 * (o['inproc_cpu_ratio'] - 1):+.1f} % (hashing, record, rename; insensitive to other load)")


def section3(tmp: Path, skel_opts: AnalyzeOptions, args: argparse.Namespace) -> None:
    print(f"\n3. {args.skeletons} skeleton recordings end to end, 2 workers (cold start included)")
    (tmp / "skel").mkdir(exist_ok=True)
    skel = make_skeletons(tmp / "skel", args.skeletons, args.seconds)
    t0 = time.perf_counter()
    res = run_batch(skel, tmp / "skel-out", skel_opts, workers=2, progress=False)
    wall = time.perf_counter() - t0
    again = run_batch(skel, tmp / "skel-out", skel_opts, workers=2, progress=False)
    t = res.timings
    print(f"   {res.recordings} recordings: {res.counts}; wall {wall:.1f} s = {res.recordings / wall:.2f} recordings/s")
    print(f"   phases: cluster start {t.get('cluster', 0):.1f} s, tasks {t.get('tasks', 0):.1f} s, cohort table + "
          f"report {t.get('cohort', 0):.1f} s")
    print(f"   rerun (nothing to do): {again.seconds:.1f} s, analysed {again.analysed}")


if __name__ == "__main__":
    main()
