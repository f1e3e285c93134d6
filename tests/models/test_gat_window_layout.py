"""Window-attention GATv2 layouts and the backbone's graph cache: the sort-free path for graphs in
(target, source) order equals the sorting path, the index maps are consistent, directed graphs
work, dropout on the attention trains, and the cache rebuilds whenever its inputs change."""

from __future__ import annotations

import torch

from finmt_core.models.graph_attention import gatv2_window
from finmt_core.models.graph_attention_layout import window_graph
from finmt_core.models.graph_cache import GraphCache
from finmt_core.models.tgcn import TGCNBackbone

N, T, FEAT, H = 7, 5, 4, 6


def sorted_graph() -> tuple[torch.Tensor, torch.Tensor]:
    """A directed graph (pairs are (target, source); 5 -> 0 has no reverse) in (target, source)
    order, node 5 without in-edges."""
    pairs = [(1, 0), (2, 0), (0, 1), (2, 1), (3, 2), (0, 3), (4, 3), (3, 4), (0, 5), (4, 5), (6, 5)]
    ei = torch.tensor(pairs).t().flip(0)  # rows (source, target)
    ei = ei[:, torch.argsort(ei[1] * N + ei[0])]
    return ei, torch.linspace(0.1, 1.0, ei.shape[1])


def test_layout_maps_are_consistent() -> None:
    ei, ew = sorted_graph()
    heads = 3
    g = window_graph(ei, ew, N, heads, torch.float64)
    e = ei.shape[1] + N
    src, dst = g["src"], g["dst"]
    assert torch.all(dst[1:] * N + src[1:] > dst[:-1] * N + src[:-1])  # row order, loops merged in
    assert torch.equal(src[dst == src], torch.arange(N))  # one self-loop per node
    # input edges land on their own (source, target) pair
    assert torch.equal(src[g["input_slots"]], ei[0]) and torch.equal(dst[g["input_slots"]], ei[1])
    # the self-loop of node 5 (no in-edges) carries weight 0, of node 3 the mean of its in-weights
    loops = g["attr"][dst == src]
    assert loops[5] == 0 and torch.isclose(loops[3], ew[ei[1] == 3].double().mean())
    # A's values, read through value_index, and back through value_slot
    alpha = torch.randn(e, heads, dtype=torch.float64)  # [E', heads], edges in row order
    values = alpha.reshape(-1)[g["value_index"]]
    assert torch.equal(values[g["value_slot"]], alpha.reshape(-1))
    dense = torch.sparse_csr_tensor(g["a_crow"], g["a_col"], values, (N, heads * N), check_invariants=True).to_dense()
    for h in range(heads):
        block = torch.zeros(N, N, dtype=torch.float64)
        block[dst, src] = alpha[:, h]
        torch.testing.assert_close(dense[:, h * N : (h + 1) * N], block)
    dense_t = torch.sparse_csr_tensor(g["at_crow"], g["at_col"], values[g["perm_t"]], (heads * N, N),
                                      check_invariants=True).to_dense()
    torch.testing.assert_close(dense_t, dense.t())
    # incidence_t^T @ [s_l; s_r; w_e] = s_l[src] + s_r[dst] + attr * w_e
    s = torch.randn(2 * N + 1, 4, dtype=torch.float64)
    want = s[src] + s[N + dst] + g["attr"].unsqueeze(1) * s[2 * N]
    torch.testing.assert_close(g["incidence_t"].to_dense().t() @ s, want)


def test_sorted_and_shuffled_edges_give_the_same_layer() -> None:
    torch.manual_seed(0)
    ei, ew = sorted_graph()
    perm = torch.randperm(ei.shape[1])
    net = TGCNBackbone(FEAT, hidden=H, layers=1, use_gat=True, gat_heads=2, gat_attention="window").double()
    layer = net.layers[0]
    x = torch.randn(N, T, FEAT, dtype=torch.float64)
    out_a, alpha_a = gatv2_window(layer.conv, x, window_graph(ei, ew.double(), N, 2, torch.float64), layer.gates)
    out_b, alpha_b = gatv2_window(layer.conv, x, window_graph(ei[:, perm], ew[perm].double(), N, 2, torch.float64),
                                  layer.gates)
    torch.testing.assert_close(out_a, out_b)
    assert alpha_a is not None and alpha_b is not None
    torch.testing.assert_close(alpha_a[perm], alpha_b)  # attention follows the input's edge order


def test_attention_dropout_trains_and_eval_is_deterministic() -> None:
    torch.manual_seed(1)
    ei, ew = sorted_graph()
    net = TGCNBackbone(FEAT, hidden=H, layers=2, use_gat=True, gat_attention="window")
    for layer in net.layers:
        layer.conv.dropout = 0.5
    x = torch.randn(N, T, FEAT)
    h, _ = net(x, ei, ew)
    h.pow(2).sum().backward()
    grads = [p.grad for p in net.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    net.eval()
    with torch.no_grad():
        torch.testing.assert_close(net(x, ei, ew)[0], net(x, ei, ew)[0])


def test_graph_cache_reuses_and_rebuilds() -> None:
    cache = GraphCache()
    ei, ew = sorted_graph()
    keep = torch.ones(ei.shape[1], dtype=torch.bool)
    built: list[int] = []

    def build() -> dict[str, torch.Tensor]:
        built.append(1)
        return {"n": torch.tensor(len(built))}

    first = cache.get(ei, ew, keep, (N,), build)
    assert cache.get(ei.clone(), ew.clone(), keep.clone(), (N,), build) is first  # same contents: a hit
    ew2 = ew.clone()
    ew2[0] += 1
    cache.get(ei, ew2, keep, (N,), build)  # another weight
    keep2 = keep.clone()
    keep2[1] = False
    cache.get(ei, ew2, keep2, (N,), build)  # another mask
    cache.get(ei, ew2, keep2, (N + 1,), build)  # another key
    with torch.inference_mode():
        cache.get(ei, ew2, keep2, (N + 1,), build)  # inference tensors are kept apart
    assert len(built) == 5
    cache.get(ei, ew2, keep2, (N + 1,), build)  # autograd on again: rebuilt once, then hit
    cache.get(ei, ew2, keep2, (N + 1,), build)
    assert len(built) == 6
    ew2[0] += 1  # the caller changes its tensor in place: the cache holds a copy, so it rebuilds
    cache.get(ei, ew2, keep2, (N + 1,), build)
    assert len(built) == 7
