"""Breakdowns by regime, ticker, horizon and across tasks, on hand-made rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from finmt_core.evaluation import breakdowns as bd
from finmt_core.evaluation.frames import TaskRows
from finmt_core.tasks import make_task


def _rows(n_dates: int = 30, n_tk: int = 4, seed: int = 0, kind: str = "regression") -> TaskRows:
    rng = np.random.default_rng(seed)
    dates = np.repeat(pd.bdate_range("2021-01-04", periods=n_dates).to_numpy(), n_tk)
    tickers = np.tile(np.array([f"T{i}" for i in range(n_tk)]), n_dates)
    y = rng.normal(size=len(dates))
    if kind == "classification":
        p = rng.dirichlet(np.ones(2), len(dates))
        return TaskRows(y=(y > 0).astype(np.int64), pred=p, dates=dates, tickers=tickers, index=np.arange(len(dates)))
    return TaskRows(y=y, pred=y + rng.normal(size=len(dates)), dates=dates, tickers=tickers, index=np.arange(len(dates)))


def test_market_regimes_from_realised_conditions() -> None:
    d = 200
    dates = pd.bdate_range("2020-01-01", periods=d)
    drift = np.r_[np.zeros(100), np.full(50, 0.01), np.full(50, -0.01)]  # flat, then up, then down
    rng = np.random.default_rng(0)
    logp = np.cumsum(drift[:, None] + 0.002 * rng.normal(size=(d, 3)), axis=0)
    reg = bd.market_regimes(np.exp(logp), dates, train_idx=np.arange(100))
    assert reg.iloc[:bd.REGIME_WINDOW].isna().all()  # warm-up
    assert (reg.iloc[140:150] == "Bull").all() and (reg.iloc[190:200] == "Bear").all()
    assert set(reg.dropna()) <= set(bd.REGIMES)


def test_by_ticker_matches_a_hand_groupby() -> None:
    t = make_task("return")
    r = _rows()
    out = bd.by_ticker(t, r)
    sel = r.tickers == "T2"
    assert out.loc["T2", "mae"] == pytest.approx(np.mean(np.abs(r.pred[sel] - r.y[sel])))
    assert out.loc["T2", "n"] == sel.sum()
    c = bd.by_ticker(make_task("direction"), _rows(kind="classification"))
    assert set(c.columns) == {"accuracy", "n"}


def test_by_regime_skips_small_cells() -> None:
    t = make_task("return")
    r = _rows(n_dates=30)
    dates = pd.DatetimeIndex(np.unique(r.dates))
    reg = pd.Series(["Bull"] * 26 + ["Bear"] * 4, index=dates)  # Bear: 16 rows < MIN_ROWS
    out = bd.by_regime(t, r, reg)
    assert set(out) == {"Bull"} and out["Bull"]["n"] == 104
    assert "ic" in out["Bull"]


def test_by_horizon_and_cross_task_correlation() -> None:
    t1, t5 = make_task("return", 1), make_task("return", 5, name="return_5d")
    r1, r5 = _rows(seed=1), _rows(seed=1)
    r5 = TaskRows(y=r5.y, pred=2 * r1.pred + 1, dates=r5.dates, tickers=r5.tickers, index=r5.index)
    out = bd.by_horizon([t1, t5], {"return": r1, "return_5d": r5}, {"return": {"ic": 0.1}, "return_5d": {"ic": 0.2}})
    assert out["return"]["by_horizon"] == {"1": 0.1, "5": 0.2}
    assert out["return"]["prediction_correlation"]["return"]["return_5d"] == pytest.approx(1.0)
    d = make_task("direction")
    rd = _rows(seed=1, kind="classification")
    rd = TaskRows(y=rd.y, pred=np.c_[1 - (r1.pred > 0), (r1.pred > 0)].astype(float) * 0.8 + 0.1, dates=rd.dates,
                  tickers=rd.tickers, index=rd.index)
    corr = bd.cross_task_correlation([t1, d], {"return": r1, "direction": rd})
    assert corr.loc["return", "direction"] > 0.5
    assert bd.cross_task_correlation([t1], {"return": r1}).empty
