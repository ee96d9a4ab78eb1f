"""STB fusion variants: shapes, weights, single-stream modes, and the TorchScript export round trip."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from microgesture.errors import ConfigError
from microgesture.models import DualStreamEncoder, create_model, export_encoder
from microgesture.models.fusion import FUSIONS, balance_kl

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
    # the STB variants add the gate's balance penalty while training (default balance_weight = 1)
    assert set(out) == expected | ({"aux_loss"} if fusion.startswith("stb") else set())
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


# -- anti-collapse options and the evaluation embedding ---------------------------------------------------------
@pytest.mark.parametrize("mode,width", [("fused", 1), ("streams", 2), ("balanced", 2), ("all", 3)])
def test_embed_modes_shapes_and_content(mode: str, width: int) -> None:
    model = _dual("stb_weight", embed=mode)
    torch.nn.init.normal_(model.fuser.mlp[-1].weight)  # unbalanced weights, so "balanced" differs from "streams"
    model.eval()
    out, z = model(X), model.embed(X)
    assert model.out_dim == 24 * width and z.shape == (5, 24 * width)
    hs, ht, a = out["spatial"], out["temporal"], out["alpha"]
    expected = {"fused": out["fused"], "streams": torch.cat([hs, ht], 1),
                "balanced": torch.cat([2 * a[:, :1] * hs, 2 * a[:, 1:] * ht], 1),
                "all": torch.cat([hs, ht, out["fused"]], 1)}[mode]
    torch.testing.assert_close(z, expected)
    # a classifier on top sizes its head from out_dim
    clf = create_model("classifier", encoder={"name": "dual_stream", "spatial": SPATIAL, "temporal": TEMPORAL,
                                              "dim": 24, "embed": mode}, num_classes=3, layout="imigue22",
                       in_channels=2)
    assert clf(X).shape == (5, 3)


def test_single_stream_ignores_embed_mode() -> None:
    model = _dual("spatial", embed="streams")
    assert model.out_dim == 24
    torch.testing.assert_close(model.embed(X), model(X)["fused"])


@pytest.mark.parametrize("fusion", ["stb_weight", "concat", "spatial", "temporal"])
def test_backbone_embed_is_the_encoders_pooled_features(fusion: str) -> None:
    """``backbone``: the streams' own outputs, concatenated, untouched by projections, gate or fusion."""
    model = _dual(fusion, embed="backbone").eval()
    streams = [e for e in (model.spatial, model.temporal) if e is not None]
    expected = torch.cat([e(X) for e in streams], dim=1)
    assert model.out_dim == sum(e.out_dim for e in streams) == expected.shape[1]
    torch.testing.assert_close(model.embed(X), expected)
    if model.proj_s is not None:  # changing a projection changes training outputs, not the embedding
        with torch.no_grad():
            model.proj_s[0].weight.mul_(3.0)
        torch.testing.assert_close(model.embed(X), expected)


def test_stream_norm_and_gate_floor() -> None:
    model = _dual("stb_weight", stream_norm="l2", gate_floor=0.2)
    torch.nn.init.normal_(model.fuser.mlp[-1].weight, std=100.0)  # saturate the softmax
    out = model(X)
    for s in ("spatial", "temporal"):
        torch.testing.assert_close(out[s].norm(dim=1), torch.full((5,), 24 ** 0.5))
    a = out["alpha"]
    assert (a >= 0.2 - 1e-6).all() and (a <= 0.8 + 1e-6).all()
    torch.testing.assert_close(a.sum(1), torch.ones(5))


def test_bad_fusion_options_are_rejected() -> None:
    for kw, match in [({"embed": "mean"}, "embed"), ({"stream_norm": "bn"}, "stream_norm"),
                      ({"gate_floor": 0.5}, "floor"), ({"gate_temperature": 0.0}, "temperature"),
                      ({"balance_weight": -1.0}, "balance_weight")]:
        with pytest.raises(ConfigError, match=match):
            _dual("stb_weight", **kw)


def test_balance_kl_is_zero_only_when_balanced_on_average() -> None:
    assert float(balance_kl(torch.tensor([[0.5, 0.5]] * 4))) == pytest.approx(0.0, abs=1e-7)
    # per-sample preferences that cancel out over the batch cost nothing: the gate stays sample-adaptive
    assert float(balance_kl(torch.tensor([[0.9, 0.1], [0.1, 0.9]]))) == pytest.approx(0.0, abs=1e-7)
    assert float(balance_kl(torch.tensor([[0.99, 0.01]] * 4))) > 0.5


def test_aux_loss_only_while_training_with_a_weight() -> None:
    assert "aux_loss" not in _dual("stb_weight", balance_weight=0.0)(X)
    model = _dual("stb_weight", balance_weight=0.5)
    torch.nn.init.normal_(model.fuser.mlp[-1].weight)
    out = model(X)
    torch.testing.assert_close(out["aux_loss"], 0.5 * balance_kl(out["alpha"]))
    model.eval()
    assert "aux_loss" not in model(X)


def _train_gate_on_a_task_that_rewards_collapse(balance_weight: float) -> float:
    """The gate is rewarded for copying the temporal stream (the collapse seen in pretraining)."""
    torch.manual_seed(0)
    model = _dual("stb_weight", balance_weight=balance_weight)
    model.train()
    opt = torch.optim.SGD(model.fuser.parameters(), lr=0.5)
    for _ in range(60):
        out = model(X)
        loss = F.mse_loss(out["fused"], out["temporal"].detach()) + out.get("aux_loss", 0.0)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        return float(model(X)["alpha"][:, 0].mean())


def test_balance_regulariser_keeps_alpha_away_from_collapse() -> None:
    assert _train_gate_on_a_task_that_rewards_collapse(0.0) < 0.1  # without it the gate shuts spatial off
    # a soft penalty: a compromise between the task and balance, well away from 0 (or 1)
    assert 0.2 < _train_gate_on_a_task_that_rewards_collapse(1.0) < 0.8
