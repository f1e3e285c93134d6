"""Views of a run comparison (:mod:`finmt_core.evaluation.compare_runs`) as a page shows them:
the metric rows a viewer picked, and the groups' ``mean ± std`` text as one column per group."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

#: the task under which compare_runs files the backtest rows (always shown)
BACKTEST_TASK = "backtest"
_NUMERIC_SUFFIXES = (" mean", " std", " n")


def picked_metrics(metrics: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
    """The rows of ``RunComparison.metrics`` (index ``(task, metric, source)``) whose metric
    is one of ``names``, plus every backtest row."""
    level = metrics.index.get_level_values
    return metrics[level("metric").isin(list(names)) | (level("task") == BACKTEST_TASK)]


def group_metric_columns(groups: pd.DataFrame) -> list[str]:
    """The text columns of :func:`~finmt_core.evaluation.compare_runs.seed_groups`: ``runs``,
    ``n`` and each ``<task>/<metric>`` (``mean ± std``), without their numeric companions."""
    metric_text = [c for c in groups.columns if "/" in str(c) and not str(c).endswith(_NUMERIC_SUFFIXES)]
    return [c for c in ("runs", "n", *metric_text) if c in groups.columns]


def groups_by_metric(groups: pd.DataFrame) -> pd.DataFrame:
    """The groups as text, one column per group and one row per :func:`group_metric_columns`
    entry: readable however many metrics there are."""
    return groups.set_index("group")[group_metric_columns(groups)].astype(str).T
