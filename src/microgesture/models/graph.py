"""Graph adjacency tensors built from a named-joint :class:`~microgesture.data.layouts.Layout`.

Convention used by every encoder here: ``A[k, w, v]`` is the weight with which *output* joint ``w`` reads
*input* joint ``v`` in subset ``k`` (aggregation ``y[..., w] = sum_v A[k, w, v] x[..., v]``). Rows are
normalised per output joint, which is what ST-GCN's and 2s-AGCN's column-normalised ``normalize_digraph``
does in their transposed convention. Building from the layout (never from index tables) keeps the graph in
step with the joint order of whatever dataset is loaded.
"""

from __future__ import annotations

import numpy as np
import torch

from ..data.layouts import Layout, get_layout
from ..errors import ConfigError

PARTITIONS = ("spatial", "agcn", "uniform")


def _as_layout(layout: Layout | str) -> Layout:
    return get_layout(layout) if isinstance(layout, str) else layout


def normalize_rows(a: np.ndarray) -> np.ndarray:
    """Divide each row by its sum (rows that sum to zero stay zero): a mean over each joint's inputs."""
    s = a.sum(axis=-1, keepdims=True)
    return np.divide(a, s, out=np.zeros_like(a), where=s > 0)


def normalize_symmetric(a: np.ndarray) -> np.ndarray:
    """``D^-1/2 A D^-1/2`` (Kipf & Welling); symmetric whenever ``a`` is."""
    d = a.sum(axis=-1)
    inv = np.divide(1.0, np.sqrt(d), out=np.zeros_like(d), where=d > 0)
    return a * inv[:, None] * inv[None, :]


def self_loop_adjacency(layout: Layout | str) -> np.ndarray:
    """Binary ``A + I`` of the layout's undirected skeleton graph."""
    return _as_layout(layout).adjacency(self_loops=True)


def spatial_partition(layout: Layout | str) -> np.ndarray:
    """ST-GCN's spatial-configuration partition: ``[3, V, V]`` = root, centripetal, centrifugal.

    The neighbours of joint ``w`` (itself included) are split by their hop distance to the centre joint
    relative to ``w``'s: same distance (root), closer (centripetal), farther (centrifugal). The whole
    neighbourhood is row-normalised before the split, so the three subsets sum to ``D^-1 (A + I)``.
    """
    lay = _as_layout(layout)
    a = normalize_rows(self_loop_adjacency(lay))
    depth = lay.depth()
    if not np.all(np.isfinite(depth)):
        raise ConfigError(f"layout {lay.name}: some joints are not connected to the centre joint")
    d_out, d_in = depth[:, None], depth[None, :]
    root = np.where(d_in == d_out, a, 0.0)
    centripetal = np.where(d_in < d_out, a, 0.0)
    centrifugal = np.where(d_in > d_out, a, 0.0)
    return np.stack([root, centripetal, centrifugal]).astype(np.float32)


def agcn_partition(layout: Layout | str) -> np.ndarray:
    """2s-AGCN's three subsets ``[3, V, V]``: identity, inward (child -> parent), outward (parent -> child).

    "Inward" rows belong to parents reading their children (messages flow toward the centre); each
    directed subset is row-normalised on its own, as 2s-AGCN normalises each directed graph.
    """
    lay = _as_layout(layout)
    v = lay.num_joints
    inward = np.zeros((v, v), dtype=np.float32)
    outward = np.zeros((v, v), dtype=np.float32)
    for child, parent in _directed_edges(lay):
        inward[parent, child] = 1.0
        outward[child, parent] = 1.0
    eye = np.eye(v, dtype=np.float32)
    return np.stack([eye, normalize_rows(inward), normalize_rows(outward)]).astype(np.float32)


def _directed_edges(lay: Layout) -> list[tuple[int, int]]:
    """Every graph edge as ``(farther, closer)`` to the centre; ties (extra edges) appear both ways."""
    depth = lay.depth()
    out = []
    for i, j in lay.edges:
        if depth[i] > depth[j]:
            out.append((i, j))
        elif depth[j] > depth[i]:
            out.append((j, i))
        else:
            out += [(i, j), (j, i)]
    return out


def uniform_partition(layout: Layout | str) -> np.ndarray:
    """One subset ``[1, V, V]``: the row-normalised ``A + I`` (ST-GCN's uniform labelling)."""
    return normalize_rows(self_loop_adjacency(layout))[None].astype(np.float32)


def build_adjacency(layout: Layout | str, partition: str = "spatial") -> torch.Tensor:
    """``[K, V, V]`` float32 tensor for ``partition`` in :data:`PARTITIONS`."""
    builders = {"spatial": spatial_partition, "agcn": agcn_partition, "uniform": uniform_partition}
    if partition not in builders:
        raise ConfigError(f"unknown graph partition {partition!r}; choose one of {', '.join(PARTITIONS)}")
    return torch.from_numpy(np.ascontiguousarray(builders[partition](layout)))
