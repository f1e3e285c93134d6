"""Predictions -> alphalens' ``factor_data`` (``finmt export RUN --to alphalens``).

The layout of ``alphalens.utils.get_clean_factor_and_forward_returns``: index
``MultiIndex(date, asset)``; columns the forward returns ``1D``, ``5D``, ... (simple returns
close t -> close t+h, from the run's own prices), ``factor`` (the model's prediction made at
close t), ``factor_quantile`` (1 = lowest, per date, equal counts) and ``group`` (sector)
when the data has sectors. Rows without a factor or with any forward return unknown (the
last h days) are dropped, as alphalens does. Written as parquet or CSV (by suffix); alphalens
itself is not needed: ``alphalens.tears.create_full_tear_sheet(pd.read_parquet(path))``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd

from finmt_core.errors import DataError
from finmt_core.evaluation.frames import grid_positions
from finmt_core.inference.output_columns import parse_output
from finmt_core.tasks import Task
from finmt_core.training.runs import RunDir

log = logging.getLogger(__name__)

DEFAULT_PERIODS = (1, 5, 10)
DEFAULT_QUANTILES = 5
SPLITS = ("test", "val", "all")


def default_factor(tasks: Sequence[Task], columns: Sequence[str]) -> str:
    """The prediction column used as the factor: the first regression task's prediction, else a
    quantile task's median, else the probability of ``Up`` of a classification task."""
    cols = set(columns)
    for kinds in (("regression",), ("quantile",)):
        for t in tasks:
            if t.kind in kinds and f"{t.name}_pred" in cols:
                return f"{t.name}_pred"
    for t in tasks:
        if t.kind == "classification" and f"{t.name}_prob_Up" in cols:
            return f"{t.name}_prob_Up"
    names = [t.name for t in tasks]
    raise DataError("no prediction column can serve as a factor (no regression or quantile task, no "
                    "classification task with an 'Up' class); pass --factor with one of: "
                    + ", ".join(c for c in columns if parse_output(c, names).kind in ("prediction", "probability")))


def forward_returns(close: np.ndarray, periods: Sequence[int]) -> dict[str, np.ndarray]:
    """``{"<h>D": [D, N]}`` simple returns close t -> close t+h (NaN past the end or where a price is missing)."""
    out = {}
    for h in periods:
        fwd = np.full_like(close, np.nan, dtype=np.float64)
        fwd[:-h] = close[h:] / close[:-h] - 1.0
        out[f"{h}D"] = fwd
    return out


def factor_quantiles(factor: pd.Series, dates: pd.Series, quantiles: int) -> np.ndarray:
    """``[rows]`` int 1..quantiles: equal-count buckets of the factor within each date (ties by order)."""
    pct = factor.groupby(dates.to_numpy()).rank(method="first", pct=True)
    return np.clip(np.ceil(pct.to_numpy() * quantiles), 1, quantiles).astype(np.int64)


def factor_data(run: RunDir, *, factor: str | None = None, periods: Sequence[int] = DEFAULT_PERIODS,
                quantiles: int = DEFAULT_QUANTILES, split: str = "test") -> pd.DataFrame:
    """Build the alphalens ``factor_data`` frame of ``run`` (see the module doc).

    Raises:
        DataError: unknown split/factor column, bad periods or quantiles, or no rows left.
    """
    from finmt_core.run import Run

    if split not in SPLITS:
        raise DataError(f"split {split!r} is not one of {', '.join(SPLITS)}")
    if not periods or min(periods) < 1:
        raise DataError(f"forward-return periods must be whole days >= 1, got {list(periods)}")
    if quantiles < 2:
        raise DataError(f"quantiles must be >= 2, got {quantiles}")
    preds = run.predictions()
    if split != "all":
        preds = preds[preds["split"] == split]
    tasks = run.config().tasks
    column = factor or default_factor(tasks, list(preds.columns))
    if column not in preds.columns:
        raise DataError(f"factor column {column!r} is not in {run.name}/predictions.parquet; choose one of "
                        + ", ".join(c for c in preds.columns if c not in ("date", "ticker", "split")))
    source = Run.of(run)  # the run's data, rebuilt once
    panel, prepared = source.panel(), source.data()
    d, n = grid_positions(preds, prepared.dates, prepared.tickers)
    on_grid = (d >= 0) & (n >= 0)
    preds, d, n = preds[on_grid], d[on_grid], n[on_grid]
    out = pd.DataFrame({k: v[d, n] for k, v in forward_returns(prepared.dense.close, periods).items()})
    out["factor"] = preds[column].to_numpy(dtype=np.float64)
    out.index = pd.MultiIndex.from_arrays([pd.DatetimeIndex(preds["date"].to_numpy()),
                                           pd.Index(preds["ticker"].astype(str).to_numpy())], names=["date", "asset"])
    if "sector" in panel.columns:
        sector = panel["sector"].droplevel("date").groupby(level="ticker").last()
        out["group"] = sector.reindex(out.index.get_level_values("asset")).to_numpy()
    keep = out.drop(columns=[c for c in ("group",) if c in out]).notna().all(axis=1)
    dropped = int((~keep).sum())
    out = out[keep]
    if out.empty:
        raise DataError(f"no {split} rows of run {run.name!r} have both a factor and every forward return "
                        f"{', '.join(f'{h}D' for h in periods)}; use shorter --periods or --split all")
    out["factor_quantile"] = factor_quantiles(out["factor"], out.index.get_level_values("date").to_series(), quantiles)
    log.info("factor_data of %s: %d rows (%d dropped without factor or forward return), factor %s",
             run.name, len(out), dropped, column)
    cols = [c for c in out.columns if c.endswith("D")] + ["factor", "factor_quantile"] + (["group"] if "group" in out else [])
    return out.sort_index()[cols]
