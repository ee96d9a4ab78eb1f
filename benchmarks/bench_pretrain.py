"""Pretraining throughput on this machine, in one process (so the ratios are immune to machine noise).

Prints, in order:

1. fp32 matmul peak (2048 x 2048, current thread count) — the yardstick for "share of peak";
2. the dual-stream STB model (``pretrain_stb`` config: 1/4-width ST-GCN + 2 x 256 BiGRU, STB weight fusion,
   cross-stream MoCo with the fused term) at T = 64: one full pretraining step (mg augmentation of two views,
   fill, query forward + backward, key forward, queue, SGD step, momentum update) in clips/s, FLOPs per
   clip (``torch.utils.flop_counter``, forward + backward of the whole step) and share of peak;
3. the single-stream MoCo baseline (``pretrain_moco``: 1/4-width ST-GCN) the same way;
4. an ISC-like configuration (full-width AGCN + 3 x 1024 BiGRU, batch 16, cross-stream MoCo) with the GRU
   stepped one frame at a time as ISC does, and the same with one ``nn.GRU`` call — the in-process baseline
   for the speed-up ratio (ISC's own code: 0.58 clips/s on these machines, docs/performance-anchors);
5. loader-only clips/s (Dataset with ``prepare_clip`` + collate + two mg-augmented views) with 0 and 2
   workers, and its ratio to the STB training rate (target >= 5x).

Input geometry defaults to ISC's NTU setting (25 joints, 3-D, 2 bodies, T = 64). float32 throughout.

    .venv/bin/python benchmarks/bench_pretrain.py            # full run (a few minutes on 2 cores)
    .venv/bin/python benchmarks/bench_pretrain.py --quick    # fewer steps, skips the stepped-GRU ISC run
"""

from __future__ import annotations

import argparse
import copy
import time
from collections.abc import Callable

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader
from torch.utils.flop_counter import FlopCounterMode

from microgesture.augment import build_augmentation
from microgesture.data.clip import Clip, ClipMeta
from microgesture.data.layouts import get_layout
from microgesture.data.transforms import fill_missing
from microgesture.models import create_model
from microgesture.models.moco import build_moco
from microgesture.training.config import load_config
from microgesture.training.datamodule import ClipDataset, SeededSampler


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_peak(device: torch.device, n: int = 2048, seconds: float = 2.0) -> float:
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    for _ in range(3):
        a @ b
    _sync(device)
    reps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        a @ b
        reps += 1
        if reps % 50 == 0:
            _sync(device)
    _sync(device)
    return 2 * n**3 * reps / (time.perf_counter() - t0) / 1e9


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
    """One complete pretraining step, as the LightningModule runs it (minus Lightning's bookkeeping)."""

    def __init__(self, model: nn.Module, objective: str, moco_kw: dict, aug: Callable, lr: float = 0.01):
        self.moco = build_moco(model, objective, **moco_kw).to(next(model.parameters()).device)
        self.aug = aug
        params = [p for p in self.moco.parameters() if p.requires_grad]
        self.opt = torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=1e-4)
        self.g = torch.Generator().manual_seed(0)

    def __call__(self, x: torch.Tensor) -> float:
        v1 = fill_missing(self.aug(x, self.g))
        v2 = fill_missing(self.aug(x, self.g))
        out = self.moco(v1, v2)
        self.opt.zero_grad(set_to_none=True)
        out.loss.backward()
        self.opt.step()
        self.moco.update_key_encoder()
        return float(out.loss.detach())


def time_steps(step: Step, x: torch.Tensor, min_seconds: float, max_steps: int) -> float:
    step(x)  # warm-up (allocations, oneDNN / cuDNN primitive caches)
    _sync(x.device)
    n, t0 = 0, time.perf_counter()
    while n < max_steps and (n == 0 or time.perf_counter() - t0 < min_seconds):
        step(x)  # returns a Python float: synchronises every step, like Lightning's logging does
        n += 1
    _sync(x.device)
    return n * x.shape[0] / (time.perf_counter() - t0)


def flops_per_clip(step: Step, x: torch.Tensor) -> float:
    probe = copy.deepcopy(step)  # do not disturb the timed model's state
    with FlopCounterMode(display=False) as counter:
        probe(x)
    return counter.get_total_flops() / x.shape[0]


def report(name: str, step: Step, x: torch.Tensor, peak: float, args) -> float:
    rate = time_steps(step, x, args.seconds, args.max_steps)
    flops = flops_per_clip(step, x)
    params = sum(p.numel() for p in step.moco.encoder_q.parameters())
    share = flops * rate / 1e9 / peak
    print(f"{name:<44s} batch {x.shape[0]:>3d}  {rate:8.2f} clips/s  {flops / 1e9:7.2f} GFLOP/clip  "
          f"{share:6.1%} of peak  ({params / 1e6:.2f} M encoder params)", flush=True)
    return rate


def batch(n: int, m: int, t: int, v: int, c: int, device: torch.device, missing: float = 0.02) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    x = torch.randn(n, m, t, v, c, generator=g) * 0.3
    x[torch.rand(n, m, t, v, generator=g) < missing] = float("nan")
    return x.to(device)


def loader_rate(layout: str, m: int, t: int, c: int, batch_size: int, workers: int, aug: Callable,
                num_clips: int = 512) -> float:
    rng = np.random.default_rng(0)
    v = get_layout(layout).num_joints
    clips = []
    for i in range(num_clips):
        kp = rng.normal(size=(m, int(rng.integers(40, 120)), v, c)).astype(np.float32)
        kp[rng.random(kp.shape[:3]) < 0.02] = np.nan
        clips.append(Clip(kp, ClipMeta(f"c{i}", layout=layout, label=i % 10)))
    ds = ClipDataset(clips, layout, dict(num_frames=t, max_persons=m), train=True)
    loader = DataLoader(ds, batch_size=batch_size, sampler=SeededSampler(len(ds), 0), num_workers=workers,
                        drop_last=True)
    g = torch.Generator().manual_seed(0)
    n, t0 = 0, time.perf_counter()
    for x, _ in loader:
        fill_missing(aug(x, g))
        fill_missing(aug(x, g))
        n += x.shape[0]
    return n / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layout", default="ntu25")
    ap.add_argument("--persons", type=int, default=2)
    ap.add_argument("--frames", type=int, default=64)
    ap.add_argument("--coords", type=int, default=3)
    ap.add_argument("--batch", type=int, default=64, help="batch for our models (ISC-like uses 16)")
    ap.add_argument("--seconds", type=float, default=20.0, help="minimum timed seconds per configuration")
    ap.add_argument("--max-steps", type=int, default=20)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--device", default="cpu", help="cpu or cuda (the loader always runs on the CPU)")
    args = ap.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False  # float32 throughout, as on the CPU
        torch.backends.cudnn.allow_tf32 = False
    if args.quick:
        args.seconds, args.max_steps = 5.0, 3
    torch.manual_seed(0)
    geom = dict(layout=args.layout, in_channels=args.coords, num_frames=args.frames, num_persons=args.persons)
    v = get_layout(args.layout).num_joints
    aug = build_augmentation("mg", args.layout)
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{torch.get_num_threads()} threads"
    print(f"torch {torch.__version__}, {where}; input [N, {args.persons}, {args.frames}, "
          f"{v}, {args.coords}] float32", flush=True)
    peak = matmul_peak(device)
    print(f"fp32 matmul peak (2048^2, {device.type}): {peak:.1f} GFLOP/s", flush=True)

    stb_cfg = load_config(config="pretrain_stb")
    stb_model = create_model(**{**dict(stb_cfg.model), **geom}).to(device)
    m = stb_cfg.moco
    stb_kw = dict(dim=m.dim, queue_size=m.queue_size, momentum=m.momentum, temperature=m.temperature,
                  balance=m.balance, fused_weight=m.fused_weight)
    x = batch(args.batch, args.persons, args.frames, v, args.coords, device)
    ours = report("STB dual-stream (GCN + GRU 2x256), ours", Step(stb_model, "cross_stream", stb_kw, aug), x,
                  peak, args)

    moco_cfg = load_config(config="pretrain_moco")
    base_model = create_model(moco_cfg.model.name, **geom).to(device)
    report("single-stream MoCo (1/4 ST-GCN)", Step(base_model, "moco", dict(queue_size=32768), aug), x, peak, args)

    xi = batch(16, args.persons, args.frames, v, args.coords, device)
    isc_kw = dict(queue_size=16384, balance="sum", fused_weight=0.0)
    isc_model = create_model("dual_stream", spatial="agcn", temporal="gru_isc", fusion="concat", dim=256,
                             **geom).to(device)
    isc_fast = report("ISC-like (AGCN + GRU 3x1024), one nn.GRU call", Step(isc_model, "cross_stream", isc_kw, aug),
                      xi, peak, args)
    isc_rate = None
    if not args.quick:
        stepped = copy.deepcopy(isc_model)
        stepped.temporal = SteppedGRU(stepped.temporal)
        few = argparse.Namespace(**{**vars(args), "max_steps": 2})
        isc_rate = report("ISC-like, GRU stepped per frame (ISC code)", Step(stepped, "cross_stream", isc_kw, aug),
                          xi, peak, few)
    loader0 = loader_rate(args.layout, args.persons, args.frames, args.coords, args.batch, 0, aug)
    print(f"loader only (prepare_clip + collate + 2 mg views), 0 workers: {loader0:8.1f} clips/s", flush=True)
    loader2 = loader_rate(args.layout, args.persons, args.frames, args.coords, args.batch, 2, aug)
    print(f"loader only, 2 workers:                                        {loader2:8.1f} clips/s", flush=True)
    print("--- ratios ---")
    print(f"STB ours / ISC-like (one GRU call):        {ours / isc_fast:6.1f}x")
    if isc_rate:
        print(f"STB ours / ISC-like (stepped GRU):         {ours / isc_rate:6.1f}x")
    print(f"STB ours / ISC's published 0.58 clips/s:   {ours / 0.58:6.1f}x  (target >= 10x)")
    print(f"loader (0 workers) / STB training rate:    {loader0 / ours:6.1f}x  (target >= 5x)")


if __name__ == "__main__":
    main()
