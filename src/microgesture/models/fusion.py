"""Spatiotemporal balancing fusion (STB): a plug-in that wraps ANY spatial + temporal encoder pair.

The paper fuses a GCN (spatial) stream and a GRU (temporal) stream with "a simple and efficient
plug-and-play spatiotemporal balancing fusion" learned by "an adaptive graph learning approach"; its
equations are not public, so the variants here are our readings of it (docs: paper-notes §2.3):

* ``stb_weight`` — sample-adaptive weights ``alpha = softmax(MLP([h_s; h_t]))``, ``h = a_s h_s + a_t h_t``
  (``per_channel=True``: one 2-way softmax per channel, i.e. sigmoid gating). The last MLP layer starts at
  zero, so training starts from an exactly balanced 0.5 / 0.5 mix.
* ``stb_graph`` — an adaptive graph over stream tokens (the two stream embeddings, optionally plus
  per-joint / per-frame tokens): ``A = softmax(phi(H) psi(H)^T / sqrt(d) + B)`` with a learned ``B`` in
  the logits (kept inside the softmax so ``A`` stays row-stochastic and the stream shares are readable),
  ``H' = GELU(A H W) + H``, mean-pooled.
* ``concat`` — ``Linear([h_s; h_t])`` baseline; ``spatial`` / ``temporal`` — one stream alone (the other
  encoder is not built, so it costs nothing and leaves no unused parameters).

Balancing (measured, small budget; see ``docs``/the fusion experiment): left alone, the ``stb_weight`` gate
collapses onto one stream (alpha_s 0.005-0.13), because the fused contrastive term is easier to win with
the temporal stream, and the fused vector then carries almost no spatial information. The defaults fix
both ends: ``balance_weight=1`` adds ``KL(mean alpha || uniform)`` (a batch-level, load-balancing penalty
that leaves per-sample weights free), and ``embed="balanced"`` hands evaluation ``[2 a_s h_s; 2 a_t h_t]``
instead of the sum, so neither stream's information is lost to the mix. ``gate_floor``,
``gate_temperature``, ``gate_detach`` and ``stream_norm`` are kept as ablation switches; a floor or L2
normalisation did not stop the collapse on their own.

The loss-level balancing variant lives with the MoCo module; it uses the per-stream embeddings returned
here. ``alpha`` (``[N, 2]``: spatial, temporal share) is returned for logging and kept in ``last_alpha``.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import ConfigError
from .registry import COMMON_KEYS, create_model, register_model, sub_config

FUSIONS = ("stb_weight", "stb_graph", "concat", "spatial", "temporal")
GRAPH_TOKENS = ("streams", "all")
EMBEDS = ("fused", "streams", "balanced", "all", "backbone")
STREAM_NORMS = ("none", "l2")
_EMBED_WIDTH = {"fused": 1, "streams": 2, "balanced": 2, "all": 3}


def balance_kl(alpha: Tensor) -> Tensor:
    """``KL(mean_n alpha || uniform)``: zero when the streams get equal shares *on average over the batch*.

    A batch-level (load-balancing) penalty rather than a per-sample one, so the gate stays free to favour
    either stream for a given clip but cannot shut one stream off for every clip.
    """
    mean = alpha.float().mean(dim=0).clamp_min(1e-8)
    return (mean * (mean * mean.numel()).log()).sum()


class WeightFusion(nn.Module):
    """``stb_weight``: per-sample (optionally per-channel) softmax weights over the two streams.

    Anti-collapse knobs (all off by default except where the encoder sets them): ``temperature`` divides the
    gate logits, ``floor`` keeps every weight in ``[floor, 1 - floor]``, ``detach`` stops the gate's gradient
    from reaching the streams (so the gate can pick a stream but not reshape one to win the contrastive task).
    """

    def __init__(self, dim: int, hidden: int | None = None, per_channel: bool = False, temperature: float = 1.0,
                 floor: float = 0.0, detach: bool = False) -> None:
        super().__init__()
        if temperature <= 0:
            raise ConfigError(f"gate temperature must be positive, got {temperature}")
        if not 0.0 <= floor < 0.5:
            raise ConfigError(f"gate floor must lie in [0, 0.5), got {floor}")
        hidden = hidden or max(dim // 4, 16)
        self.per_channel = per_channel
        self.temperature = float(temperature)
        self.floor = float(floor)
        self.detach = bool(detach)
        self.mlp = nn.Sequential(nn.Linear(2 * dim, hidden), nn.ReLU(inplace=True),
                                 nn.Linear(hidden, 2 * dim if per_channel else 2))
        nn.init.zeros_(self.mlp[-1].weight)
        nn.init.zeros_(self.mlp[-1].bias)

    def forward(self, hs: Tensor, ht: Tensor) -> tuple[Tensor, Tensor]:
        gate_in = torch.cat([hs, ht], dim=1)
        logits = self.mlp(gate_in.detach() if self.detach else gate_in) / self.temperature
        if self.per_channel:
            w = logits.view(hs.shape[0], 2, -1).softmax(dim=1)  # [N, 2, dim]
        else:
            w = logits.softmax(dim=1)[:, :, None]  # [N, 2, 1]
        if self.floor:
            w = self.floor + (1.0 - 2.0 * self.floor) * w
        return w[:, 0] * hs + w[:, 1] * ht, w.mean(dim=2)


class GraphFusion(nn.Module):
    """``stb_graph``: adaptive graph convolution over tokens; ``num_spatial`` first tokens are spatial."""

    def __init__(self, dim: int, num_tokens: int, spatial_index: Tensor, layers: int = 1) -> None:
        super().__init__()
        self.scale = 1.0 / math.sqrt(dim)
        self.pos = nn.Parameter(torch.zeros(num_tokens, dim))
        nn.init.trunc_normal_(self.pos, std=0.02)
        self.phi = nn.ModuleList(nn.Linear(dim, dim) for _ in range(layers))
        self.psi = nn.ModuleList(nn.Linear(dim, dim) for _ in range(layers))
        self.weight = nn.ModuleList(nn.Linear(dim, dim) for _ in range(layers))
        self.bias = nn.Parameter(torch.zeros(layers, num_tokens, num_tokens))  # learned graph (logits)
        self.norm = nn.LayerNorm(dim)
        self.register_buffer("spatial_mask", spatial_index.float())

    def forward(self, h: Tensor) -> tuple[Tensor, Tensor]:
        h = h + self.pos
        share = h.new_zeros(h.shape[0])
        for i, (phi, psi, w) in enumerate(zip(self.phi, self.psi, self.weight, strict=True)):
            a = (torch.matmul(phi(h), psi(h).transpose(1, 2)) * self.scale + self.bias[i]).softmax(dim=-1)
            h = h + F.gelu(torch.matmul(a, w(h)))
            share = share + (a * self.spatial_mask).sum(-1).mean(-1)
        s = share / len(self.phi)
        return self.norm(h.mean(dim=1)), torch.stack([s, 1.0 - s], dim=1)


class ConcatFusion(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.proj = nn.Linear(2 * dim, dim)

    def forward(self, hs: Tensor, ht: Tensor) -> Tensor:
        return self.proj(torch.cat([hs, ht], dim=1))


def _projection(in_dim: int, dim: int, norm: bool) -> nn.Module:
    return nn.Sequential(nn.Linear(in_dim, dim), nn.LayerNorm(dim)) if norm else nn.Linear(in_dim, dim)


class DualStreamEncoder(nn.Module):
    """Spatial + temporal encoders, per-stream projections to ``dim``, and a fusion module.

    ``forward(x)`` -> ``{"spatial": [N, dim], "temporal": [N, dim], "fused": [N, dim], "alpha": [N, 2]}``
    (single-stream modes return only their stream and ``fused``; ``alpha`` only for the STB variants), plus
    ``aux_loss`` (``balance_weight * KL(mean alpha || uniform)``, see :func:`balance_kl`) while training with
    ``balance_weight > 0``; the MoCo objectives add it to their loss.

    ``embed(x)`` -> the representation handed to evaluation (``out_dim`` wide): ``fused``; ``streams``
    ``[h_s; h_t]``; ``balanced`` ``[2 a_s h_s; 2 a_t h_t]`` (the STB weights scale each stream, 1 at a
    balanced gate); ``all`` ``[h_s; h_t; h]``. Single-stream modes embed their one stream. ``backbone``: the
    encoders' own pooled features ``[f_s; f_t]``, before the per-stream projections and the fusion -- the
    MoCo/SimCLR practice of probing below the contrastive heads, which are shaped by the pretext task (on
    NW-UCLA the linear probe gains 3-5 points, README Results); it is what the pretraining configs hand to
    evaluation. A supervised classifier keeps a fused mode, or its fusion would never be trained.
    ``stream_norm="l2"`` rescales both stream embeddings to norm ``sqrt(dim)`` before fusion, so a stream's
    scale (a LayerNorm gain, say) cannot decide the mix.
    """

    def __init__(self, spatial: nn.Module | None, temporal: nn.Module | None, fusion: str = "stb_weight",
                 dim: int = 256, proj_norm: bool = True, per_channel: bool = False,
                 fusion_hidden: int | None = None, graph_tokens: str = "streams", seq_tokens: int = 8,
                 graph_layers: int = 1, embed: str = "balanced", stream_norm: str = "none",
                 gate_temperature: float = 1.0, gate_floor: float = 0.0, gate_detach: bool = False,
                 balance_weight: float = 1.0) -> None:
        super().__init__()
        if fusion not in FUSIONS:
            raise ConfigError(f"unknown fusion {fusion!r}; choose one of {', '.join(FUSIONS)}")
        if graph_tokens not in GRAPH_TOKENS:
            raise ConfigError(f"unknown graph_tokens {graph_tokens!r}; choose one of {', '.join(GRAPH_TOKENS)}")
        if embed not in EMBEDS:
            raise ConfigError(f"unknown embed {embed!r}; choose one of {', '.join(EMBEDS)}")
        if stream_norm not in STREAM_NORMS:
            raise ConfigError(f"unknown stream_norm {stream_norm!r}; choose one of {', '.join(STREAM_NORMS)}")
        if balance_weight < 0:
            raise ConfigError(f"balance_weight must be >= 0, got {balance_weight}")
        self.fusion_name = fusion
        self.spatial = None if fusion == "temporal" else spatial
        self.temporal = None if fusion == "spatial" else temporal
        if fusion != "temporal" and self.spatial is None:
            raise ConfigError(f"fusion {fusion!r} needs a spatial encoder")
        if fusion != "spatial" and self.temporal is None:
            raise ConfigError(f"fusion {fusion!r} needs a temporal encoder")
        self.dim = int(dim)
        self.set_embed(embed)
        self.stream_dims = {"spatial": self.dim, "temporal": self.dim, "fused": self.dim}
        self.stream_norm = stream_norm
        self.balance_weight = float(balance_weight)
        self.proj_s = _projection(self.spatial.out_dim, dim, proj_norm) if self.spatial is not None else None
        self.proj_t = _projection(self.temporal.out_dim, dim, proj_norm) if self.temporal is not None else None
        self.seq_tokens = int(seq_tokens)
        self.use_tokens = fusion == "stb_graph" and graph_tokens == "all"
        self.fuser: nn.Module | None = None
        if fusion == "stb_weight":
            self.fuser = WeightFusion(dim, fusion_hidden, per_channel, gate_temperature, gate_floor, gate_detach)
        elif fusion == "concat":
            self.fuser = ConcatFusion(dim)
        elif fusion == "stb_graph":
            ls = self._token_count(self.spatial) if self.use_tokens else 0
            lt = self._token_count(self.temporal) if self.use_tokens else 0
            spatial_index = torch.tensor([1, 0] + [1] * ls + [0] * lt)
            self.fuser = GraphFusion(dim, 2 + ls + lt, spatial_index, graph_layers)
        self.last_alpha: Tensor | None = None

    def set_embed(self, mode: str) -> None:
        """Switch the evaluation embedding of a trained model (weights untouched; ``out_dim`` follows)."""
        if mode not in EMBEDS:
            raise ConfigError(f"unknown embed {mode!r}; choose one of {', '.join(EMBEDS)}")
        single = self.fusion_name in ("spatial", "temporal")
        self.embed_mode = mode if mode == "backbone" else ("fused" if single else mode)
        if self.embed_mode == "backbone":
            self.out_dim = sum(int(e.out_dim) for e in (self.spatial, self.temporal) if e is not None)
        else:
            self.out_dim = self.dim * _EMBED_WIDTH[self.embed_mode]

    def _token_count(self, enc: nn.Module) -> int:
        fixed = getattr(enc, "token_count", None)
        return int(fixed) if fixed is not None else self.seq_tokens

    def _tokens(self, enc: nn.Module, x: Tensor, proj: nn.Module) -> tuple[Tensor, Tensor]:
        pooled, tokens = enc.forward_features(x)
        if getattr(enc, "token_count", None) is None:  # variable length -> fixed number of segments
            tokens = F.adaptive_avg_pool1d(tokens.transpose(1, 2), self.seq_tokens).transpose(1, 2)
        return proj(pooled), proj(tokens)

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        out: dict[str, Tensor] = {}
        if self.use_tokens:
            hs, ts = self._tokens(self.spatial, x, self.proj_s)
            ht, tt = self._tokens(self.temporal, x, self.proj_t)
        else:
            hs = self.proj_s(self.spatial(x)) if self.spatial is not None else None
            ht = self.proj_t(self.temporal(x)) if self.temporal is not None else None
        if self.stream_norm == "l2":
            scale = math.sqrt(self.dim)
            hs = F.normalize(hs, dim=-1) * scale if hs is not None else None
            ht = F.normalize(ht, dim=-1) * scale if ht is not None else None
        if hs is not None:
            out["spatial"] = hs
        if ht is not None:
            out["temporal"] = ht
        if self.fusion_name == "spatial":
            out["fused"] = hs
        elif self.fusion_name == "temporal":
            out["fused"] = ht
        elif self.fusion_name == "concat":
            out["fused"] = self.fuser(hs, ht)
        else:
            if self.fusion_name == "stb_weight":
                fused, alpha = self.fuser(hs, ht)
            else:
                tokens = [hs[:, None], ht[:, None]] + ([ts, tt] if self.use_tokens else [])
                fused, alpha = self.fuser(torch.cat(tokens, dim=1))
            out["fused"], out["alpha"] = fused, alpha
            if self.training and self.balance_weight > 0:
                out["aux_loss"] = self.balance_weight * balance_kl(alpha)
            if not (torch.jit.is_tracing() or torch.compiler.is_compiling()):
                self.last_alpha = alpha.detach()
        return out

    def embed(self, x: Tensor) -> Tensor:
        if self.embed_mode == "backbone":  # the encoders' pooled features, before projection and fusion
            return torch.cat([e(x) for e in (self.spatial, self.temporal) if e is not None], dim=1)
        out = self(x)
        if self.embed_mode == "fused":
            return out["fused"]
        hs, ht = out["spatial"], out["temporal"]
        if self.embed_mode == "balanced":
            alpha = out.get("alpha")
            if alpha is not None:  # concat has no weights: it is balanced by construction
                hs, ht = 2.0 * alpha[:, :1] * hs, 2.0 * alpha[:, 1:] * ht
        parts = [hs, ht] + ([out["fused"]] if self.embed_mode == "all" else [])
        return torch.cat(parts, dim=1)


@register_model("dual_stream")
def dual_stream(layout: str = "ntu25", in_channels: int = 3, num_frames: int | None = None,
                num_persons: int = 1, spatial: Any = "stgcn_quarter", temporal: Any = "gru",
                fusion: str = "stb_weight", dim: int = 256, proj_norm: bool = True, per_channel: bool = False,
                fusion_hidden: int | None = None, graph_tokens: str = "streams", seq_tokens: int = 8,
                graph_layers: int = 1, embed: str = "balanced", stream_norm: str = "none",
                gate_temperature: float = 1.0, gate_floor: float = 0.0, gate_detach: bool = False,
                balance_weight: float = 1.0) -> DualStreamEncoder:
    """Dual-stream encoder; ``spatial`` / ``temporal`` are model names or ``{"name": ..., **options}``."""
    if fusion not in FUSIONS:
        raise ConfigError(f"unknown fusion {fusion!r}; choose one of {', '.join(FUSIONS)}")
    parent = dict(zip(COMMON_KEYS, (layout, in_channels, num_frames, num_persons), strict=True))
    enc_s = enc_t = None
    if fusion != "temporal":
        name, cfg = sub_config(spatial, parent, "spatial")
        enc_s = create_model(name, **cfg)
    if fusion != "spatial":
        name, cfg = sub_config(temporal, parent, "temporal")
        enc_t = create_model(name, **cfg)
    return DualStreamEncoder(enc_s, enc_t, fusion, dim, proj_norm, per_channel, fusion_hidden, graph_tokens,
                             seq_tokens, graph_layers, embed, stream_norm, gate_temperature, gate_floor,
                             gate_detach, balance_weight)
