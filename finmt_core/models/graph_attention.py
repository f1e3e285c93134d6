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
one sparse product: a block-diagonal ``[heads*N, heads*N]`` CSR matrix (values = alpha, one
block per head) times ``[heads*N, T*H]``; its backward is one transposed product and one
sampled dense-dense product for the values (:class:`_AttentionProduct`), so no ``[E, T, ...]``
tensor is made. The relation weights of a
window are conditioned on that window's features, as before, but no longer change from day to
day inside it. Parameters are those of the layer's ``GATv2Conv`` (same names and shapes), so
the two modes differ only in the function.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.nn import GATv2Conv
from torch_geometric.utils import softmax


def window_csr_layout(src: Tensor, dst: Tensor, n: int, heads: int) -> dict[str, Tensor]:
    """Index layout of the block-diagonal attention matrix and of its transpose, built once per
    forward pass and shared by the layers.

    Args:
        src, dst: ``[E']`` edge endpoints (self-loops included, no duplicate pairs), any order.
        n: number of nodes N.
        heads: attention heads.

    Returns:
        ``order`` ``[E']`` (edges sorted by target, then source: row order of the matrix),
        ``crow`` ``[heads*N + 1]``, ``col`` ``[heads*E']`` (the matrix; block ``h`` = head
        ``h``), ``crow_t``, ``col_t`` and ``perm_t`` ``[heads*E']`` (its transpose: value ``k``
        of the transpose is value ``perm_t[k]`` of the matrix). Columns are sorted within
        each row, which the sampled product of the backward pass needs.
    """
    e = src.numel()
    offsets = torch.arange(heads, device=dst.device)

    def layout(rows: Tensor, cols: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        order = torch.argsort(rows * n + cols)
        crow_one = torch.zeros(n + 1, dtype=torch.long, device=dst.device)
        torch.cumsum(torch.bincount(rows, minlength=n), 0, out=crow_one[1:])
        crow = torch.cat([(crow_one[:-1].unsqueeze(0) + offsets.unsqueeze(1) * e).reshape(-1),
                          crow_one.new_tensor([heads * e])])
        col = (cols[order].unsqueeze(0) + offsets.unsqueeze(1) * n).reshape(-1)
        return order, crow, col

    order, crow, col = layout(dst, src)
    order_t, crow_t, col_t = layout(src, dst)
    position = torch.empty_like(order)
    position[order] = torch.arange(e, device=dst.device)  # edge -> its slot in the matrix's rows
    perm_t = (position[order_t].unsqueeze(0) + offsets.unsqueeze(1) * e).reshape(-1)
    return {"order": order, "crow": crow, "col": col, "crow_t": crow_t, "col_t": col_t, "perm_t": perm_t}


def _csr(crow: Tensor, col: Tensor, values: Tensor, size: int) -> Tensor:
    with warnings.catch_warnings():  # "sparse CSR support is in beta": products are what we use
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(crow, col, values, (size, size), check_invariants=False)


class _AttentionProduct(torch.autograd.Function):
    """``A @ X`` for the CSR matrix ``A`` of :func:`window_csr_layout` with learnable values.

    PyTorch's own autograd for CSR values transposes ``A`` and runs its sampled product
    through a generic path: 57 ms of a 66 ms forward + backward at 500 nodes, T*H = 320
    (measured). Here the backward is two kernels: ``A^T @ dOut`` with the transpose's
    precomputed layout, and ``torch.sparse.sampled_addmm`` (``dOut @ X^T`` at ``A``'s
    nonzeros) for the values: ~3 ms together.
    """

    @staticmethod
    def forward(ctx: Any, values: Tensor, x: Tensor, layout: dict[str, Tensor]) -> Tensor:
        ctx.layout = layout
        ctx.save_for_backward(values, x)
        return _csr(layout["crow"], layout["col"], values, x.shape[0]) @ x

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, Tensor | None, None]:
        values, x = ctx.saved_tensors
        lay = ctx.layout
        grad = grad.contiguous()
        grad_values = grad_x = None
        if ctx.needs_input_grad[0]:
            pattern = _csr(lay["crow"], lay["col"], values, x.shape[0])
            grad_values = torch.sparse.sampled_addmm(pattern, grad, x.t(), beta=0.0).values()
        if ctx.needs_input_grad[1]:
            grad_x = _csr(lay["crow_t"], lay["col_t"], values[lay["perm_t"]], x.shape[0]) @ grad
        return grad_values, grad_x, None


class _EdgeLogits(torch.autograd.Function):
    """GATv2's edge scores ``e = a . leaky_relu(s_l[src] + s_r[dst] + attr * w_e)`` per head,
    ``[E', heads]``, with a hand-written backward.

    Autograd of the same expression keeps four ``[E', heads, C]`` tensors and runs ~20 passes
    over them; here the forward keeps one (the activation, whose sign is the slope mask since
    the negative slope is > 0) and the backward is one fused gradient, two ``index_add`` and
    two small contractions.
    """

    @staticmethod
    def forward(ctx: Any, s_l: Tensor, s_r: Tensor, w_e: Tensor, att: Tensor, src: Tensor, dst: Tensor,
                attr: Tensor, slope: float) -> Tensor:
        z = s_l.index_select(0, src)
        z.add_(s_r.index_select(0, dst)).addcmul_(attr.view(-1, 1, 1), w_e)  # [E', heads, C]
        act = F.leaky_relu(z, slope, inplace=True)
        ctx.slope = slope
        ctx.n = s_l.shape[0]
        ctx.save_for_backward(act, att, src, dst, attr)
        return (act * att).sum(-1)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
        act, att, src, dst, attr = ctx.saved_tensors
        grad_att = torch.einsum("eh,ehc->hc", grad, act)
        # the activation's sign is the pre-activation's (slope > 0); torch.where on this shape
        # was 10x slower than this kernel here
        dz = torch.ops.aten.leaky_relu_backward(grad.unsqueeze(-1) * att, act, ctx.slope, True)  # [E', heads, C]
        shape = (ctx.n, *dz.shape[1:])
        grad_l = dz.new_zeros(shape).index_add_(0, src, dz)
        grad_r = dz.new_zeros(shape).index_add_(0, dst, dz)
        grad_w = torch.einsum("e,ehc->hc", attr.view(-1), dz)
        return grad_l, grad_r, grad_w, grad_att, None, None, None, None


def gatv2_window(conv: GATv2Conv, x: Tensor, graph: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
    """Window-attention GATv2 with ``conv``'s parameters (``concat=False``, ``edge_dim=1``).

    Args:
        conv: the layer's ``GATv2Conv`` (parameter holder).
        x: ``[N, T, F]`` inputs of all steps.
        graph: :func:`~finmt_core.models.tgcn.gat_graph` output (``src``, ``dst``, ``attr``
            with self-loops) plus the :func:`window_csr_layout` keys.

    Returns:
        ``(out [N*T, H], alpha [E', 1, heads])`` (alpha shared by every step).
    """
    n, t, f = x.shape
    heads, c = conv.heads, conv.out_channels
    src, dst = graph["src"], graph["dst"]
    x_l = conv.lin_l(x.reshape(n * t, f)).view(n, t, heads, c)  # the messages of every step
    s_l = x_l.mean(dim=1)  # [N, heads, C]: lin_l is affine, so this is lin_l(mean_t x)
    s_r = conv.lin_r(x.mean(dim=1)).view(n, heads, c)
    w_e = conv.lin_edge.weight.view(heads, c)  # lin_edge: Linear(1, heads*C), no bias
    logits = _EdgeLogits.apply(s_l, s_r, w_e, conv.att.view(heads, c), src, dst,
                               graph["attr"].to(s_l.dtype), float(conv.negative_slope))  # [E', heads]
    alpha = softmax(logits, dst, num_nodes=n, dim=0)
    alpha = F.dropout(alpha, p=conv.dropout, training=conv.training)
    dtype = torch.promote_types(x.dtype, torch.float32)  # sparse products: no reduced-precision kernels
    values = alpha.index_select(0, graph["order"]).t().reshape(-1).to(dtype)  # head-major, rows by target
    stacked = x_l.permute(2, 0, 1, 3).reshape(heads * n, t * c).to(dtype)  # [heads*N, T*C]
    with torch.autocast(device_type=x.device.type, enabled=False):
        agg = _AttentionProduct.apply(values, stacked, graph).view(heads, n, t, c)
    out = agg.mean(dim=0).reshape(n * t, c)
    if conv.bias is not None:
        out = out + conv.bias
    return out, alpha.unsqueeze(1)
