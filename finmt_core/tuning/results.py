"""What a tuning page shows of a result: the best trial's test metrics beside its baselines.

(Where studies live is :mod:`finmt_core.tuning.storage`.)
"""

from __future__ import annotations

from typing import Any

import pandas as pd


def best_trial_metrics(result: dict[str, Any]) -> pd.DataFrame:
    """The test metrics of an evaluated trial beside its baselines, for one table.

    Args:
        result: an evaluation result (``evaluate_run`` / :func:`~finmt_core.tuning.study.evaluate_best`):
            ``tasks`` {task: {metric: v}} and ``baselines`` {name: {task: {metric: v}}}.

    Returns:
        Index ``(task, metric)``, one column per predictor (``model`` first, then the
        baselines in the result's order), float values; a metric a predictor lacks is NaN.
        Non-numeric entries (notes, nested dicts) are left out.
    """
    sources = {"model": result.get("tasks", {}), **result.get("baselines", {})}
    rows = {(name, task, metric): value
            for name, tasks in sources.items() for task, metrics in tasks.items()
            for metric, value in metrics.items() if isinstance(value, (int, float)) and not isinstance(value, bool)}
    if not rows:
        return pd.DataFrame(index=pd.MultiIndex.from_tuples([], names=["task", "metric"]), dtype=float)
    table = pd.Series(rows, dtype=float).unstack(0)
    table = table[[name for name in sources if name in table.columns]]
    table.index.names = ["task", "metric"]
    table.columns.name = None
    return table
