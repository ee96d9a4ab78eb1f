"""Golden tests for the graph partitions built from layouts."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from microgesture.data.layouts import get_layout, list_layouts
from microgesture.errors import ConfigError
from microgesture.models.graph import (
    agcn_partition,
    build_adjacency,
    normalize_symmetric,
    spatial_partition,
    uniform_partition,
)
from microgesture.models.stgcn import GraphConv


@pytest.mark.parametrize("name", list_layouts())
def test_spatial_partition_rows_and_support(name: str) -> None:
    lay = get_layout(name)
    a = spatial_partition(lay)
    v = lay.num_joints
    assert a.shape == (3, v, v) and a.dtype == np.float32
    np.testing.assert_allclose(a.sum(axis=(0, 2)), np.ones(v), atol=1e-6)  # each joint's inputs average
    support = (a > 0).astype(np.float32)
    assert support.sum(axis=0).max() == 1  # subsets are disjoint
    np.testing.assert_array_equal(support.sum(axis=0), lay.adjacency(self_loops=True))
    assert np.all(np.diagonal(a[0]) > 0)  # every joint is in its own root subset
    assert a[1, lay.center_index].sum() == 0  # nothing is closer to the centre than the centre


@pytest.mark.parametrize("name", list_layouts())
def test_agcn_partition_directions(name: str) -> None:
    lay = get_layout(name)
    a = agcn_partition(lay)
    eye, inward, outward = a
    np.testing.assert_array_equal(eye, np.eye(lay.num_joints))
    b_in, b_out = (inward > 0).astype(np.float32), (outward > 0).astype(np.float32)
    np.testing.assert_array_equal(b_in, b_out.T)
    np.testing.assert_array_equal(np.clip(b_in + b_out, 0, 1), lay.adjacency())
    np.testing.assert_array_equal(((a > 0).sum(0) > 0).astype(np.float32), lay.adjacency(self_loops=True))
    for sub in (inward, outward):
        rows = sub.sum(1)
        assert np.all((np.abs(rows - 1) < 1e-6) | (rows == 0))
    depth = lay.depth()
    for w, v in zip(*np.nonzero(inward), strict=True):  # inward: a joint reads a joint farther from the centre
        assert depth[v] >= depth[w]


def test_imigue_hand_golden() -> None:
    """HandLeft: parent ElbowLeft (centripetal), five fingertips (centrifugal), itself (root): 1/7 each."""
    lay = get_layout("imigue22")
    a = spatial_partition(lay)
    hand, elbow = lay.index["HandLeft"], lay.index["ElbowLeft"]
    fingers = lay.joint_indices([f"LeftFinger{k}" for k in range(1, 6)])
    assert a[0, hand, hand] == pytest.approx(1 / 7)
    assert a[1, hand, elbow] == pytest.approx(1 / 7)
    np.testing.assert_allclose(a[2, hand, fingers], np.full(5, 1 / 7), rtol=1e-6)
    assert np.count_nonzero(a[:, hand]) == 7


def test_symmetric_normalisation_and_uniform() -> None:
    lay = get_layout("ntu25")
    s = normalize_symmetric(lay.adjacency(self_loops=True))
    np.testing.assert_allclose(s, s.T, atol=1e-7)
    u = uniform_partition(lay)
    assert u.shape == (1, 25, 25)
    np.testing.assert_allclose(u[0], spatial_partition(lay).sum(0), atol=1e-6)


def test_build_adjacency_tensor_and_errors() -> None:
    t = build_adjacency("kinect_v1", "spatial")
    assert isinstance(t, torch.Tensor) and t.dtype == torch.float32 and t.shape == (3, 20, 20)
    with pytest.raises(ConfigError, match="partition"):
        build_adjacency("kinect_v1", "nope")


def test_graph_conv_matches_stgcn_formula() -> None:
    """Aggregate-then-mix equals ST-GCN's mix-then-aggregate ``sum_k (W_k x) A_k`` (bias aside)."""
    torch.manual_seed(0)
    a = build_adjacency("imigue22", "spatial")
    gc = GraphConv(4, 6, a, edge_importance=True)
    with torch.no_grad():
        gc.edge_importance.uniform_(0.5, 1.5)
        gc.mix.bias.zero_()
    x = torch.randn(2, 4, 5, 22)
    w = gc.mix.weight[:, :, 0, :]  # [O, C, K]
    a_eff = a * gc.edge_importance
    ref = torch.einsum("ock,nctv,kwv->notw", w, x, a_eff)
    torch.testing.assert_close(gc(x), ref, atol=1e-5, rtol=1e-5)
