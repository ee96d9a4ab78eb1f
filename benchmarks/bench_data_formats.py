"""Native store vs PYSKL pickle: write, open, random-batch read, and `data check` time on N clips.

Run: ``.venv/bin/python benchmarks/bench_data_formats.py --clips 10000``. Prints seconds and ratios measured
in this process (the PYSKL pickle is the baseline), so the numbers stay comparable on a busy machine.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from microgesture.data.check import check_dataset
from microgesture.data.native import NativeStore, write_native
from microgesture.data.pyskl import read_pyskl, write_pyskl
from microgesture.data.synthetic import make_mg_dataset


def _timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clips", type=int, default=10000)
    ap.add_argument("--batch", type=int, default=64)
    args = ap.parse_args()
    per_class = max(1, args.clips // 9)
    ds, t_gen = _timed(lambda: make_mg_dataset(seed=0, clips_per_class=per_class, num_subjects=40))
    frames = sum(c.num_frames for c in ds.clips)
    print(f"synthetic set: {len(ds)} clips, {frames} frames, generated in {t_gen:.2f} s")
    rng = np.random.default_rng(0)
    batch = rng.choice(len(ds), size=args.batch, replace=False)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        _, w_pk = _timed(lambda: write_pyskl(ds, tmp / "set.pkl"))
        _, w_nat = _timed(lambda: write_native(ds, tmp / "store"))
        pk, r_pk = _timed(lambda: read_pyskl(tmp / "set.pkl"))
        _ = [pk.clips[i] for i in batch]
        store, r_nat = _timed(lambda: NativeStore(tmp / "store"))
        _, b_nat = _timed(lambda: [store[int(i)] for i in batch])
        rep_mem, c_mem = _timed(lambda: check_dataset(pk))
        rep_nat, c_nat = _timed(lambda: check_dataset(store.as_dataset()))
        diff = [k for k in rep_mem if k != "name" and rep_mem[k] != rep_nat[k]]
        assert not diff, f"check reports differ between formats in {diff}"
        _, v_nat = _timed(store.verify)
        size_pk = (tmp / "set.pkl").stat().st_size / 2**20
        size_nat = sum(p.stat().st_size for p in (tmp / "store").iterdir()) / 2**20
    print(f"{'':34s}{'pyskl':>10s}{'native':>10s}{'pyskl/native':>14s}")
    print(f"{'write (s)':34s}{w_pk:10.3f}{w_nat:10.3f}{w_pk / w_nat:14.1f}")
    print(f"{'open, ready to index (s)':34s}{r_pk:10.3f}{r_nat:10.3f}{r_pk / r_nat:14.1f}")
    label = f"open + batch of {args.batch} clips (s)"
    print(f"{label:34s}{r_pk:10.3f}{r_nat + b_nat:10.3f}"
          f"{r_pk / (r_nat + b_nat):14.1f}")
    print(f"{'data check report (s)':34s}{c_mem:10.3f}{c_nat:10.3f}{c_mem / c_nat:14.1f}")
    print(f"{'size (MiB)':34s}{size_pk:10.1f}{size_nat:10.1f}")
    print(f"native: verify fingerprint {v_nat:.3f} s; "
          f"check on {len(store)} clips from the memmap: {c_nat:.2f} s")


if __name__ == "__main__":
    main()
