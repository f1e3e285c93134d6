"""What the Data page shows of a panel before any training: label counts per split and the
stock graph, both exactly as ``prepare`` builds them for a run with these tasks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from finmt_core.config import ExperimentConfig


def labels_and_graph(panel: pd.DataFrame, source: str, families: Sequence[str], horizon: int) -> dict[str, Any]:
    """Labels, split and stock graph of ``panel`` for tasks of ``families`` at ``horizon`` days.

    Returns:
        ``counts``: DataFrame with rows ``task, class, split, count`` (the input of
        ``plots.label_distribution``; valid targets only); ``edge_index`` ``[2, E]``,
        ``edge_weight`` ``[E]``, ``tickers``, ``sectors`` (or None), ``graph_kind``, and
        ``split_dates`` ``{segment: (first, last)}``.
    """
    from finmt_core.data.prepare import prepare

    config = ExperimentConfig.model_validate(
        {"name": "data-view", "data": {"source": source},
         "tasks": [{"target": f, "horizon": int(horizon)} for f in families]}
    )
    prep = prepare(panel, config)
    rows = []
    for task in prep.targets.tasks:
        values, valid = prep.targets.values[task.name], prep.targets.valid[task.name]
        for seg in ("train", "val", "test"):
            idx = prep.split.segment(seg)
            y = values[idx][valid[idx]].astype(np.int64)
            counts = np.bincount(y, minlength=len(task.classes))
            rows += [{"task": task.name, "class": c, "split": seg, "count": int(n)} for c, n in zip(task.classes, counts)]
    dates = prep.frame.dates
    return {
        "counts": pd.DataFrame(rows),
        "edge_index": prep.graph.edge_index,
        "edge_weight": prep.graph.edge_weight,
        "tickers": list(prep.frame.tickers),
        "sectors": list(prep.dense.sector) if prep.dense.sector else None,
        "graph_kind": prep.graph.kind,
        "split_dates": {s: (dates[prep.split.segment(s)].min(), dates[prep.split.segment(s)].max())
                        for s in ("train", "val", "test")},
    }
