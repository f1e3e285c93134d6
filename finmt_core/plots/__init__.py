"""Plotly figure builders: pure functions of DataFrames / arrays -> ``go.Figure``.

The dashboard pages and the HTML report draw with the same builders, so a chart looks the
same everywhere: ``from finmt_core import plots; plots.loss_curves(run.metrics())``.
"""

from __future__ import annotations

from finmt_core.plots.backtest import equity_drawdown, returns_histogram, turnover
from finmt_core.plots.data import feature_explorer, price_candlestick, stock_graph
from finmt_core.plots.evaluation import (
    calibration,
    confusion_matrix,
    coverage_accuracy,
    ic_over_time,
    label_distribution,
    metric_vs_baseline,
    regression_scatter,
    roc_curves,
    signal_gated_heatmap,
    signal_gated_table,
)
from finmt_core.plots.explain import (
    attention_heatmap,
    attribution_bars,
    embedding_scatter,
    gat_edges,
    network,
)
from finmt_core.plots.inference import prediction_history, whatif_before_after
from finmt_core.plots.training import (
    compare_runs,
    learning_rate,
    loss_curves,
    task_weights,
    throughput,
    val_metric,
)

__all__ = [
    "attention_heatmap",
    "attribution_bars",
    "calibration",
    "compare_runs",
    "confusion_matrix",
    "coverage_accuracy",
    "embedding_scatter",
    "equity_drawdown",
    "feature_explorer",
    "gat_edges",
    "ic_over_time",
    "label_distribution",
    "learning_rate",
    "loss_curves",
    "metric_vs_baseline",
    "network",
    "prediction_history",
    "price_candlestick",
    "regression_scatter",
    "returns_histogram",
    "roc_curves",
    "signal_gated_heatmap",
    "signal_gated_table",
    "stock_graph",
    "task_weights",
    "throughput",
    "turnover",
    "val_metric",
    "whatif_before_after",
]
