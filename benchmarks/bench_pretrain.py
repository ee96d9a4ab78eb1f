"""Pretraining throughput as a share of this machine's oneDNN peak, every ratio measured in one process.

Prints, in order:

1. the yardsticks (``yardstick.py``): the **oneDNN peak** — the faster of a 2048^3 GEMM as a 1 x 1
   convolution and a 256-channel 9 x 1 convolution, both on oneDNN at any thread count — which is the
   share-of-peak denominator, and the fp32 ``torch.matmul`` (MKL) rate as extra information. The peak is
   re-measured in every timing round, right beside the steps, and each share is the median over rounds of
   (step FLOP/s) / (that round's peak);
2. the dual-stream STB step (``pretrain_stb`` config: 1/4-width ST-GCN + 2 x 256 BiGRU, STB weight fusion,
   cross-stream MoCo with the fused term, batch 32, T = ``--frames``): one full pretraining step (mg
   augmentation of two views, fill, query forward + backward, key forward, queue, SGD step, momentum update)
   in clips/s, FLOPs per clip (``torch.utils.flop_counter``, forward + backward of the whole step, counted
   once: every row below does the same arithmetic) and share of peak. Rows, timed in turn in every round:
   ``default`` (what ``PretrainModule`` trains on the CPU: channels-last, the graph aggregation as one oneDNN
   call); ``reference paths`` (the code before issue 16: the aggregation as a broadcast ``torch.matmul``) —
   the in-process baseline of the speed-up; contiguous NCHW activations; ``bf16 autocast`` (what
   ``trainer.precision=bf16-mixed`` runs: not bit-comparable with fp32, opt-in; its accuracy effect is in
   docs/results/speed.md); shuffle-BN over ``--bn-splits`` sub-batches; and with ``--compile``
   ``torch.compile`` of both encoders (the compile time is printed on its own);
3. the single-stream MoCo baseline (``pretrain_moco``: 1/4-width ST-GCN) the same way;
4. an ISC-like configuration (full-width AGCN + 3 x 1024 BiGRU, batch 16, cross-stream MoCo) with the GRU
   stepped one frame at a time as ISC does — the in-process baseline for the ">= 10x ISC" ratio — and (full
   run only) the same with one ``nn.GRU`` call;
5. loader-only clips/s through the real ``SkeletonDataModule`` (prepared-once cache and per-clip path) and
   their ratio to the STB training rate (target >= 5x);
6. the ratios, and the peers (SkeletonCLR, AimCLR, ISC through their own code) as a table from
   docs/performance-anchors.md — not a live run — with our step against each peer at the same T as
   clips/s at an equal oneDNN peak.

Input geometry: NTU-25 joints, 3-D, 2 bodies (ISC's and the peers' setting), float32 throughout. On a machine
shared with other jobs use ``--threads 1 --clock cpu`` (the thread's CPU time: other processes' time slices
do not count) and say so; ``--frames 50`` matches SkeletonCLR's and AimCLR's clip length.

    .venv/bin/python benchmarks/bench_pretrain.py                        # full run (several minutes)
    .venv/bin/python benchmarks/bench_pretrain.py --quick --frames 50 --threads 1 --clock cpu
    .venv/bin/python benchmarks/bench_pretrain.py --quick --device cuda
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch
from omegaconf import OmegaConf
from torch import nn
from torch.utils.flop_counter import FlopCounterMode
from yardstick import (
    Yardstick,
    interleave,
    make_clock,
    median_share,
    median_speedup,
    peer_ratios,
    print_peers,
    reference_paths,
    sync,
)

from microgesture.augment import build_augmentation
from microgesture.data.clip import Clip, ClipMeta
from microgesture.data.dataset import SkeletonDataset
from microgesture.data.layouts import get_layout
from microgesture.data.transforms import fill_missing
from microgesture.models import create_model
from microgesture.models.inference import set_channels_last
from microgesture.models.moco import build_moco
from microgesture.training.config import load_config, schema
from microgesture.training.datamodule import SkeletonDataModule, source_from_dataset


class SteppedGRU(nn.Module):
    """ISC's temporal stream: the same BiGRU called once per frame, outputs concatenated with torch.cat."""

    def __init__(self, encoder: nn.Module):
        super().__init__()
        self.encoder = encoder
        self.out_dim = encoder.out_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        seq = self.encoder.frames(x)
        hidden, output = None, None
        for t in range(seq.shape[1]):
            out, hidden = self.encoder.gru(seq[:, t:t + 1], hidden)
            output = out if output is None else torch.cat([output, out], dim=1)
        return output[:, -1]


class Step:
    """One complete pretraining step, as ``PretrainModule.training_step`` runs it (minus Lightning's
    bookkeeping): the views are augmented in float32 outside autocast, the MoCo forward runs under bf16
    autocast when ``bf16`` is set, and ``reference`` selects the code paths before issue 16."""

    def __init__(self, model: nn.Module, objective: str, moco_kw: dict, aug: Callable, lr: float = 0.01,
                 bf16: bool = False, reference: bool = False):
        self.moco = build_moco(model, objective, **moco_kw).to(next(model.parameters()).device)
        self.aug = aug
        params = [p for p in self.moco.parameters() if p.requires_grad]
        self.opt = torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=1e-4)
        self.g = torch.Generator().manual_seed(0)
        self.bf16 = bf16
        self.reference = reference

    def __call__(self, x: torch.Tensor) -> float:
        with reference_paths() if self.reference else contextlib.nullcontext():
            v1 = fill_missing(self.aug(x, self.g))
            v2 = fill_missing(self.aug(x, self.g))
            with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=self.bf16):
                out = self.moco(v1, v2)
            self.opt.zero_grad(set_to_none=True)
            out.loss.backward()
            self.opt.step()
            self.moco.update_key_encoder()
        return float(out.loss.detach())  # a Python float: synchronises every step, like Lightning's logging


def flops_per_clip(step: Step, x: torch.Tensor) -> float:
    """FLOPs of one real fp32 step, counted on a CPU copy: the counter has formulas for the GEMMs an ``nn.GRU``
    runs on the CPU but none for the fused cuDNN RNN kernel, so counting on the GPU would drop the GRU."""
    probe = copy.deepcopy(step)  # do not disturb the timed model's state
    probe.moco.cpu()
    probe.opt.state.clear()  # momentum buffers stay behind on the timed device; the first step recreates them
    probe.bf16 = False
    with FlopCounterMode(display=False) as counter:
        probe(x.cpu())
    return counter.get_total_flops() / x.shape[0]


def params_m(step: Step) -> float:
    return sum(p.numel() for p in step.moco.encoder_q.parameters()) / 1e6


def print_row(name: str, n: int, seconds: list[float], peaks: list[float], flops: float, params: float) -> dict:
    rate = n / statistics.median(seconds)
    share = median_share(seconds, peaks, flops * n)
    print(f"{name:<52s} batch {n:>3d}  {rate:8.2f} clips/s  {flops / 1e9:6.2f} GFLOP/clip  {share:6.1%} of peak  "
          f"({params:.2f} M encoder params)", flush=True)
    return {"rate": rate, "share": share}


def batch(n: int, m: int, t: int, v: int, c: int, device: torch.device, missing: float = 0.02) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    x = torch.randn(n, m, t, v, c, generator=g) * 0.3
    x[torch.rand(n, m, t, v, generator=g) < missing] = float("nan")
    return x.to(device)


def loader_rate(layout: str, m: int, t: int, c: int, batch_size: int, cache: bool, device: torch.device,
                clock: Callable[[], float], num_clips: int = 1024, min_clips: int = 4096) -> tuple[float, float]:
    """Loader-only clips/s of the real datamodule (batches moved to ``device``, no workers: it runs in this
    thread, so the CPU clock applies) and the one-off setup time."""
    rng = np.random.default_rng(0)
    v = get_layout(layout).num_joints
    clips = []
    for i in range(num_clips):
        kp = rng.normal(size=(m, int(rng.integers(40, 120)), v, c)).astype(np.float32)
        kp[rng.random(kp.shape[:3]) < 0.02] = np.nan
        clips.append(Clip(kp, ClipMeta(f"c{i}", layout=layout, label=i % 10)))
    cfg = OmegaConf.create(schema("pretrain")["data"])
    cfg.update(dict(train_split=None, num_frames=t, max_persons=m, batch_size=batch_size,
                    cache="true" if cache else "false", num_workers=0))
    dm = SkeletonDataModule(cfg, seed=0, source=source_from_dataset(
        SkeletonDataset("bench", layout, clips, [str(k) for k in range(10)], {})))
    t0 = clock()
    dm.setup()
    setup_s = clock() - t0
    loader = dm.train_dataloader()
    n, epoch, t0 = 0, 0, clock()
    while n < (min_clips if cache else num_clips):
        loader.sampler.set_epoch(epoch)
        for x, y in loader:
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            n += x.shape[0]
        epoch += 1
    sync(device)
    return n / (clock() - t0), setup_s


def stb_rows(args, device: torch.device, stick: Yardstick, geom: dict, v: int) -> tuple[dict, float, float]:
    """Time every STB variant in turn, round after round; returns their rates/shares, GFLOP/clip, params."""
    cfg = load_config(config="pretrain_stb")
    args.batch = args.batch or int(cfg.data.batch_size)
    m = cfg.moco
    kw = dict(dim=m.dim, queue_size=m.queue_size, momentum=m.momentum, temperature=m.temperature,
              balance=m.balance, fused_weight=m.fused_weight)
    cpu = device.type == "cpu"

    def make(**opts) -> Step:
        torch.manual_seed(0)
        split = opts.pop("bn_splits", 1)
        step = Step(create_model(**{**dict(cfg.model), **geom}).to(device), "cross_stream",
                    {**kw, "bn_splits": split}, build_augmentation("mg", args.layout), **opts)
        if cpu:  # as PretrainModule trains on the CPU
            set_channels_last(step.moco)
        return step

    steps = {"default": make(), "reference": make(reference=True)}
    if cpu:
        steps["nchw"] = Step(create_model(**{**dict(cfg.model), **geom}), "cross_stream", kw,
                             build_augmentation("mg", args.layout))
    steps["bf16"] = make(bf16=True)
    if args.bn_splits > 1:
        steps["split"] = make(bn_splits=args.bn_splits)
    x = batch(args.batch, args.persons, args.frames, v, args.coords, device)
    flops = flops_per_clip(steps["reference"], x)
    compile_s = None
    if args.compile:
        steps["compiled"] = make()
        for enc in (steps["compiled"].moco.encoder_q, steps["compiled"].moco.encoder_k):
            enc.compile()
        t0 = time.perf_counter()
        steps["compiled"](x)
        compile_s = time.perf_counter() - t0
    times, peaks = interleave({k: (lambda s=s: s(x)) for k, s in steps.items()}, args.rounds, stick)
    gru = cfg.model.temporal
    names = {
        "default": f"STB dual-stream (1/4 ST-GCN + GRU {gru.num_layers}x{gru.hidden_size})"
                   + (", channels-last" if cpu else ""),
        "reference": "  the same, reference paths (before issue 16)",
        "nchw": "  the same, contiguous NCHW activations",
        "bf16": "  the same, bf16 autocast (opt-in, not fp32)",
        "split": f"  the same, shuffle-BN over {args.bn_splits} sub-batches",
        "compiled": "  the same, torch.compile of both encoders",
    }
    rows = {k: print_row(names[k], args.batch, times[k], peaks, flops, params_m(steps[k])) for k in steps}
    for k in steps:
        rows[k]["speedup"] = median_speedup(times["reference"], times[k])
    print(f"  (oneDNN peak over these rounds: median {statistics.median(peaks):.1f}, "
          f"range {min(peaks):.1f}-{max(peaks):.1f} GFLOP/s)")
    if compile_s is not None:
        print(f"  (torch.compile: first compiled step took {compile_s:.0f} s wall, compilation included)")
    return rows, flops / 1e9, statistics.median(peaks)


def single_row(name: str, step: Step, x: torch.Tensor, rounds: int, stick: Yardstick) -> float:
    flops = flops_per_clip(step, x)
    times, peaks = interleave({"s": lambda: step(x)}, rounds, stick)
    return print_row(name, x.shape[0], times["s"], peaks, flops, params_m(step))["rate"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layout", default="ntu25")
    ap.add_argument("--persons", type=int, default=2)
    ap.add_argument("--frames", type=int, default=64)
    ap.add_argument("--coords", type=int, default=3)
    ap.add_argument("--batch", type=int, default=None,
                    help="batch for our models (default: pretrain_stb's data.batch_size; ISC-like uses 16)")
    ap.add_argument("--rounds", type=int, default=8, help="timing rounds (one step of every STB row per round)")
    ap.add_argument("--quick", action="store_true", help="3 rounds on the CPU (40 on a GPU), one ISC-like step")
    ap.add_argument("--device", default="cpu", help="cpu or cuda (the loader prepares on the CPU, delivers there)")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    ap.add_argument("--clock", default="wall", help="wall | cpu (this thread's CPU time; needs --threads 1)")
    ap.add_argument("--bn-splits", type=int, default=4,
                    help="also time the STB step with shuffle-BN over this many sub-batches (1: skip)")
    ap.add_argument("--compile", action="store_true", help="also time torch.compile'd encoders (minutes to compile)")
    ap.add_argument("--skip-isc", action="store_true", help="skip the ISC-like rows (the slowest part)")
    args = ap.parse_args()
    device = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False  # float32 throughout, as on the CPU
        torch.backends.cudnn.allow_tf32 = False
    if args.quick:
        args.rounds = 40 if device.type == "cuda" else 3
    clock_name = "this thread's CPU time" if args.clock == "cpu" else "wall clock"
    stick = Yardstick(device, make_clock(args.clock))
    torch.manual_seed(0)
    geom = dict(layout=args.layout, in_channels=args.coords, num_frames=args.frames, num_persons=args.persons)
    v = get_layout(args.layout).num_joints
    threads = torch.get_num_threads()
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{threads} threads"
    print(f"torch {torch.__version__}, {where}, {clock_name}; input [N, {args.persons}, {args.frames}, {v}, "
          f"{args.coords}] float32", flush=True)
    mm = stick.matmul()
    if device.type == "cpu":
        conv1, conv9 = stick.onednn_parts()
        print(f"oneDNN peak (share-of-peak yardstick): {max(conv1, conv9):.1f} GFLOP/s  (2048^3 GEMM as a 1x1 conv "
              f"{conv1:.1f}, 256-channel 9x1 conv {conv9:.1f}); fp32 torch.matmul 2048^2 (MKL, extra info): "
              f"{mm:.1f}", flush=True)
    else:
        print(f"fp32 matmul peak (2048^2 torch.matmul, share-of-peak yardstick): {mm:.1f} GFLOP/s", flush=True)

    rows, gflop, peak = stb_rows(args, device, stick, geom, v)
    ours = rows["default"]["rate"]

    aug = build_augmentation("mg", args.layout)
    x = batch(args.batch, args.persons, args.frames, v, args.coords, device)
    moco_cfg = load_config(config="pretrain_moco")
    base_model = create_model(moco_cfg.model.name, **geom).to(device)
    base = Step(base_model, "moco", dict(queue_size=32768), aug)
    if device.type == "cpu":
        set_channels_last(base.moco)
    single_row("single-stream MoCo (1/4 ST-GCN), channels-last", base, x, args.rounds, stick)

    isc_rate = isc_fast = None
    if not args.skip_isc:
        xi = batch(16, args.persons, args.frames, v, args.coords, device)
        isc_kw = dict(queue_size=16384, balance="sum", fused_weight=0.0)
        isc_model = create_model("dual_stream", spatial="agcn", temporal="gru_isc", fusion="concat", dim=256,
                                 **geom).to(device)
        stepped = copy.deepcopy(isc_model)
        stepped.temporal = SteppedGRU(stepped.temporal)
        few = 1 if args.quick and device.type == "cpu" else 2
        isc_rate = single_row("ISC-like (AGCN + GRU 3x1024 stepped per frame)",
                              Step(stepped, "cross_stream", isc_kw, aug), xi, few, stick)
        if not args.quick:
            isc_fast = single_row("ISC-like, one nn.GRU call", Step(isc_model, "cross_stream", isc_kw, aug), xi,
                                  few, stick)

    cached, setup_s = loader_rate(args.layout, args.persons, args.frames, args.coords, args.batch, True, device,
                                   stick.clock)
    print(f"loader only, prepared-once cache (default):  {cached:10.1f} clips/s  "
          f"(one-off preparation of 1024 clips: {setup_s:.2f} s)", flush=True)
    per_clip, _ = loader_rate(args.layout, args.persons, args.frames, args.coords, args.batch, False, device,
                               stick.clock)
    print(f"loader only, per-clip prepare_clip, 0 workers: {per_clip:8.1f} clips/s", flush=True)

    print(f"--- ratios (same process; medians over {args.rounds} interleaved rounds, {clock_name}, "
          f"{threads if device.type == 'cpu' else 'GPU'} threads) ---")
    print(f"STB step, share of the oneDNN peak:               {rows['default']['share']:6.1%}  (target >= 60 %)"
          if device.type == "cpu" else f"STB step, share of the matmul peak: {rows['default']['share']:6.1%}")
    print(f"STB step, share of the peak, reference paths:     {rows['reference']['share']:6.1%}")
    print(f"STB step, default / reference paths:              {rows['default']['speedup']:6.2f}x")
    print(f"STB step, bf16 autocast / default fp32:           "
          f"{rows['bf16']['speedup'] / rows['default']['speedup']:6.2f}x  (opt-in: trainer.precision=bf16-mixed)")
    if "nchw" in rows:
        print(f"STB step, NCHW / channels-last:                   "
              f"{rows['nchw']['speedup'] / rows['default']['speedup']:6.2f}x")
    if "split" in rows:
        print(f"STB shuffle-BN ({args.bn_splits} splits) / one BN batch:         "
              f"{rows['split']['speedup'] / rows['default']['speedup']:6.2f}x")
    if "compiled" in rows:
        print(f"STB step, torch.compile / default eager:          "
              f"{rows['compiled']['speedup'] / rows['default']['speedup']:6.2f}x")
    if isc_rate:
        print(f"STB ours / ISC-like (stepped GRU, as ISC):        {ours / isc_rate:6.1f}x  (target >= 10x)")
    if isc_fast:
        print(f"STB ours / ISC-like (one GRU call):               {ours / isc_fast:6.1f}x")
    print(f"loader (cache) / STB training rate:               {cached / ours:6.1f}x  (target >= 5x)")
    print(f"loader (per clip) / STB training rate:            {per_clip / ours:6.1f}x")
    if device.type == "cpu" and args.persons == 2 and args.layout == "ntu25" and args.coords == 3:
        print_peers()
        peer_ratios(args.frames, rows["default"]["share"], gflop, ours, threads)
        if args.frames == 50:
            print("  (target: >= 2x SkeletonCLR's clips/s at the same T)")


if __name__ == "__main__":
    main()
