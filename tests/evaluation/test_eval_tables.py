"""evaluation.json as tables (finmt_core.evaluation.tables) and their worded form (dashboard/fmt.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dashboard import fmt
from finmt_core.evaluation.frames import TaskRows
from finmt_core.evaluation.tables import (
    breakdown_frame,
    horizon_frame,
    metric_wide,
    significance_frame,
    square_correlation,
    task_rows_frame,
)
from finmt_core.tasks import make_task

EVALUATION = {
    "significance": {"direction": {"metric": "accuracy", "model": {"value": 0.53, "ci_low": 0.51, "ci_high": 0.55},
                                   "vs": {"naive_majority": {"value": 0.02, "ci_low": 0.001, "ci_high": 0.04,
                                                             "significant": 1.0},
                                          "lightgbm": {"value": -0.01, "ci_low": None, "ci_high": None}}}},
    "breakdowns": {"regime": {"direction": {"bull": {"accuracy": 0.6, "n": 120}, "bear": {"accuracy": 0.5, "n": 80}}},
                   "horizon": {"direction": {"metric": "accuracy", "by_horizon": {"1": 0.53, "5": 0.55}}}},
}


def test_metric_wide_puts_the_model_first_and_keeps_missing_cells():
    long = pd.DataFrame({"task": ["d", "d", "d", "r", "r"], "metric": ["acc", "acc", "acc", "ic", "ic"],
                         "name": ["zero", "model", "lgbm", "model", "zero"], "value": [0.5, 0.53, 0.52, 0.03, np.nan]})
    wide = metric_wide(long)
    assert list(wide.columns) == ["model", "zero", "lgbm"]
    assert wide.loc[("d", "acc"), "lgbm"] == 0.52
    assert np.isnan(wide.loc[("r", "ic"), "zero"]) and np.isnan(wide.loc[("r", "ic"), "lgbm"])


def test_significance_rows_and_their_words():
    sig = significance_frame(EVALUATION)
    assert list(sig["vs"]) == ["naive_majority", "lightgbm"]
    assert list(sig["significant"]) == [True, False]
    assert sig.loc[0, "edge_ci_low"] == 0.001
    shown = fmt.significance_table(sig)
    assert shown.loc[0, "model 95% CI"] == "0.5100 – 0.5500" and shown.loc[0, "edge"] == "+0.0200"
    assert shown.loc[1, "edge 95% CI"] == "— (too few dates)"
    assert significance_frame({}).empty


def test_breakdowns_horizons_and_correlations():
    regime = breakdown_frame(EVALUATION, "regime", "direction")
    assert regime.index.name == "regime" and regime.loc["bull", "accuracy"] == 0.6
    assert breakdown_frame(EVALUATION, "ticker", "direction").empty
    assert fmt.table_text(regime).loc["bull", "n"] == "120"
    by_h = horizon_frame(EVALUATION["breakdowns"]["horizon"]["direction"])
    assert by_h.name == "accuracy" and by_h.index.name == "horizon" and by_h["5"] == 0.55
    square = square_correlation({"b": {"b": 1.0, "a": 0.2}, "a": {"a": 1.0, "b": 0.2}})
    assert list(square.index) == list(square.columns) == ["b", "a"]


def test_task_rows_frame_per_task_kind():
    dates, tickers = np.array(["2024-01-02", "2024-01-03"], dtype="datetime64[ns]"), np.array(["A", "B"])
    direction = make_task("direction", horizon=1)
    rows = TaskRows(y=np.array([1, 0]), pred=np.array([[0.3, 0.7], [0.6, 0.4]]), dates=dates, tickers=tickers,
                    index=np.arange(2))
    frame = task_rows_frame(direction, rows)
    assert list(frame.columns) == ["date", "ticker", "target", *[f"P({c})" for c in direction.classes]]
    ret = make_task("return", horizon=1)
    frame = task_rows_frame(ret, TaskRows(y=np.array([0.01, -0.02]), pred=np.array([0.0, 0.01]), dates=dates,
                                          tickers=tickers, index=np.arange(2)))
    assert list(frame["prediction"]) == [0.0, 0.01]
