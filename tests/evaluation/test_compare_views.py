"""A run comparison as the page shows it (finmt_core.evaluation.compare_views, dashboard fmt)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dashboard import fmt
from finmt_core.evaluation.compare_views import group_metric_columns, groups_by_metric, picked_metrics


def test_picked_metrics_keep_the_backtest_rows():
    index = pd.MultiIndex.from_tuples([("direction", "accuracy", "model"), ("direction", "n", "model"),
                                       ("return", "ic", "model"), ("backtest", "sharpe", "model")],
                                      names=["task", "metric", "source"])
    metrics = pd.DataFrame({"a": [0.53, 100.0, 0.02, 0.4]}, index=index)
    rows = picked_metrics(metrics, ["accuracy"])
    assert list(rows.index.get_level_values("metric")) == ["accuracy", "sharpe"]
    text = fmt.metric_cells(pd.DataFrame({"a": [0.53, 1234.0, np.nan]}), pd.Series([False, True, False]))
    assert list(text["a"]) == ["0.5300", "1,234", fmt.DASH]


def test_groups_as_one_column_per_group():
    groups = pd.DataFrame({"group": ["seed=1", "seed=2"], "runs": ["a", "b, c"], "n": [1, 2],
                           "direction/accuracy": ["0.5300", "0.5200 ± 0.0100"],
                           "direction/accuracy mean": [0.53, 0.52], "direction/accuracy std": [np.nan, 0.01],
                           "direction/accuracy n": [1, 2]})
    assert group_metric_columns(groups) == ["runs", "n", "direction/accuracy"]
    table = groups_by_metric(groups)
    assert list(table.columns) == ["seed=1", "seed=2"] and list(table.index) == ["runs", "n", "direction/accuracy"]
    assert table.loc["direction/accuracy", "seed=2"] == "0.5200 ± 0.0100" and table.loc["n", "seed=2"] == "2"
    assert fmt.cell_or_dash(None) == fmt.cell_or_dash(float("nan")) == fmt.DASH and fmt.cell_or_dash(3) == "3"

