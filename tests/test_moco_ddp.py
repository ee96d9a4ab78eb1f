"""Two CPU processes (gloo) with DDP give the same result as one process with the same global batch."""

from __future__ import annotations

import os
import socket

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.nn.parallel import DistributedDataParallel

from _moco_toy import FlatEncoder
from microgesture.models.moco import MoCo

GLOBAL_BATCH, STEPS, SHAPE = 8, 3, (1, 6, 5, 3)


def _data() -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(123)
    return [(torch.randn(GLOBAL_BATCH, *SHAPE, generator=g), torch.randn(GLOBAL_BATCH, *SHAPE, generator=g))
            for _ in range(STEPS)]


def _model() -> MoCo:
    torch.manual_seed(0)
    return MoCo(FlatEncoder(90), dim=8, queue_size=16, momentum=0.9, temperature=0.1)


def _train(moco: MoCo, step_fn, shard) -> list[float]:
    opt = torch.optim.SGD([p for p in moco.parameters() if p.requires_grad], lr=0.5)
    losses = []
    for v1, v2 in _data():
        out = step_fn(*shard(v1, v2))
        opt.zero_grad()
        out.loss.backward()
        opt.step()
        moco.update_key_encoder()
        t = out.loss.detach().clone()
        if dist.is_initialized():  # the global loss = mean of the equal-sized per-rank means
            dist.all_reduce(t)
            t /= dist.get_world_size()
        losses.append(float(t))
    return losses


def _worker(rank: int, world: int, port: int, out_dir: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    try:
        moco = _model()
        ddp = DistributedDataParallel(moco)
        per = GLOBAL_BATCH // world

        def shard(v1, v2):
            return v1[rank * per:(rank + 1) * per], v2[rank * per:(rank + 1) * per]

        losses = _train(moco, ddp, shard)
        torch.save({"losses": losses, "state": moco.state_dict()}, os.path.join(out_dir, f"rank{rank}.pt"))
        dist.barrier()  # no rank tears gloo down while its peer is still talking (that aborts the peer, rarely)
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ddp_two_processes_match_single_process(tmp_path):
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    single = _model()
    ref_losses = _train(single, single, lambda a, b: (a, b))
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(2)]
    for r in ranks:
        torch.testing.assert_close(torch.tensor(r["losses"]), torch.tensor(ref_losses), rtol=1e-5, atol=1e-6)
        for name, ref in single.state_dict().items():
            torch.testing.assert_close(r["state"][name], ref, rtol=1e-5, atol=1e-6, msg=name)
    # keys were gathered: both ranks hold the identical queue, filled with all GLOBAL_BATCH keys per step
    torch.testing.assert_close(ranks[0]["state"]["queue.queue"], ranks[1]["state"]["queue.queue"], rtol=0, atol=0)
    assert int(ranks[0]["state"]["queue.ptr"]) == (STEPS * GLOBAL_BATCH) % 16
