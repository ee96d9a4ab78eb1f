from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from _moco_toy import FlatEncoder, ToyDualStream
from microgesture.errors import ConfigError
from microgesture.models.moco import (
    CrossStreamMoCo,
    LossBalancer,
    MoCo,
    NegativeQueue,
    build_moco,
    info_nce,
    momentum_update,
    split_bn_forward,
)

SHAPE = (1, 6, 5, 3)  # M, T, V, C


def test_queue_enqueue_and_wraparound():
    q = NegativeQueue(size=8, dim=4)
    a, b, c = (torch.full((4, 4), float(i)) for i in (1, 2, 3))
    q.enqueue(a)
    assert int(q.ptr) == 4 and torch.equal(q.queue[:4], a)
    q.enqueue(b)
    assert int(q.ptr) == 0 and torch.equal(q.queue[4:], b)
    q.enqueue(c)  # wraps: overwrites the oldest block
    assert int(q.ptr) == 4
    assert torch.equal(q.queue[:4], c) and torch.equal(q.queue[4:], b)
    assert {"queue", "ptr"} <= set(q.state_dict())


def test_queue_rejects_batch_that_does_not_tile_it():
    q = NegativeQueue(size=10, dim=4)
    with pytest.raises(ConfigError, match="multiple of the global batch size 4"):
        q.enqueue(torch.zeros(4, 4))
    with pytest.raises(ConfigError, match="global batch size 3"):
        MoCo(FlatEncoder(90), queue_size=16).check_batch_size(3)


def test_positive_logit_is_column_zero():
    torch.manual_seed(0)
    q = F.normalize(torch.randn(5, 8), dim=1)
    k = F.normalize(torch.randn(5, 8), dim=1)
    neg = F.normalize(torch.randn(7, 8), dim=1)
    loss, logits = info_nce(q, k, neg, temperature=0.1)
    assert logits.shape == (5, 8)
    torch.testing.assert_close(logits[:, 0], (q * k).sum(1) / 0.1)
    torch.testing.assert_close(logits[:, 1:], q @ neg.t() / 0.1)
    expected = -torch.log_softmax(logits, dim=1)[:, 0].mean()
    torch.testing.assert_close(loss, expected)
    # a query equal to its key and orthogonal to all negatives scores near zero loss
    e = torch.eye(8)
    loss_easy, _ = info_nce(e[:2], e[:2], e[2:], temperature=0.05)
    assert loss_easy < 1e-6


def test_momentum_update_math():
    torch.manual_seed(0)
    query, key = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    k0 = [p.detach().clone() for p in key.parameters()]
    momentum_update(key, query, 0.9)
    for pk, pk0, pq in zip(key.parameters(), k0, query.parameters(), strict=True):
        torch.testing.assert_close(pk, 0.9 * pk0 + 0.1 * pq)


def test_key_encoder_is_frozen_copy_and_follows_ema():
    moco = MoCo(FlatEncoder(90), dim=8, queue_size=16, momentum=0.5)
    assert all(not p.requires_grad for p in moco.encoder_k.parameters())
    for p in moco.encoder_q.parameters():
        p.data.add_(1.0)
    before = next(moco.encoder_k.parameters()).detach().clone()
    moco.update_key_encoder()
    after = next(moco.encoder_k.parameters())
    torch.testing.assert_close(after, before + 0.5)


def _toy_batch(g: torch.Generator, mix: torch.Tensor, n: int = 16):
    """Low-rank clips (a 6-d latent per instance) so both streams can see the instance identity."""
    base = (torch.randn(n, mix.shape[0], generator=g) @ mix).reshape(n, *SHAPE)
    return base + 0.05 * torch.randn(base.shape, generator=g), base + 0.05 * torch.randn(base.shape, generator=g)


@pytest.mark.parametrize("objective", ["moco", "cross_stream"])
def test_loss_decreases_on_easy_toy_problem(objective):
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    if objective == "moco":
        model = build_moco(FlatEncoder(90), "moco", dim=16, queue_size=32, momentum=0.9, temperature=0.2)
    else:
        model = build_moco(ToyDualStream(6, 5, 3), "cross_stream", dim=16, queue_size=32, momentum=0.9,
                           temperature=0.2, balance="uncertainty")
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1, momentum=0.9)
    mix = torch.randn(6, 90, generator=g)
    pool = [_toy_batch(g, mix) for _ in range(8)]  # 128 instances; the queue (32) never holds a positive
    losses = []
    for step in range(80):
        v1, v2 = pool[step % 8]
        out = model(v1, v2)
        opt.zero_grad()
        out.loss.backward()
        opt.step()
        model.update_key_encoder()
        losses.append(float(out.logs["loss_ts"] if objective != "moco" else out.logs["loss"]))
    first, last = sum(losses[:8]) / 8, sum(losses[-8:]) / 8
    assert last < 0.7 * first, (first, last)


def test_cross_stream_terms_use_the_other_streams_queue():
    torch.manual_seed(0)
    model = CrossStreamMoCo(ToyDualStream(6, 5, 3), dim=8, queue_size=16, balance="fixed", lam=1.0,
                            fused_weight=0.0)
    assert set(model.queues_k) == {"spatial", "temporal"}
    x1, x2 = torch.randn(4, *SHAPE), torch.randn(4, *SHAPE)
    spatial_neg = model.queues_k["spatial"].queue.clone()
    with torch.no_grad():
        q_t = F.normalize(model.heads_q["temporal"](model.encoder_q(x1)["temporal"]), dim=1)
        k_s = F.normalize(model.heads_k["spatial"](model.encoder_k(x2)["spatial"]), dim=1)
    out = model(x1, x2)
    expected, _ = info_nce(q_t, k_s, spatial_neg, 0.07)
    torch.testing.assert_close(out.loss.detach(), expected)  # lambda = 1 -> only L_{t->s}
    torch.testing.assert_close(model.queues_k["spatial"].queue[:4], k_s)  # spatial keys went to the spatial queue


def test_loss_balancer_modes():
    a, b, f = torch.tensor(2.0), torch.tensor(4.0), torch.tensor(1.0)
    assert float(LossBalancer("sum")(a, b, f)) == pytest.approx(7.0)
    assert float(LossBalancer("fixed", lam=0.25, fused_weight=0.5)(a, b, f)) == pytest.approx(0.5 + 3 + 0.5)
    sched = LossBalancer("scheduled", lam=0.0, lam_end=1.0, fused_weight=0.0)
    sched.set_progress(0.75)
    assert float(sched(a, b, None)) == pytest.approx(0.75 * 2 + 0.25 * 4)
    unc = LossBalancer("uncertainty")
    loss = unc(a.requires_grad_(), b, f)
    loss.backward()
    assert unc.log_vars.grad is not None and float(loss.detach()) == pytest.approx(7.0)
    assert float(unc.current_lambda()) == pytest.approx(0.5)
    with pytest.raises(ConfigError, match="unknown loss balance"):
        LossBalancer("magic")
    with pytest.raises(ConfigError, match="only apply to objective"):
        build_moco(FlatEncoder(90), "moco", balance="fixed")


@pytest.mark.parametrize("kwargs, match", [({"momentum": 1.0}, "momentum"), ({"momentum": -0.1}, "momentum"),
                                           ({"temperature": 0.0}, "temperature")])
def test_both_objectives_reject_bad_momentum_and_temperature(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        MoCo(FlatEncoder(90), queue_size=16, **kwargs)
    with pytest.raises(ConfigError, match=match):
        CrossStreamMoCo(ToyDualStream(6, 5, 3), dim=8, queue_size=16, **kwargs)


class _BNDict(torch.nn.Module):
    """Per-clip BatchNorm'd features plus a batch-level scalar, like the STB gate's balance penalty."""

    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(90, 4)
        self.bn = torch.nn.BatchNorm1d(4)

    def forward(self, x):
        z = self.bn(self.lin(x.flatten(1)))
        return {"fused": z, "aux_loss": z.pow(2).mean()}


def test_split_bn_forward_takes_bn_statistics_per_sub_batch_and_keeps_clip_order():
    torch.manual_seed(0)
    x = torch.randn(8, *SHAPE)
    plain = FlatEncoder(90)  # no BatchNorm: splitting and shuffling must change nothing
    torch.testing.assert_close(split_bn_forward(plain, x, 4, shuffle=True), plain(x))
    enc = _BNDict()
    whole = enc(x)["fused"]
    ordered = split_bn_forward(enc, x, 2, shuffle=False)
    halves = [enc(x[:4]), enc(x[4:])]
    torch.testing.assert_close(ordered["fused"], torch.cat([h["fused"] for h in halves]))
    torch.testing.assert_close(ordered["aux_loss"], (halves[0]["aux_loss"] + halves[1]["aux_loss"]) / 2)
    assert not torch.allclose(ordered["fused"], whole)  # the statistics really are per sub-batch
    torch.manual_seed(3)
    perm = torch.randperm(8)
    torch.manual_seed(3)
    shuffled = split_bn_forward(enc, x, 2, shuffle=True)["fused"]
    groups = [perm[:4], perm[4:]]
    for idx in groups:  # clip i comes back at row i, normalised with the statistics of its random sub-batch
        torch.testing.assert_close(shuffled[idx], enc(x[idx])["fused"])
    enc.eval()  # evaluation uses running statistics: a plain call
    torch.testing.assert_close(split_bn_forward(enc, x, 2, shuffle=True)["fused"], enc(x)["fused"])


@pytest.mark.parametrize("objective", ["moco", "cross_stream"])
def test_bn_splits_option_trains_and_checks_its_batch(objective):
    torch.manual_seed(0)
    encoder = FlatEncoder(90) if objective == "moco" else ToyDualStream(6, 5, 3)
    model = build_moco(encoder, objective, dim=8, queue_size=16, bn_splits=2)
    out = model(torch.randn(8, *SHAPE), torch.randn(8, *SHAPE))
    assert torch.isfinite(out.loss)
    with pytest.raises(ConfigError, match="at least 4 clips"):
        model(torch.randn(2, *SHAPE), torch.randn(2, *SHAPE))
    with pytest.raises(ConfigError, match="bn_splits must be >= 1"):
        build_moco(FlatEncoder(90), "moco", bn_splits=0)
