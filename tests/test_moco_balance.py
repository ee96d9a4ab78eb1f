"""Cross-stream MoCo extras for STB: intra-stream terms and the fusion gate's balance penalty."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from _moco_toy import ToyDualStream
from microgesture.errors import ConfigError
from microgesture.models import create_model
from microgesture.models.moco import CrossStreamMoCo, LossBalancer, MoCo, build_moco, info_nce

SHAPE = (1, 6, 5, 3)  # M, T, V, C


def test_loss_balancer_adds_weighted_intra_terms_in_every_mode():
    a, b, f, intra = torch.tensor(2.0), torch.tensor(4.0), torch.tensor(1.0), torch.tensor(3.0)
    assert float(LossBalancer("sum", intra_weight=0.5)(a, b, f, intra)) == pytest.approx(7.0 + 1.5)
    assert float(LossBalancer("fixed", lam=0.25, intra_weight=2.0)(a, b, None, intra)) == pytest.approx(3.5 + 6)
    assert float(LossBalancer("uncertainty", intra_weight=1.0)(a, b, f, intra).detach()) == pytest.approx(10.0)
    assert float(LossBalancer("sum")(a, b, f, intra)) == pytest.approx(7.0)  # weight 0: intra ignored
    with pytest.raises(ConfigError, match="intra_weight"):
        LossBalancer("sum", intra_weight=-1.0)
    with pytest.raises(ConfigError, match="only apply to objective"):
        build_moco(ToyDualStream(6, 5, 3), "moco", intra_weight=1.0)


def test_intra_terms_contrast_each_stream_with_its_own_queue():
    torch.manual_seed(0)
    model = CrossStreamMoCo(ToyDualStream(6, 5, 3), dim=8, queue_size=16, balance="fixed", lam=1.0,
                            fused_weight=0.0, intra_weight=1.0)
    x1, x2 = torch.randn(4, *SHAPE), torch.randn(4, *SHAPE)
    neg = {s: model.queues_k[s].queue.clone() for s in ("spatial", "temporal")}
    with torch.no_grad():
        q = {s: F.normalize(model.heads_q[s](model.encoder_q(x1)[s]), dim=1) for s in neg}
        k = {s: F.normalize(model.heads_k[s](model.encoder_k(x2)[s]), dim=1) for s in neg}
    out = model(x1, x2)
    l_ts, _ = info_nce(q["temporal"], k["spatial"], neg["spatial"], 0.07)
    l_ss, _ = info_nce(q["spatial"], k["spatial"], neg["spatial"], 0.07)
    l_tt, _ = info_nce(q["temporal"], k["temporal"], neg["temporal"], 0.07)
    torch.testing.assert_close(out.loss.detach(), l_ts + l_ss + l_tt)
    torch.testing.assert_close(out.logs["loss_ss"], l_ss)
    torch.testing.assert_close(out.logs["loss_tt"], l_tt)


def _stb(**kw):
    return create_model("dual_stream", layout="imigue22", in_channels=2, dim=12,
                        spatial={"name": "stgcn_quarter", "channels": [8, 8], "strides": [1, 2]},
                        temporal={"name": "gru", "hidden_size": 8, "num_layers": 1}, **kw)


@pytest.mark.parametrize("objective", ["moco", "cross_stream"])
def test_gate_balance_penalty_reaches_the_loss(objective):
    torch.manual_seed(0)
    encoder = _stb(balance_weight=1.0, embed="streams")
    torch.nn.init.normal_(encoder.fuser.mlp[-1].weight, std=5.0)  # an unbalanced gate costs something
    model = build_moco(encoder, objective, dim=8, queue_size=16)
    x1, x2 = torch.randn(4, 1, 8, 22, 2), torch.randn(4, 1, 8, 22, 2)
    out = model(x1, x2)
    assert float(out.logs["aux_loss"]) > 0
    out.loss.backward()
    assert encoder.fuser.mlp[-1].weight.grad.abs().sum() > 0


def test_single_stream_moco_head_follows_the_fused_width_not_the_embedding():
    model = MoCo(_stb(embed="all"), dim=8, queue_size=16)
    assert model.encoder_q.out_dim == 36 and model.head_q[0].in_features == 12
    out = model(torch.randn(4, 1, 8, 22, 2), torch.randn(4, 1, 8, 22, 2))
    assert torch.isfinite(out.loss)
