"""Data import speed and memory, pinned to ONE CPU core.

1. Video 298 of iMiGUE (21,068 OpenPose JSON files): load the full stream and cut its 56 annotated clips
   (target ≤ 10 s). Same-process baselines: reading the raw bytes only (the I/O floor), the same reader
   with the standard-library ``json`` instead of orjson, and a thread pool for read+parse (does a pool pay
   on one core?).
2. NW-UCLA (1,484 JSON files): read and write the native store (target ≤ 10 s).
3. A native store much larger than a batch: read 64 random clips in a fresh process and show that its
   resident memory grows by far less than the store size (memory-mapped reads).

    .venv/bin/python benchmarks/bench_data.py [--data ../shared/datasets] [--store-clips 3000]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core, like `taskset -c 0`

import argparse  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402


def rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def private_mb() -> float:
    """Resident memory that is not file-backed (heap, copies): RSS minus shared/file-mapped pages."""
    import psutil

    m = psutil.Process().memory_info()
    return (m.rss - m.shared) / 2**20


def bench_video_298(root: Path) -> None:
    from microgesture.data.readers import imigue, openpose
    from microgesture.data.readers.imigue import cut_clips, load_annotations
    from microgesture.data.readers.openpose import list_openpose_files, read_openpose_folder

    folder = root / "imigue" / "raw" / "Data" / "skeleton" / "raw" / "298"
    csv = root / "imigue" / "raw" / "Label" / "labels_20200831.csv"
    files = [p for _, p in list_openpose_files(folder)["298"]]
    ann = load_annotations(csv)
    rows = ann[ann["video_id"] == 298]

    def read_bytes() -> None:
        for p in files:
            with open(p, "rb") as fh:
                fh.read()

    def load_and_cut() -> int:
        stream, _ = read_openpose_folder(folder, progress=False)
        stream.meta.fps = imigue.FPS
        return len(cut_clips(stream, rows))

    t0 = time.perf_counter()
    n = load_and_cut()  # first pass (the page cache may be cold)
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    read_bytes()
    io_floor = time.perf_counter() - t0
    t0 = time.perf_counter()
    stream, _ = read_openpose_folder(folder, progress=False)
    t_load = time.perf_counter() - t0
    t0 = time.perf_counter()
    n = len(cut_clips(stream, rows))
    t_cut = time.perf_counter() - t0
    warm = t_load + t_cut

    orig = openpose._loads, openpose._JSONDecodeError
    openpose._loads, openpose._JSONDecodeError = json.loads, json.JSONDecodeError
    try:
        t0 = time.perf_counter()
        load_and_cut()
        stdlib = time.perf_counter() - t0
    finally:
        openpose._loads, openpose._JSONDecodeError = orig

    parts = openpose._PARTS

    def parse(p: str):
        with open(p, "rb") as fh:
            return openpose._parse_people(fh.read(), parts)

    t0 = time.perf_counter()
    for p in files:
        parse(p)
    seq_parse = time.perf_counter() - t0
    t0 = time.perf_counter()
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(parse, files, chunksize=256))
    pool_parse = time.perf_counter() - t0

    print(f"[1] iMiGUE video 298: {len(files)} OpenPose files -> stream {tuple(stream.keypoints.shape)} -> {n} clips")
    print(f"    load + cut, first run           {first:6.2f} s   (target <= 10 s: {'OK' if first <= 10 else 'MISSED'})")
    print(f"    load + cut, warm cache          {warm:6.2f} s   (load {t_load:.2f} s, cut {t_cut:.3f} s)")
    print(f"    baseline: read bytes only       {io_floor:6.2f} s   -> reader = {warm / io_floor:.1f}x the I/O floor")
    print(f"    baseline: stdlib json instead   {stdlib:6.2f} s   -> orjson reader is {stdlib / warm:.2f}x faster")
    print(f"    read+parse sequential           {seq_parse:6.2f} s")
    print(f"    read+parse, 4-thread pool       {pool_parse:6.2f} s   -> pool/sequential = {pool_parse / seq_parse:.2f} "
          "(>= 1: a pool does not pay on one core)")


def bench_nw_ucla(root: Path, tmp: Path) -> None:
    from microgesture.data.native import write_native
    from microgesture.data.readers.nw_ucla import read_nw_ucla

    folder = root / "nw_ucla" / "raw" / "data" / "NW-UCLA" / "all_sqe"
    t0 = time.perf_counter()
    ds = read_nw_ucla(folder, progress=False)
    t_read = time.perf_counter() - t0
    t0 = time.perf_counter()
    out = write_native(ds, tmp / "nw_ucla_native", overwrite=True)
    t_write = time.perf_counter() - t0
    size = sum(f.stat().st_size for f in out.iterdir()) / 2**20
    total = t_read + t_write
    print(f"[2] NW-UCLA: {len(ds)} JSON files -> native store ({size:.1f} MiB)")
    print(f"    read {t_read:.2f} s + write {t_write:.2f} s = {total:.2f} s   "
          f"(target <= 10 s: {'OK' if total <= 10 else 'MISSED'})")


def make_big_store(tmp: Path, clips: int) -> Path:
    """A store of ``clips`` random NTU-25 clips of 150-300 frames × 2 persons (hundreds of MiB)."""
    from microgesture.data.clip import Clip, ClipMeta
    from microgesture.data.dataset import SkeletonDataset
    from microgesture.data.native import write_native

    rng = np.random.default_rng(0)
    out = []
    for i in range(clips):
        t = int(rng.integers(150, 300))
        kp = rng.normal(0, 1, (2, t, 25, 3)).astype(np.float32)
        out.append(Clip(kp, ClipMeta(f"c{i}", label=int(i % 60), layout="ntu25")))
    return write_native(SkeletonDataset("big", "ntu25", out, None, {}, []), tmp / "big_native", overwrite=True)


def read_batch_child(store: str, batch: int) -> None:
    """Runs in a fresh process: open the store, read ``batch`` random clips, print memory numbers as JSON."""
    from microgesture.data.native import NativeStore

    mem = {"imported": (rss_mb(), private_mb())}
    s = NativeStore(store)
    mem["opened"] = (rss_mb(), private_mb())
    idx = np.random.default_rng(1).choice(len(s), size=batch, replace=False)
    t0 = time.perf_counter()
    clips = [s[int(i)] for i in idx]
    dt = time.perf_counter() - t0
    mem["after"] = (rss_mb(), private_mb())
    batch_mb = sum(c.keypoints.nbytes + (0 if c.scores is None else c.scores.nbytes) for c in clips) / 2**20
    print(json.dumps({"mem": mem, "seconds": dt, "batch_mb": batch_mb, "clips": len(s)}))


def bench_store_memory(tmp: Path, clips: int) -> None:
    t0 = time.perf_counter()
    store = make_big_store(tmp, clips)
    t_make = time.perf_counter() - t0
    size = sum(f.stat().st_size for f in store.iterdir()) / 2**20
    res = subprocess.run([sys.executable, __file__, "--read-store", str(store)], check=True,
                         capture_output=True, text=True)
    r = json.loads(res.stdout.strip().splitlines()[-1])
    (rss0, prv0), (rss1, prv1), (rss2, prv2) = r["mem"]["imported"], r["mem"]["opened"], r["mem"]["after"]
    print(f"[3] native store: {r['clips']} clips, {size:.0f} MiB on disk (written in {t_make:.1f} s); "
          f"64 random clips = {r['batch_mb']:.1f} MiB read in {r['seconds'] * 1000:.1f} ms (fresh process)")
    print(f"    RSS       after imports {rss0:6.0f} MiB, after open {rss1:6.0f} MiB, after reading {rss2:6.0f} MiB "
          f"-> +{rss2 - rss0:.0f} MiB = {100 * (rss2 - rss0) / size:.1f}% of the store")
    print(f"    private   after imports {prv0:6.0f} MiB, after open {prv1:6.0f} MiB, after reading {prv2:6.0f} MiB "
          f"-> +{prv2 - prv0:.0f} MiB = {100 * (prv2 - prv0) / size:.1f}% of the store")
    print("    (RSS also counts mapped page-cache pages around each read, which are shared and reclaimable; "
          "private memory is what the process itself holds)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=None, help="datasets root (default: MICROGESTURE_DATA)")
    ap.add_argument("--store-clips", type=int, default=3000)
    ap.add_argument("--read-store", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.read_store:
        read_batch_child(args.read_store, 64)
        return
    from microgesture.utils.paths import data_root

    root = args.data or data_root()
    print(f"pinned to CPU core(s) {sorted(os.sched_getaffinity(0))}; data root {root}")
    with tempfile.TemporaryDirectory(prefix="bench_data_") as d:
        tmp = Path(d)
        bench_video_298(root)
        bench_nw_ucla(root, tmp)
        bench_store_memory(tmp, args.store_clips)


if __name__ == "__main__":
    main()
