"""Mapping predictions rows onto the (date x ticker) grid, and the backtest from a frame."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from finmt_core.errors import DataError
from finmt_core.evaluation.frames import grid_positions
from finmt_core.evaluation.run_backtest import backtest_predictions
from finmt_core.tasks import Task

DATES = pd.bdate_range("2022-01-03", periods=6)
TICKERS = ["AAA", "BBB", "CCC"]


def _frame(categorical: bool) -> pd.DataFrame:
    d = np.array([0, 0, 1, 2, 5, 5, 3])
    n = np.array([2, 0, 1, 1, 0, 2, 2])
    ticker = pd.Categorical.from_codes(n, categories=TICKERS) if categorical else np.asarray(TICKERS, dtype=object)[n]
    return pd.DataFrame({"date": DATES[d], "ticker": ticker, "return_pred": np.linspace(-0.02, 0.02, len(d))})


@pytest.mark.parametrize("categorical", [False, True])
def test_grid_positions(categorical: bool) -> None:
    d, n = grid_positions(_frame(categorical), DATES, TICKERS)
    np.testing.assert_array_equal(d, [0, 0, 1, 2, 5, 5, 3])
    np.testing.assert_array_equal(n, [2, 0, 1, 1, 0, 2, 2])
    assert d.dtype == np.int64 and n.dtype == np.int64


def test_grid_positions_marks_unknown_rows() -> None:
    df = pd.DataFrame({"date": [DATES[0], pd.Timestamp("1999-01-01"), DATES[1], DATES[2]],
                       "ticker": ["AAA", "AAA", "ZZZ", None]})
    d, n = grid_positions(df, DATES, TICKERS)
    np.testing.assert_array_equal(d, [0, -1, 1, 2])
    np.testing.assert_array_equal(n, [0, 0, -1, -1])


def test_backtest_from_frame_same_for_string_and_categorical_tickers() -> None:
    rng = np.random.default_rng(0)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, (len(DATES), len(TICKERS))), axis=0))
    tasks = [Task(name="return", target="return", horizon=1)]
    a = backtest_predictions(_frame(False), tasks, close, DATES, TICKERS, strategy="top_k", k=1)
    b = backtest_predictions(_frame(True), tasks, close, DATES, TICKERS, strategy="top_k", k=1)
    np.testing.assert_array_equal(a.weights, b.weights)
    np.testing.assert_array_equal(a.net_returns, b.net_returns)
    assert list(a.dates) == list(DATES[[0, 1, 2, 3, 5]])  # only dates that have rows
    bad = _frame(False).assign(ticker="ZZZ")
    with pytest.raises(DataError, match="not in the run's data"):
        backtest_predictions(bad, tasks, close, DATES, TICKERS, strategy="top_k")
