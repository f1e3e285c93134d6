"""Index layout of window-attention GATv2 (:mod:`finmt_core.models.graph_attention`), built once
per forward pass and shared by the layers.

Edges live in *row order*: sorted by target, then source, with one self-loop per node merged
in at its place. In that order a target's in-edges are contiguous, so the softmax over them is
two segment reductions, and the attention matrix is a CSR matrix without any reordering of its
values. The stock graph arrives sorted that way (:func:`~finmt_core.data.graph.build_graph`
and batches of it), so the layout needs no sort of the edges: the self-loops are merged in by
index arithmetic. Other edge orders are sorted once. The transpose (for the backward passes)
takes one stable sort of the sources.

Matrices (N nodes, E' = E + N edges in row order, ``heads`` attention heads):

* ``A = [A_1 | ... | A_heads]`` ``[N, heads*N]``, row ``i`` holding target ``i``'s in-edges of
  every head (head ``h``'s columns offset by ``h*N``); ``A @ [X_1; ...; X_heads]`` is the sum
  over heads of each head's aggregation, so the mean over heads costs no extra pass.
* ``A^T`` ``[heads*N, N]`` and ``perm_t``: value ``k`` of ``A^T`` is value ``perm_t[k]`` of ``A``.
* ``value_index``: value ``p`` of ``A`` is ``alpha.reshape(-1)[value_index[p]]`` for the
  coefficients ``alpha`` ``[E', heads]`` in row order; ``value_slot`` the inverse map.
* ``bag_index``, ``bag_weight`` ``[E', 3]``: the rows ``(src, N + dst, 2N)`` of
  ``[s_l; s_r; w_e]`` and their weights ``(1, 1, attr)``: one weighted ``embedding_bag`` gives
  the edge scores' pre-activation ``s_l[src] + s_r[dst] + attr * w_e`` (one write of the
  ``[E', heads*C]`` result instead of two gathers and two updates).
* ``incidence_t`` ``[2N + 1, E']``, the transpose of that map: rows ``0..N-1`` sum the edges
  by source, rows ``N..2N-1`` by target, row ``2N`` weighs them by their edge feature (the
  backward, one sparse product).
"""

from __future__ import annotations

import warnings

import torch
from torch import Tensor


def csr(crow: Tensor, col: Tensor, values: Tensor, shape: tuple[int, int]) -> Tensor:
    """A CSR tensor without invariant checks (the layouts here are valid by construction)."""
    with warnings.catch_warnings():  # "sparse CSR support is in beta": products are what we use
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(crow, col, values, shape, check_invariants=False)


def _row_order(src: Tensor, dst: Tensor, weight: Tensor, n: int) -> tuple[Tensor, Tensor, Tensor, Tensor | None]:
    """The input edges sorted by (target, source); ``order`` is None when they already were.

    The check reads one value back, so on a GPU the edges are simply sorted (no stall)."""
    key = dst * n + src
    if key.numel() > 1 and (key.device.type != "cpu" or not bool((key[1:] > key[:-1]).all())):
        order = torch.argsort(key)
        return src[order], dst[order], weight[order], order
    return src, dst, weight, None


def window_graph(edge_index: Tensor, edge_weight: Tensor, n: int, heads: int, dtype: torch.dtype) -> dict[str, Tensor]:
    """The window-attention layers' graph: edges with self-loops in row order, and the layouts.

    Args:
        edge_index: ``[2, E]`` int64 (source, target), no self-loops, no duplicate pairs,
            any order.
        edge_weight: ``[E]`` edge weights (GATv2's 1-d edge feature).
        n: number of nodes N.
        heads: attention heads.
        dtype: floating dtype of the edge features and of the incidence matrix.

    Returns:
        ``src``, ``dst`` ``[E']`` and ``attr`` ``[E']`` (self-loops carry the node's mean
        incoming weight, 0 without incoming edges, as ``GATv2Conv(fill_value="mean")``),
        ``crow`` ``[N + 1]`` (row pointers of the in-edges), ``input_slots`` ``[E]`` (row-order
        slot of each input edge, in the input's order), ``n_edges`` E, and the matrix layouts
        of the module docstring: ``a_crow``, ``a_col``, ``value_index``, ``value_slot``, ``at_crow``,
        ``at_col``, ``perm_t``, ``bag_index``, ``bag_weight``, ``incidence_t``.
    """
    src, dst, weight, order = _row_order(edge_index[0], edge_index[1], edge_weight.to(dtype), n)
    e, dev = src.numel(), src.device
    nodes = torch.arange(n, device=dev)
    in_deg = torch.bincount(dst, minlength=n)
    loop_attr = torch.zeros(n, dtype=dtype, device=dev).index_add_(0, dst, weight) / in_deg.clamp(min=1)

    # merge the self-loops: edge (j -> i) moves down by the loops of targets < i, and by i's own
    # loop when j > i; the loop of node i lands after the edges (j -> i') with i' < i or j < i
    edge_pos = torch.arange(e, device=dev) + dst + (src > dst)
    loop_pos = nodes + torch.searchsorted(dst * n + src, nodes * (n + 1))
    total = e + n
    src_r = torch.empty(total, dtype=torch.long, device=dev)
    src_r[edge_pos], src_r[loop_pos] = src, nodes
    attr = torch.empty(total, dtype=dtype, device=dev)
    attr[edge_pos], attr[loop_pos] = weight, loop_attr
    deg = in_deg + 1
    crow = torch.zeros(n + 1, dtype=torch.long, device=dev)
    torch.cumsum(deg, 0, out=crow[1:])
    dst_r = nodes.repeat_interleave(deg, output_size=total)
    if order is None:
        input_slots = edge_pos
    else:
        input_slots = torch.empty_like(edge_pos)
        input_slots[order] = edge_pos

    # A = [A_1 | ... | A_heads]: slot k of head h sits at k + crow[i] (heads - 1) + h deg[i] (i = dst[k])
    k = torch.arange(total, device=dev)
    hs = torch.arange(heads, device=dev).unsqueeze(1)  # [heads, 1]
    pos = k + (crow[:-1] * (heads - 1)).index_select(0, dst_r) + hs * deg.index_select(0, dst_r)  # [heads, E']
    a_col = torch.empty(heads * total, dtype=torch.long, device=dev)
    a_col[pos.reshape(-1)] = (src_r + hs * n).reshape(-1)
    value_index = torch.empty_like(a_col)
    value_index[pos.reshape(-1)] = (k * heads + hs).reshape(-1)
    value_slot = pos.t().reshape(-1)  # the inverse: alpha.reshape(-1)[q] is value value_slot[q] of A

    # transpose: sources as rows (stable sort keeps the targets ascending within each), one block per head
    order_t = torch.argsort(src_r, stable=True)
    out_deg = torch.bincount(src_r, minlength=n)
    crow_t = torch.zeros(n + 1, dtype=torch.long, device=dev)
    torch.cumsum(out_deg, 0, out=crow_t[1:])
    at_crow = torch.cat([(crow_t[:-1] + hs * total).reshape(-1), crow_t.new_tensor([heads * total])])
    at_col = dst_r.index_select(0, order_t).repeat(heads)
    perm_t = pos[:, order_t].reshape(-1)

    ones = torch.ones(total, dtype=dtype, device=dev)
    incidence_t = csr(
        torch.cat([crow_t, crow[1:] + total, crow.new_tensor([3 * total])]),
        torch.cat([order_t, k, k]),
        torch.cat([ones, ones, attr]),
        (2 * n + 1, total),
    )
    return {
        "src": src_r, "dst": dst_r, "attr": attr, "crow": crow, "input_slots": input_slots,
        "n_edges": e,  # type: ignore[dict-item]
        "a_crow": crow * heads, "a_col": a_col, "value_index": value_index, "value_slot": value_slot,
        "at_crow": at_crow, "at_col": at_col, "perm_t": perm_t,
        "bag_index": torch.stack([src_r, dst_r + n, torch.full_like(src_r, 2 * n)], 1),
        "bag_weight": torch.stack([ones, ones, attr], 1), "incidence_t": incidence_t,
    }
