"""Vectorised long/short backtest over a (date x ticker) grid.

Timing convention (no look-ahead): the weight ``w[t, n]`` is decided from predictions made
with data up to the close of date ``t`` and earns ``r[t, n]``, the simple return from the
close of ``t`` to the close of ``t + 1``. Row ``t`` of every daily output is the P&L of the
positions held over ``t -> t + 1``.

Costs: ``turnover[t] = sum_n |w[t, n] - w_drift[t-1, n]|`` where ``w_drift`` is yesterday's
weight after it drifted with yesterday's return (``w (1 + r) / (1 + portfolio return)``);
the first day's turnover is the entry. ``cost[t] = turnover[t] * (cost_bps + slippage_bps) / 1e4``
is charged on the day's return. The drift uses the pre-cost portfolio return, which keeps
the whole computation vectorised (the difference is second order in the cost rate).

Shapes: ``weights``, ``returns``: ``[D, N]`` float; NaN weights mean no position, NaN
returns mean no price (a position there earns 0).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from finmt_core.errors import DataError

PERIODS_PER_YEAR = 252


def finite_or_zero(x: np.ndarray) -> np.ndarray:
    """``x`` as float64 with NaN/inf replaced by 0; ``x`` itself (no copy) when already
    finite. One ``isfinite`` pass where ``np.nan_to_num`` makes three, which matters on
    ``[2520, 500]`` grids that every step of a backtest passes around."""
    a = np.asarray(x, dtype=np.float64)
    ok = np.isfinite(a)
    return a if ok.all() else np.where(ok, a, 0.0)


@dataclass
class BacktestResult:
    """Daily series ``[D]`` and positions ``[D, N]`` of one backtest, plus its metrics."""

    dates: pd.Index
    tickers: list[str]
    weights: np.ndarray
    turnover: np.ndarray
    costs: np.ndarray
    gross_returns: np.ndarray
    net_returns: np.ndarray
    benchmark_returns: np.ndarray
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)

    def frame(self) -> pd.DataFrame:
        """One row per decision date: returns, costs, turnover, exposures, equity and drawdown
        (strategy with and without costs, and the equal-weight buy-and-hold benchmark)."""
        df = pd.DataFrame(
            {
                "gross_return": self.gross_returns,
                "net_return": self.net_returns,
                "cost": self.costs,
                "turnover": self.turnover,
                "gross_exposure": np.abs(self.weights).sum(axis=1),
                "net_exposure": self.weights.sum(axis=1),
                "benchmark_return": self.benchmark_returns,
            },
            index=pd.Index(self.dates, name="date"),
        )
        for col, name in (("gross_return", "gross"), ("net_return", "net"), ("benchmark_return", "benchmark")):
            eq = np.cumprod(1.0 + df[col].to_numpy())
            df[f"equity_{name}"] = eq
            df[f"drawdown_{name}"] = drawdown(eq)
        return df

    def positions(self) -> pd.DataFrame:
        """Long frame of the non-zero positions: date, ticker, weight."""
        d, n = np.nonzero(self.weights)
        return pd.DataFrame({"date": self.dates[d], "ticker": np.asarray(self.tickers)[n], "weight": self.weights[d, n]})

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary: settings and metrics (net, gross, benchmark)."""
        return {"settings": self.settings, "metrics": self.metrics}


def drawdown(equity: np.ndarray) -> np.ndarray:
    """``equity / running max - 1`` (0 at new highs, negative below), with the start at 1.0."""
    peak = np.maximum.accumulate(np.maximum(equity, 1.0))
    return equity / peak - 1.0


def apply_exposure_limits(weights: np.ndarray, max_gross: float = 1.0, max_net: float = 1.0) -> np.ndarray:
    """Scale each date's weights so ``sum |w| <= max_gross`` and ``|sum w| <= max_net``.

    The gross cap scales the whole book; the net cap then scales down only the dominant side
    (longs when net long, shorts when net short), which can only lower gross further.
    """
    if max_gross <= 0 or max_net < 0:
        raise DataError(f"exposure limits must be positive (max_gross={max_gross}, max_net={max_net})")
    w = finite_or_zero(weights)
    gross = np.abs(w).sum(axis=1, keepdims=True)
    scale = np.minimum(1.0, np.divide(max_gross, gross, out=np.ones_like(gross), where=gross > 0))
    if (scale < 1.0).any():
        w = w * scale
    net = w.sum(axis=1, keepdims=True)
    if not (np.abs(net) > max_net).any():  # the common case: nothing to cap, no more passes
        return w
    long = np.where(w > 0, w, 0.0).sum(axis=1, keepdims=True)
    short = long - net
    scale_long = np.where(net > max_net, np.divide(max_net + short, long, out=np.ones_like(long), where=long > 0), 1.0)
    scale_short = np.where(-net > max_net, np.divide(max_net + long, short, out=np.ones_like(short), where=short > 0), 1.0)
    return w * np.where(w > 0, scale_long, scale_short)


def simulate(weights: np.ndarray, returns: np.ndarray, cost_bps: float = 10.0, slippage_bps: float = 0.0) -> dict[str, np.ndarray]:
    """Daily gross/net returns, turnover and costs of holding ``weights`` (see module doc)."""
    w = finite_or_zero(weights)
    r = finite_or_zero(returns)
    if w.shape != r.shape or w.ndim != 2:
        raise DataError(f"backtest: weights {w.shape} and returns {r.shape} must both be [dates, tickers]")
    if cost_bps < 0 or slippage_bps < 0:
        raise DataError("backtest: cost_bps and slippage_bps must be >= 0")
    gross = (w * r).sum(axis=1)
    # yesterday's weights after drifting with yesterday's returns (row 0: no prior book)
    drift = np.zeros_like(w)
    growth = 1.0 + gross[:-1, None]
    np.multiply(w[:-1], 1.0 + r[:-1], out=drift[1:])
    np.divide(drift[1:], growth, out=drift[1:], where=growth > 0)
    if (growth <= 0).any():  # a wiped-out book drifts to nothing
        drift[1:][(growth <= 0)[:, 0]] = 0.0
    np.subtract(w, drift, out=drift)  # drift now holds the trades
    turnover = np.abs(drift, out=drift).sum(axis=1)
    costs = turnover * (cost_bps + slippage_bps) * 1e-4
    return {"weights": w, "gross": gross, "net": gross - costs, "turnover": turnover, "costs": costs}


def equal_weight_buy_and_hold(returns: np.ndarray, cost_bps: float = 10.0) -> np.ndarray:
    """Daily returns ``[D]`` of buying every ticker priced on the first date in equal weight
    and holding (no rebalancing); the entry cost is charged on the first day."""
    r = np.asarray(returns, dtype=np.float64)
    held = np.isfinite(r[0])
    if not held.any():
        held = np.isfinite(r).any(axis=0)
    growth = np.cumprod(1.0 + finite_or_zero(r[:, held]), axis=0).mean(axis=1)  # value after day t
    prev = np.concatenate([[1.0], growth[:-1]])
    daily = growth / prev - 1.0
    daily[0] -= cost_bps * 1e-4
    return daily


def performance(
    daily: np.ndarray,
    *,
    turnover: np.ndarray | None = None,
    weights: np.ndarray | None = None,
    returns: np.ndarray | None = None,
    invested: np.ndarray | None = None,
    periods_per_year: int = PERIODS_PER_YEAR,
) -> dict[str, float]:
    """Total / annualised return, annualised volatility, Sharpe and Sortino (risk-free 0),
    max drawdown, Calmar, win rate (share of invested days with a positive return), profit
    factor, average daily turnover and, with ``weights`` and ``returns``, the position stats
    of :func:`position_stats`. ``invested`` ``[D]`` bool marks days holding a position
    (default: from ``weights``, else every day)."""
    x = np.asarray(daily, dtype=np.float64)
    n = len(x)
    nan = float("nan")
    if n == 0:
        return {"n_days": 0.0}
    equity = np.cumprod(1.0 + x)
    total = float(equity[-1] - 1.0)
    ann = float(equity[-1] ** (periods_per_year / n) - 1.0) if equity[-1] > 0 else -1.0
    sd = float(np.std(x, ddof=1)) if n > 1 else nan
    downside = float(np.sqrt(np.mean(np.minimum(x, 0.0) ** 2)))
    mdd = float(drawdown(equity).min())
    gains, losses = x[x > 0].sum(), -x[x < 0].sum()
    if invested is None:
        invested = np.abs(finite_or_zero(weights)).sum(axis=1) > 0 if weights is not None else np.ones(n, dtype=bool)
    out = {
        "n_days": float(n),
        "total_return": total,
        "annual_return": ann,
        "annual_vol": sd * np.sqrt(periods_per_year) if n > 1 else nan,
        "sharpe": float(np.mean(x) / sd * np.sqrt(periods_per_year)) if n > 1 and sd > 0 else nan,
        "sortino": float(np.mean(x) / downside * np.sqrt(periods_per_year)) if downside > 0 else nan,
        "max_drawdown": mdd,
        "calmar": ann / abs(mdd) if mdd < 0 else nan,
        "win_rate": float(np.mean(x[invested] > 0)) if invested.any() else nan,
        "profit_factor": float(gains / losses) if losses > 0 else nan,
    }
    if turnover is not None:
        out["avg_turnover"] = float(np.mean(turnover))
    if weights is not None and returns is not None:
        out.update(position_stats(weights, returns))
    return out


def position_stats(weights: np.ndarray, returns: np.ndarray) -> dict[str, float]:
    """Hit rate of individual positions (sign of the weight = sign of the next return) and
    average gross / net exposure."""
    w = finite_or_zero(weights)
    r = np.asarray(returns, dtype=np.float64)
    held = (w != 0) & np.isfinite(r)
    n_held = int(held.sum())
    # a held position hits when weight and return share a sign (w * r > 0; a zero return is a miss)
    hits = int(((w * np.where(held, r, 0.0)) > 0).sum())
    return {
        "hit_rate": hits / n_held if n_held else float("nan"),
        "avg_gross_exposure": float(np.abs(w).sum(axis=1).mean()),
        "avg_net_exposure": float(w.sum(axis=1).mean()),
    }


def run_backtest(
    weights: np.ndarray,
    returns: np.ndarray,
    dates: pd.DatetimeIndex | None = None,
    tickers: list[str] | None = None,
    *,
    cost_bps: float = 10.0,
    slippage_bps: float = 0.0,
    max_gross: float = 1.0,
    max_net: float = 1.0,
    periods_per_year: int = PERIODS_PER_YEAR,
    settings: dict[str, Any] | None = None,
) -> BacktestResult:
    """Apply exposure limits, simulate, and measure the strategy net and gross of costs next
    to the equal-weight buy-and-hold benchmark (charged the same cost rate on entry)."""
    w = apply_exposure_limits(weights, max_gross=max_gross, max_net=max_net)
    sim = simulate(w, returns, cost_bps=cost_bps, slippage_bps=slippage_bps)
    d, n = w.shape
    bench = equal_weight_buy_and_hold(returns, cost_bps=cost_bps + slippage_bps)
    invested = (w != 0).any(axis=1)
    pos = position_stats(w, returns)
    metrics = {
        "net": performance(sim["net"], turnover=sim["turnover"], invested=invested, periods_per_year=periods_per_year) | pos,
        "gross": performance(sim["gross"], turnover=sim["turnover"], invested=invested, periods_per_year=periods_per_year) | pos,
        "benchmark": performance(bench, periods_per_year=periods_per_year),
    }
    metrics["net"]["total_cost"] = float(sim["costs"].sum())
    info = {"cost_bps": cost_bps, "slippage_bps": slippage_bps, "max_gross": max_gross, "max_net": max_net,
            "timing": "weights at close t earn the close t -> t+1 return", **(settings or {})}
    return BacktestResult(
        dates=pd.Index(dates) if dates is not None else pd.RangeIndex(d),
        tickers=list(tickers) if tickers is not None else [str(i) for i in range(n)],
        weights=w, turnover=sim["turnover"], costs=sim["costs"], gross_returns=sim["gross"],
        net_returns=sim["net"], benchmark_returns=bench, metrics=metrics, settings=info,
    )
