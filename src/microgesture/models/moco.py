"""MoCo v2 for skeleton encoders: a negative queue, momentum key encoders and three contrastive objectives.

Why one module for all three: the single-stream SkeletonCLR baseline, the ISC-style cross-stream objective
and the STB "loss balancing" variant differ only in which query is contrasted with which key and how the
InfoNCE terms are weighted. Keeping them in the same code means an ablation changes one config value,
never the surrounding machinery (queues, momentum update, DDP gathering, temperature).

Design (Lightning-bolts style): the queue is its own ``nn.Module`` whose ``queue [K, dim]`` and ``ptr``
are registered buffers (so they are checkpointed and moved with ``.to()``); keys are gathered from every
rank before they are enqueued, so all ranks hold the same queue; ``K`` must be a multiple of the *global*
batch size. Nothing here calls ``.cuda()``: devices follow the inputs.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError

__all__ = [
    "NegativeQueue",
    "ProjectionHead",
    "LossBalancer",
    "MoCo",
    "CrossStreamMoCo",
    "info_nce",
    "momentum_update",
    "gather_from_all_ranks",
    "stream_dims",
    "split_bn_forward",
]


# ----------------------------------------------------------------------------------------------------------
# Building blocks
# ----------------------------------------------------------------------------------------------------------
def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def world_size() -> int:
    return dist.get_world_size() if _distributed() else 1


@torch.no_grad()
def gather_from_all_ranks(x: torch.Tensor) -> torch.Tensor:
    """Concatenate ``x`` from every rank in rank order (identity in a single process).

    Keys carry no gradient, so a plain ``all_gather`` is enough (no autograd-aware gather needed).
    """
    if not _distributed():
        return x
    parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, x.contiguous())
    return torch.cat(parts, dim=0)


class NegativeQueue(nn.Module):
    """A FIFO of ``size`` past keys (L2-normalised, ``[size, dim]``) used as InfoNCE negatives."""

    queue: torch.Tensor
    ptr: torch.Tensor

    def __init__(self, size: int, dim: int):
        super().__init__()
        if size <= 0 or dim <= 0:
            raise ConfigError(f"queue size and dim must be positive, got size={size}, dim={dim}")
        self.size = int(size)
        self.dim = int(dim)
        self.register_buffer("queue", F.normalize(torch.randn(self.size, self.dim), dim=1))
        self.register_buffer("ptr", torch.zeros((), dtype=torch.long))

    def check_batch_size(self, global_batch: int) -> None:
        """Fail early (before training) if the global batch does not tile the queue."""
        if global_batch <= 0 or self.size % global_batch != 0:
            raise ConfigError(
                f"MoCo queue size {self.size} must be a multiple of the global batch size {global_batch} "
                f"(per-device batch x devices x nodes); pick e.g. queue_size="
                f"{max(global_batch, self.size // max(global_batch, 1) * global_batch)}"
            )

    @torch.no_grad()
    def enqueue(self, keys: torch.Tensor) -> None:
        """Gather ``keys [B, dim]`` from all ranks and overwrite the oldest ``B x world`` entries."""
        keys = gather_from_all_ranks(keys.detach()).to(self.queue.dtype)
        n = keys.shape[0]
        self.check_batch_size(n)
        p = int(self.ptr)
        self.queue[p : p + n] = keys
        self.ptr.fill_((p + n) % self.size)

    def forward(self) -> torch.Tensor:  # pragma: no cover - convenience accessor
        return self.queue

    def extra_repr(self) -> str:
        return f"size={self.size}, dim={self.dim}"


class ProjectionHead(nn.Sequential):
    """MoCo v2 MLP head ``d -> d -> out`` (ReLU in between)."""

    def __init__(self, in_dim: int, out_dim: int = 128, hidden_dim: int | None = None, mlp: bool = True):
        hidden = hidden_dim or in_dim
        layers: list[nn.Module] = (
            [nn.Linear(in_dim, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, out_dim)]
            if mlp else [nn.Linear(in_dim, out_dim)]
        )
        super().__init__(*layers)


def info_nce(
    q: torch.Tensor, k: torch.Tensor, negatives: torch.Tensor, temperature: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """InfoNCE with the positive logit in column 0 and the queue as negatives.

    ``q``, ``k``: ``[N, dim]`` L2-normalised; ``negatives``: ``[K, dim]``. Returns (loss, logits [N, 1+K]).
    """
    l_pos = (q * k).sum(dim=1, keepdim=True)
    l_neg = q @ negatives.t().to(q.dtype)
    logits = torch.cat([l_pos, l_neg], dim=1) / temperature
    labels = torch.zeros(q.shape[0], dtype=torch.long, device=q.device)
    return F.cross_entropy(logits.float(), labels), logits


@torch.no_grad()
def momentum_update(key: nn.Module, query: nn.Module, momentum: float) -> None:
    """EMA of the parameters: ``theta_k <- m * theta_k + (1 - m) * theta_q``."""
    k_params = [p for p in key.parameters()]
    q_params = [p.detach() for p in query.parameters()]
    if len(k_params) != len(q_params):
        raise RuntimeError("key and query encoders have different parameter lists")
    if k_params:
        torch._foreach_lerp_(k_params, q_params, 1.0 - momentum)


def _frozen_copy(module: nn.Module) -> nn.Module:
    key = copy.deepcopy(module)
    for p in key.parameters():
        p.requires_grad_(False)
    for m in key.modules():  # a deep-copied cuDNN RNN loses its contiguous weight buffer
        if isinstance(m, nn.RNNBase):
            m.flatten_parameters()
    return key


def stream_dims(model: nn.Module) -> dict[str, int]:
    """Embedding widths of a dual-stream model's ``spatial`` / ``temporal`` / ``fused`` outputs.

    Reads ``model.stream_dims`` when the model declares it; otherwise every output is ``model.out_dim``
    wide (``DualStreamEncoder`` projects both streams to its fusion width before fusing them).
    """
    declared = getattr(model, "stream_dims", None)
    if isinstance(declared, dict) and {"spatial", "temporal", "fused"} <= set(declared):
        return {k: int(declared[k]) for k in ("spatial", "temporal", "fused")}
    for stream in ("spatial", "temporal"):
        if hasattr(model, stream) and getattr(model, stream) is None:
            raise ConfigError(
                f"the cross-stream objective needs both streams, but this model has no {stream} stream "
                f"(fusion {getattr(model, 'fusion_name', '?')!r}); use moco.objective=moco for one stream"
            )
    if not hasattr(model, "out_dim"):
        raise ConfigError(f"{type(model).__name__} has no out_dim; it is not a dual-stream encoder")
    d = int(model.out_dim)
    return {"spatial": d, "temporal": d, "fused": d}


# ----------------------------------------------------------------------------------------------------------
# Loss balancing (STB variant c)
# ----------------------------------------------------------------------------------------------------------
BALANCE_MODES = ("sum", "fixed", "scheduled", "uncertainty")


class LossBalancer(nn.Module):
    """Combine the cross-stream terms ``L_ts`` (temporal query -> spatial key), ``L_st`` and ``L_fused``.

    * ``sum``: ``L_ts + L_st + w_f L_fused`` (ISC's objective).
    * ``fixed``: ``lam L_ts + (1 - lam) L_st + w_f L_fused``.
    * ``scheduled``: as ``fixed`` with ``lam`` moved linearly from ``lam_start`` to ``lam_end`` over training
      (the trainer calls :meth:`set_progress` with the fraction of training done).
    * ``uncertainty``: Kendall et al. (2018) homoscedastic weighting, ``sum_i exp(-s_i) L_i + s_i`` with a
      learned log-variance ``s_i`` per term; the reported ``lambda`` is the normalised share of ``L_ts``.

    Every mode adds ``w_i L_intra`` (``L_ss + L_tt``: each stream against its own key, ISC's intra-skeleton
    terms) when ``intra_weight`` is set: the cross terms alone tie each stream to what the *other* stream can
    tell apart, which drags the stronger stream down to the weaker one.
    """

    def __init__(self, mode: str = "sum", lam: float = 0.5, lam_end: float | None = None,
                 fused_weight: float = 1.0, intra_weight: float = 0.0):
        super().__init__()
        if mode not in BALANCE_MODES:
            raise ConfigError(f"unknown loss balance {mode!r}; choose one of {', '.join(BALANCE_MODES)}")
        if not 0.0 <= lam <= 1.0 or (lam_end is not None and not 0.0 <= lam_end <= 1.0):
            raise ConfigError(f"lambda must lie in [0, 1], got {lam} -> {lam_end}")
        self.mode = mode
        self.lam_start = float(lam)
        self.lam_end = float(lam if lam_end is None else lam_end)
        self.fused_weight = float(fused_weight)
        if intra_weight < 0:
            raise ConfigError(f"intra_weight must be >= 0, got {intra_weight}")
        self.intra_weight = float(intra_weight)
        self.register_buffer("progress", torch.zeros(()))
        if mode == "uncertainty":
            self.log_vars = nn.Parameter(torch.zeros(3))

    def set_progress(self, fraction: float) -> None:
        self.progress.fill_(min(max(float(fraction), 0.0), 1.0))

    def current_lambda(self) -> torch.Tensor:
        if self.mode == "sum":
            return torch.tensor(0.5)
        if self.mode == "uncertainty":
            w = torch.exp(-self.log_vars.detach()[:2])
            return w[0] / w.sum()
        return self.lam_start + (self.lam_end - self.lam_start) * self.progress

    def forward(self, l_ts: torch.Tensor, l_st: torch.Tensor, l_fused: torch.Tensor | None,
                l_intra: torch.Tensor | None = None) -> torch.Tensor:
        intra = self.intra_weight * l_intra if l_intra is not None and self.intra_weight else 0.0
        if self.mode == "uncertainty":
            terms = [l_ts, l_st] + ([l_fused] if l_fused is not None else [])
            s = self.log_vars[: len(terms)]
            return sum(torch.exp(-s[i]) * t + s[i] for i, t in enumerate(terms)) + intra
        if self.mode == "sum":
            loss = l_ts + l_st
        else:
            lam = self.current_lambda().to(l_ts.device)
            loss = lam * l_ts + (1.0 - lam) * l_st
        if l_fused is not None and self.fused_weight:
            loss = loss + self.fused_weight * l_fused
        return loss + intra

    def extra_repr(self) -> str:
        return (f"mode={self.mode}, lam={self.lam_start}->{self.lam_end}, fused_weight={self.fused_weight}, "
                f"intra_weight={self.intra_weight}")


# ----------------------------------------------------------------------------------------------------------
# Objectives
# ----------------------------------------------------------------------------------------------------------
@dataclass
class ContrastiveOutput:
    loss: torch.Tensor
    logs: dict[str, torch.Tensor]


class _MoCoBase(nn.Module):
    momentum: float
    temperature: float

    def queues(self) -> Iterable[NegativeQueue]:
        return (m for m in self.modules() if isinstance(m, NegativeQueue))

    def check_batch_size(self, global_batch: int) -> None:
        for q in self.queues():
            q.check_batch_size(global_batch)

    @torch.no_grad()
    def update_key_encoder(self) -> None:
        for key, query in self._momentum_pairs():
            momentum_update(key, query, self.momentum)

    def _momentum_pairs(self) -> list[tuple[nn.Module, nn.Module]]:  # pragma: no cover - overridden
        raise NotImplementedError


def _check_momentum_temperature(momentum: float, temperature: float) -> tuple[float, float]:
    if not 0.0 <= momentum < 1.0:
        raise ConfigError(f"momentum must lie in [0, 1), got {momentum}")
    if temperature <= 0:
        raise ConfigError(f"temperature must be positive, got {temperature}")
    return float(momentum), float(temperature)


def _check_bn_splits(bn_splits: int) -> int:
    if int(bn_splits) < 1:
        raise ConfigError(f"bn_splits must be >= 1, got {bn_splits}")
    return int(bn_splits)


def split_bn_forward(encoder: nn.Module, x: torch.Tensor, splits: int, shuffle: bool):
    """``encoder(x)`` with BatchNorm statistics taken over ``splits`` sub-batches (MoCo's shuffle-BN, single
    process): why — with one BN batch, a query and its positive key are normalised with statistics of the same
    clips, a signature the queue's older keys lack, and InfoNCE can be lowered by reading it instead of learning
    the clip (MoCo, He et al. 2020, sec. 3.3). Keys are shuffled before the split and put back afterwards, so a
    key's sub-batch differs from its query's. Outputs (a tensor or a dict of per-clip tensors) are concatenated;
    scalars (an auxiliary loss) are averaged over the sub-batches. ``splits`` 1, or eval mode, is a plain call."""
    if splits <= 1 or not encoder.training:
        return encoder(x)
    n = x.shape[0]
    if n < 2 * splits:
        raise ConfigError(f"bn_splits={splits} needs at least {2 * splits} clips per batch (BatchNorm needs two "
                          f"per sub-batch), got {n}")
    perm = torch.randperm(n, device=x.device) if shuffle else None
    parts = [encoder(c) for c in (x[perm] if perm is not None else x).chunk(splits)]

    def merge(values: list[torch.Tensor]) -> torch.Tensor:
        if values[0].dim() == 0:
            return torch.stack(values).mean()
        out = torch.cat(values)
        if perm is not None:
            out = out[torch.argsort(perm)]
        return out

    if isinstance(parts[0], dict):
        return {key: merge([p[key] for p in parts]) for key in parts[0]}
    return merge(parts)


class MoCo(_MoCoBase):
    """Single-stream MoCo v2 (the SkeletonCLR baseline): query encoder vs its momentum key encoder.

    ``encoder`` is any module mapping ``[N, M, T, V, C]`` to ``[N, D]`` with an ``out_dim`` attribute.
    ``forward(view_q, view_k)`` returns the loss and logs, enqueues the keys and never updates the key
    encoder itself: call :meth:`update_key_encoder` after the optimiser step (MoCo's order is update then
    forward; both orders are equivalent up to one step of lag, and doing it after ``step`` keeps the key
    encoder an EMA of *optimised* weights).
    """

    def __init__(self, encoder: nn.Module, dim: int = 128, queue_size: int = 32768, momentum: float = 0.999,
                 temperature: float = 0.07, mlp: bool = True, bn_splits: int = 1):
        super().__init__()
        self.momentum, self.temperature = _check_momentum_temperature(momentum, temperature)
        self.bn_splits = _check_bn_splits(bn_splits)
        self.encoder_q = encoder
        declared = getattr(encoder, "stream_dims", None)  # a dual-stream model contrasts its fused embedding
        in_dim = int(declared["fused"]) if isinstance(declared, dict) and "fused" in declared else encoder.out_dim
        self.head_q = ProjectionHead(int(in_dim), dim, mlp=mlp)
        self.encoder_k = _frozen_copy(self.encoder_q)
        self.head_k = _frozen_copy(self.head_q)
        self.queue = NegativeQueue(queue_size, dim)

    def _momentum_pairs(self) -> list[tuple[nn.Module, nn.Module]]:
        return [(self.encoder_k, self.encoder_q), (self.head_k, self.head_q)]

    def _embed(self, encoder: nn.Module, x: torch.Tensor, shuffle: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
        out = split_bn_forward(encoder, x, self.bn_splits, shuffle)
        return (out["fused"], out.get("aux_loss")) if isinstance(out, dict) else (out, None)

    def forward(self, view_q: torch.Tensor, view_k: torch.Tensor) -> ContrastiveOutput:
        z, aux = self._embed(self.encoder_q, view_q, shuffle=False)
        q = F.normalize(self.head_q(z), dim=1)
        with torch.no_grad():
            k = F.normalize(self.head_k(self._embed(self.encoder_k, view_k, shuffle=True)[0]), dim=1)
        loss, logits = info_nce(q, k, self.queue.queue.clone().detach(), self.temperature)
        self.queue.enqueue(k)
        acc = (logits.argmax(dim=1) == 0).float().mean()
        logs = {"acc_instance": acc}
        if aux is not None:  # e.g. the STB gate's balance penalty
            loss = loss + aux
            logs["aux_loss"] = aux.detach()
        logs["loss"] = loss.detach()
        return ContrastiveOutput(loss, logs)


class CrossStreamMoCo(_MoCoBase):
    """Dual-stream cross-stream MoCo (ISC objective) with a fused term and STB loss balancing.

    ``model`` returns ``{"spatial", "temporal", "fused"}`` embeddings (``create_model("dual_stream", ...)``).
    Terms (queries from view 1 and keys from view 2, each stream with its own head and queue):

    * ``L_ts``: temporal query vs spatial key, negatives from the spatial-key queue;
    * ``L_st``: spatial query vs temporal key, negatives from the temporal-key queue;
    * ``L_fused``: fused query vs fused key, negatives from the fused-key queue (``fused_weight`` 0 drops it);
    * ``L_intra`` = ``L_ss + L_tt`` (``intra_weight`` > 0): each stream's query vs its own key, negatives from
      its own key queue (the queues above, so it costs two matrix products and no extra memory).

    The terms are combined by :class:`LossBalancer` (``balance`` = sum | fixed | scheduled | uncertainty);
    the model's ``aux_loss`` (the STB gate's balance penalty), when it returns one, is added as is.
    """

    def __init__(self, model: nn.Module, dim: int = 128, queue_size: int = 16384, momentum: float = 0.999,
                 temperature: float = 0.07, mlp: bool = True, balance: str = "sum", lam: float = 0.5,
                 lam_end: float | None = None, fused_weight: float = 1.0, intra_weight: float = 0.0,
                 bn_splits: int = 1):
        super().__init__()
        self.momentum, self.temperature = _check_momentum_temperature(momentum, temperature)
        self.bn_splits = _check_bn_splits(bn_splits)
        dims = stream_dims(model)
        self.encoder_q = model
        self.heads_q = nn.ModuleDict({s: ProjectionHead(dims[s], dim, mlp=mlp) for s in ("spatial", "temporal")})
        self.use_fused = fused_weight > 0 or balance == "uncertainty"
        if self.use_fused:
            self.heads_q["fused"] = ProjectionHead(dims["fused"], dim, mlp=mlp)
        self.encoder_k = _frozen_copy(self.encoder_q)
        self.heads_k = _frozen_copy(self.heads_q)
        self.queues_k = nn.ModuleDict({s: NegativeQueue(queue_size, dim) for s in self.heads_q})
        self.balancer = LossBalancer(balance, lam=lam, lam_end=lam_end, fused_weight=fused_weight,
                                     intra_weight=intra_weight)

    def _momentum_pairs(self) -> list[tuple[nn.Module, nn.Module]]:
        return [(self.encoder_k, self.encoder_q), (self.heads_k, self.heads_q)]

    def _project(self, out: dict[str, torch.Tensor], heads: nn.ModuleDict) -> dict[str, torch.Tensor]:
        return {s: F.normalize(heads[s](out[s]), dim=1) for s in heads}

    def forward(self, view_q: torch.Tensor, view_k: torch.Tensor) -> ContrastiveOutput:
        out_q = split_bn_forward(self.encoder_q, view_q, self.bn_splits, shuffle=False)
        q = self._project(out_q, self.heads_q)
        with torch.no_grad():
            k = self._project(split_bn_forward(self.encoder_k, view_k, self.bn_splits, shuffle=True), self.heads_k)
        negatives = {s: self.queues_k[s].queue.clone().detach() for s in self.queues_k}
        l_ts, logits_ts = info_nce(q["temporal"], k["spatial"], negatives["spatial"], self.temperature)
        l_st, logits_st = info_nce(q["spatial"], k["temporal"], negatives["temporal"], self.temperature)
        l_f = None
        logs = {"loss_ts": l_ts.detach(), "loss_st": l_st.detach()}
        if self.use_fused:
            l_f, logits_f = info_nce(q["fused"], k["fused"], negatives["fused"], self.temperature)
            logs["loss_fused"] = l_f.detach()
            logs["acc_fused"] = (logits_f.argmax(dim=1) == 0).float().mean()
        l_intra = None
        if self.balancer.intra_weight:
            l_ss, _ = info_nce(q["spatial"], k["spatial"], negatives["spatial"], self.temperature)
            l_tt, _ = info_nce(q["temporal"], k["temporal"], negatives["temporal"], self.temperature)
            l_intra = l_ss + l_tt
            logs["loss_ss"], logs["loss_tt"] = l_ss.detach(), l_tt.detach()
        loss = self.balancer(l_ts, l_st, l_f, l_intra)
        aux = out_q.get("aux_loss")
        if aux is not None:
            loss = loss + aux
            logs["aux_loss"] = aux.detach()
        for s in self.queues_k:
            self.queues_k[s].enqueue(k[s])
        logs["loss"] = loss.detach()
        logs["acc_ts"] = (logits_ts.argmax(dim=1) == 0).float().mean()
        logs["acc_st"] = (logits_st.argmax(dim=1) == 0).float().mean()
        logs["lambda"] = self.balancer.current_lambda().detach()
        return ContrastiveOutput(loss, logs)


def build_moco(model: nn.Module, objective: str = "moco", **kwargs) -> _MoCoBase:
    """``objective`` ``moco`` (single stream; a dual-stream model contributes its fused embedding) or
    ``cross_stream`` (ISC + fused term + balancing)."""
    if objective == "moco":
        extra = set(kwargs) & {"balance", "lam", "lam_end", "fused_weight", "intra_weight"}
        if extra:
            raise ConfigError(f"options {sorted(extra)} only apply to objective 'cross_stream'")
        return MoCo(model, **kwargs)
    if objective == "cross_stream":
        return CrossStreamMoCo(model, **kwargs)
    raise ConfigError(f"unknown contrastive objective {objective!r}; choose 'moco' or 'cross_stream'")
