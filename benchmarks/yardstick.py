"""What the speed benchmarks share: the peak yardstick, the clock, the reference code paths, the peer table.

Why a yardstick of its own: "share of peak" is only as honest as the peak. On the project's AVX-512 AMD
CPUs MKL's fp32 ``torch.matmul`` runs an AVX2 path at about half of what oneDNN's AVX-512 kernels reach, so
the matmul rate flatters every convolution measured against it; and a 1 x 1 convolution over a batch of
*one* is not handed to oneDNN by PyTorch when it runs on one thread (it takes the slower im2col + MKL path),
so a batch-1 "oneDNN" probe silently measures the wrong library at one thread. The yardstick here is the
faster of two dense oneDNN convolutions that stay on oneDNN at any thread count: a 2048^3 GEMM as a
1 x 1 convolution over 16 x 128 positions, and a 256-channel 9 x 1 convolution (the shape of ST-GCN's
temporal convolutions; on a busy machine it keeps more of its rate than the 1 x 1 one).

Why a CPU clock: on a machine shared with other jobs, wall time measures the scheduler as much as the
code. ``--clock cpu`` times the calling thread's CPU time (one torch thread only), which other processes
time-slicing the core do not inflate; a sibling hyper-thread still slows the FPUs, which is why every
share is taken against a yardstick re-measured in the same round.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Callable, Iterator

import torch
from torch import nn

import microgesture.models.base as model_base
import microgesture.models.stgcn as stgcn

# docs/performance-anchors.md (shared/docs), section "Update 2026-12-02": the peers run through their own
# code on this machine kind (2 threads, 2 bodies, pre-loaded batch, their augmentation outside the timing).
# A table from that file, not a live run.
PEERS_2026_12_02 = {
    "peak_gflops": 375.0,
    "threads": 2,
    "rows": [  # name, T, batch, clips/s, GFLOP per clip, share of the oneDNN peak
        ("SkeletonCLR", 50, 32, 21.1, 4.92, 0.28),
        ("SkeletonCLR", 50, 128, 13.4, 4.92, 0.18),
        ("AimCLR", 50, 32, 13.8, 8.63, 0.32),
        ("AimCLR", 50, 128, 6.2, 8.63, 0.14),
        ("ISC (their train())", 64, 16, 1.61, 56.0, 0.24),
        ("microgesture STB, before issue 16", 64, 32, 27.2, 6.85, 0.495),
    ],
}


def make_clock(kind: str) -> Callable[[], float]:
    """``wall`` (``perf_counter``) or ``cpu`` (this thread's CPU time; needs ``torch.get_num_threads() == 1``)."""
    if kind == "wall":
        return time.perf_counter
    if kind == "cpu":
        if torch.get_num_threads() != 1:
            raise SystemExit("--clock cpu times the calling thread only: use it with --threads 1")
        return time.thread_time
    raise SystemExit(f"unknown clock {kind!r}: wall or cpu")


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class Yardstick:
    """Peak fp32 rates of this device, measured on demand (GFLOP/s); see the module docstring."""

    def __init__(self, device: torch.device, clock: Callable[[], float]):
        self.device = device
        self.clock = clock
        g = torch.Generator().manual_seed(0)
        n = 2048
        self.a = torch.randn(n, n, generator=g).to(device)
        self.b = torch.randn(n, n, generator=g).to(device)
        self.mm_flops = 2 * n**3
        if device.type == "cpu":
            cl = torch.channels_last
            self.x1 = torch.randn(16, n, 1, n // 16, generator=g).contiguous(memory_format=cl)
            self.conv1 = nn.Conv2d(n, n, 1, bias=False).to(memory_format=cl).requires_grad_(False)
            self.flops1 = 2 * n**3
            c, shape = 256, (32, 256, 16, 25)
            self.x9 = torch.randn(*shape, generator=g).contiguous(memory_format=cl)
            self.conv9 = nn.Conv2d(c, c, (9, 1), padding=(4, 0), bias=False).to(memory_format=cl).requires_grad_(False)
            self.flops9 = 2 * shape[0] * shape[2] * shape[3] * c * c * 9
            self.onednn()  # oneDNN primitive caches

    def _rate(self, fn: Callable[[], object], flops: float, repeats: int) -> float:
        best = float("inf")
        with torch.no_grad():
            for _ in range(repeats):
                sync(self.device)
                t0 = self.clock()
                fn()
                sync(self.device)
                best = min(best, self.clock() - t0)
        return flops / best / 1e9

    def matmul(self, repeats: int = 2) -> float:
        """fp32 ``torch.matmul`` 2048^3 (MKL on the CPU, cuBLAS on a GPU)."""
        return self._rate(lambda: self.a @ self.b, self.mm_flops, repeats)

    def onednn_parts(self, repeats: int = 2) -> tuple[float, float]:
        """(1 x 1 convolution 2048^3, 9 x 1 convolution 256 channels) through oneDNN."""
        return (self._rate(lambda: self.conv1(self.x1), self.flops1, repeats),
                self._rate(lambda: self.conv9(self.x9), self.flops9, repeats))

    def onednn(self, repeats: int = 2) -> float:
        return max(self.onednn_parts(repeats))

    def peak(self) -> float:
        """The share-of-peak denominator: oneDNN on the CPU, the matmul on a GPU."""
        return self.onednn() if self.device.type == "cpu" else self.matmul(repeats=5)


def interleave(fns: dict[str, Callable[[], object]], rounds: int, yardstick: Yardstick,
               ) -> tuple[dict[str, list[float]], list[float]]:
    """Seconds per call of each function and the peak, measured in turn in every round (after a warm-up)."""
    for fn in fns.values():
        fn()
    clock = yardstick.clock
    times: dict[str, list[float]] = {k: [] for k in fns}
    peaks: list[float] = []
    for _ in range(rounds):
        peaks.append(yardstick.peak())
        for name, fn in fns.items():
            sync(yardstick.device)
            t0 = clock()
            fn()
            sync(yardstick.device)
            times[name].append(clock() - t0)
    return times, peaks


def median_share(seconds: list[float], peaks: list[float], flops: float) -> float:
    """Median over rounds of (achieved GFLOP/s) / (that round's peak)."""
    return statistics.median(flops / s / 1e9 / p for s, p in zip(seconds, peaks, strict=True))


def median_speedup(base: list[float], new: list[float]) -> float:
    """Median over rounds of base time / new time (both measured in the same round)."""
    return statistics.median(b / n for b, n in zip(base, new, strict=True))


def _plain_mean(y: torch.Tensor) -> torch.Tensor:
    return y.mean(dim=(2, 3))


@contextlib.contextmanager
def reference_paths() -> Iterator[None]:
    """Run graph encoders with the code paths before issue 16 (the graph aggregation as one broadcast
    ``torch.matmul``, the pooling as ``mean`` also under autograd), so old and new can be timed side by side
    in one process."""
    fast = stgcn.aggregate, model_base.mean_over_frames_and_joints
    stgcn.aggregate, model_base.mean_over_frames_and_joints = stgcn.aggregate_matmul, _plain_mean
    try:
        yield
    finally:
        stgcn.aggregate, model_base.mean_over_frames_and_joints = fast


def print_peers() -> None:
    p = PEERS_2026_12_02
    print(f"--- peers: table from docs/performance-anchors.md (Update 2026-12-02), NOT a live run: their own code, "
          f"{p['threads']} threads, oneDNN peak {p['peak_gflops']:.0f} GFLOP/s ---")
    print(f"{'implementation':<36} {'T':>3} {'batch':>5} {'clips/s':>8} {'GFLOP/clip':>10} {'share':>6}")
    for name, t, b, rate, gf, share in p["rows"]:
        print(f"{name:<36} {t:>3} {b:>5} {rate:>8.2f} {gf:>10.2f} {share:>6.0%}")


def peer_ratios(frames: int, share: float, gflop_per_clip: float, rate: float, threads: int) -> None:
    """Our step against the peers at the same T: clips/s at an equal oneDNN peak, i.e.
    ``(share / GFLOP per clip) / (their share / their GFLOP per clip)`` — what the clips/s ratio would be with
    both on the same machine at the same peak; and, when we also run at their thread count, the plain clips/s
    ratio (their sitting, not this one)."""
    p = PEERS_2026_12_02
    for name, t, b, their_rate, their_gf, their_share in p["rows"]:
        if t != frames or name.startswith("microgesture"):
            continue
        at_equal_peak = (share / gflop_per_clip) / (their_share / their_gf)
        line = f"vs {name} (T={t}, batch {b}), clips/s at equal oneDNN peak: {at_equal_peak:5.2f}x"
        if threads == p["threads"]:
            line += f";  clips/s now / theirs in the table: {rate / their_rate:5.2f}x"
        print(line)
