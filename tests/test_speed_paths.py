"""Fast code paths compute what the reference implementation computes (values and gradients); never timed."""

from __future__ import annotations

import json

import pytest
import torch

from _training_tiny import TINY_PRETRAIN
from microgesture.cli.main import main
from microgesture.models import create_model
from microgesture.models.base import mean_over_frames_and_joints
from microgesture.models.graph import build_adjacency
from microgesture.models.inference import set_channels_last
from microgesture.models.stgcn import CONV_AGGREGATION_MAX_CHANNELS, GraphConv, aggregate, aggregate_matmul


def _operator() -> torch.Tensor:
    a = build_adjacency("ntu25", "spatial")
    g = torch.Generator().manual_seed(3)
    weights = (a * torch.rand(a.shape, generator=g) + 0.1 * (a > 0)).requires_grad_(True)
    return weights


LIMITS = sorted(set(CONV_AGGREGATION_MAX_CHANNELS.values()))


@pytest.mark.parametrize("channels", [3, *LIMITS, *(c + 1 for c in LIMITS), 64])
def test_channels_last_aggregation_matches_the_reference(channels: int) -> None:
    """Both channels-last branches (1 x 1 convolution, batched GEMM) against the broadcast matmul, with grads."""
    torch.manual_seed(0)
    a = _operator()
    k, v, _ = a.shape
    x = torch.randn(4, channels, 7, v).contiguous(memory_format=torch.channels_last)
    grad = torch.randn(4, channels, 7, v * k)
    results = []
    for fn, fmt in ((aggregate, torch.channels_last), (aggregate_matmul, torch.channels_last),
                    (aggregate, torch.contiguous_format)):
        xi = x.detach().contiguous(memory_format=fmt).requires_grad_(True)
        ai = a.detach().clone().requires_grad_(True)
        op = ai.permute(2, 1, 0).reshape(v, v * k)
        y = fn(xi, op)
        y.backward(grad)
        results.append((y.detach(), xi.grad, ai.grad, y.is_contiguous(memory_format=fmt)))
    (y, gx, ga, layout_kept), *others = results
    assert layout_kept  # channels-last in, channels-last out: no reorder for the mixing convolution after it
    for y_ref, gx_ref, ga_ref, kept in others:
        assert kept
        torch.testing.assert_close(y, y_ref, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(gx, gx_ref, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(ga, ga_ref, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("channels", [3, *LIMITS, *(c + 1 for c in LIMITS)])
def test_graph_conv_no_grad_branch_matches(channels: int) -> None:
    """The key encoder and inference run without autograd (the other channel limit): the same numbers there."""
    torch.manual_seed(0)
    gc = GraphConv(channels, 8, build_adjacency("ntu25", "spatial"), edge_importance=True)
    x = torch.randn(3, channels, 5, 25)
    ref = gc(x)
    with torch.no_grad():
        fast = set_channels_last(gc)(x.contiguous(memory_format=torch.channels_last))
    assert fast.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(fast, ref, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("channels", [[8, 16], [16, 32, 64]])
def test_stgcn_channels_last_training_matches_nchw(channels: list[int]) -> None:
    """A training step of ST-GCN in channels-last (the CPU pretraining layout) equals the NCHW one."""
    torch.manual_seed(0)
    kw = dict(layout="ntu25", in_channels=3, num_persons=2, channels=channels, strides=[1] + [2] * (len(channels) - 1))
    a, b = create_model("stgcn", **kw), create_model("stgcn", **kw)
    b.load_state_dict(a.state_dict())
    set_channels_last(b)
    x = torch.randn(4, 2, 12, 25, 3)
    ya, yb = a(x), b(x)
    torch.testing.assert_close(yb, ya, atol=1e-4, rtol=1e-4)
    ya.square().sum().backward()
    yb.square().sum().backward()
    for (name, pa), pb in zip(a.named_parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(pb.grad, pa.grad, atol=1e-3, rtol=1e-3, msg=name)


def test_bf16_mixed_pretraining_runs(tmp_path, capsys) -> None:
    """trainer.precision=bf16-mixed (the opt-in fast CPU row): augmentations stay float32 under autocast."""
    code = main(["pretrain", "--config", "pretrain_stb_demo", "--out", str(tmp_path / "run"), "--max-epochs", "1",
                 "--json", *TINY_PRETRAIN, "trainer.precision=bf16-mixed"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    doc = json.loads(captured.out)
    assert doc["epochs"] == 1
    loss = doc["metrics"]["train/loss"]
    assert loss == loss and 0 < loss < 100  # finite


def test_training_pool_is_mean_bit_for_bit() -> None:
    """The pooled features and their gradients are exactly those of ``mean``; without autograd it is ``mean``."""
    torch.manual_seed(0)
    y = torch.randn(6, 32, 7, 25).contiguous(memory_format=torch.channels_last)
    grad = torch.randn(6, 32)
    a, b = y.clone().requires_grad_(True), y.clone().requires_grad_(True)
    pa, pb = mean_over_frames_and_joints(torch.relu(a)), torch.relu(b).mean(dim=(2, 3))
    assert torch.equal(pa, pb)
    pa.backward(grad)
    pb.backward(grad)
    assert torch.equal(a.grad, b.grad)
    with torch.no_grad():
        assert torch.equal(mean_over_frames_and_joints(y), y.mean(dim=(2, 3)))
