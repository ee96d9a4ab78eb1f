"""Throughput of the augmentation presets and of ``prepare_clip``.

Prints clips/s for the ``action`` and ``mg`` presets on a batch of 64 × 1 × 64 × V × 3 (iMiGUE-22 and
NTU-25), with 1 and 2 torch threads, and for ``prepare_clip`` per clip. Each number comes with the ratio
to the training target: SSL training consumes about 100–500 clips/s, and data preparation should be at
least 5× faster than that (≥ 2500 clips/s). A same-process baseline (one batched 3×3 linear map over the
same batch) is also printed, so ratios stay meaningful on a busy machine.

    .venv/bin/python benchmarks/bench_augment.py [--repeats 20]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from microgesture.augment import build_augmentation
from microgesture.data.clip import Clip, ClipMeta
from microgesture.data.layouts import get_layout
from microgesture.data.transforms import fill_missing, prepare_clip

TRAINING_MAX = 500.0  # clips/s consumed by the training loop (upper end)


def timed(fn, repeats: int) -> float:
    """Median seconds per call after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def synthetic_batch(layout_name: str, n: int = 64, t: int = 64, seed: int = 0) -> torch.Tensor:
    lay = get_layout(layout_name)
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 1, t, lay.num_joints, 3, generator=g) * 0.3
    x[:, :, :, lay.center_index] = 0
    x[torch.rand(n, 1, t, lay.num_joints, generator=g) < 0.05] = float("nan")  # ~5 % missing joints
    return x


def bench_presets(repeats: int) -> None:
    print("augmentation presets (batch of 64 clips, 64 frames, 3 channels)")
    print(f"{'layout':<10} {'threads':>7} {'preset':<8} {'clips/s':>10} {'x target':>9} {'x baseline':>11}")
    for layout_name in ("imigue22", "ntu25"):
        x = synthetic_batch(layout_name)
        n = x.shape[0]
        mat = torch.eye(3).expand(n, 3, 3).contiguous()
        for threads in (1, 2):
            torch.set_num_threads(threads)
            base = timed(lambda x=x, mat=mat: torch.einsum("nmtvc,ndc->nmtvd", x, mat), repeats)
            for preset in ("action", "mg"):
                aug = build_augmentation(preset, layout_name)
                g = torch.Generator().manual_seed(0)
                sec = timed(lambda aug=aug, g=g, x=x: fill_missing(aug(x, g)), repeats)
                rate = n / sec
                print(f"{layout_name:<10} {threads:>7} {preset:<8} {rate:>10.0f} {rate / TRAINING_MAX:>8.1f}x "
                      f"{sec / base:>10.1f}x")


def bench_cuda(repeats: int) -> None:
    if not torch.cuda.is_available():
        print("\n(no CUDA device: GPU rows skipped)")
        return
    print(f"\naugmentation presets on {torch.cuda.get_device_name()} (batch 64 x 1 x 64 x V x 3)")
    print(f"{'layout':<10} {'preset':<8} {'clips/s':>10} {'x target':>9} {'x baseline':>11}")
    for layout_name in ("imigue22", "ntu25"):
        x = synthetic_batch(layout_name).cuda()
        n = x.shape[0]
        mat = torch.eye(3, device="cuda").expand(n, 3, 3).contiguous()

        def sync(fn):
            def run():
                fn()
                torch.cuda.synchronize()
            return run

        base = timed(sync(lambda x=x, mat=mat: torch.einsum("nmtvc,ndc->nmtvd", x, mat)), repeats)
        for preset in ("action", "mg"):
            aug = build_augmentation(preset, layout_name)
            g = torch.Generator(device="cuda").manual_seed(0)
            sec = timed(sync(lambda aug=aug, g=g, x=x: fill_missing(aug(x, g))), repeats)
            rate = n / sec
            print(f"{layout_name:<10} {preset:<8} {rate:>10.0f} {rate / TRAINING_MAX:>8.1f}x {sec / base:>10.1f}x")


def bench_prepare(repeats: int) -> None:
    print("\nprepare_clip per clip (single process)")
    print(f"{'layout':<10} {'frames in':>9} {'sampling':<9} {'streams':<12} {'clips/s':>10} {'x target':>9}")
    rng = np.random.default_rng(0)
    for layout_name, c, t_in in (("imigue22", 2, 90), ("imigue22", 2, 300), ("ntu25", 3, 150)):
        lay = get_layout(layout_name)
        kp = rng.normal(0, 1, (1, t_in, lay.num_joints, c)).astype(np.float32)
        kp[rng.random(kp.shape[:3]) < 0.05] = np.nan
        clip = Clip(kp, ClipMeta("bench", layout=layout_name), np.ones(kp.shape[:3], np.float32))
        for sampling, streams in (("resize", ("joint",)), ("uniform", ("joint",)), ("resize", ("j", "b", "jm"))):
            sec = timed(lambda clip=clip, s=sampling, st=streams: prepare_clip(
                clip, num_frames=64, sampling=s, train=True, seed=1, streams=st), repeats * 5)
            rate = 1.0 / sec
            print(f"{layout_name:<10} {t_in:>9} {sampling:<9} {','.join(streams):<12} {rate:>10.0f} "
                  f"{rate / TRAINING_MAX:>8.1f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=20)
    args = ap.parse_args()
    print(f"torch {torch.__version__}, numpy {np.__version__}; target = {TRAINING_MAX:.0f} clips/s x 5\n")
    bench_presets(args.repeats)
    bench_cuda(args.repeats)
    torch.set_num_threads(1)
    bench_prepare(args.repeats)


if __name__ == "__main__":
    main()
