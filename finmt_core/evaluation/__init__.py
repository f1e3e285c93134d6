"""Evaluation: metrics, significance, breakdowns, backtests and the run scorecard.

``evaluate_run(run_dir)`` -> evaluation.json; ``walk_forward_evaluate(config, runs_root)``;
``run_backtest(weights, returns, ...)`` and ``backtest_predictions(pred_df, ...)``. Nothing here
imports torch at module level.
"""

from __future__ import annotations

from finmt_core.evaluation.backtest import BacktestResult, run_backtest
from finmt_core.evaluation.evaluate import (
    evaluate_run,
    headline_frame,
    load_evaluation,
    metric_table,
    with_outcome,
)
from finmt_core.evaluation.metrics import (
    classification_metrics,
    per_date_ic,
    quantile_metrics,
    regression_metrics,
    score_task,
)
from finmt_core.evaluation.run_backtest import backtest_predictions
from finmt_core.evaluation.walk_forward import walk_forward_evaluate

__all__ = [
    "BacktestResult",
    "backtest_predictions",
    "classification_metrics",
    "evaluate_run",
    "headline_frame",
    "load_evaluation",
    "metric_table",
    "per_date_ic",
    "quantile_metrics",
    "regression_metrics",
    "run_backtest",
    "score_task",
    "walk_forward_evaluate",
    "with_outcome",
]
