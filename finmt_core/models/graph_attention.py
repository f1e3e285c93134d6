"""GATv2 attention computed once per window (``TGCNConfig.gat_attention = "window"``).

The per-step variant (:func:`finmt_core.models.tgcn.gatv2_all_steps`, the ``GATv2Conv``
function at every time step) builds ``[E, T, heads, H]`` tensors: with the hybrid sector +
correlation graph of 500 stocks (~25 k edges) that is ~16 M numbers per tensor and several
passes of them per layer, which made GAT 8-10x slower than GCN. Here the attention
coefficients come from each node's window summary (the mean of its T input rows; ``lin_l``
and ``lin_r`` are linear, so the mean of the projections), once per edge and head::

    e_ij = a . leaky_relu(W_l mean_t x_jt + W_r mean_t x_it + W_e w_ij)     [E, heads]
    alpha_ij = softmax over the in-edges of i (self-loop included)
    out_it = mean_h sum_j alpha_ij^h (W_l^h x_jt) + b

The aggregation is then linear in ``x`` with fixed coefficients, so all heads and steps are
one sparse product: ``[A_1 | ... | A_heads]`` ``[N, heads*N]`` (values = alpha) times the
heads' messages stacked ``[heads*N, T*H]``, which also sums the heads. Its backward is one
transposed product and one sampled dense-dense product for the values
(:class:`_AttentionProduct`), so no ``[E, T, ...]`` tensor is made. The edge scores and their
softmax are one function with a hand-written backward (:class:`_EdgeSoftmax`) over edges in
row order (:mod:`finmt_core.models.graph_attention_layout`). The layer's gate map
``Linear(H, 3H)`` takes the head mean and the bias into its own GEMM. The relation weights
of a window are conditioned on that window's features, but do not change from day to day
inside it. Parameters are those of the layer's ``GATv2Conv`` (same names and shapes), so the
two modes differ only in the function.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.nn import GATv2Conv

from finmt_core.models.graph_attention_layout import csr, window_graph

__all__ = ["gatv2_window", "window_graph"]


def _spmm(a: Tensor, x: Tensor) -> Tensor:
    """``a @ x`` for a CSR ``a``: on CPU PyTorch's native row-parallel kernel
    (``torch.sparse.mm(..., reduce="sum")``, 0.92-0.94 ms vs MKL's 1.45-1.58 ms for the
    attention product and its transpose at 500 nodes, T*H = 320, 1 thread); elsewhere ``@``."""
    return torch.sparse.mm(a, x, "sum") if x.device.type == "cpu" else a @ x


class _AttentionProduct(torch.autograd.Function):
    """``A @ X`` for ``A`` ``[N, heads*N]`` of :func:`window_graph` with learnable values.

    PyTorch's own autograd for CSR values transposes ``A`` and runs its sampled product
    through a generic path: 57 ms of a 66 ms forward + backward at 500 nodes, T*H = 320
    (measured). Here the backward is two kernels: ``A^T @ dOut`` with the transpose's
    precomputed layout, and ``torch.sparse.sampled_addmm`` (``dOut @ X^T`` at ``A``'s
    nonzeros; columns sorted within rows, which it needs) for the values.
    """

    @staticmethod
    def forward(ctx: Any, values: Tensor, x: Tensor, layout: dict[str, Tensor]) -> Tensor:
        ctx.layout = layout
        ctx.save_for_backward(values, x)
        n = layout["crow"].numel() - 1
        return _spmm(csr(layout["a_crow"], layout["a_col"], values, (n, x.shape[0])), x)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, Tensor | None, None]:
        values, x = ctx.saved_tensors
        lay = ctx.layout
        n = lay["crow"].numel() - 1
        grad = grad.contiguous()
        grad_values = grad_x = None
        if ctx.needs_input_grad[0]:
            pattern = csr(lay["a_crow"], lay["a_col"], values, (n, x.shape[0]))
            grad_values = torch.sparse.sampled_addmm(pattern, grad, x.t(), beta=0.0).values()
        if ctx.needs_input_grad[1]:
            grad_x = _spmm(csr(lay["at_crow"], lay["at_col"], values[lay["perm_t"]], (x.shape[0], n)), grad)
        return grad_values, grad_x, None


class _EdgeSoftmax(torch.autograd.Function):
    """GATv2's attention ``alpha`` ``[E', heads]`` (edges in row order) from the node terms,
    with a hand-written backward.

    Input ``s`` ``[2N + 1, heads*C]`` stacks ``s_l`` (rows ``0..N-1``), ``s_r`` (``N..2N-1``)
    and ``w_e`` (row ``2N``). Forward: ``e = a . leaky_relu(s_l[src] + s_r[dst] + attr * w_e)``
    per head (one weighted ``embedding_bag`` over the three rows of each edge, then one GEMM
    with ``a`` as a block-diagonal matrix), then the softmax over each target's contiguous in-edges (two
    segment reductions). Keeps one ``[E', heads*C]`` tensor, the activation, whose sign is the
    slope mask (the negative slope is > 0). Backward: the softmax's Jacobian (one segment
    sum), the activation's gradient in place, one GEMM for ``a`` and one sparse product with
    ``incidence_t`` for ``s``. These tensors are edge-sized (~3 MB at 500 stocks), so what
    costs is the passes over them: autograd of the same expression with PyG's scatter softmax
    ran ~30, this runs 8.
    """

    @staticmethod
    def forward(ctx: Any, s: Tensor, att: Tensor, graph: dict[str, Tensor], slope: float) -> Tensor:
        dst, crow = graph["dst"], graph["crow"]
        # s_l[src] + s_r[dst] + attr * w_e in one kernel (half the time of the same sparse product)
        z = F.embedding_bag(graph["bag_index"], s, per_sample_weights=graph["bag_weight"], mode="sum")
        act = F.leaky_relu_(z, slope)  # [E', heads*C]
        att_blocks = torch.block_diag(*att.unbind(0))  # [heads, heads*C]
        logits = act @ att_blocks.t()  # [E', heads]
        top = torch.segment_reduce(logits, "max", offsets=crow, axis=0, unsafe=True)  # every row has its loop
        alpha = logits.sub_(top.index_select(0, dst)).exp_()
        alpha.div_(torch.segment_reduce(alpha, "sum", offsets=crow, axis=0, unsafe=True).index_select(0, dst))
        ctx.graph, ctx.slope = graph, slope
        ctx.save_for_backward(act, att_blocks, alpha)
        return alpha

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
        act, att_blocks, alpha = ctx.saved_tensors
        graph = ctx.graph
        heads = alpha.shape[1]
        weighted = alpha * grad
        row_sum = torch.segment_reduce(weighted, "sum", offsets=graph["crow"], axis=0, unsafe=True)
        d_logits = weighted.addcmul_(alpha, row_sum.index_select(0, graph["dst"]), value=-1.0)  # [E', heads]
        # head h's block of d_logits^T @ act: the gradient of its attention vector
        grad_att = (d_logits.t() @ act).view(heads, heads, -1).diagonal().t()  # [heads, C]
        # d_logits[e, h] * att[h, :] for every edge as a GEMM (a broadcast multiply was 5x
        # slower), then the slope mask in place
        dz = d_logits @ att_blocks
        torch.ops.aten.leaky_relu_backward.grad_input(dz, act, ctx.slope, True, grad_input=dz)
        return graph["incidence_t"] @ dz, grad_att, None, None


def gatv2_window(conv: GATv2Conv, x: Tensor, graph: dict[str, Tensor],
                 gates: nn.Linear | None = None) -> tuple[Tensor, Tensor]:
    """Window-attention GATv2 with ``conv``'s parameters (``concat=False``, ``edge_dim=1``).

    Args:
        conv: the layer's ``GATv2Conv`` (parameter holder).
        x: ``[N, T, F]`` inputs of all steps.
        graph: :func:`window_graph` output (its dtype is the compute dtype: sparse products
            have no reduced-precision kernels, so this runs with autocast off).
        gates: optional ``Linear(H, G)`` applied to the output (the TGCN layer's gate map),
            folded with the head mean and the bias into one GEMM.

    Returns:
        ``(out [N*T, H or G], alpha [E, 1, heads])``: alpha of the input edges (self-loops
        left out) in the input's order, shared by every step.
    """
    n, t, f = x.shape
    heads, c = conv.heads, conv.out_channels
    dtype = graph["attr"].dtype
    lin_l, lin_r = conv.lin_l, conv.lin_r
    with torch.autocast(device_type=x.device.type, enabled=False):
        x = x.to(dtype)
        # the attention's node terms from the window means (lin_l/lin_r are affine): one small GEMM
        x_mean = x.mean(dim=1)
        s = torch.cat([lin_l(x_mean), lin_r(x_mean), conv.lin_edge.weight.view(1, heads * c)])  # [2N + 1, heads*C]
        alpha = _EdgeSoftmax.apply(s, conv.att.view(heads, c), graph, float(conv.negative_slope))  # [E', heads]
        if conv.training and conv.dropout > 0:
            alpha = F.dropout(alpha, p=conv.dropout)
        values = alpha.reshape(-1).index_select(0, graph["value_index"])
        # the messages of every step, head-major [heads*N, T*C]: one batched GEMM, no permute copy
        w_l = lin_l.weight.view(heads, c, f).transpose(1, 2)  # [heads, F, C]
        msg = torch.baddbmm(lin_l.bias.view(heads, 1, c), x.view(1, n * t, f).expand(heads, -1, -1), w_l)
        agg = _AttentionProduct.apply(values, msg.view(heads * n, t * c), graph).view(n * t, c)  # sum over heads
        if gates is None:
            out = agg / heads if conv.bias is None else torch.add(conv.bias, agg, alpha=1.0 / heads)
        else:
            bias = gates.bias if conv.bias is None else torch.addmv(gates.bias, gates.weight, conv.bias)
            out = torch.addmm(bias, agg, gates.weight.t(), alpha=1.0 / heads)
    edge_alpha = alpha.index_select(0, graph["input_slots"]).unsqueeze(1)
    return out, edge_alpha
