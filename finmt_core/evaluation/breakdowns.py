"""Where does a model work? Metrics broken down by market regime, ticker and horizon, and
the correlation between the tasks' predictions.

Regimes come from realised market conditions known at each date: the equal-weight market's
trailing return and volatility over :data:`REGIME_WINDOW` days. The cut-offs (volatile =
trailing vol above 1.5x its train-segment median; bull / bear = trailing return beyond
±0.5 train-segment standard deviations) are fitted on the train dates only.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from finmt_core.evaluation.frames import TaskRows, point_prediction
from finmt_core.evaluation.metrics import HEADLINE, per_date_ic, score_task
from finmt_core.tasks import Task

log = logging.getLogger(__name__)

REGIME_WINDOW = 20
REGIMES = ("Bear", "Sideways", "Bull", "Volatile")
#: Smallest number of rows a breakdown cell needs to be reported.
MIN_ROWS = 20


def market_regimes(close: np.ndarray, dates: pd.DatetimeIndex, train_idx: np.ndarray, window: int = REGIME_WINDOW) -> pd.Series:
    """Regime label of every date (``[D]`` Series indexed by date; NaN during warm-up).

    Args:
        close: ``[D, N]`` close prices (NaN where missing).
        dates: the D dates.
        train_idx: date indices of the train segment (where the cut-offs are fitted).
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        logret = np.log(close[1:] / close[:-1])
    mkt = np.concatenate([[np.nan], np.nanmean(np.where(np.isfinite(logret), logret, np.nan), axis=1)]) if close.shape[0] > 1 else np.full(close.shape[0], np.nan)
    s = pd.Series(mkt, index=dates)
    trail_ret = s.rolling(window, min_periods=window).sum()
    trail_vol = s.rolling(window, min_periods=window).std()
    tr = np.asarray(train_idx, dtype=np.int64)
    vol_cut = 1.5 * float(np.nanmedian(trail_vol.to_numpy()[tr])) if len(tr) else np.nan
    ret_cut = 0.5 * float(np.nanstd(trail_ret.to_numpy()[tr])) if len(tr) else np.nan
    out = np.where(trail_ret > ret_cut, "Bull", np.where(trail_ret < -ret_cut, "Bear", "Sideways")).astype(object)
    out[trail_vol.to_numpy() > vol_cut] = "Volatile"
    out[~np.isfinite(trail_ret.to_numpy()) | ~np.isfinite(trail_vol.to_numpy())] = np.nan
    return pd.Series(out, index=dates, name="regime")


def _headline(task: Task, rows: TaskRows, sel: np.ndarray) -> dict[str, float]:
    name, _ = HEADLINE[task.kind]
    m = score_task(task, rows.y[sel], rows.pred[sel], rows.dates[sel])
    keys = [name]
    keys += ["directional_accuracy", "mae"] if task.kind == "regression" else []
    keys += ["balanced_accuracy"] if task.kind == "classification" else []
    keys += ["coverage", "median_ic"] if task.kind == "quantile" else []
    return {k: m.get(k, float("nan")) for k in keys} | {"n": float(sel.sum())}


def by_regime(task: Task, rows: TaskRows, regimes: pd.Series) -> dict[str, dict[str, float]]:
    """Headline metrics of ``task`` on the rows of each regime (cells with < MIN_ROWS skipped)."""
    lab = regimes.reindex(pd.DatetimeIndex(rows.dates)).to_numpy()
    out = {}
    for reg in REGIMES:  # four regimes, not rows
        sel = lab == reg
        if sel.sum() >= MIN_ROWS:
            out[reg] = _headline(task, rows, sel)
    return out


def by_ticker(task: Task, rows: TaskRows) -> pd.DataFrame:
    """Per-ticker metrics with one groupby: accuracy (classification) or MAE and directional
    accuracy (regression / the median of quantile tasks); plus row counts."""
    point = point_prediction(task, rows.pred)
    df = pd.DataFrame({"ticker": rows.tickers})
    if task.kind == "classification":
        df["accuracy"] = (point == rows.y).astype(np.float64)
    else:
        df["mae"] = np.abs(point - rows.y)
        nz = rows.y != 0
        df["directional_accuracy"] = np.where(nz, (np.sign(point) == np.sign(rows.y)).astype(np.float64), np.nan)
    g = df.groupby("ticker", sort=True)
    out = g.mean()
    out["n"] = g.size()
    return out


def by_horizon(tasks: list[Task], rows: dict[str, TaskRows], task_metrics: dict[str, dict[str, float]]) -> dict[str, Any]:
    """For each target family predicted at several horizons: the headline metric per horizon
    and the rank correlation between the horizons' predictions on their shared rows
    (multi-horizon consistency)."""
    fams: dict[str, list[Task]] = {}
    for t in tasks:
        fams.setdefault(t.target, []).append(t)
    out: dict[str, Any] = {}
    for fam, ts in fams.items():
        if len({t.horizon for t in ts}) < 2:
            continue
        metric, _ = HEADLINE[ts[0].kind]
        entry: dict[str, Any] = {"metric": metric, "by_horizon": {str(t.horizon): task_metrics[t.name].get(metric) for t in ts}}
        scores = {}
        for t in ts:
            r = rows[t.name]
            scores[t.name] = pd.Series(_score(t, r.pred), index=pd.MultiIndex.from_arrays([r.dates, r.tickers]))
        corr = pd.DataFrame(scores).dropna().corr(method="spearman")
        entry["prediction_correlation"] = corr.round(6).to_dict()
        out[fam] = entry
    return out


def _score(task: Task, pred: np.ndarray) -> np.ndarray:
    """One number per row summarising a task's prediction (for cross-task correlation): the
    value / median for regression and quantiles, P(last class) for binary tasks,
    P(Buy) - P(Sell) for action, the expected class index otherwise."""
    if task.kind == "regression":
        return pred
    if task.kind == "quantile":
        return point_prediction(task, pred)
    if pred.shape[1] == 2:
        return pred[:, 1]
    if task.target == "action":
        return pred[:, 2] - pred[:, 0]
    return pred @ np.arange(pred.shape[1], dtype=np.float64)


def cross_task_correlation(tasks: list[Task], rows: dict[str, TaskRows]) -> pd.DataFrame:
    """Spearman correlation between the tasks' per-row prediction scores (see :func:`_score`)
    on the rows they share: e.g. predicted return vs P(Buy)."""
    cols = {}
    for t in tasks:
        r = rows[t.name]
        if len(r):
            cols[t.name] = pd.Series(_score(t, r.pred), index=pd.MultiIndex.from_arrays([r.dates, r.tickers]))
    if len(cols) < 2:
        return pd.DataFrame()
    return pd.DataFrame(cols).corr(method="spearman", min_periods=MIN_ROWS)


def ic_series(task: Task, rows: TaskRows) -> pd.Series:
    """Per-date IC of a regression / quantile task's point prediction (empty for classification)."""
    if task.kind == "classification" or len(rows) == 0:
        return pd.Series(dtype=np.float64)
    return per_date_ic(rows.dates, rows.y, point_prediction(task, rows.pred))
