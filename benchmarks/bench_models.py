"""Encoder speed as a share of this machine's fp32 matmul peak, all measured in one process.

For each encoder at T frames (default 64), NTU-25 joints, 3-D, one body:

* FLOPs per clip (``torch.utils.flop_counter.FlopCounterMode``) and parameters;
* inference clips/s at batch 64 — ``eager`` (the training module in eval mode under
  ``torch.inference_mode``) and ``opt`` (``prepare_for_inference``: BatchNorm folded into the
  convolutions, channels-last) — and the single-clip latency of ``opt``;
* share of peak = achieved FLOP/s / peak, where the peak is a 2048² fp32 matmul at the current thread
  count — or the same GEMM through oneDNN if that is faster (on AVX-512 AMD CPUs MKL's matmul is not the
  machine's peak) — re-measured in every round right beside the model so a busy machine shifts both
  alike (the median of the per-round shares is printed, the best round's clips/s).

Then a training step (forward + backward of the encoder, loss on the embedding; no optimizer, no MoCo key
encoder) for the dual-stream STB model at batch 32 and 64, NCHW and channels-last, and optionally
``--compile`` (``torch.compile``; the first call compiles for minutes on a 2-core machine).

Reference points (docs/performance-anchors.md, 2 threads, AMD EPYC Zen 3): the ¼-width ST-GCN reference
reaches 71 clips/s = 48 % of peak at T=64; targets are >= 70 % of peak for inference and >= 60 % for
pretraining.

    .venv/bin/python benchmarks/bench_models.py [--models stgcn_quarter,gru] [--rounds 4] [--compile]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time
import warnings
from collections.abc import Callable
from functools import partial
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from microgesture.models import create_model, model_info
from microgesture.models.inference import prepare_for_inference, set_channels_last

ENCODERS: dict[str, dict[str, Any]] = {
    "stgcn_quarter": {},
    "stgcn": {},
    "agcn": {},
    "gru": {},
    "tcn": {},
    "dual_stream": {"fusion": "stb_weight"},  # ¼-width ST-GCN + 2x256 BiGRU
    "dual_stream_graph": {"name": "dual_stream", "fusion": "stb_graph", "graph_tokens": "all"},
}


def matmul_gflops(size: int = 2048, repeats: int = 3) -> float:
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2 * size**3 / best / 1e9


def onednn_gflops(size: int = 2048, repeats: int = 3) -> float:
    """The same 2048³ GEMM run through oneDNN as a channels-last 1x1 convolution.

    Why a second peak: on AMD CPUs with AVX-512, MKL's sgemm (behind ``torch.matmul``) takes an AVX2 path
    while oneDNN (behind the convolutions) uses AVX-512, so convs can beat the matmul "peak"; the larger
    of the two is the honest denominator.
    """
    conv = torch.nn.Conv2d(size, size, 1, bias=False).to(memory_format=torch.channels_last)
    x = torch.randn(1, size, 32, size // 32).to(memory_format=torch.channels_last)
    with torch.inference_mode():
        conv(x)
        best = min(seconds(partial(conv, x)) for _ in range(repeats))
    return 2 * size**3 / best / 1e9


def seconds(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def count_flops(fn: Callable[[], Any]) -> int:
    with FlopCounterMode(display=False) as fc:
        fn()
    return fc.get_total_flops()


def interleaved(fns: dict[str, Callable[[], Any]], batch: int, flops: float, rounds: int,
                ) -> tuple[dict[str, list[float]], dict[str, list[float]], list[float]]:
    """Clips/s and share of peak per variant; each round re-measures the peak right beside the variants.

    The peak of a round is the larger of the MKL matmul and the oneDNN GEMM (see :func:`onednn_gflops`).
    """
    for fn in fns.values():
        fn()  # warm-up (oneDNN primitive caches, allocator)
    rates: dict[str, list[float]] = {k: [] for k in fns}
    shares: dict[str, list[float]] = {k: [] for k in fns}
    peaks = []
    for _ in range(rounds):
        peak = max(matmul_gflops(), onednn_gflops())
        peaks.append(peak)
        for name, fn in fns.items():
            rate = batch / seconds(fn)
            rates[name].append(rate)
            shares[name].append(rate * flops / 1e9 / peak)
    return rates, shares, peaks


def build(key: str, frames: int) -> torch.nn.Module:
    cfg = dict(ENCODERS[key])
    name = cfg.pop("name", key)
    return create_model(name, layout="ntu25", in_channels=3, num_frames=frames, **cfg)


def embed_fn(model: torch.nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    return model.embed if hasattr(model, "embed") else model


def bench_inference(keys: list[str], batch: int, frames: int, rounds: int) -> None:
    print(f"\nencoder inference: batch {batch}, T={frames}, ntu25 3-D, M=1, {torch.get_num_threads()} threads")
    print(f"{'model':<18} {'params':>8} {'GFLOP/clip':>10} {'eager clip/s':>12} {'share':>6} "
          f"{'opt clip/s':>10} {'share':>6} {'opt x eager':>11} {'latency ms':>10} {'peak GF/s':>9}")
    for key in keys:
        torch.manual_seed(0)
        model = build(key, frames).eval()
        opt = prepare_for_inference(model, channels_last=True)
        x = torch.randn(batch, 1, frames, 25, 3)
        f_eager, f_opt = embed_fn(model), embed_fn(opt)
        with torch.inference_mode():
            torch.testing.assert_close(f_opt(x[:2]), f_eager(x[:2]), atol=1e-3, rtol=1e-3)
            flops = count_flops(partial(f_eager, x[:1]))
            rates, shares, peaks = interleaved({"eager": partial(f_eager, x), "opt": partial(f_opt, x)},
                                               batch, flops, rounds)
            one = x[:1]
            f_opt(one)
            latency = min(seconds(partial(f_opt, one)) for _ in range(5)) * 1e3
        params = model_info(model)["params"]
        print(f"{key:<18} {params / 1e6:>7.2f}M {flops / 1e9:>10.3f} {max(rates['eager']):>12.1f} "
              f"{statistics.median(shares['eager']):>6.0%} {max(rates['opt']):>10.1f} "
              f"{statistics.median(shares['opt']):>6.0%} "
              f"{max(rates['opt']) / max(rates['eager']):>11.2f} {latency:>10.1f} {max(peaks):>9.1f}")


def bench_training(key: str, batches: list[int], frames: int, rounds: int, compile_: bool) -> None:
    print(f"\ntraining step (forward + backward, {key}, T={frames}, ntu25 3-D, M=1)")
    print(f"{'variant':<16} {'batch':>5} {'GFLOP/clip':>10} {'clip/s':>7} {'share':>6} {'peak GF/s':>9}")
    torch.manual_seed(0)
    base = build(key, frames).train()
    variants: dict[str, torch.nn.Module] = {"nchw": base, "channels_last": set_channels_last(copy.deepcopy(base))}
    if compile_:
        variants["compiled"] = torch.compile(copy.deepcopy(base))

    for batch in batches:
        x = torch.randn(batch, 1, frames, 25, 3)

        def step(model: torch.nn.Module, x: torch.Tensor = x) -> None:
            out = model(x)
            (out["fused"] if isinstance(out, dict) else out).square().mean().backward()

        flops = count_flops(partial(step, base)) / batch
        for name, model in variants.items():
            t_first = seconds(partial(step, model))
            if name == "compiled":
                print(f"  (torch.compile: first step took {t_first:.0f} s)")
            rates, shares, peaks = interleaved({name: partial(step, model)}, batch, flops, rounds)
            print(f"{name:<16} {batch:>5} {flops / 1e9:>10.3f} {max(rates[name]):>7.1f} "
                  f"{statistics.median(shares[name]):>6.0%} {max(peaks):>9.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default=",".join(ENCODERS), help=f"subset of {', '.join(ENCODERS)}")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--frames", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--train-model", default="dual_stream")
    ap.add_argument("--train-batches", default="32,64")
    ap.add_argument("--no-train", action="store_true")
    ap.add_argument("--compile", action="store_true", help="also time a torch.compile'd training step")
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    warnings.filterwarnings("ignore", category=UserWarning)
    if args.threads:
        torch.set_num_threads(args.threads)
    mm = max(matmul_gflops() for _ in range(3))
    dnn = max(onednn_gflops() for _ in range(3))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads: fp32 2048² matmul {mm:.1f} GFLOP/s, "
          f"same GEMM via oneDNN 1x1 conv {dnn:.1f} GFLOP/s; shares below use the larger, per round")
    keys = [k for k in args.models.split(",") if k]
    unknown = sorted(set(keys) - set(ENCODERS))
    if unknown:
        raise SystemExit(f"unknown models {unknown}; choose from {', '.join(ENCODERS)}")
    bench_inference(keys, args.batch, args.frames, args.rounds)
    if not args.no_train:
        batches = [int(b) for b in args.train_batches.split(",")]
        bench_training(args.train_model, batches, args.frames, args.rounds, args.compile)


if __name__ == "__main__":
    main()
