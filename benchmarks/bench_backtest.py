"""Figure 6 — backtest of 500 stocks x 2,520 days with costs and sizing: target <= 100 ms.

Two figures, both with the target:

* ``backtest_<size>``: the engine on arrays — the regression-sized strategy
  (``weights_sized``: predicted return x confidence) and ``run_backtest`` with transaction
  costs, slippage and gross/net exposure limits, which also computes every metric gross and
  net of costs and the equal-weight benchmark;
* ``backtest_frame_<size>``: the path the dashboard and ``finmt backtest`` take from a
  predictions frame (one row per (date, stock) with ``return_pred`` and the signal/direction
  probabilities that give the sizing confidence): ``backtest_predictions(strategy="sized")``,
  which also maps the rows onto the (date x stock) grid and derives next-day returns from
  the closes.

Inputs (random, seeded, built outside the timing): closes from a random walk with fat tails
(~2 % daily vol, 1 % of prices missing) and predictions weakly correlated with the next return.
"""

from __future__ import annotations

import numpy as np

from benchmarks.harness import Result, time_repeats

TARGET_MS = 100.0
TARGET_SIZE = (500, 2520)
SEED = 11


def _inputs(n_stocks: int, n_days: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Closes ``[D, N]``, predicted next-day returns and a confidence in [0.5, 1] (float64)."""
    rng = np.random.default_rng(SEED)
    rets = rng.standard_t(5, size=(n_days, n_stocks)) * 0.02 / np.sqrt(5 / 3)
    close = 100.0 * np.exp(np.cumsum(rets, axis=0))
    close[rng.random(close.shape) < 0.01] = np.nan
    nxt = np.vstack([rets[1:], np.zeros((1, n_stocks))])
    pred = 0.1 * nxt + rng.normal(0.0, 0.02, size=nxt.shape)
    confidence = rng.uniform(0.5, 1.0, size=nxt.shape)
    return close, pred, confidence


def _frame(close: np.ndarray, pred: np.ndarray, conf: np.ndarray) -> tuple[object, list, object, list[str]]:
    """A predictions frame (date, ticker, return_pred, signal/direction probabilities) of every
    row with a price, its tasks, and the grid's dates and tickers. ``ticker`` is categorical,
    as ``predictions.parquet`` gives it back."""
    import pandas as pd

    from finmt_core.tasks import Task

    n_days, n_stocks = close.shape
    dates = pd.bdate_range("2015-01-02", periods=n_days)
    tickers = [f"S{i:04d}" for i in range(n_stocks)]
    d, n = np.nonzero(np.isfinite(close))
    p_up = 1.0 / (1.0 + np.exp(-50.0 * pred[d, n]))
    df = pd.DataFrame({
        "date": dates[d], "ticker": pd.Categorical.from_codes(n, categories=tickers), "split": "test",
        "return_pred": pred[d, n],
        "signal_prob_Noise": 1.0 - conf[d, n], "signal_prob_Signal": conf[d, n],
        "direction_prob_Down": 1.0 - p_up, "direction_prob_Up": p_up,
    })
    tasks = [Task(name="return", target="return", horizon=1), Task(name="signal", target="signal", horizon=1),
             Task(name="direction", target="direction", horizon=1, mask_by="signal")]
    return df, tasks, dates, tickers


def run(workdir: str, n_stocks: int, n_days: int, repeats: int) -> list[Result]:
    from finmt_core.evaluation.backtest import run_backtest
    from finmt_core.evaluation.run_backtest import backtest_predictions, next_day_returns
    from finmt_core.evaluation.strategies import weights_sized

    close, pred, confidence = _inputs(n_stocks, n_days)
    returns = next_day_returns(close)
    df, tasks, dates, tickers = _frame(close, pred, confidence)
    limits = {"cost_bps": 10.0, "slippage_bps": 5.0, "max_gross": 1.0, "max_net": 0.5}

    def engine() -> None:
        weights = weights_sized(pred, confidence, min_abs=0.001)
        run_backtest(weights, returns, dates=dates, tickers=tickers, settings={"strategy": "sized"}, **limits)

    def from_frame() -> None:
        backtest_predictions(df, tasks, close, dates, tickers, strategy="sized", **limits)

    size = f"{n_stocks}x{n_days}"
    target = TARGET_MS if (n_stocks, n_days) == TARGET_SIZE else None
    costs = "10 bps cost + 5 bps slippage, gross 1 / net 0.5 limits, metrics gross + net + benchmark"
    return [
        Result(f"backtest_{size}", "ms", [t * 1e3 for t in time_repeats(engine, repeats, warmup=1)], target, "lower",
               note=f"{n_stocks} x {n_days} arrays: weights_sized + run_backtest ({costs})"),
        Result(f"backtest_frame_{size}", "ms", [t * 1e3 for t in time_repeats(from_frame, repeats, warmup=1)], target,
               "lower", note=f"{len(df):,}-row predictions frame: backtest_predictions(strategy='sized') ({costs})"),
    ]
