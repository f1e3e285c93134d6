"""evaluation.json and a task's scored rows as tables: the model beside its baselines, the
significance of each edge, the per-regime / per-ticker breakdowns and the test predictions.

Pure functions of the parsed file (:func:`finmt_core.evaluation.evaluate.load_evaluation`) and
of :class:`~finmt_core.evaluation.frames.TaskRows`; numbers stay numbers (a page formats them).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from finmt_core.evaluation.frames import TaskRows
from finmt_core.tasks import Task

SIGNIFICANCE_COLUMNS = ["task", "metric", "model", "model_ci_low", "model_ci_high", "vs", "edge", "edge_ci_low",
                        "edge_ci_high", "significant"]


def metric_wide(table: pd.DataFrame) -> pd.DataFrame:
    """:func:`~finmt_core.evaluation.evaluate.metric_table` (long: ``task``, ``metric``,
    ``name``, ``value``) as one row per (task, metric) and one column per predictor,
    ``model`` first; (task, metric) pairs no predictor has are dropped, a predictor's missing
    cell stays NaN (e.g. the IC of a constant baseline)."""
    wide = table.pivot_table(index=["task", "metric"], columns="name", values="value", sort=False, dropna=False)
    wide = wide.dropna(how="all")
    wide.columns.name = None
    return wide[["model", *[c for c in wide.columns if c != "model"]]] if "model" in wide.columns else wide


def significance_frame(evaluation: dict[str, Any]) -> pd.DataFrame:
    """One row per (task, baseline) of ``evaluation["significance"]``: the model's value with
    its date-clustered 95 % interval, the edge over that baseline (> 0 = model better) with its
    interval, and ``significant`` (the edge's interval excludes 0). Columns
    :data:`SIGNIFICANCE_COLUMNS`; empty when nothing was computed."""
    rows = []
    for task, sig in evaluation.get("significance", {}).items():
        model = sig.get("model", {})
        for base, edge in sig.get("vs", {}).items():
            rows.append({
                "task": task, "metric": sig.get("metric"), "model": model.get("value"),
                "model_ci_low": model.get("ci_low"), "model_ci_high": model.get("ci_high"),
                "vs": base, "edge": edge.get("value"), "edge_ci_low": edge.get("ci_low"),
                "edge_ci_high": edge.get("ci_high"), "significant": bool(edge.get("significant", 0.0)),
            })
    return pd.DataFrame(rows, columns=SIGNIFICANCE_COLUMNS)


def breakdown_frame(evaluation: dict[str, Any], kind: str, task: str) -> pd.DataFrame:
    """``evaluation["breakdowns"][kind][task]`` (kind ``regime`` or ``ticker``) as one row per
    group (index named ``kind``) and one column per metric; empty when absent."""
    groups = evaluation.get("breakdowns", {}).get(kind, {}).get(task, {})
    return pd.DataFrame(groups).T.rename_axis(kind) if groups else pd.DataFrame()


def horizon_frame(entry: dict[str, Any]) -> pd.Series:
    """A multi-horizon breakdown entry's metric by horizon (index ``horizon``, days)."""
    return pd.Series(entry.get("by_horizon", {}), name=entry.get("metric")).rename_axis("horizon")


def square_correlation(corr: dict[str, dict[str, float]]) -> pd.DataFrame:
    """A correlation dict of dicts as a square frame with rows and columns in the same order."""
    names = list(corr)
    return pd.DataFrame(corr).loc[names, names] if names else pd.DataFrame()


def task_rows_frame(task: Task, rows: TaskRows) -> pd.DataFrame:
    """A task's scored test rows as a table: ``date``, ``ticker``, ``target``, then ``P(<Class>)``
    per class (classification), ``q<NN>`` per quantile (quantile task; ``prediction_<j>`` when
    the levels do not match the columns) or ``prediction`` (regression)."""
    out = pd.DataFrame({"date": rows.dates, "ticker": rows.tickers, "target": rows.y})
    pred = np.asarray(rows.pred)
    if pred.ndim == 2 and task.kind == "classification":
        for j, cls in enumerate(task.classes):
            out[f"P({cls})"] = pred[:, j]
    elif pred.ndim == 2:
        levels = list(task.quantiles) if len(task.quantiles) == pred.shape[1] else list(range(pred.shape[1]))
        for j, level in enumerate(levels):
            out[f"q{round(level * 100):02d}" if isinstance(level, float) else f"prediction_{j}"] = pred[:, j]
    else:
        out["prediction"] = pred
    return out
