"""Inputs of the model tests: a small InputInfo, a task mix of every kind, hand-made batches.

Imported by the tests as ``from model_inputs import ...`` (tests/models is on sys.path).
"""

from __future__ import annotations

from typing import Any

import torch

from finmt_core.data.prepare import InputInfo
from finmt_core.tasks import Task, make_task

F, T, IMG = 12, 10, 16
N_NODES = 5


def make_info(**overrides: Any) -> InputInfo:
    """12 features: 4 trend, 3 volume, 3 volatility, 2 market-wide context."""
    base: dict[str, Any] = {
        "n_features": F,
        "window": T,
        "feature_names": [f"f{i}" for i in range(F)],
        "groups": {"trend": [0, 1, 2, 3], "volume": [4, 5, 6], "volatility": [7, 8, 9], "context": [10, 11]},
        "image_groups": ["trend", "volume", "volatility"],
        "image_size": IMG,
        "n_nodes": N_NODES,
        "context_idx": [10, 11],
        "stock_idx": list(range(10)),
    }
    base.update(overrides)
    return InputInfo(**base)


def all_kind_tasks() -> list[Task]:
    """One task of every family: classification (2/3/4 classes), regression (bounded too), quantile."""
    return [
        make_task("signal", 1),
        make_task("direction", 1, mask_by="signal"),
        make_task("action", 1),
        make_task("regime", 5),
        make_task("return", 1),
        make_task("volatility", 5),
        make_task("relevance", 7, name="relevance_7d"),
        make_task("quantiles", 1),
    ]


def ring_graph(n_nodes: int, n_graphs: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A ring over ``n_nodes`` (both directions), repeated as ``n_graphs`` disjoint copies."""
    src = torch.arange(n_nodes)
    dst = (src + 1) % n_nodes
    ei = torch.cat([torch.stack([src, dst]), torch.stack([dst, src])], dim=1)
    e = ei.shape[1]
    offsets = (torch.arange(n_graphs) * n_nodes).repeat_interleave(e)
    edge_index = ei.repeat(1, n_graphs) + offsets
    weight = torch.linspace(0.2, 1.0, e).repeat(n_graphs)
    return edge_index, weight


def make_batch(kind: str, info: InputInfo, tasks: list[Task], rows: int = 6, n_graphs: int = 2, seed: int = 0) -> dict:
    """A batch dict of ``kind`` with the documented keys and shapes (random inputs and targets)."""
    g = torch.Generator().manual_seed(seed)
    b = n_graphs * info.n_nodes if kind == "graph" else rows
    batch: dict[str, Any] = {"x": torch.randn(b, info.window, info.n_features, generator=g)}
    if kind == "image":
        c = len(info.image_groups)
        batch["image"] = torch.randn(b, c, info.image_size, info.image_size, generator=g)
    elif kind == "tower":
        batch["context"] = torch.randn(b, 2 * len(info.context_idx), generator=g)
        batch["stock"] = torch.randn(b, len(info.stock_idx), generator=g)
    elif kind == "graph":
        batch["edge_index"], batch["edge_weight"] = ring_graph(info.n_nodes, n_graphs)
        batch["n_graphs"] = n_graphs
        batch["node_mask"] = torch.ones(b, dtype=torch.bool)
    targets, valid = {}, {}
    for t in tasks:
        if t.kind == "classification":
            targets[t.name] = torch.randint(0, len(t.classes), (b,), generator=g).float()
        else:
            targets[t.name] = 0.02 * torch.randn(b, generator=g)
        valid[t.name] = torch.ones(b, dtype=torch.bool)
    batch.update(targets=targets, valid=valid, date_idx=torch.arange(b), ticker_idx=torch.zeros(b, dtype=torch.long))
    return batch
