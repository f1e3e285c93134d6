"""Hierarchical multi-task temporal graph network (seed 001: TGCN with signal/direction heads).

A TGCN layer (Zhao et al. 2019, the cell of PyTorch Geometric Temporal) is a GRU whose gate
inputs are graph convolutions of the node features::

    z_t = sigmoid(conv_z(X_t) + U_z h_{t-1})
    r_t = sigmoid(conv_r(X_t) + U_r h_{t-1})
    h~_t = tanh(conv_h(X_t) + U_h (r_t * h_{t-1}))
    h_t = z_t * h_{t-1} + (1 - z_t) * h~_t

The convolutions only see the inputs, never the state, so all T of them are computed before
the recurrence in one call: ``GCNConv`` is linear (``A_hat X_t W + b``), so the T steps are one
sparse product of the normalised adjacency (:func:`normalised_adjacency`: a CSR matrix plus a
self-loop term, built once per forward pass without sorting and shared by the layers) with ``[N, T * width]``, applied on the narrower side of ``W``;
GATv2 (:func:`gatv2_all_steps`, the ``GATv2Conv`` function with that module's parameters)
gathers each edge's ``[T, heads, H]`` block at once, since the graph is the same at every
step; self-loops (edge feature = mean incoming weight, as ``GATv2Conv``'s
``fill_value="mean"``) are added once per forward pass, not per layer call. Measured 20-25 %
faster forward + backward than ``GATv2Conv`` on T stacked copies of the graph (N=500, T=20,
F=30, 8 dates, 1 thread); the per-edge work ``E * T * heads * H`` still makes GAT ~8-10x
slower than GCN at that size.
The three gates share one conv of width 3H (the PyG-Temporal cell's ``conv -> Linear``
pairs are linear maps of the same conv input, so this is the same function class; the tests
check the result against a step-by-step cell built on a plain ``GCNConv``). What is left per
step is three small dense products.

Batches of dates arrive as one disjoint graph (``x`` ``[G*N, T, F]``, ``edge_index``
``[2, G*E]``); ``node_mask`` False rows (tickers without data that day) are cut out of the
message passing so their zero-filled features never reach their neighbours.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from finmt_core.errors import ConfigError
from finmt_core.models.base import MultiTaskModel
from finmt_core.models.graph_attention import gatv2_window, window_graph
from finmt_core.models.graph_cache import GraphCache
from finmt_core.models.heads import build_heads
from finmt_core.models.registry import register_model
from finmt_core.tasks import Task

if TYPE_CHECKING:
    from torch_geometric.nn import GATv2Conv

    from finmt_core.data.prepare import InputInfo


@dataclass
class TGCNConfig:
    """Hyper-parameters of :class:`TGCN` (seed: hidden 16, 2 layers, linear heads).

    Attributes:
        hidden: hidden width H of every layer (= embedding width).
        layers: stacked TGCN layers (layer k+1 reads layer k's hidden sequence).
        use_gat: GATv2Conv (edge weights as 1-d edge features) instead of GCNConv.
        gat_heads: attention heads of GATv2Conv (averaged to H outputs).
        gat_attention: ``"step"``: GATv2Conv's attention at every time step (the seed's cell);
            ``"window"``: one attention coefficient per edge and head from the window's mean
            inputs, shared by its T steps (:mod:`finmt_core.models.graph_attention`; one sparse
            product per layer, ~1.5x GCN's forward + backward at 500 stocks on one CPU
            thread, see docs/PERFORMANCE.md). Same parameters either way.
        root_weight: GCN only: add a separate linear map of the node's own features to the
            gate inputs (PyG GraphConv's "root weight"). GCN's normalised aggregation mixes a
            stock's own features with its neighbours' under one weight; this keeps them apart.
            Default True for TGCN models (configs/tgcn.yaml says so too); False = the seed's
            plain TGCN cell, which is :class:`TGCNBackbone`'s own default when built directly.
        head_hidden: hidden width of the task heads (0 = linear heads, as in the seed).
        dropout: dropout before the heads (MC dropout uses it).
    """

    hidden: int = 16
    layers: int = 2
    use_gat: bool = False
    gat_heads: int = 2
    gat_attention: str = "step"
    root_weight: bool = True
    head_hidden: int = 0
    dropout: float = 0.1


class TGCNLayer(nn.Module):
    """One TGCN layer over a whole window.

    GCN: the layer holds a ``GCNConv(F_in, 3H)`` (z, r and candidate gate inputs); GAT: a
    ``GATv2Conv(F_in, H, heads, edge_dim=1)`` followed by ``Linear(H, 3H)`` (attention
    messages stay H wide per head, which is the costly part). The GATv2Conv holds the
    parameters; :func:`gatv2_all_steps` computes its function for all T steps at once, or
    :func:`~finmt_core.models.graph_attention.gatv2_window` the window attention (with the
    gate map folded in).

    Shapes:
        ``x`` ``[N, T, F_in]`` -> ``(h [N, T, H], attention [E, T, heads] or None)``.
    """

    def __init__(self, in_dim: int, hidden: int, use_gat: bool, gat_heads: int, root_weight: bool = False,
                 gat_attention: str = "step") -> None:
        super().__init__()
        # torch_geometric (~1-2 s of imports) when a layer is built, not when the module is read:
        # the dashboard's Train form reads TGCNConfig from this module
        from torch_geometric.nn import GATv2Conv, GCNConv

        self.hidden = hidden
        self.use_gat = use_gat
        self.window_attention = gat_attention == "window"
        if use_gat:
            self.conv: nn.Module = GATv2Conv(
                in_dim, hidden, heads=gat_heads, concat=False, edge_dim=1, add_self_loops=True
            )
            self.gates: nn.Module = nn.Linear(hidden, 3 * hidden)
        else:
            # normalisation and self-loops come from the backbone's normalised_adjacency (once per pass)
            self.conv = GCNConv(in_dim, 3 * hidden, normalize=False, add_self_loops=False)
            self.gates = nn.Identity()
        # GATv2 weighs the self-loop by attention already; GCN gets an optional root term
        self.root = nn.Linear(in_dim, 3 * hidden, bias=False) if root_weight and not use_gat else None
        self.u_zr = nn.Linear(hidden, 2 * hidden, bias=False)
        self.u_h = nn.Linear(hidden, hidden, bias=False)

    def input_gates(self, x: Tensor, graph: dict[str, Tensor], want_attention: bool) -> tuple[Tensor, Tensor | None]:
        """Graph convolution of the inputs of all T steps: ``[N, T, F]`` -> ``[N, T, 3H]``."""
        n, t, f = x.shape
        if not self.use_gat:
            # GCNConv(X_t) = A_hat X_t W + b is linear, so all T steps are one sparse product
            # A_hat [N, N] @ [N, T * width], taken on the narrower side of W; bias and root
            # term go into the same GEMM's output (addmm / addmm_: no extra [N*T, 3H] passes,
            # each of which costs a fresh allocation at this size).
            # Sparse products have no reduced-precision kernels: this block runs in the
            # adjacency's dtype (float32) with autocast off.
            conv: Any = self.conv  # a GCNConv
            weight = conv.lin.weight  # [3H, F]
            width = weight.shape[0]
            with torch.autocast(device_type=x.device.type, enabled=False):
                x = x.to(graph["adj"].dtype)
                if f <= width:
                    ax = _propagate(graph, x.reshape(n, t * f)).view(n * t, f)
                    out = torch.addmm(conv.bias, ax, weight.t())
                else:
                    out = _propagate(graph, torch.mm(x.reshape(n * t, f), weight.t()).view(n, t * width))
                    out = out.view(n * t, width).add_(conv.bias)
                if self.root is not None:
                    out.addmm_(x.reshape(n * t, f), self.root.weight.t())
                return out.view(n, t, width), None
        if self.window_attention:  # the gate map is folded into the window layer's last GEMM
            assert isinstance(self.gates, nn.Linear)
            gates, alpha = gatv2_window(self.conv, x, graph, self.gates, attention=want_attention)
        else:
            out, alpha = gatv2_all_steps(self.conv, x, graph)
            gates = self.gates(out)
        # input edges first, the self-loops appended (as GATv2Conv orders them)
        edge_alpha = alpha[: graph["n_edges"]] if want_attention and alpha is not None else None
        return gates.view(n, t, 3 * self.hidden), edge_alpha

    def forward(self, x: Tensor, graph: dict[str, Tensor], want_attention: bool = False) -> tuple[Tensor, Tensor | None]:
        gx, alpha = self.input_gates(x, graph, want_attention)
        hd = self.hidden
        h = x.new_zeros(x.shape[0], hd)
        w_zr, w_h = self.u_zr.weight.t(), self.u_h.weight.t()
        outs = []
        # one unbind, not a slice per step: the backward of gx[:, s] allocates and zero-fills a
        # whole [N, T, 3H] gradient at every step, unbind's stacks the T step gradients once
        for g in gx.unbind(1):  # the recurrence: two small GEMMs per step, gate input fused
            zr = torch.addmm(g[:, : 2 * hd], h, w_zr).sigmoid()
            z, r = zr.chunk(2, dim=-1)
            h_tilde = torch.addmm(g[:, 2 * hd :], r * h, w_h).tanh()
            h = h_tilde + z * (h - h_tilde)  # = z * h + (1 - z) * h_tilde, one op fewer
            outs.append(h)
        return torch.stack(outs, dim=1), alpha


def gat_graph(edge_index: Tensor, edge_weight: Tensor, n: int) -> dict[str, Tensor]:
    """The GAT layers' graph: ``edge_index`` ``[2, E]`` (no self-loops) plus one self-loop per
    node appended, whose edge feature is the node's mean incoming weight (0 without incoming
    edges), as ``GATv2Conv(add_self_loops=True, fill_value="mean")`` adds them.

    Returns ``{"src", "dst": [E + N], "attr": [E + N, 1], "n_edges": E}``."""
    from torch_geometric.utils import scatter

    loops = torch.arange(n, device=edge_index.device)
    loop_attr = scatter(edge_weight, edge_index[1], 0, dim_size=n, reduce="mean")
    return {
        "src": torch.cat([edge_index[0], loops]),
        "dst": torch.cat([edge_index[1], loops]),
        "attr": torch.cat([edge_weight, loop_attr]).unsqueeze(-1),
        "n_edges": edge_index.shape[1],  # type: ignore[dict-item]
    }


def gatv2_all_steps(conv: GATv2Conv, x: Tensor, graph: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
    """``conv`` (``concat=False``, ``edge_dim=1``, no residual, separate left/right weights)
    applied to every time step of ``x`` ``[N, T, F]`` over the same graph (:func:`gat_graph`,
    self-loops included): ``(out [N*T, H], alpha [E + N, T, heads])``.

    Same function as ``conv(x[:, s], edge_index, edge_attr)`` for each step ``s``, but each
    edge gathers its ``[T, heads, H]`` block once and the edge-feature projection is
    computed once per edge instead of once per edge and step."""
    from torch_geometric.utils import softmax

    n, t, f = x.shape
    heads, c = conv.heads, conv.out_channels
    assert conv.lin_edge is not None and conv.res is None and not conv.share_weights and not conv.concat
    xf = x.reshape(n * t, f)
    x_l = conv.lin_l(xf).view(n, t, heads, c)  # source side (the message)
    x_r = conv.lin_r(xf).view(n, t, heads, c)  # target side
    src, dst = graph["src"], graph["dst"]
    x_j = x_l.index_select(0, src)  # [E', T, heads, C]
    z = x_j + x_r.index_select(0, dst)
    z = F.leaky_relu(z.add_(conv.lin_edge(graph["attr"]).view(-1, 1, heads, c)), conv.negative_slope)
    alpha = softmax((z * conv.att.view(1, 1, heads, c)).sum(-1), dst, num_nodes=n, dim=0)  # over in-edges
    alpha = F.dropout(alpha, p=conv.dropout, training=conv.training)
    msg = x_j * alpha.unsqueeze(-1)
    out = msg.new_zeros(n, t, heads, c).index_add_(0, dst, msg)
    out = out.mean(dim=2).view(n * t, c)
    if conv.bias is not None:
        out = out + conv.bias
    return out, alpha


def _propagate(graph: dict[str, Tensor], y: Tensor) -> Tensor:
    """``A_hat @ y`` for ``y`` ``[N, C]``: the off-diagonal CSR product plus the self-loop
    term ``y / deg`` (see :func:`normalised_adjacency`)."""
    out = graph["adj"] @ y
    return out.addcmul_(graph["self_weight"].unsqueeze(1), y)


def normalised_adjacency(edge_index: Tensor, edge_weight: Tensor, n: int, dtype: torch.dtype) -> dict[str, Tensor]:
    """GCN's ``D^-1/2 (A + I) D^-1/2`` (as PyG's ``gcn_norm`` with self-loops of weight 1) as
    ``{"adj": [N, N] CSR (rows = targets, no diagonal), "self_weight": [N] = 1 / deg}``.

    ``edge_index`` ``[2, E]`` (source, target) without self-loops. Edges sorted by target —
    as :func:`~finmt_core.data.graph.build_graph` and batches of its graph give them — become
    a CSR matrix with no sort at all; others are sorted once here. Keeping the self-loops out of
    the matrix is what makes that possible; rebuilding a coalesced COO matrix instead took
    10-17 % of a batched forward pass."""
    src, dst = edge_index[0], edge_index[1]
    w = edge_weight.to(dtype)
    # the sortedness check reads a value back, so GPUs just sort (cheap there, no stall)
    if dst.numel() > 1 and (w.device.type != "cpu" or not bool((dst[1:] >= dst[:-1]).all())):
        order = torch.argsort(dst, stable=True)
        src, dst, w = src[order], dst[order], w[order]
    deg = torch.ones(n, dtype=dtype, device=w.device).index_add_(0, dst, w)  # + the self-loop's 1
    dinv = deg.pow(-0.5)
    dinv.masked_fill_(torch.isinf(dinv), 0.0)
    crow = torch.zeros(n + 1, dtype=torch.long, device=w.device)
    torch.cumsum(torch.bincount(dst, minlength=n), 0, out=crow[1:])
    with warnings.catch_warnings():  # "sparse CSR support is in beta": products and autograd are what we use
        warnings.simplefilter("ignore", UserWarning)
        adj = torch.sparse_csr_tensor(crow, src, dinv[src] * w * dinv[dst], (n, n), check_invariants=False)
    return {"adj": adj, "self_weight": dinv * dinv}


class TGCNBackbone(nn.Module):
    """Stacked TGCN layers; the last layer's final hidden state is the node embedding.

    Args:
        in_channels: node features F.
        hidden: hidden width H.
        layers: number of TGCN layers.
        use_gat: GATv2Conv instead of GCNConv.
        gat_heads: GAT heads.
        root_weight: GCN only: separate linear map of each node's own features (see
            :class:`TGCNConfig`). Default False here = the seed's plain TGCN cell (benchmarks and
            tests build the backbone directly); a TGCN model passes ``TGCNConfig.root_weight``,
            whose default is True.
        gat_attention: ``"step"`` (default) or ``"window"`` (see :class:`TGCNConfig`).

    Shapes:
        ``x`` ``[N, T, F]``, ``edge_index`` ``[2, E]``, ``edge_weight`` ``[E]`` (or None = 1),
        ``node_mask`` ``[N]`` bool (or None) -> ``(h [N, H], edge attention [E, heads] or None)``.
        Edge attention is only computed with ``use_gat`` and ``return_attention``: GATv2's
        coefficients averaged over time steps and layers; edges cut out of the message
        passing (self-loops, masked endpoints) get 0.
    """

    def __init__(
        self,
        in_channels: int,
        hidden: int = 16,
        layers: int = 2,
        use_gat: bool = False,
        gat_heads: int = 2,
        root_weight: bool = False,
        gat_attention: str = "step",
    ) -> None:
        super().__init__()
        self.use_gat = use_gat
        self.gat_heads = gat_heads
        self.window_attention = use_gat and gat_attention == "window"
        self._graph_cache = GraphCache()
        self.layers = nn.ModuleList(
            TGCNLayer(in_channels if i == 0 else hidden, hidden, use_gat, gat_heads, root_weight, gat_attention)
            for i in range(layers)
        )

    def _graph(self, edge_index: Tensor, edge_weight: Tensor, keep: Tensor, n: int, dtype: torch.dtype) -> dict[str, Tensor]:
        """The layers' shared graph structures, reused while the batches carry the same graph."""

        def build() -> dict[str, Tensor]:
            ei, ew = edge_index[:, keep], edge_weight[keep]
            if not self.use_gat:
                return normalised_adjacency(ei, ew, n, dtype)
            if self.window_attention:  # edges in row order and the attention matrix's layouts
                return window_graph(ei, ew, n, self.gat_heads, dtype)
            return gat_graph(ei, ew, n)

        return self._graph_cache.get(edge_index, edge_weight, keep, (n, dtype), build)

    def forward(
        self,
        x: Tensor,
        edge_index: Tensor,
        edge_weight: Tensor | None = None,
        node_mask: Tensor | None = None,
        return_attention: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        n = x.shape[0]
        if edge_weight is None:
            edge_weight = x.new_ones(edge_index.shape[1])
        edge_weight = edge_weight.to(torch.promote_types(x.dtype, torch.float32))
        keep = edge_index[0] != edge_index[1]  # the convs add their own self-loops
        if node_mask is not None:
            keep = keep & node_mask[edge_index[0]] & node_mask[edge_index[1]]
            # every node present (the usual batch): no copy of x. Checked on CPU only, where
            # the check is free; on a GPU it would stall on a device -> host read
            if x.device.type != "cpu" or not bool(node_mask.all()):
                x = x * node_mask.view(-1, 1, 1).to(x.dtype)
        # graph weights in float32 (float64 inputs keep float64), whatever autocast does
        graph = self._graph(edge_index, edge_weight, keep, n, torch.promote_types(x.dtype, torch.float32))
        want = return_attention and self.use_gat
        seq = x
        alphas = []
        for layer in self.layers:
            seq, alpha = layer(seq, graph, want)
            if alpha is not None:
                alphas.append(alpha.mean(dim=1))  # [E_kept, heads]
        attention = None
        if want:
            kept = torch.stack(alphas).mean(dim=0)
            attention = kept.new_zeros(edge_index.shape[1], kept.shape[-1])
            attention[keep] = kept
        return seq[:, -1], attention


@register_model("tgcn")
class TGCN(MultiTaskModel):
    """Temporal graph network over the stock graph with one head per task.

    Args:
        cfg: :class:`TGCNConfig`.
        tasks: one head per task (seed preset: ``signal`` + ``direction`` masked by signal).
        info: InputInfo (``n_features``).

    Batch keys (one sample = one date; G dates per batch form one disjoint graph):
        ``x`` ``[G*N, T, F]``, ``edge_index`` ``[2, G*E]``, ``edge_weight`` ``[G*E]``,
        ``node_mask`` ``[G*N]`` bool (optional).

    Returns:
        ``{task: output}`` with B = G*N rows; with ``explain=True`` also ``"embedding"``
        ``[G*N, H]`` and, when ``use_gat``, ``"attention/edges"`` ``[G*E, gat_heads]``
        (GATv2 coefficients of each input edge, mean over time steps and layers).
        :class:`finmt_core.inference.gating.GatingPolicy` turns the ``signal`` and ``direction``
        heads' probabilities into the seed's Neutral/Up/Down decision.
    """

    input_kind: ClassVar[str] = "graph"
    config_class: ClassVar[type] = TGCNConfig

    def __init__(self, cfg: TGCNConfig, tasks: list[Task], info: InputInfo) -> None:
        super().__init__(cfg, tasks, info)
        self.backbone = TGCNBackbone(
            info.n_features, cfg.hidden, cfg.layers, cfg.use_gat, cfg.gat_heads, cfg.root_weight, cfg.gat_attention
        )
        self.heads = build_heads(tasks, cfg.hidden, cfg.head_hidden, cfg.dropout)

    @classmethod
    def check_compatible(cls, cfg: TGCNConfig, tasks: list[Task], info: InputInfo) -> None:
        super().check_compatible(cfg, tasks, info)
        if cfg.hidden < 1 or cfg.layers < 1:
            raise ConfigError(f"tgcn: hidden and layers must be >= 1, got hidden={cfg.hidden}, layers={cfg.layers}")
        if cfg.use_gat and cfg.gat_heads < 1:
            raise ConfigError(f"tgcn: gat_heads must be >= 1, got {cfg.gat_heads}")
        if cfg.gat_attention not in ("step", "window"):
            raise ConfigError(f"tgcn: gat_attention must be 'step' or 'window', got {cfg.gat_attention!r}")

    def encode(self, batch: dict[str, Any], explain: bool) -> tuple[Tensor, dict[str, Tensor]]:
        x = batch["x"]
        if x.ndim != 3 or x.shape[-1] != self.info.n_features:
            raise ValueError(f"tgcn expects x [G*N, T, {self.info.n_features}], got {tuple(x.shape)}")
        h, attention = self.backbone(
            x, batch["edge_index"], batch.get("edge_weight"), batch.get("node_mask"), return_attention=explain
        )
        extras = {"attention/edges": attention} if attention is not None else {}
        return h, extras
