"""Encoder speed as a share of this machine's oneDNN peak, all measured in one process.

For each encoder at T frames (default 64), NTU-25 joints, 3-D, one body:

* FLOPs per clip (``torch.utils.flop_counter.FlopCounterMode``) and parameters;
* inference clips/s at batch 64 — ``eager`` (the training module in eval mode under
  ``torch.inference_mode``), ``opt`` (``prepare_for_inference``: BatchNorm folded into the convolutions,
  channels-last) and ``opt, reference paths`` (the same before issue 16: graph aggregation as a broadcast
  ``torch.matmul``; the speed-up ``opt / ref`` is measured in the same rounds) — and the single-clip latency
  of ``opt``;
* share of peak = achieved FLOP/s / the oneDNN peak of ``yardstick.py`` (the faster of a 2048^3 GEMM as a
  1 x 1 convolution and a 256-channel 9 x 1 convolution, both on oneDNN at any thread count; MKL's
  ``torch.matmul`` is printed as extra information), re-measured in every round right beside the model so
  a busy machine shifts both alike (the median of the per-round shares is printed, and the median clips/s).

Then a training step (forward + backward of the encoder, loss on the embedding; no optimizer, no MoCo key
encoder) for the dual-stream STB model at batch 32 and 64, NCHW and channels-last, and optionally
``--compile`` (``torch.compile``; the first call compiles for minutes on a 2-core machine).

On a machine shared with other jobs use ``--threads 1 --clock cpu`` (this thread's CPU time) and say so.
Targets: >= 70 % of the oneDNN peak for inference (the dual-stream encoder), >= 60 % for pretraining.

    .venv/bin/python benchmarks/bench_models.py [--models dual_stream,stgcn_quarter] [--rounds 6] [--compile]
    .venv/bin/python benchmarks/bench_models.py --threads 1 --clock cpu
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
from yardstick import Yardstick, interleave, make_clock, median_share, median_speedup, reference_paths

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


def seconds(fn: Callable[[], Any], clock: Callable[[], float]) -> float:
    t0 = clock()
    fn()
    return clock() - t0


def count_flops(fn: Callable[[], Any]) -> int:
    with FlopCounterMode(display=False) as fc:
        fn()
    return fc.get_total_flops()


def build(key: str, frames: int) -> torch.nn.Module:
    cfg = dict(ENCODERS[key])
    name = cfg.pop("name", key)
    return create_model(name, layout="ntu25", in_channels=3, num_frames=frames, **cfg)


def embed_fn(model: torch.nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    return model.embed if hasattr(model, "embed") else model


def bench_inference(keys: list[str], batch: int, frames: int, rounds: int, stick: Yardstick) -> None:
    print(f"\nencoder inference: batch {batch}, T={frames}, ntu25 3-D, M=1, {torch.get_num_threads()} threads; "
          f"clips/s and shares are medians over {rounds} interleaved rounds")
    print(f"{'model':<18} {'params':>8} {'GFLOP/clip':>10} {'eager clip/s':>12} {'share':>6} "
          f"{'opt clip/s':>10} {'share':>6} {'opt x eager':>11} {'ref share':>9} {'opt x ref':>9} "
          f"{'latency ms':>10} {'peak GF/s':>9}")
    for key in keys:
        torch.manual_seed(0)
        model = build(key, frames).eval()
        opt = prepare_for_inference(model, channels_last=True)
        x = torch.randn(batch, 1, frames, 25, 3)
        f_eager, f_opt = embed_fn(model), embed_fn(opt)

        def f_ref(x: torch.Tensor = x, fn: Callable = f_opt) -> torch.Tensor:
            with reference_paths():
                return fn(x)

        with torch.inference_mode():
            torch.testing.assert_close(f_opt(x[:2]), f_eager(x[:2]), atol=1e-3, rtol=1e-3)
            # the whole batch: a batch of one takes special paths (the TCN runs it as two rows)
            flops = count_flops(partial(f_eager, x))
            times, peaks = interleave({"eager": partial(f_eager, x), "opt": partial(f_opt, x), "ref": f_ref},
                                      rounds, stick)
            one = x[:1]
            f_opt(one)
            latency = min(seconds(partial(f_opt, one), stick.clock) for _ in range(5)) * 1e3
        params = model_info(model)["params"]
        rate = {k: batch / statistics.median(v) for k, v in times.items()}
        share = {k: median_share(v, peaks, flops) for k, v in times.items()}
        print(f"{key:<18} {params / 1e6:>7.2f}M {flops / batch / 1e9:>10.3f} {rate['eager']:>12.1f} "
              f"{share['eager']:>6.0%} {rate['opt']:>10.1f} {share['opt']:>6.0%} "
              f"{median_speedup(times['eager'], times['opt']):>11.2f} {share['ref']:>9.0%} "
              f"{median_speedup(times['ref'], times['opt']):>9.2f} {latency:>10.1f} {statistics.median(peaks):>9.1f}",
              flush=True)


def bench_training(key: str, batches: list[int], frames: int, rounds: int, compile_: bool,
                   stick: Yardstick) -> None:
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

        flops = count_flops(partial(step, base))
        if compile_:
            t_first = seconds(partial(step, variants["compiled"]), time.perf_counter)
            print(f"  (torch.compile: first step took {t_first:.0f} s wall, compilation included)")
        times, peaks = interleave({name: partial(step, model) for name, model in variants.items()}, rounds, stick)
        for name, ts in times.items():
            print(f"{name:<16} {batch:>5} {flops / batch / 1e9:>10.3f} {batch / statistics.median(ts):>7.1f} "
                  f"{median_share(ts, peaks, flops):>6.0%} {statistics.median(peaks):>9.1f}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default=",".join(ENCODERS), help=f"subset of {', '.join(ENCODERS)}")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--frames", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--train-model", default="dual_stream")
    ap.add_argument("--train-batches", default="32,64")
    ap.add_argument("--no-train", action="store_true")
    ap.add_argument("--compile", action="store_true", help="also time a torch.compile'd training step")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--clock", default="wall", help="wall | cpu (this thread's CPU time; needs --threads 1)")
    args = ap.parse_args()
    warnings.filterwarnings("ignore", category=UserWarning)
    if args.threads:
        torch.set_num_threads(args.threads)
    stick = Yardstick(torch.device("cpu"), make_clock(args.clock))
    conv1, conv9 = stick.onednn_parts(repeats=3)
    clock = "this thread's CPU time" if args.clock == "cpu" else "wall clock"
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {clock}: oneDNN peak "
          f"{max(conv1, conv9):.1f} GFLOP/s (2048^3 GEMM as a 1x1 conv {conv1:.1f}, 256-channel 9x1 conv "
          f"{conv9:.1f}); fp32 torch.matmul 2048^2 (MKL, extra info) {stick.matmul(repeats=3):.1f}; "
          f"shares use the oneDNN peak of each round")
    keys = [k for k in args.models.split(",") if k]
    unknown = sorted(set(keys) - set(ENCODERS))
    if unknown:
        raise SystemExit(f"unknown models {unknown}; choose from {', '.join(ENCODERS)}")
    bench_inference(keys, args.batch, args.frames, args.rounds, stick)
    if not args.no_train:
        batches = [int(b) for b in args.train_batches.split(",")]
        bench_training(args.train_model, batches, args.frames, args.rounds, args.compile, stick)


if __name__ == "__main__":
    main()
