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
heads' messages stacked ``[heads*N, T*H]``, which also sums the heads; the layer's gate map
``Linear(H, 3H)`` takes the head mean and the bias into its own GEMM. The whole layer is one
autograd node with a hand-written backward (:class:`_WindowGATv2`): no ``[E, T, ...]`` tensor
is made, and the edge-sized ``[E', heads*H]`` tensors of the attention (edges in row order,
:mod:`finmt_core.models.graph_attention_layout`) go through 8 kernels instead of 13. The
relation weights of a window are conditioned on that window's features, but do not change
from day to day inside it. Parameters are those of the layer's ``GATv2Conv`` (same names and
shapes), so the two modes differ only in the function.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from finmt_core.models.graph_attention_layout import csr, window_graph

if TYPE_CHECKING:
    from torch_geometric.nn import GATv2Conv

__all__ = ["gatv2_window", "window_graph"]


def _spmm(a: Tensor, x: Tensor) -> Tensor:
    """``a @ x`` for a CSR ``a``: on CPU PyTorch's native row-parallel kernel
    (``torch.sparse.mm(..., reduce="sum")``, 0.92-0.94 ms vs MKL's 1.45-1.58 ms for the
    attention product and its transpose at 500 nodes, T*H = 320, 1 thread); elsewhere ``@``."""
    return torch.sparse.mm(a, x, "sum") if x.device.type == "cpu" else a @ x


def _edge_softmax(s: Tensor, att_blocks: Tensor, graph: dict[str, Tensor], slope: float) -> tuple[Tensor, Tensor]:
    """GATv2's attention ``alpha`` ``[E', heads]`` (edges in row order) and the activation
    ``[E', heads*C]`` that its backward needs.

    ``s`` ``[2N + 1, heads*C]`` stacks ``s_l``, ``s_r`` and ``w_e``; one weighted
    ``embedding_bag`` gives ``s_l[src] + s_r[dst] + attr * w_e`` (half the time of the same
    sparse product), one GEMM with ``att_blocks`` (``a`` as a block-diagonal ``[heads,
    heads*C]``) the scores, two segment reductions the softmax over each target's contiguous
    in-edges. The activation's sign is the slope mask (the negative slope is > 0)."""
    dst, crow = graph["dst"], graph["crow"]
    z = F.embedding_bag(graph["bag_index"], s, per_sample_weights=graph["bag_weight"], mode="sum")
    act = F.leaky_relu_(z, slope)
    logits = act @ att_blocks.t()
    top = torch.segment_reduce(logits, "max", offsets=crow, axis=0, unsafe=True)  # every row has its loop
    alpha = logits.sub_(top.index_select(0, dst)).exp_()
    alpha.div_(torch.segment_reduce(alpha, "sum", offsets=crow, axis=0, unsafe=True).index_select(0, dst))
    return alpha, act


def _edge_softmax_backward(grad: Tensor, alpha: Tensor, act: Tensor, att_blocks: Tensor, graph: dict[str, Tensor],
                           slope: float) -> tuple[Tensor, Tensor]:
    """Gradients of :func:`_edge_softmax` w.r.t. ``s`` ``[2N + 1, heads*C]`` and ``att``
    ``[heads, C]``: the softmax's Jacobian (one segment sum), the activation's gradient in
    place, one GEMM for ``att`` and one sparse product with ``incidence_t`` for ``s``."""
    heads = alpha.shape[1]
    weighted = alpha * grad
    row_sum = torch.segment_reduce(weighted, "sum", offsets=graph["crow"], axis=0, unsafe=True)
    d_logits = weighted.addcmul_(alpha, row_sum.index_select(0, graph["dst"]), value=-1.0)  # [E', heads]
    grad_att = (d_logits.t() @ act).view(heads, heads, -1).diagonal().t()  # head h's block
    # d_logits[e, h] * att[h, :] for every edge as a GEMM (a broadcast multiply was 5x slower)
    dz = d_logits @ att_blocks
    torch.ops.aten.leaky_relu_backward.grad_input(dz, act, slope, True, grad_input=dz)
    return graph["incidence_t"] @ dz, grad_att


class _WindowGATv2(torch.autograd.Function):
    """The whole window-attention layer (attention, aggregation, head mean, gate map) as one
    autograd node with a hand-written backward.

    Each gradient is written once, in the GEMM orientation that measured faster here, and the
    two sparse products of the backward (``A^T @ dOut`` with the transpose's precomputed
    layout, and ``torch.sparse.sampled_addmm``, i.e. ``dOut @ msg^T`` at ``A``'s nonzeros,
    for the attention) replace PyTorch's CSR autograd, which took 57 of 66 ms of the
    product's forward + backward (measured).

    Inputs: ``x`` ``[N, T, F]``; ``w_l``, ``w_r`` ``[heads*C, F]``, ``b_l``, ``b_r``,
    ``w_e`` ``[heads*C]``; ``att`` ``[heads, C]``; ``bias`` ``[C]`` or None; ``w_g`` ``[G, C]``,
    ``b_g`` ``[G]``; the graph; the slope; dropout probability on alpha (0 = none).
    Outputs: ``out`` ``[N*T, G]`` and ``alpha`` ``[E', heads]`` (row order, not differentiable).
    """

    @staticmethod
    def forward(ctx: Any, x: Tensor, w_l: Tensor, b_l: Tensor, w_r: Tensor, b_r: Tensor, w_e: Tensor, att: Tensor,
                bias: Tensor | None, w_g: Tensor, b_g: Tensor, graph: dict[str, Tensor], slope: float,
                dropout: float) -> tuple[Tensor, Tensor]:
        n, t, f = x.shape
        heads, c = att.shape
        x_mean = x.mean(dim=1)
        # the attention's node terms from the window means (lin_l/lin_r are affine)
        s = x.new_empty(2 * n + 1, heads * c)
        torch.addmm(b_l, x_mean, w_l.t(), out=s[:n])
        torch.addmm(b_r, x_mean, w_r.t(), out=s[n : 2 * n])
        s[2 * n] = w_e
        att_blocks = torch.block_diag(*att.unbind(0))  # [heads, heads*C]
        alpha, act = _edge_softmax(s, att_blocks, graph, slope)
        keep = alpha.new_empty(alpha.shape).bernoulli_(1.0 - dropout).div_(1.0 - dropout) if dropout > 0 else None
        kept = alpha if keep is None else alpha * keep
        values = kept.reshape(-1).index_select(0, graph["value_index"])
        # the messages of every step, head-major [heads, N*T, C]: one batched GEMM, no permute copy
        msg = torch.baddbmm(b_l.view(heads, 1, c), x.reshape(1, n * t, f).expand(heads, -1, -1),
                            w_l.view(heads, c, f).transpose(1, 2))
        agg = _spmm(csr(graph["a_crow"], graph["a_col"], values, (n, heads * n)), msg.view(heads * n, t * c))
        agg = agg.view(n * t, c)  # summed over heads
        bias_g = b_g if bias is None else torch.addmv(b_g, w_g, bias)
        out = torch.addmm(bias_g, agg, w_g.t(), alpha=1.0 / heads)
        ctx.graph, ctx.slope = graph, slope
        ctx.save_for_backward(x, x_mean, w_l, w_r, att_blocks, alpha, act, keep, values, msg, agg, w_g, bias)
        ctx.mark_non_differentiable(alpha)
        return out, alpha

    @staticmethod
    def backward(ctx: Any, grad_out: Tensor, _grad_alpha: Tensor | None) -> tuple[Tensor | None, ...]:
        x, x_mean, w_l, w_r, att_blocks, alpha, act, keep, values, msg, agg, w_g, bias = ctx.saved_tensors
        graph = ctx.graph
        n, t, f = x.shape
        heads, c = msg.shape[0], msg.shape[2]
        grad_out = grad_out.contiguous()
        g_sum = grad_out.sum(dim=0)  # [G]
        # gate map: out = agg w_g^T / heads + b_g + w_g bias
        grad_w_g = torch.mm(grad_out.t(), agg).mul_(1.0 / heads)
        grad_bias = None
        if bias is not None:
            grad_w_g.addr_(g_sum, bias)
            grad_bias = torch.mv(w_g.t(), g_sum)
        g_agg = torch.mm(grad_out, w_g / heads).view(n, t * c)
        # the sparse product: the attention's gradient and the messages'
        flat_msg = msg.view(heads * n, t * c)
        pattern = csr(graph["a_crow"], graph["a_col"], values, (n, heads * n))
        grad_values = torch.sparse.sampled_addmm(pattern, g_agg, flat_msg.t(), beta=0.0).values()
        transposed = csr(graph["at_crow"], graph["at_col"], values.index_select(0, graph["perm_t"]), (heads * n, n))
        grad_msg = _spmm(transposed, g_agg).view(heads, n * t, c)
        grad_alpha = grad_values.index_select(0, graph["value_slot"]).view(alpha.shape)
        if keep is not None:
            grad_alpha.mul_(keep)
        ds, grad_att = _edge_softmax_backward(grad_alpha, alpha, act, att_blocks, graph, ctx.slope)
        ds_l, ds_r = ds[:n], ds[n : 2 * n]
        # lin_l feeds both the messages and s_l; lin_r only s_r; x both through the messages and its mean
        x_flat = x.reshape(n * t, f)
        # built transposed, [F, heads*C]: x^T @ grad_msg_h is 1.6x faster than grad_msg_h^T @ x here
        grad_w_l_t = torch.mm(x_mean.t(), ds_l)
        for h in range(heads):
            grad_w_l_t[:, h * c : (h + 1) * c].add_(torch.mm(x_flat.t(), grad_msg[h]))
        grad_w_l = grad_w_l_t.t()
        grad_b_l = grad_msg.sum(dim=1).view(-1).add_(ds_l.sum(dim=0))
        grad_w_r = torch.mm(ds_r.t(), x_mean)
        grad_b_r = ds_r.sum(dim=0)
        grad_x = None
        if ctx.needs_input_grad[0]:
            w_heads = w_l.view(heads, c, f)
            grad_x = torch.mm(grad_msg[0], w_heads[0])
            for h in range(1, heads):
                grad_x.addmm_(grad_msg[h], w_heads[h])
            grad_mean = torch.mm(ds_l, w_l).addmm_(ds_r, w_r).div_(t)  # [N, F]
            grad_x = grad_x.view(n, t, f).add_(grad_mean.unsqueeze(1))
        return (grad_x, grad_w_l, grad_b_l, grad_w_r, grad_b_r, ds[2 * n], grad_att, grad_bias, grad_w_g, g_sum,
                None, None, None)


def gatv2_window(conv: GATv2Conv, x: Tensor, graph: dict[str, Tensor], gates: nn.Linear | None = None,
                 attention: bool = True) -> tuple[Tensor, Tensor | None]:
    """Window-attention GATv2 with ``conv``'s parameters (``concat=False``, ``edge_dim=1``).

    Args:
        conv: the layer's ``GATv2Conv`` (parameter holder).
        x: ``[N, T, F]`` inputs of all steps.
        graph: :func:`window_graph` output (its dtype is the compute dtype: sparse products
            have no reduced-precision kernels, so this runs with autocast off).
        gates: optional ``Linear(H, G)`` applied to the output (the TGCN layer's gate map),
            folded with the head mean and the bias into one GEMM.
        attention: also return the attention coefficients.

    Returns:
        ``(out [N*T, H or G], alpha [E, 1, heads] or None)``: alpha of the input edges
        (self-loops left out) in the input's order, shared by every step (not differentiable).
    """
    heads, c = conv.heads, conv.out_channels
    dtype = graph["attr"].dtype
    lin_l, lin_r = conv.lin_l, conv.lin_r
    with torch.autocast(device_type=x.device.type, enabled=False):
        x = x.to(dtype)
        if gates is None:  # the head mean and the bias only
            w_g, b_g = torch.eye(c, dtype=dtype, device=x.device), None
        else:
            w_g, b_g = gates.weight, gates.bias
        b_l, b_r = lin_l.bias, lin_r.bias
        out, alpha = _WindowGATv2.apply(
            x, lin_l.weight, x.new_zeros(heads * c) if b_l is None else b_l, lin_r.weight,
            x.new_zeros(heads * c) if b_r is None else b_r, conv.lin_edge.weight.view(-1), conv.att.view(heads, c),
            conv.bias, w_g, x.new_zeros(w_g.shape[0]) if b_g is None else b_g, graph, float(conv.negative_slope),
            float(conv.dropout) if conv.training else 0.0,
        )
    return out, alpha.index_select(0, graph["input_slots"]).unsqueeze(1) if attention else None
