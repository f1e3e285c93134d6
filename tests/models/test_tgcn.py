"""TGCN: the all-steps-at-once convolutions equal a per-step TGCN cell; batching and masks."""

from __future__ import annotations

import pytest
import torch
from model_inputs import make_batch, make_info, ring_graph
from torch_geometric.nn import GCNConv

from finmt_core.models.registry import create_model
from finmt_core.models.tgcn import TGCNBackbone, TGCNLayer
from finmt_core.tasks import make_task

N, T, FEAT, H = 6, 7, 4, 5


def graph(n_graphs: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """A ring over N nodes plus one chord, weighted, as ``n_graphs`` disjoint copies."""
    ei, w = ring_graph(N, 1)
    ei = torch.cat([ei, torch.tensor([[0, 3], [3, 0]])], dim=1)
    w = torch.cat([w, torch.tensor([0.7, 0.7])])
    e = ei.shape[1]
    offsets = (torch.arange(n_graphs) * N).repeat_interleave(e)
    return ei.repeat(1, n_graphs) + offsets, w.repeat(n_graphs)


def reference_layer(layer: TGCNLayer, x: torch.Tensor, ei: torch.Tensor, ew: torch.Tensor, gat: bool) -> torch.Tensor:
    """The TGCN cell step by step (PyG-Temporal style): one graph conv call per time step."""
    if gat:
        def conv(xt: torch.Tensor) -> torch.Tensor:
            return layer.gates(layer.conv(xt, ei, ew.unsqueeze(-1)))
    else:
        ref = GCNConv(x.shape[-1], 3 * layer.hidden)  # normalize=True, add_self_loops=True
        ref.lin.weight.data.copy_(layer.conv.lin.weight.data)
        ref.bias.data.copy_(layer.conv.bias.data)

        def conv(xt: torch.Tensor) -> torch.Tensor:
            root = layer.root(xt) if layer.root is not None else 0.0
            return ref(xt, ei, ew) + root

    h = x.new_zeros(x.shape[0], layer.hidden)
    outs = []
    for t in range(x.shape[1]):
        g = conv(x[:, t])
        z, r = torch.sigmoid(g[:, : 2 * layer.hidden] + layer.u_zr(h)).chunk(2, dim=-1)
        h_tilde = torch.tanh(g[:, 2 * layer.hidden :] + layer.u_h(r * h))
        h = z * h + (1 - z) * h_tilde
        outs.append(h)
    return torch.stack(outs, dim=1)


@pytest.mark.parametrize(("gat", "root"), [(False, False), (False, True), (True, False)])
def test_backbone_equals_step_by_step_cell(gat: bool, root: bool) -> None:
    torch.manual_seed(0)
    ei, ew = graph()
    x = torch.randn(N, T, FEAT)
    net = TGCNBackbone(FEAT, hidden=H, layers=2, use_gat=gat, root_weight=root)
    assert (net.layers[0].root is not None) == root
    h, _ = net(x, ei, ew)
    seq = x
    with torch.no_grad():
        for layer in net.layers:
            seq = reference_layer(layer, seq, ei, ew, gat)
    torch.testing.assert_close(h, seq[:, -1], atol=1e-5, rtol=1e-4)


def test_gcn_propagates_on_either_side_of_the_linear_map() -> None:
    """Wide inputs are projected before the sparse product, narrow ones after: same result."""
    torch.manual_seed(1)
    ei, ew = graph()
    for feat in (2, 40):  # 2 < 3H = 15 < 40
        x = torch.randn(N, T, feat)
        net = TGCNBackbone(feat, hidden=H, layers=1)
        h, _ = net(x, ei, ew)
        with torch.no_grad():
            ref = reference_layer(net.layers[0], x, ei, ew, gat=False)
        torch.testing.assert_close(h, ref[:, -1], atol=1e-5, rtol=1e-4)


def test_gat_edge_attention_matches_per_step_coefficients() -> None:
    torch.manual_seed(2)
    ei, ew = graph()
    x = torch.randn(N, T, FEAT)
    net = TGCNBackbone(FEAT, hidden=H, layers=1, use_gat=True, gat_heads=3)
    _, att = net(x, ei, ew, return_attention=True)
    assert att is not None and att.shape == (ei.shape[1], 3)
    conv = net.layers[0].conv
    per_step = []
    with torch.no_grad():
        for t in range(T):
            _, (ei_out, alpha) = conv(x[:, t], ei, ew.unsqueeze(-1), return_attention_weights=True)
            assert torch.equal(ei_out[:, : ei.shape[1]], ei)  # input edges first, self-loops appended
            per_step.append(alpha[: ei.shape[1]])
    torch.testing.assert_close(att, torch.stack(per_step).mean(0), atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("gat", [False, True])
def test_dates_batched_as_disjoint_graphs_do_not_interact(gat: bool) -> None:
    torch.manual_seed(3)
    net = TGCNBackbone(FEAT, hidden=H, layers=2, use_gat=gat)
    x = torch.randn(2 * N, T, FEAT)
    ei2, ew2 = graph(2)
    ei1, ew1 = graph(1)
    both, _ = net(x, ei2, ew2)
    first, _ = net(x[:N], ei1, ew1)
    second, _ = net(x[N:], ei1, ew1)
    torch.testing.assert_close(both, torch.cat([first, second]), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("gat", [False, True])
def test_masked_nodes_do_not_reach_their_neighbours(gat: bool) -> None:
    torch.manual_seed(4)
    net = TGCNBackbone(FEAT, hidden=H, layers=2, use_gat=gat)
    ei, ew = graph()
    mask = torch.ones(N, dtype=torch.bool)
    mask[2] = False
    x = torch.randn(N, T, FEAT)
    x2 = x.clone()
    x2[2] = 100.0  # garbage in the missing ticker's row
    a, _ = net(x, ei, ew, node_mask=mask)
    b, _ = net(x2, ei, ew, node_mask=mask)
    torch.testing.assert_close(a, b)


def test_self_loops_in_the_input_are_ignored_and_get_zero_attention() -> None:
    torch.manual_seed(5)
    net = TGCNBackbone(FEAT, hidden=H, layers=1, use_gat=True)
    ei, ew = graph()
    x = torch.randn(N, T, FEAT)
    loops = torch.tensor([[1], [1]])
    ei_l, ew_l = torch.cat([ei, loops], dim=1), torch.cat([ew, torch.tensor([0.5])])
    h, _ = net(x, ei, ew)
    h_l, att = net(x, ei_l, ew_l, return_attention=True)
    torch.testing.assert_close(h, h_l)
    assert att is not None and att.shape[0] == ei_l.shape[1] and torch.all(att[-1] == 0)


def test_tgcn_model_exposes_edge_attention_only_with_gat() -> None:
    info = make_info()
    tasks = [make_task("signal", 1), make_task("direction", 1, mask_by="signal")]
    for use_gat in (False, True):
        model = create_model("tgcn", {"use_gat": use_gat}, tasks, info).eval()
        batch = make_batch("graph", info, tasks, n_graphs=3)
        out = model(batch, explain=True)
        assert ("attention/edges" in out) == use_gat
        assert out["signal"].shape == (3 * info.n_nodes, 2)
        if use_gat:
            assert out["attention/edges"].shape == (batch["edge_index"].shape[1], 2)


@pytest.mark.parametrize("directed", [False, True])
@pytest.mark.parametrize("shuffle", [False, True])
def test_normalised_adjacency_equals_pyg_gcn_norm(shuffle: bool, directed: bool) -> None:
    """CSR off-diagonal + self-loop term == PyG's gcn_norm with self-loops, for edges sorted by
    target (no sort needed) and in any order (sorted once), symmetric or directed (leadlag
    graphs); an isolated node keeps 1/deg = 1."""
    from torch_geometric.nn.conv.gcn_conv import gcn_norm

    from finmt_core.models.tgcn import normalised_adjacency

    g = torch.Generator().manual_seed(0)
    n = 9
    a = (torch.rand(n, n, generator=g) < 0.4).float() * torch.rand(n, n, generator=g)
    a.fill_diagonal_(0.0)
    if not directed:
        a = torch.triu(a, 1)
        a = a + a.t()
    a[8, :] = 0
    a[:, 8] = 0  # node 8 isolated
    dst, src = torch.nonzero(a.t() > 0, as_tuple=True)  # sorted by target
    ei, ew = torch.stack([src, dst]), a[src, dst]
    if shuffle:
        perm = torch.randperm(ei.shape[1], generator=g)
        ei, ew = ei[:, perm], ew[perm]
    got = normalised_adjacency(ei, ew, n, torch.float64)
    dense = got["adj"].to_dense() + torch.diag(got["self_weight"])
    ref_ei, ref_w = gcn_norm(ei, ew.double(), n, improved=False, add_self_loops=True, dtype=torch.float64)
    ref = torch.zeros(n, n, dtype=torch.float64).index_put_((ref_ei[1], ref_ei[0]), ref_w, accumulate=True)
    torch.testing.assert_close(dense, ref)
    assert got["self_weight"][8] == 1.0
    x = torch.randn(n, 5, dtype=torch.float64)
    torch.testing.assert_close(got["adj"] @ x + got["self_weight"][:, None] * x, ref @ x)


@pytest.mark.parametrize("gat", [False, True])
def test_directed_edge_carries_messages_from_source_to_target(gat: bool) -> None:
    """``edge_index`` is [source, target]: a leadlag edge 0 -> 1 lets the leader 0 move the
    follower 1, never the reverse."""
    torch.manual_seed(6)
    net = TGCNBackbone(FEAT, hidden=H, layers=2, use_gat=gat)
    ei, ew = torch.tensor([[0], [1]]), torch.tensor([0.6])
    x = torch.randn(3, T, FEAT)
    h, _ = net(x, ei, ew)
    x_leader, x_follower = x.clone(), x.clone()
    x_leader[0] += 1.0
    x_follower[1] += 1.0
    h_leader, _ = net(x_leader, ei, ew)
    h_follower, _ = net(x_follower, ei, ew)
    assert (h_leader[1] - h[1]).abs().max() > 1e-4  # the leader moves the follower
    torch.testing.assert_close(h_follower[0], h[0])  # the follower does not move the leader
    torch.testing.assert_close(h_leader[2], h[2])  # node 2 is unconnected


@pytest.mark.parametrize("use_gat", [False, True])
def test_tgcn_model_trains_on_a_leadlag_graph(use_gat: bool) -> None:
    import numpy as np
    import pandas as pd

    from finmt_core.config import GraphConfig
    from finmt_core.data.dense import DensePanel
    from finmt_core.data.graph import build_graph

    rng = np.random.default_rng(0)
    info = make_info()
    n, n_days, g = info.n_nodes, 200, 3
    rets = rng.normal(0, 0.01, size=(n_days, n))
    rets[1:, 1] += 0.8 * rets[:-1, 0]
    dense = DensePanel(pd.bdate_range("2021-01-01", periods=n_days), [f"T{i}" for i in range(n)],
                       {"close": 100 * np.exp(np.cumsum(rets, axis=0))}, None)
    stock_graph = build_graph(dense, np.arange(150), GraphConfig(kind="leadlag", top_k=2))
    assert stock_graph.edge_index.shape[1] == 2 * n  # directed: top_k leaders per follower
    e = stock_graph.edge_index.shape[1]
    tasks = [make_task("signal", 1), make_task("return", 1)]
    torch.manual_seed(0)
    model = create_model("tgcn", {"use_gat": use_gat}, tasks, info)
    batch = make_batch("graph", info, tasks, n_graphs=g)
    offsets = (torch.arange(g) * n).repeat_interleave(e)
    batch["edge_index"] = torch.from_numpy(stock_graph.edge_index).repeat(1, g) + offsets
    batch["edge_weight"] = torch.from_numpy(stock_graph.edge_weight).repeat(g)
    out = model(batch, explain=True)
    assert out["signal"].shape == (g * n, 2) and out["return"].shape == (g * n,)
    if use_gat:
        assert out["attention/edges"].shape == (g * e, 2)
    (out["signal"].logsumexp(-1).sum() + out["return"].sum()).backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_gatv2_all_steps_equals_gatv2conv_on_stacked_steps(dtype: torch.dtype) -> None:
    """The all-steps GATv2 equals the former implementation, PyG's GATv2Conv on T stacked
    copies of the graph (outputs, attention and gradients), with an isolated node (self-loop
    feature 0) and a node that only sends."""
    from torch_geometric.nn import GATv2Conv

    from finmt_core.models.tgcn import gat_graph, gatv2_all_steps

    torch.manual_seed(7)
    n, t, f, h, heads = 7, 5, 3, 4, 3
    ei, ew = graph()
    ei = torch.cat([ei, torch.tensor([[6], [2]])], dim=1)  # node 6 only sends; no edge reaches it
    ew = torch.cat([ew, torch.tensor([0.4])])
    conv = GATv2Conv(f, h, heads=heads, concat=False, edge_dim=1, add_self_loops=True).to(dtype)
    with torch.no_grad():  # non-zero bias and attention everywhere
        conv.bias.normal_()
        conv.att.normal_()
    x = torch.randn(n, t, f, dtype=dtype, requires_grad=True)
    ew = ew.to(dtype)

    out, alpha = gatv2_all_steps(conv, x, gat_graph(ei, ew, n))
    grads = torch.autograd.grad(out.square().sum(), [x, *conv.parameters()])

    steps = torch.arange(t).view(1, 1, t)
    stacked = (ei.unsqueeze(-1) * t + steps).reshape(2, -1)  # node i at step s -> i*T + s
    ref, (ref_ei, ref_alpha) = conv(x.reshape(n * t, f), stacked, ew.repeat_interleave(t).unsqueeze(-1),
                                    return_attention_weights=True)
    ref_grads = torch.autograd.grad(ref.square().sum(), [x, *conv.parameters()])
    tol = {"atol": 1e-5, "rtol": 1e-4} if dtype == torch.float32 else {"atol": 1e-10, "rtol": 1e-9}
    torch.testing.assert_close(out, ref, **tol)
    e = ei.shape[1]
    torch.testing.assert_close(alpha[:e], ref_alpha[: e * t].reshape(e, t, heads), **tol)  # input edges
    loops = ref_alpha[e * t:].reshape(n, t, heads)  # GATv2Conv's loop of stacked node i*T + s
    assert torch.equal(ref_ei[0, e * t:], torch.arange(n * t))
    torch.testing.assert_close(alpha[e:], loops, **tol)
    assert torch.all(alpha[e + 6] == 1.0)  # node 6 attends only to itself
    for g, r in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(g, r, **tol)


def test_gat_layer_parameters_keep_their_names() -> None:
    """Checkpoints of GAT models load unchanged: the layer still holds a GATv2Conv's parameters."""
    net = TGCNBackbone(FEAT, hidden=H, layers=1, use_gat=True, gat_heads=2)
    names = {k for k in net.state_dict() if k.startswith("layers.0.conv.")}
    assert names == {f"layers.0.conv.{k}" for k in
                     ("att", "bias", "lin_l.weight", "lin_l.bias", "lin_r.weight", "lin_r.bias", "lin_edge.weight")}
