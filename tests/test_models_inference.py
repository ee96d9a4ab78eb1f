"""Inference rewrites (BN folding, channels-last) must not change what a model computes."""

from __future__ import annotations

import pytest
import torch

from microgesture.models import create_model
from microgesture.models.inference import prepare_for_inference, set_channels_last

SPECS = {
    "stgcn_quarter": {"channels": [8, 8, 16], "strides": [1, 2, 1]},
    "agcn": {"channels": [8, 16], "strides": [1, 2]},
    "tcn": {"channels": [16, 16]},
    "dual_stream": {"spatial": {"name": "agcn", "channels": [8]}, "temporal": {"name": "tcn", "channels": [8]},
                    "fusion": "stb_graph", "graph_tokens": "all", "dim": 16},
    "classifier": {"encoder": {"name": "stgcn_quarter", "channels": [8, 16]}, "num_classes": 3},
}


def _randomise_bn(model: torch.nn.Module) -> None:
    """Non-trivial running statistics, so that a wrong fold cannot pass by accident."""
    g = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.running_mean.copy_(torch.rand(m.num_features, generator=g) - 0.5)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.bias.data.copy_(torch.rand(m.num_features, generator=g) - 0.5)


@pytest.mark.parametrize("name", sorted(SPECS))
@pytest.mark.parametrize("channels_last", [False, True])
def test_prepare_for_inference_is_exact(name: str, channels_last: bool) -> None:
    torch.manual_seed(0)
    model = create_model(name, layout="ntu25", in_channels=3, num_persons=2, **SPECS[name])
    _randomise_bn(model)
    model.eval()
    fast = prepare_for_inference(model, channels_last=channels_last)
    bns = [m for m in fast.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    n_encoders = sum(hasattr(m, "data_norm") for m in fast.modules())
    assert len(bns) == n_encoders  # only the input DataNorm of each encoder stays (nothing precedes it)
    assert all(not p.requires_grad for p in fast.parameters())
    x = torch.randn(3, 2, 12, 25, 3)
    with torch.inference_mode():
        ref = model.embed(x)
        torch.testing.assert_close(fast.embed(x), ref, atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(fast.embed(x[:1]), ref[:1], atol=1e-4, rtol=1e-4)  # batch-1 path
    assert model.training is False and any(
        isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules() if m is not model)


def test_channels_last_training_matches_nchw() -> None:
    torch.manual_seed(0)
    a = create_model("agcn", layout="imigue22", in_channels=2, channels=[8, 16], strides=[1, 2])
    b = create_model("agcn", layout="imigue22", in_channels=2, channels=[8, 16], strides=[1, 2])
    b.load_state_dict(a.state_dict())
    set_channels_last(b)
    assert b.channels_last and not a.channels_last
    x = torch.randn(4, 1, 10, 22, 2)
    ya, yb = a(x), b(x)
    torch.testing.assert_close(ya, yb, atol=1e-4, rtol=1e-4)
    ya.sum().backward()
    yb.sum().backward()
    for (n, pa), pb in zip(a.named_parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(pa.grad, pb.grad, atol=1e-3, rtol=1e-3, msg=n)
