"""Backtest a run's predictions: predictions frame -> target weights -> :func:`run_backtest`.

Returns come from the run's own prices: ``r[t, n] = close[t+1, n] / close[t, n] - 1`` (the
position decided at the close of t earns the next day; a missing next close earns 0).
Strategies (``strategy=``):

- ``signal_gated``: long Up / short Down calls of :func:`~finmt_core.inference.gating.signal_gated`
  at ``threshold``, equal weight;
- ``top_k`` / ``top_k_long``: rank by the predicted-return score (:func:`ranking_score`);
- ``sized``: weight ~ predicted magnitude x confidence;
- ``auto``: ``signal_gated`` when the run has gating heads, else ``top_k``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from finmt_core.errors import ConfigError, DataError
from finmt_core.evaluation.backtest import BacktestResult, run_backtest
from finmt_core.evaluation.frames import grid_positions, output_columns, point_prediction
from finmt_core.evaluation.strategies import STRATEGIES, weights_signal_gated, weights_sized, weights_top_k
from finmt_core.inference.gating import GatingPolicy, gate_arrays
from finmt_core.tasks import Task

#: Families whose prediction is a return-like score, in order of preference.
SCORE_FAMILIES = ("return", "quantiles", "relevance", "direction", "action")


def next_day_returns(close: np.ndarray) -> np.ndarray:
    """``[D, N]`` simple return from close t to close t+1 (NaN on the last date / gaps)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        r = close[1:] / close[:-1] - 1.0
    return np.vstack([r, np.full((1, close.shape[1]), np.nan)])


def ranking_score(df: pd.DataFrame, tasks: list[Task]) -> tuple[str, np.ndarray]:
    """The task used to rank stocks and its per-row score: the shortest-horizon task of the
    first family of :data:`SCORE_FAMILIES` the run has: predicted return, median quantile,
    relevance, P(Up) - 0.5 or P(Buy) - P(Sell) — signed, so > 0 means "expected up"."""
    for fam in SCORE_FAMILIES:
        cands = sorted((t for t in tasks if t.target == fam), key=lambda t: t.horizon)
        for t in cands:
            cols = output_columns(t)
            if all(c in df.columns for c in cols):
                vals = df[cols].to_numpy(dtype=np.float64)
                if t.kind == "regression":
                    return t.name, vals[:, 0]
                if t.kind == "quantile":
                    return t.name, point_prediction(t, vals)
                return t.name, (vals[:, 2] - vals[:, 0]) if fam == "action" else vals[:, -1] - 0.5
    raise DataError(f"no task to rank stocks by; the run's tasks are {[t.name for t in tasks]}")


def _confidence(df: pd.DataFrame, tasks: list[Task]) -> np.ndarray:
    """Per-row confidence in [0, 1] for sizing: the gating confidence when the run has gating
    heads, else the inverse relative width of the quantile interval, else 1."""
    policy = GatingPolicy.for_frame(df)
    if policy.can_gate:
        return policy.arrays(df, 0.0)[1]
    for t in tasks:
        if t.kind == "quantile" and all(c in df.columns for c in output_columns(t)):
            q = df[output_columns(t)].to_numpy(dtype=np.float64)
            width = np.maximum(q[:, -1] - q[:, 0], 1e-12)
            return np.clip(np.nanmedian(width) / width, 0.0, 1.0)
    return np.ones(len(df))


def _grid(values: np.ndarray, row: np.ndarray, n: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Scatter per-row ``values`` onto a ``shape`` = ``[days, N]`` grid (NaN where no row)."""
    out = np.full(shape, np.nan)
    out[row, n] = values
    return out


def backtest_predictions(
    df: pd.DataFrame,
    tasks: list[Task],
    close: np.ndarray,
    dates: pd.DatetimeIndex,
    tickers: list[str],
    *,
    strategy: str = "auto",
    k: int | None = None,
    threshold: float = 0.5,
    cost_bps: float = 10.0,
    slippage_bps: float = 0.0,
    max_gross: float = 1.0,
    max_net: float = 1.0,
) -> BacktestResult:
    """Backtest the rows of ``df`` (one predictions split) on the (date x ticker) grid of ``close``.

    Args:
        df: predictions rows (``date``, ``ticker`` + task columns).
        close: ``[D, N]`` closes on ``dates`` x ``tickers`` (the run's DensePanel).
        k: names per side for top-k (default 10% of the tickers, at least 1).
    """
    if strategy == "auto":
        strategy = "signal_gated" if GatingPolicy.for_frame(df).can_gate else "top_k"
    if strategy not in STRATEGIES:
        raise ConfigError(f"unknown backtest strategy {strategy!r}; choose auto or one of {', '.join(STRATEGIES)}")
    if df.empty:
        raise DataError("no prediction rows to backtest (is the test segment empty?)")
    d, n = grid_positions(df, pd.DatetimeIndex(dates), list(tickers))
    if (d < 0).any() or (n < 0).any():
        raise DataError("predictions name dates or tickers that are not in the run's data")
    # the dates that have rows, and each row's position among them (bincount: no sort)
    days = np.flatnonzero(np.bincount(d, minlength=len(dates)))
    day_pos = np.full(len(dates), -1, dtype=np.int64)
    day_pos[days] = np.arange(len(days))
    row = day_pos[d]
    shape = (len(days), len(tickers))
    settings: dict[str, Any] = {"strategy": strategy}
    if strategy == "signal_gated":
        code = gate_arrays(df, threshold)[0].astype(np.float64)
        w = weights_signal_gated(np.nan_to_num(_grid(code, row, n, shape)))
        settings["threshold"] = threshold
    elif strategy in ("top_k", "top_k_long"):
        task, score = ranking_score(df, tasks)
        k = k or max(1, round(0.1 * len(tickers)))
        w = weights_top_k(_grid(score, row, n, shape), k, long_short=strategy == "top_k")
        settings.update(k=k, score_task=task)
    else:
        task, score = ranking_score(df, tasks)
        conf = _confidence(df, tasks)
        w = weights_sized(_grid(score, row, n, shape), _grid(conf, row, n, shape))
        settings["score_task"] = task
    returns = next_day_returns(close)[days]
    return run_backtest(w, returns, pd.DatetimeIndex(dates)[days], list(tickers), cost_bps=cost_bps, slippage_bps=slippage_bps,
                        max_gross=max_gross, max_net=max_net, settings=settings)
