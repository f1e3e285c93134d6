"""Model vs baseline on the same rows, with date-blocked uncertainty (see significance.py).

Per-row scores are "higher is better": correctness for classification, minus the absolute
error for regression, minus the mean pinball loss for quantiles; an edge > 0 therefore
always means the model is better. Regression tasks are compared on the mean daily IC too
(per-date IC differences, dates where both are defined).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from finmt_core.evaluation import significance as sig
from finmt_core.evaluation.frames import TaskRows, point_prediction
from finmt_core.evaluation.metrics import HEADLINE, per_date_ic
from finmt_core.tasks import Task


def row_scores(task: Task, y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """``[n]`` per-row score, higher is better (see module doc)."""
    if task.kind == "classification":
        return (pred.argmax(axis=1) == y).astype(np.float64)
    if task.kind == "quantile":
        q = np.asarray(task.quantiles, dtype=np.float64)[None, :]
        diff = y[:, None] - pred
        return -np.mean(np.maximum(q * diff, (q - 1) * diff), axis=1)
    return -np.abs(pred - y)


def _ic(task: Task, rows: TaskRows, pred: np.ndarray) -> pd.Series:
    return per_date_ic(rows.dates, rows.y, point_prediction(task, pred))


def task_significance(task: Task, rows: TaskRows, baselines: dict[str, np.ndarray], *, seed: int = 0) -> dict[str, Any]:
    """Uncertainty of the task's headline metric and of the model's edge over each baseline.

    Returns ``{"metric", "model": {value, se, ci_low, ci_high, ...}, "vs": {baseline: edge}}``;
    for regression also ``"vs_error"`` (edge in absolute error) and the IC of the model is
    the headline.
    """
    metric, higher = HEADLINE[task.kind]
    model_rows = row_scores(task, rows.y, rows.pred)
    out: dict[str, Any] = {"metric": metric, "higher_is_better": higher, "vs": {}}
    if task.kind == "regression":
        ic_m = _ic(task, rows, rows.pred)
        out["model"] = sig.series_mean(ic_m, seed=seed)
        out["vs_error"] = {}
        for name, bp in baselines.items():
            ic_b = _ic(task, rows, bp).reindex(ic_m.index)
            both = ic_b.notna()
            out["vs"][name] = sig.series_mean((ic_m - ic_b)[both], seed=seed) if both.sum() > 1 else {"value": float("nan"), "note": "baseline IC undefined (constant prediction)"}
            out["vs_error"][name] = sig.paired_edge(model_rows, row_scores(task, rows.y, bp), rows.dates, seed=seed)
        return out
    if task.kind == "classification":
        out["model"] = sig.mean_by_date(model_rows, rows.dates, seed=seed)
    else:  # quantile: the headline (pinball loss) is minus the mean row score
        out["model"] = sig.mean_by_date(-model_rows, rows.dates, seed=seed)
    for name, bp in baselines.items():
        out["vs"][name] = sig.paired_edge(model_rows, row_scores(task, rows.y, bp), rows.dates, seed=seed)
    return out
