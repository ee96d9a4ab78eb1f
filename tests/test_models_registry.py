"""Every registered model, tiny configs on CPU: shapes, gradients, determinism, config round trips."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from omegaconf import OmegaConf

from microgesture.errors import ConfigError
from microgesture.models import build_from_config, create_model, list_models, model_info

TINY_GRU = {"name": "gru", "hidden_size": 16, "num_layers": 1}
TINY_STGCN = {"name": "stgcn_quarter", "channels": [8, 8, 16], "strides": [1, 2, 1]}

#: A tiny config for every registered model; a new registration without one fails test_every_model_is_tiny.
TINY: dict[str, dict[str, Any]] = {
    "stgcn": {"channels": [8, 16], "strides": [1, 2]},
    "stgcn_quarter": {"channels": [8, 8, 16], "strides": [1, 2, 1]},
    "agcn": {"channels": [8, 16], "strides": [1, 2]},
    "gru": {"hidden_size": 16, "num_layers": 2},
    "gru_isc": {"hidden_size": 16, "num_layers": 2},
    "tcn": {"channels": [16, 16]},
    "dual_stream": {"spatial": TINY_STGCN, "temporal": TINY_GRU, "dim": 32},
    "classifier": {"encoder": {"name": "dual_stream", "spatial": TINY_STGCN, "temporal": TINY_GRU,
                               "dim": 32}, "num_classes": 7},
}
LAYOUTS = [("imigue22", 22), ("ntu25", 25), ("kinect_v1", 20)]


def _build(name: str, layout: str, c: int, m: int) -> torch.nn.Module:
    return create_model(name, layout=layout, in_channels=c, num_persons=m, **TINY[name])


def _out(y: Any) -> torch.Tensor:
    return y["fused"] if isinstance(y, dict) else y


def test_every_model_is_tiny() -> None:
    assert set(list_models()) == set(TINY)
    for name in ("stgcn", "stgcn_quarter", "agcn", "gru", "tcn", "dual_stream", "classifier"):
        assert name in list_models()
    assert list_models("stgcn*") == ["stgcn", "stgcn_quarter"]


@pytest.mark.parametrize("name", sorted(TINY))
@pytest.mark.parametrize("layout,v", LAYOUTS)
@pytest.mark.parametrize("c,m", [(2, 1), (3, 2)])
def test_forward_shape(name: str, layout: str, v: int, c: int, m: int) -> None:
    model = _build(name, layout, c, m).eval()
    x = torch.randn(3, m, 12, v, c)
    with torch.no_grad():
        y = _out(model(x))
        e = model.embed(x)
    # out_dim is the width of the inference embedding; a dual-stream model's fused vector is stream_dims["fused"]
    expected = 7 if name == "classifier" else getattr(model, "stream_dims", {}).get("fused", model.out_dim)
    assert y.shape == (3, expected) and torch.isfinite(y).all()
    assert e.dim() == 2 and e.shape[0] == 3
    if name != "classifier":
        assert e.shape[1] == model.out_dim


@pytest.mark.parametrize("name", sorted(TINY))
def test_backward_finite_grads(name: str) -> None:
    torch.manual_seed(0)
    model = _build(name, "imigue22", 3, 1).train()
    x = torch.randn(4, 1, 10, 22, 3)
    _out(model(x)).pow(2).mean().backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None, f"{name}: no gradient for {pname}"
        assert torch.isfinite(p.grad).all(), f"{name}: non-finite gradient for {pname}"


@pytest.mark.parametrize("name", sorted(TINY))
def test_deterministic_given_seed(name: str) -> None:
    outs = []
    for _ in range(2):
        torch.manual_seed(123)
        model = _build(name, "ntu25", 3, 1).eval()
        with torch.no_grad():
            outs.append(_out(model(torch.randn(2, 1, 10, 25, 3))))
    torch.testing.assert_close(outs[0], outs[1], atol=0, rtol=0)


@pytest.mark.parametrize("name", sorted(TINY))
def test_config_round_trip(name: str) -> None:
    model = _build(name, "kinect_v1", 3, 1)
    assert model.config["name"] == name
    rebuilt = build_from_config(model.config)
    shapes = {k: v.shape for k, v in model.state_dict().items()}
    assert {k: v.shape for k, v in rebuilt.state_dict().items()} == shapes
    rebuilt.load_state_dict(model.state_dict())  # strict


def test_parameter_counts_match_references() -> None:
    """¼-width ST-GCN: SkeletonCLR/AimCLR log 0.837 M with an FC(256->60); full ST-GCN 3.1 M; 2s-AGCN 3.5 M."""
    quarter = model_info(create_model("stgcn_quarter", layout="ntu25", in_channels=3, num_persons=2))
    assert quarter["params"] == quarter["trainable"]
    assert quarter["params"] + 256 * 60 + 60 == pytest.approx(837_000, rel=0.01)
    assert model_info(create_model("stgcn", layout="ntu25", num_persons=2))["params"] == pytest.approx(
        3.1e6, rel=0.02)
    assert model_info(create_model("agcn", layout="ntu25", num_persons=2))["params"] == pytest.approx(
        3.5e6, rel=0.03)


def test_registry_errors_and_omegaconf() -> None:
    with pytest.raises(ConfigError, match="unknown model"):
        create_model("resnet50")
    with pytest.raises(ConfigError, match="unknown option"):
        create_model("gru", hiden_size=3)
    with pytest.raises(ConfigError, match="unknown layout"):
        create_model("gru", layout="nope")
    with pytest.raises(ConfigError, match="fusion"):
        create_model("dual_stream", fusion="average")
    cfg = OmegaConf.create({"name": "classifier", "encoder": {"name": "gru", "hidden_size": 8},
                            "num_classes": 3, "layout": "imigue22", "in_channels": 2})
    model = build_from_config(cfg)
    assert model.encoder.config == {"name": "gru", "hidden_size": 8, "layout": "imigue22", "in_channels": 2}
    assert isinstance(model.config["encoder"], dict)


def test_wrong_input_shape_is_a_clear_error() -> None:
    model = create_model("stgcn_quarter", layout="imigue22", in_channels=2, **TINY["stgcn_quarter"])
    with pytest.raises(ConfigError, match=r"V=22.*imigue22"):
        model(torch.randn(2, 1, 10, 25, 2))
    with pytest.raises(ConfigError, match="C=2"):
        model(torch.randn(2, 1, 10, 22, 3))


def test_gru_pooling_semantics() -> None:
    """'last' = forward state after the last frame + backward state after frame 0 (ISC kept only frame T-1)."""
    torch.manual_seed(0)
    model = create_model("gru", layout="imigue22", in_channels=2, hidden_size=8, num_layers=2).eval()
    x = torch.randn(2, 1, 9, 22, 2)
    with torch.no_grad():
        pooled, seq = model.forward_features(x)
    assert seq.shape == (2, 9, 16)
    torch.testing.assert_close(pooled, torch.cat([seq[:, -1, :8], seq[:, 0, 8:]], dim=1))
    mean = create_model("gru", layout="imigue22", in_channels=2, hidden_size=8, pooling="mean")
    mean.load_state_dict(model.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(mean.eval()(x), seq.mean(1))


def test_stgcn_dropout_is_opt_in() -> None:
    plain = create_model("stgcn_quarter", layout="ntu25")
    assert not any(isinstance(m, torch.nn.Dropout) for m in plain.modules())
    dropped = create_model("stgcn_quarter", layout="ntu25", dropout=0.5)
    assert sum(isinstance(m, torch.nn.Dropout) for m in dropped.modules()) == 10
