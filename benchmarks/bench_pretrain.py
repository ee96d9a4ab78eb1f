"""Pretraining throughput on this machine, in one process (so the ratios are immune to machine noise).

Prints, in order:

1. fp32 matmul peak (2048 x 2048 ``torch.matmul``, current thread count) — the yardstick for "share of
   peak" — and, as extra information, the oneDNN GEMM rate (the same product as a 1 x 1 convolution, the
   library our convolutions run in);
2. the dual-stream STB model (``pretrain_stb`` config: 1/4-width ST-GCN + 2 x 256 BiGRU, STB weight fusion,
   cross-stream MoCo with the fused term, batch 32; channels-last on the CPU as training runs it, and
   the contiguous layout for comparison) at T = 64: one full pretraining step (mg augmentation of two views,
   fill, query forward + backward, key forward, queue, SGD step, momentum update) in clips/s, FLOPs per
   clip (``torch.utils.flop_counter``, forward + backward of the whole step) and share of peak;
3. the single-stream MoCo baseline (``pretrain_moco``: 1/4-width ST-GCN) the same way;
4. an ISC-like configuration (full-width AGCN + 3 x 1024 BiGRU, batch 16, M = 2, cross-stream MoCo) with
   the GRU stepped one frame at a time as ISC does — the in-process baseline for the speed-up ratio (ISC's
   own code: 0.58 clips/s on these machines, docs/performance-anchors) — and (full run only) the same
   with one ``nn.GRU`` call;
5. loader-only clips/s through the real ``SkeletonDataModule`` (batches delivered on the training device,
   pinned when it is a GPU): the prepared-once cache (the default for ``sampling: resize``) and the
   per-clip ``prepare_clip`` path, and their ratio to the STB training rate (target >= 5x). The two
   augmented views are part of the training step (on the device), so they are timed there.

Input geometry defaults to ISC's NTU setting (25 joints, 3-D, 2 bodies, T = 64). float32 throughout.

    .venv/bin/python benchmarks/bench_pretrain.py            # full run (a few minutes on 2 cores)
    .venv/bin/python benchmarks/bench_pretrain.py --quick    # few steps (a few minutes on 2 cores)
    .venv/bin/python benchmarks/bench_pretrain.py --quick --device cuda
"""

from __future__ import annotations

import argparse
import copy
import time
from collections.abc import Callable

import numpy as np
import torch
from omegaconf import OmegaConf
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

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


def onednn_gemm_rate(n: int = 2048, seconds: float = 2.0) -> float:
    """The 2048^3 product as a channels-last 1 x 1 convolution, i.e. through oneDNN (CPU only)."""
    x = torch.randn(1, n, 1, n).contiguous(memory_format=torch.channels_last)
    conv = nn.Conv2d(n, n, 1, bias=False).to(memory_format=torch.channels_last).requires_grad_(False)
    with torch.no_grad():
        for _ in range(3):
            conv(x)
        reps, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            conv(x)
            reps += 1
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
    """FLOPs of one real step, counted on a CPU copy: the counter has formulas for the GEMMs an ``nn.GRU``
    runs on the CPU but none for the fused cuDNN RNN kernel, so counting on the GPU would drop the GRU."""
    probe = copy.deepcopy(step)  # do not disturb the timed model's state
    probe.moco.cpu()
    probe.opt.state.clear()  # momentum buffers stay behind on the timed device; the first step recreates them
    with FlopCounterMode(display=False) as counter:
        probe(x.cpu())
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


def loader_rate(layout: str, m: int, t: int, c: int, batch_size: int, cache: bool, device: torch.device,
                num_clips: int = 1024, min_clips: int = 4096) -> tuple[float, float]:
    """Loader-only clips/s of the real datamodule (batches moved to ``device``) and the one-off setup time."""
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
    t0 = time.perf_counter()
    dm.setup()
    setup_s = time.perf_counter() - t0
    loader = dm.train_dataloader()
    n, epoch, t0 = 0, 0, time.perf_counter()
    while n < (min_clips if cache else num_clips):
        loader.sampler.set_epoch(epoch)
        for x, y in loader:
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            n += x.shape[0]
        epoch += 1
    _sync(device)
    return n / (time.perf_counter() - t0), setup_s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layout", default="ntu25")
    ap.add_argument("--persons", type=int, default=2)
    ap.add_argument("--frames", type=int, default=64)
    ap.add_argument("--coords", type=int, default=3)
    ap.add_argument("--batch", type=int, default=None,
                    help="batch for our models (default: pretrain_stb's data.batch_size; ISC-like uses 16)")
    ap.add_argument("--seconds", type=float, default=20.0, help="minimum timed seconds per configuration")
    ap.add_argument("--max-steps", type=int, default=20)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--device", default="cpu", help="cpu or cuda (the loader prepares on the CPU, delivers there)")
    ap.add_argument("--bn-splits", type=int, default=4,
                    help="also time the STB step with shuffle-BN over this many sub-batches (1: skip)")
    args = ap.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False  # float32 throughout, as on the CPU
        torch.backends.cudnn.allow_tf32 = False
    if args.quick:  # a GPU step takes milliseconds: more of them for a stable rate
        args.seconds, args.max_steps = (3.0, 40) if device.type == "cuda" else (5.0, 3)
    torch.manual_seed(0)
    geom = dict(layout=args.layout, in_channels=args.coords, num_frames=args.frames, num_persons=args.persons)
    v = get_layout(args.layout).num_joints
    aug = build_augmentation("mg", args.layout)
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{torch.get_num_threads()} threads"
    print(f"torch {torch.__version__}, {where}; input [N, {args.persons}, {args.frames}, "
          f"{v}, {args.coords}] float32", flush=True)
    peak = matmul_peak(device)
    print(f"fp32 matmul peak (2048^2 torch.matmul, {device.type}): {peak:.1f} GFLOP/s  <- share-of-peak yardstick",
          flush=True)
    if device.type == "cpu":
        print(f"oneDNN GEMM (2048^2 as a 1x1 conv, extra info): {onednn_gemm_rate():.1f} GFLOP/s", flush=True)

    stb_cfg = load_config(config="pretrain_stb")
    args.batch = args.batch or int(stb_cfg.data.batch_size)
    m = stb_cfg.moco
    stb_kw = dict(dim=m.dim, queue_size=m.queue_size, momentum=m.momentum, temperature=m.temperature,
                  balance=m.balance, fused_weight=m.fused_weight)
    x = batch(args.batch, args.persons, args.frames, v, args.coords, device)
    gru = stb_cfg.model.temporal
    name = f"STB dual-stream (1/4 ST-GCN + GRU {gru.num_layers}x{gru.hidden_size})"
    stb_step = Step(create_model(**{**dict(stb_cfg.model), **geom}).to(device), "cross_stream", stb_kw, aug)
    if device.type == "cpu":  # as PretrainModule trains on the CPU
        set_channels_last(stb_step.moco)
        name += ", channels-last"
    ours = report(name, stb_step, x, peak, args)
    if device.type == "cpu":
        nchw = Step(create_model(**{**dict(stb_cfg.model), **geom}), "cross_stream", stb_kw, aug)
        report("  the same, contiguous NCHW activations", nchw, x, peak, args)
    split_rate = None
    if args.bn_splits > 1:  # moco.bn_splits: the encoders run on sub-batches in turn (the NW-UCLA recipes)
        split_step = Step(create_model(**{**dict(stb_cfg.model), **geom}).to(device), "cross_stream",
                          {**stb_kw, "bn_splits": args.bn_splits}, aug)
        if device.type == "cpu":
            set_channels_last(split_step.moco)
        split_rate = report(f"  the same, shuffle-BN over {args.bn_splits} sub-batches", split_step, x, peak, args)

    moco_cfg = load_config(config="pretrain_moco")
    base_model = create_model(moco_cfg.model.name, **geom).to(device)
    report("single-stream MoCo (1/4 ST-GCN)", Step(base_model, "moco", dict(queue_size=32768), aug), x, peak, args)

    xi = batch(16, args.persons, args.frames, v, args.coords, device)
    isc_kw = dict(queue_size=16384, balance="sum", fused_weight=0.0)
    isc_model = create_model("dual_stream", spatial="agcn", temporal="gru_isc", fusion="concat", dim=256,
                             **geom).to(device)
    stepped = copy.deepcopy(isc_model)
    stepped.temporal = SteppedGRU(stepped.temporal)
    few = argparse.Namespace(**{**vars(args), "max_steps": 1 if args.quick and device.type == "cpu" else 2})
    isc_rate = report("ISC-like (AGCN + GRU 3x1024 stepped per frame)",
                      Step(stepped, "cross_stream", isc_kw, aug), xi, peak, few)
    isc_fast = None
    if not args.quick:
        isc_fast = report("ISC-like, one nn.GRU call", Step(isc_model, "cross_stream", isc_kw, aug), xi, peak, args)

    cached, setup_s = loader_rate(args.layout, args.persons, args.frames, args.coords, args.batch, True, device)
    print(f"loader only, prepared-once cache (default):  {cached:10.1f} clips/s  "
          f"(one-off preparation of 1024 clips: {setup_s:.2f} s)", flush=True)
    per_clip, _ = loader_rate(args.layout, args.persons, args.frames, args.coords, args.batch, False, device)
    print(f"loader only, per-clip prepare_clip, 0 workers: {per_clip:8.1f} clips/s", flush=True)
    print("--- ratios (same process) ---")
    print(f"STB ours / ISC-like (stepped GRU, as ISC):   {ours / isc_rate:6.1f}x  (target >= 10x)")
    if split_rate:
        print(f"STB shuffle-BN ({args.bn_splits} splits) / one BN batch:     {split_rate / ours:6.2f}x")
    if isc_fast:
        print(f"STB ours / ISC-like (one GRU call):          {ours / isc_fast:6.1f}x")
    if device.type == "cpu" and (args.frames, args.persons) == (64, 2):
        print(f"STB ours / ISC's published 0.58 clips/s:     {ours / 0.58:6.1f}x  (other runs, same machine kind)")
    print(f"loader (cache) / STB training rate:          {cached / ours:6.1f}x  (target >= 5x)")
    print(f"loader (per clip) / STB training rate:       {per_clip / ours:6.1f}x")


if __name__ == "__main__":
    main()
