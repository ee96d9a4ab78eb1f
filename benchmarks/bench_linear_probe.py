"""Linear probe on cached features vs recomputing the frozen encoder every epoch (the SkeletonCLR loop).

Both train the same ``nn.Linear`` on the same frozen embeddings for the same epochs; the only difference is
whether embeddings are computed once (``evaluation.linear``) or per batch per epoch. Prints wall times and
their ratio, measured in one process, plus the agreement of the two probes' test accuracy.

    .venv/bin/python benchmarks/bench_linear_probe.py [--epochs 30] [--threads 1]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import torch.nn.functional as F

from microgesture.data.synthetic import make_mg_dataset
from microgesture.evaluation.data import InputSpec, labelled_arrays
from microgesture.evaluation.features import embed, extract_features, frozen
from microgesture.evaluation.linear import LinearProbeConfig, fit_linear_probe
from microgesture.evaluation.splits import resolve_split
from microgesture.models import create_model


def recompute_probe(encoder, x, y, num_classes, cfg: LinearProbeConfig):
    """The per-epoch loop: every batch goes through the frozen encoder again (no augmentation). Same seed use,
    initialisation, optimiser and schedule as ``fit_linear_probe`` so both solve the same problem."""
    gen = torch.Generator().manual_seed(cfg.seed)
    head = torch.nn.Linear(encoder.out_dim, num_classes)
    with torch.no_grad():
        head.weight.normal_(0.0, 0.01, generator=gen)
        head.bias.zero_()
    opt = torch.optim.SGD(head.parameters(), lr=cfg.effective_lr, momentum=cfg.momentum)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=cfg.resolved_milestones(), gamma=cfg.gamma)
    xt = torch.nan_to_num(torch.as_tensor(x))
    yt = torch.as_tensor(y)
    with frozen(encoder):
        for _ in range(cfg.epochs):
            perm = torch.randperm(len(yt), generator=gen)
            for s in range(0, len(yt), cfg.batch_size):
                idx = perm[s:s + cfg.batch_size]
                with torch.no_grad():
                    f = embed(encoder, xt[idx])
                loss = F.cross_entropy(head(f), yt[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
            sched.step()
    return head


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--frames", type=int, default=32)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    ds = make_mg_dataset(seed=0, clips_per_class=24)
    split = resolve_split(ds)
    spec = InputSpec(layout=ds.layout, num_frames=args.frames)
    tr, te = labelled_arrays(ds, split.train, spec), labelled_arrays(ds, split.test, spec)
    enc = create_model("dual_stream", layout=ds.layout, in_channels=2, num_frames=args.frames,
                       spatial={"name": "stgcn", "channels": [16, 32, 64], "strides": [1, 2, 2]},
                       temporal={"name": "gru", "hidden_size": 64, "num_layers": 1}, dim=64)
    cfg = LinearProbeConfig(epochs=args.epochs, batch_size=32, lr=0.1, base_batch_size=32, feature_norm="none")
    # warm-up outside both timings: the first forward and the first optimiser step carry one-off import and
    # allocation costs (seconds) that would otherwise be charged to whichever path runs first
    fit_linear_probe(extract_features(enc, tr.x[:32]), tr.y[:32], len(ds.class_names), LinearProbeConfig(epochs=1))

    t0 = time.perf_counter()
    f_tr, f_te = extract_features(enc, tr.x), extract_features(enc, te.x)
    probe = fit_linear_probe(f_tr, tr.y, len(ds.class_names), cfg)
    acc_cached = float((probe.scores(f_te).argmax(1) == te.y).mean())
    t_cached = time.perf_counter() - t0

    t0 = time.perf_counter()
    head = recompute_probe(enc, tr.x, tr.y, len(ds.class_names), cfg)
    with torch.no_grad():
        acc_recompute = float((head(torch.as_tensor(f_te)).argmax(1).numpy() == te.y).mean())
    t_recompute = time.perf_counter() - t0

    print(f"clips: {len(tr.y)} train / {len(te.y)} test, T={args.frames}, epochs={args.epochs}, "
          f"threads={torch.get_num_threads()}")
    print(f"cached features : {t_cached:8.2f} s  (test top-1 {acc_cached:.3f})")
    print(f"recompute/epoch : {t_recompute:8.2f} s  (test top-1 {acc_recompute:.3f})")
    print(f"speed-up        : {t_recompute / t_cached:8.1f}x")
    assert np.isfinite(t_cached)


if __name__ == "__main__":
    main()
