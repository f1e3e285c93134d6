"""The models behind ``finmt serve``: every run loaded once, its data prepared once.

:class:`ModelService` holds one :class:`ServedRun` per run: the run's :class:`Predictor`
(checkpoint weights, scaler, graph) and the panel it predicts on (``--data`` for every run, or
each run's own data), prepared at start-up so that a request only selects rows and runs the
model on them — one batch for all requested tickers, no reload, no re-featurisation (a what-if
recomputes the one shocked stock, see :mod:`finmt_core.inference.whatif`).

The numbers are those of ``finmt predict RUN --data ... --date ...``: the same
:meth:`Predictor.predict` and the same signal gating.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from finmt_core.errors import DataError, RunError
from finmt_core.run import Run
from finmt_core.training.runs import RunDir

if TYPE_CHECKING:
    from finmt_core.data.prepare import PreparedData
    from finmt_core.inference.predictor import Predictor

log = logging.getLogger(__name__)


class UnknownRun(RunError):
    """A request named a run the service does not serve (HTTP 404)."""


class UnknownTicker(DataError):
    """A request named tickers that are not in the served data (HTTP 422)."""


@dataclass
class ServedRun:
    """One loaded run: its predictor, the panel it predicts on and where that came from."""

    name: str
    predictor: Predictor
    panel: pd.DataFrame
    data: str
    tickers: frozenset[str]

    @property
    def prepared(self) -> PreparedData:
        """The panel's features scaled with the run's scaler (cached by the predictor)."""
        return self.predictor.prepare(self.panel)


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Prediction rows as JSON-ready dicts: no split / target columns, NaN -> None, dates as
    dates, numbers as Python floats (float32 outputs widened exactly). Column-wise on plain
    lists: pandas' per-frame overhead would cost more than the model on a one-row answer."""
    keep = [c for c in df.columns if c != "split" and not c.endswith("_target")]
    columns: list[list[Any]] = []
    for c in keep:
        col = df[c]
        if c == "date":
            values: list[Any] = [d.date() for d in pd.DatetimeIndex(col)]
        elif pd.api.types.is_numeric_dtype(col.dtype) and not pd.api.types.is_bool_dtype(col.dtype):
            arr = col.to_numpy(np.float64, na_value=np.nan)
            values = [v if np.isfinite(v) else None for v in arr.tolist()]
        else:
            values = [None if pd.isna(v) else (v if isinstance(v, bool) else str(v)) for v in col.tolist()]
        columns.append(values)
    return [dict(zip(keep, row)) for row in zip(*columns)]


def _change_table(table: pd.DataFrame) -> dict[str, dict[str, float | None]]:
    cols = table[["before", "after", "difference"]].astype(float)
    return {str(k): {c: (None if not np.isfinite(v) else float(v)) for c, v in row.items()}
            for k, row in cols.iterrows()}


class ModelService:
    """Runs served by name. Build with :meth:`load`; every method is read-only on the runs."""

    def __init__(self, runs: Sequence[ServedRun]) -> None:
        if not runs:
            raise RunError("finmt serve needs at least one run")
        self.runs: dict[str, ServedRun] = {r.name: r for r in runs}
        self.started = time.monotonic()

    @classmethod
    def load(cls, run_dirs: Sequence[str | Path | RunDir], panel: pd.DataFrame | None = None,
             data_label: str | None = None) -> ModelService:
        """Load each run (:meth:`Run.predictor`) and prepare its data once.

        Args:
            run_dirs: run directories (or :class:`~finmt_core.run.Run` objects).
            panel: the panel every run predicts on (``--data``); None = each run's own data
                (:meth:`Run.panel`: its panel.parquet, or the regenerated demo/synthetic market).
            data_label: how ``panel`` is described in ``GET /runs``.
        """
        from finmt_core.training.walk_forward import walk_forward_parent

        served: list[ServedRun] = []
        for run_dir in run_dirs:
            t0 = time.perf_counter()
            run = Run.of(run_dir)
            predictor = run.predictor()
            parent = walk_forward_parent(run)  # a walk-forward run is served by its last fold
            name = parent.name if parent is not None else run.name
            if name in {s.name for s in served}:
                raise RunError(f"run {name!r} is given twice; serve each run once")
            if panel is None:
                run_panel, label = run.panel(), f"the run's own data ({predictor.config.data.source})"
            else:
                run_panel, label = panel, data_label or str(panel.attrs.get("source", "--data"))
            predictor.prepare(run_panel)  # features + scaling once, now (cached for requests)
            tickers = frozenset(map(str, run_panel.index.get_level_values("ticker").unique()))
            served.append(ServedRun(name, predictor, run_panel, label, tickers))
            log.info("serving %s (%s, %d tickers) loaded in %.1f s", name, predictor.config.model.name, len(tickers),
                     time.perf_counter() - t0)
        return cls(served)

    def get(self, name: str | None) -> ServedRun:
        """The run called ``name`` (may be None when exactly one run is served)."""
        if name is None:
            if len(self.runs) == 1:
                return next(iter(self.runs.values()))
            raise UnknownRun(f"several runs are served ({', '.join(self.runs)}): say which with \"run\"")
        if name not in self.runs:
            raise UnknownRun(f"run {name!r} is not served here; served: {', '.join(self.runs)} (GET /runs)")
        return self.runs[name]

    def _check_tickers(self, served: ServedRun, tickers: Sequence[str]) -> None:
        unknown = [t for t in tickers if t not in served.tickers]
        if unknown:
            known = sorted(served.tickers)
            raise UnknownTicker(f"unknown ticker(s) {', '.join(unknown[:10])} for run {served.name!r}; it serves "
                                f"{len(known)} tickers ({', '.join(known[:8])}{' ...' if len(known) > 8 else ''})")

    def predict(self, run: str | None, tickers: Sequence[str] | None = None, date: Any = None,
                threshold: float = 0.5) -> dict[str, Any]:
        """``{run, model, date, predictions: [row, ...], missing: [ticker, ...]}``.

        ``date`` None = the latest date of the data (``finmt predict``'s default); tickers
        without a full input window on that date are listed in ``missing``."""
        served = self.get(run)
        if tickers is not None:
            self._check_tickers(served, tickers)
        p = served.predictor
        when = "latest" if date is None else pd.Timestamp(date)
        df = p.gating.gate_if_possible(p.predict(served.panel, dates=when, tickers=tickers), threshold)
        got = set(df["ticker"].astype(str))
        return {"run": served.name, "model": p.config.model.name, "date": pd.Timestamp(df["date"].iloc[0]).date(),
                "predictions": _records(df), "missing": [t for t in (tickers or []) if t not in got]}

    def what_if(self, run: str | None, ticker: str, shocks: dict[str, float], date: Any = None) -> dict[str, Any]:
        """Before / after predictions of one stock under ``shocks`` (Predictor.what_if)."""
        served = self.get(run)
        self._check_tickers(served, [ticker])
        res = served.predictor.what_if(served.panel, ticker, None if date is None else pd.Timestamp(date), shocks)
        feats = res.features
        moved = feats[(feats["difference"].abs() > 0) | (feats["before"].isna() != feats["after"].isna())]
        return {"run": served.name, "ticker": ticker, "date": pd.Timestamp(res.date).date(), "shocks": dict(shocks),
                "outputs": _change_table(res.table), "features": _change_table(moved),
                "elapsed_ms": float(res.elapsed_ms), "notes": list(res.notes)}

    def describe(self) -> list[dict[str, Any]]:
        """``GET /runs``: each run's model, tasks, window and served data."""
        out = []
        for s in self.runs.values():
            cfg, prepared = s.predictor.config, s.prepared
            out.append({
                "name": s.name, "model": cfg.model.name, "window": cfg.data.window, "tickers": len(s.tickers),
                "tasks": [{"name": t.name, "kind": t.kind, "horizon": t.horizon, "classes": list(t.classes or [])}
                          for t in s.predictor.tasks],
                "first_date": prepared.dates[0].date(), "last_date": prepared.dates[-1].date(), "data": s.data,
            })
        return out

    def uptime_s(self) -> float:
        return time.monotonic() - self.started
