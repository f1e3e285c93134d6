"""Where a runs folder keeps its tuning studies, and what a tuning page shows of a result.

The default study store is one SQLite file beside the runs, ``<runs>/optuna.db``; several
machines share a study through a database URL instead (``finmt tune --storage
postgresql://...``). Pages and commands ask here rather than spelling the file name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

#: the default study store's file name, under the runs folder
STUDY_FILE = "optuna.db"


def study_file(runs_root: str | Path) -> Path:
    """``<runs_root>/optuna.db``: the default store's file (absolute)."""
    return Path(runs_root).resolve() / STUDY_FILE


def default_storage(runs_root: str | Path) -> str:
    """The Optuna storage URL of the default store: ``sqlite:///<runs_root>/optuna.db``."""
    return f"sqlite:///{study_file(runs_root)}"


def has_studies(runs_root: str | Path) -> bool:
    """True when the default store exists (a search has been started in this runs folder)."""
    return study_file(runs_root).is_file()


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
