"""STB fusion variants: shapes, weights, single-stream modes, and the TorchScript export round trip."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from microgesture.errors import ConfigError
from microgesture.models import DualStreamEncoder, create_model, export_encoder
from microgesture.models.fusion import FUSIONS

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SPATIAL = {"name": "stgcn_quarter", "channels": [8, 8, 16], "strides": [1, 2, 1]}
TEMPORAL = {"name": "gru", "hidden_size": 16, "num_layers": 1}


def _dual(fusion: str, **kw) -> DualStreamEncoder:
    return create_model("dual_stream", layout="imigue22", in_channels=2, spatial=SPATIAL, temporal=TEMPORAL,
                        fusion=fusion, dim=24, **kw)


def _count_calls(module: torch.nn.Module | None) -> list[int]:
    calls = [0]
    if module is not None:
        module.register_forward_hook(lambda *_: calls.__setitem__(0, calls[0] + 1))
    return calls


X = torch.randn(5, 1, 16, 22, 2)


@pytest.mark.parametrize("fusion", FUSIONS)
def test_fusion_output_keys_and_shapes(fusion: str) -> None:
    out = _dual(fusion)(X)
    expected = {"fused"} | ({"spatial"} if fusion != "temporal" else set()) \
        | ({"temporal"} if fusion != "spatial" else set()) | ({"alpha"} if fusion.startswith("stb") else set())
    assert set(out) == expected
    for key in expected - {"alpha"}:
        assert out[key].shape == (5, 24)


@pytest.mark.parametrize("fusion,other", [("spatial", "temporal"), ("temporal", "spatial")])
def test_single_stream_runs_only_one_encoder(fusion: str, other: str) -> None:
    model = _dual(fusion)
    assert getattr(model, other) is None  # not even built
    kept = _count_calls(getattr(model, fusion))
    torch.testing.assert_close(model.embed(X), model(X)["fused"])
    assert kept[0] == 2
    # handing both encoders to the wrapper still runs just the chosen one
    s, t = create_model(**SPATIAL, layout="imigue22", in_channels=2), create_model(
        **TEMPORAL, layout="imigue22", in_channels=2)
    calls = {"spatial": _count_calls(s), "temporal": _count_calls(t)}
    DualStreamEncoder(s, t, fusion=fusion, dim=24)(X)
    assert calls[fusion][0] == 1 and calls[other][0] == 0


def test_stb_weight_starts_balanced_and_sums_to_one() -> None:
    model = _dual("stb_weight")
    out = model(X)
    torch.testing.assert_close(out["alpha"], torch.full((5, 2), 0.5))
    torch.testing.assert_close(out["fused"], 0.5 * out["spatial"] + 0.5 * out["temporal"])
    torch.nn.init.normal_(model.fuser.mlp[-1].weight)  # move off the balanced start
    out = model(X)
    torch.testing.assert_close(out["alpha"].sum(1), torch.ones(5))
    a = out["alpha"]
    torch.testing.assert_close(out["fused"], a[:, :1] * out["spatial"] + a[:, 1:] * out["temporal"])
    assert not torch.allclose(a[0], a[1])  # weights are per sample
    torch.testing.assert_close(model.last_alpha, a.detach())


def test_stb_weight_per_channel() -> None:
    model = _dual("stb_weight", per_channel=True)
    torch.nn.init.normal_(model.fuser.mlp[-1].weight)
    out = model(X)
    assert out["alpha"].shape == (5, 2)
    torch.testing.assert_close(out["alpha"].sum(1), torch.ones(5))


@pytest.mark.parametrize("tokens", ["streams", "all"])
def test_stb_graph_tokens(tokens: str) -> None:
    model = _dual("stb_graph", graph_tokens=tokens, seq_tokens=4, graph_layers=2)
    n_tokens = 2 if tokens == "streams" else 2 + 22 + 4  # streams + joints + 4 time segments
    assert model.fuser.pos.shape == (n_tokens, 24)
    out = model(X)
    assert out["fused"].shape == (5, 24)
    torch.testing.assert_close(out["alpha"].sum(1), torch.ones(5))
    assert ((out["alpha"] > 0) & (out["alpha"] < 1)).all()
    # variable clip length still works: temporal tokens are pooled to a fixed count
    assert model(torch.randn(2, 1, 30, 22, 2))["fused"].shape == (2, 24)


def test_fusion_needs_its_streams() -> None:
    s = create_model(**SPATIAL, layout="imigue22", in_channels=2)
    with pytest.raises(ConfigError, match="temporal encoder"):
        DualStreamEncoder(s, None, fusion="stb_weight")
    with pytest.raises(ConfigError, match="graph_tokens"):
        DualStreamEncoder(s, s, fusion="stb_graph", graph_tokens="frames")


def test_any_encoder_pair_plugs_in() -> None:
    """STB is a plug-in: AGCN + TCN works the same as ST-GCN + GRU."""
    model = create_model("dual_stream", layout="ntu25", in_channels=3, num_persons=2, dim=16,
                         spatial={"name": "agcn", "channels": [8, 8]}, temporal={"name": "tcn", "channels": [8]},
                         fusion="stb_graph", graph_tokens="all")
    assert model(torch.randn(2, 2, 12, 25, 3))["fused"].shape == (2, 16)


@pytest.mark.parametrize("spec,fmt", [
    ({"name": "dual_stream", "spatial": SPATIAL, "temporal": TEMPORAL, "fusion": "stb_weight", "dim": 16},
     "torchscript"),
    ({"name": "dual_stream", "spatial": {"name": "agcn", "channels": [8]}, "temporal": {"name": "tcn",
      "channels": [8]}, "fusion": "stb_graph", "graph_tokens": "all", "dim": 16}, "torchscript"),
    ({"name": "classifier", "encoder": SPATIAL, "num_classes": 4}, "export"),
    ({"name": "gru", "hidden_size": 8}, "export"),
])
def test_export_round_trip(tmp_path: Path, spec: dict, fmt: str) -> None:
    torch.manual_seed(0)
    spec = dict(spec)
    model = create_model(spec.pop("name"), layout="imigue22", in_channels=2, **spec)
    model.train()
    x = torch.randn(1, 1, 16, 22, 2)
    path = export_encoder(model, tmp_path / "enc.pt", x, format=fmt)
    assert model.training  # mode restored
    loaded = torch.export.load(str(path)).module() if fmt == "export" else torch.jit.load(str(path))
    model.eval()
    with torch.no_grad():
        expected = model(x) if spec.get("num_classes") else model.embed(x)
        torch.testing.assert_close(loaded(x), expected, atol=1e-5, rtol=1e-5)
        x2 = torch.randn(4, 1, 16, 22, 2)  # another batch size goes through the traced graph too
        expected2 = model(x2) if spec.get("num_classes") else model.embed(x2)
        torch.testing.assert_close(loaded(x2), expected2, atol=1e-5, rtol=1e-5)


def test_export_rejects_unknown_format(tmp_path: Path) -> None:
    model = create_model("gru", layout="imigue22", in_channels=2, hidden_size=8)
    with pytest.raises(ConfigError, match="format"):
        export_encoder(model, tmp_path / "m.x", torch.randn(1, 1, 4, 22, 2), format="tflite")
