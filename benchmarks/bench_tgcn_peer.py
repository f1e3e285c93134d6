"""Figure 3 — our ``tgcn`` backbone against the TGCN cell of PyTorch Geometric Temporal.

Both sides get the same inputs ``x`` ``[N, T, F]`` (N=500 nodes, T=20 steps, F=30 features),
the same stock graph (the pipeline's hybrid sector + top-5 correlation graph of a synthetic
market with 11 sectors, weighted) and hidden width 16; one call is forward + backward of ``sum(h_T ** 2)``.
The peer is unrolled over the T steps (stacked cells for 2 layers, the way PyG Temporal's
examples stack them); ours is :class:`finmt_core.models.tgcn.TGCNBackbone` as the model uses
it. Calls alternate peer/ours so machine load hits both alike; the figure is
``peer_time / our_time`` per pair (target >= 2), at 1 layer and at our default of 2 layers.

At 2 layers a third model joins the rotation: the GAT variant with window attention
(``use_gat=True, gat_attention="window"``, the default 2 heads): ``tgcn_gat_vs_gcn_fwd_bwd_L2``
= its time / the GCN backbone's (target <= 1.5) and ``tgcn_gat_vs_peer_fwd_bwd_L2`` = peer time /
its time (target >= 5); and, for information, the same layer with one head
(``tgcn_gat1_vs_gcn_fwd_bwd_L2``; it learned less on the planted market, so it is not the default).
"""

from __future__ import annotations

from typing import Any

from benchmarks.harness import Result, time_interleaved

TARGET_RATIO = 2.0
#: GAT (window attention) time / GCN time, and peer time / GAT time
GAT_VS_GCN_TARGET = 1.5
GAT_VS_PEER_TARGET = 5.0
SEED = 3


def _graph(n_nodes: int) -> tuple[Any, Any, str]:
    """The pipeline's own graph over ``n_nodes`` synthetic stocks (fit on the first 70 % of dates)."""
    import numpy as np
    import torch

    from benchmarks.fixtures import sectors_for
    from finmt_core.config import GraphConfig
    from finmt_core.data.dense import to_dense
    from finmt_core.data.graph import build_graph
    from finmt_core.data.samples import synthetic_market

    panel = synthetic_market(n_stocks=n_nodes, n_days=300, n_sectors=sectors_for(n_nodes), seed=SEED)
    dense = to_dense(panel)
    g = build_graph(dense, np.arange(int(0.7 * len(dense.dates))), GraphConfig())
    ei = torch.from_numpy(np.ascontiguousarray(g.edge_index, dtype=np.int64))
    ew = torch.from_numpy(np.ascontiguousarray(g.edge_weight, dtype=np.float32))
    return ei, ew, f"{g.kind} graph, {ei.shape[1]} directed edges"


def run(workdir: str, n_nodes: int, window: int, n_features: int, hidden: int, repeats: int,
        install: bool) -> list[Result]:
    import torch

    from benchmarks.peers import UnrolledPeer, load_peer_tgcn_class
    from finmt_core.models.tgcn import TGCNBackbone

    torch.manual_seed(SEED)
    cell_cls, peer_note = load_peer_tgcn_class(install=install)
    edge_index, edge_weight, graph_note = _graph(n_nodes)
    x = torch.randn(n_nodes, window, n_features)

    results: list[Result] = []
    for layers in (1, 2):
        peer = UnrolledPeer(cell_cls, n_features, hidden, layers)
        ours = TGCNBackbone(n_features, hidden=hidden, layers=layers)

        def peer_step(model: torch.nn.Module = peer) -> None:
            h = model(x, edge_index, edge_weight)
            (h**2).sum().backward()
            model.zero_grad(set_to_none=True)

        def our_step(model: torch.nn.Module = ours) -> None:
            h, _ = model(x, edge_index, edge_weight)
            (h**2).sum().backward()
            model.zero_grad(set_to_none=True)

        def peer_fwd(model: torch.nn.Module = peer) -> None:
            with torch.inference_mode():
                model(x, edge_index, edge_weight)

        def our_fwd(model: torch.nn.Module = ours) -> None:
            with torch.inference_mode():
                model(x, edge_index, edge_weight)

        size = f"N={n_nodes} T={window} F={n_features} hidden={hidden} layers={layers}; {graph_note}; {peer_note}"
        steps = {"peer": peer_step, "ours": our_step}
        if layers == 2:
            gat = TGCNBackbone(n_features, hidden=hidden, layers=layers, use_gat=True, gat_attention="window")
            steps["gat"] = lambda model=gat: our_step(model)
            gat1 = TGCNBackbone(n_features, hidden=hidden, layers=layers, use_gat=True, gat_attention="window",
                                gat_heads=1)
            steps["gat1"] = lambda model=gat1: our_step(model)
        t = time_interleaved(steps, repeats=repeats, warmup=1)
        ratios = [p / o for p, o in zip(t["peer"], t["ours"])]
        results += [
            Result(f"tgcn_vs_peer_fwd_bwd_L{layers}", "x", ratios, TARGET_RATIO, "higher",
                   note=f"peer_time / our_time, forward+backward; {size}"),
            Result(f"tgcn_ours_fwd_bwd_L{layers}", "ms", [s * 1e3 for s in t["ours"]], None, "lower",
                   note="our TGCNBackbone, forward+backward"),
            Result(f"tgcn_peer_fwd_bwd_L{layers}", "ms", [s * 1e3 for s in t["peer"]], None, "lower",
                   note="peer cell unrolled over T, forward+backward"),
        ]
        if "gat" in t:
            results += [
                Result("tgcn_gat_vs_gcn_fwd_bwd_L2", "x", [g / o for g, o in zip(t["gat"], t["ours"])],
                       GAT_VS_GCN_TARGET, "lower",
                       note=f"GAT (window attention, 2 heads: the default) time / GCN time, forward+backward; {size}"),
                Result("tgcn_gat_vs_peer_fwd_bwd_L2", "x", [p / g for p, g in zip(t["peer"], t["gat"])],
                       GAT_VS_PEER_TARGET, "higher", note="peer time / GAT (window attention) time"),
                Result("tgcn_gat_fwd_bwd_L2", "ms", [s * 1e3 for s in t["gat"]], None, "lower",
                       note="our TGCNBackbone with use_gat, gat_attention=window, forward+backward"),
                Result("tgcn_gat1_vs_gcn_fwd_bwd_L2", "x", [g / o for g, o in zip(t["gat1"], t["ours"])], None,
                       "lower", note="GAT (window attention, 1 head) time / GCN time, forward+backward"),
            ]
        f = time_interleaved({"peer": peer_fwd, "ours": our_fwd}, repeats=repeats, warmup=1)
        results.append(Result(f"tgcn_vs_peer_forward_L{layers}", "x",
                              [p / o for p, o in zip(f["peer"], f["ours"])], None, "higher",
                              note="peer_time / our_time, forward only (inference mode)"))
    return results
