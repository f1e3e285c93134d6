"""``Run``: one trained run as one typed object — the room every reader of a run goes through.

A :class:`Run` is a :class:`~finmt_core.training.runs.RunDir` (so it has every file accessor:
``config()``, ``status()``, ``metrics()``, ``evaluation()`` ...) plus what used to be put
together again by the CLI, the dashboard, the report, the evaluation and the server:

- ``predictions(split)``: predictions.parquet, optionally one split's rows;
- ``data()`` / ``panel()``: the run's :class:`PreparedData` and panel, rebuilt once and cached;
- ``predictor()``: the run's :class:`Predictor` (built once; it shares ``data()``);
- ``backtest(split, **settings)``, ``evaluate(**options)``, ``latest_predictions()``;
- ``gating``: the run's :class:`GatingPolicy` (rule, labels, gating task, ``can_gate``), and
  ``with_outcome(rows)``: rows plus the realised return over the gating task's horizon;
- ``explain_batch(date, ticker)`` / ``explain_sample(n_rows)``: the model's input batch for
  explanations (:class:`ExplainBatch`), built in one place for the dashboard and the report.

A Run reads files and caches only what does not change for the run's current checkpoint and
config (its data and predictor); callers that watch a run while it trains (the dashboard) key
one Run per checkpoint stamp. ``import finmt_core.run`` pulls in no torch: the predictor, the
evaluation and the backtest are imported when first used.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from finmt_core.errors import RunError
from finmt_core.inference.gating import GatingPolicy
from finmt_core.training.runs import RunDir, open_run

if TYPE_CHECKING:
    from torch import Tensor

    from finmt_core.data.prepare import PreparedData
    from finmt_core.evaluation.backtest import BacktestResult
    from finmt_core.inference.predictor import Predictor

#: Rows per explanation batch (a graph batch holds whole dates).
EXPLAIN_BATCH_ROWS = 100_000


@dataclass
class ExplainBatch:
    """The model's input for explaining some rows of the run's own data.

    Attributes:
        predictor: the run's predictor (``.model`` for nets, ``.estimator`` for estimators).
        prepared: the run's PreparedData.
        batch: the batch dict of the rows (``make_inference_batches``; graph models: whole dates).
        nodes: graph models only: ``[k]`` int64 batch rows whose outputs are explained; None otherwise.
        date_idx: ``[n]`` int64 date positions of the explained rows in ``prepared``.
        ticker_idx: ``[n]`` int64 ticker positions.
    """

    predictor: Predictor
    prepared: PreparedData
    batch: dict[str, Any]
    nodes: Tensor | None
    date_idx: np.ndarray
    ticker_idx: np.ndarray


class Run(RunDir):
    """A run directory with its config, predictions, data, predictor, backtest, evaluation,
    explanation batches and gating policy (see the module doc). Thread-safe: the cached data
    and predictor are built once even when several threads (dashboard sessions) ask at once."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(path)
        self._cache_lock = threading.RLock()
        self._panel: pd.DataFrame | None = None
        self._data: PreparedData | None = None
        self._predictor: Predictor | None = None
        self._predictions: tuple[tuple[int, int], pd.DataFrame] | None = None

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r})"

    # ---- finding a run ------------------------------------------------------------------------
    @classmethod
    def of(cls, run: str | Path | RunDir) -> Run:
        """``run`` as a Run (itself when it already is one)."""
        return run if isinstance(run, Run) else cls(run.path if isinstance(run, RunDir) else run)

    @classmethod
    def open(cls, root: str | Path, name: str) -> Run:
        """The existing run ``name`` under ``root`` (RunError naming the runs there when not)."""
        return cls(open_run(root, name).path)

    @classmethod
    def resolve(cls, run: str | Path, root: str | Path, *, last_fold: bool = True) -> Run:
        """A run given as a directory path or as a name under ``root`` (the CLI's RUN
        argument). A walk-forward run resolves to its last fold (its model and test segment,
        :func:`~finmt_core.training.walk_forward.analysis_run`) unless ``last_fold=False``."""
        from finmt_core.training.walk_forward import analysis_run

        p = Path(run)
        found = cls(p) if (p / "config.yaml").is_file() else cls.open(root, str(run))
        return cls(analysis_run(found).path) if last_fold else found

    # ---- files --------------------------------------------------------------------------------
    def predictions(self, split: str | None = None) -> pd.DataFrame:
        """predictions.parquet (RunError when missing or damaged); with ``split`` ("val",
        "test") only that split's rows, re-indexed from 0. Read once per version of the file
        (its mtime and size); every call returns its own frame (copy-on-write)."""
        try:
            st = self.predictions_path.stat()
            key: tuple[int, int] | None = (st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            key = None
        with self._cache_lock:
            if key is None or self._predictions is None or self._predictions[0] != key:
                frame = super().predictions()
                if key is not None:
                    self._predictions = (key, frame)
            else:
                frame = self._predictions[1]
        if split is None:
            return frame.copy(deep=False)
        return frame[frame["split"] == split].reset_index(drop=True)

    def evaluation_file(self) -> dict[str, Any] | None:
        """evaluation.json, or None when the run has not been evaluated yet (RunError when damaged)."""
        return self.evaluation() if self.evaluation_path.is_file() else None

    # ---- data and model (cached) ---------------------------------------------------------------
    def _load(self) -> None:
        from finmt_core.training import load_run_data

        with self._cache_lock:
            if self._data is None:
                self._panel, self._data = load_run_data(self)

    def data(self) -> PreparedData:
        """The run's PreparedData exactly as training saw it (rebuilt once; shared, do not mutate)."""
        self._load()
        assert self._data is not None
        return self._data

    def panel(self) -> pd.DataFrame:
        """The run's panel (its panel.parquet, or the regenerated demo / synthetic market)."""
        self._load()
        assert self._panel is not None
        return self._panel

    def predictor(self) -> Predictor:
        """The run's Predictor (best checkpoint; estimators refitted once on ``data()``), shared."""
        with self._cache_lock:
            if self._predictor is None:
                from finmt_core.inference.predictor import Predictor

                self._predictor = Predictor.from_run(self, run_data=self.data)
            return self._predictor

    # ---- gating -------------------------------------------------------------------------------
    @cached_property
    def gating(self) -> GatingPolicy:
        """The run's gating policy, from its tasks (``.can_gate`` says whether it can be gated)."""
        return GatingPolicy.for_tasks(self.config().tasks)

    def with_outcome(self, rows: pd.DataFrame) -> pd.DataFrame:
        """``rows`` plus ``fwd_return`` over the gating task's horizon, from the run's data, so
        gated calls are scored on every row with a known future exactly as evaluation.json
        scores them; ``rows`` unchanged when the run cannot be gated."""
        from finmt_core.evaluation.evaluate import with_outcome

        task = self.gating.task
        if task is None:
            return rows
        return with_outcome(rows, self.data(), self.config().task(task).horizon)

    # ---- what it says --------------------------------------------------------------------------
    def latest_predictions(self) -> pd.DataFrame:
        """The model's calls on the last date of the run's data ("what it says for tomorrow"):
        predictions.parquet columns, ``split`` = "predict", targets NaN."""
        return self.predictor().predict(self.panel(), dates="latest")

    def backtest(self, split: str = "test", **settings: Any) -> BacktestResult:
        """BacktestResult of the run's ``split`` predictions on its own prices; ``settings``:
        strategy, k, threshold, cost_bps, slippage_bps, max_gross, max_net
        (:func:`~finmt_core.evaluation.run_backtest.backtest_predictions`)."""
        from finmt_core.evaluation.run_backtest import backtest_predictions

        prepared = self.data()
        return backtest_predictions(self.predictions(split), list(self.config().tasks), prepared.dense.close,
                                    prepared.dates, list(prepared.tickers), **settings)

    def evaluate(self, **options: Any) -> dict[str, Any]:
        """:func:`~finmt_core.evaluation.evaluate.evaluate_run` on this run (writes
        evaluation.json unless ``write=False``)."""
        from finmt_core.evaluation.evaluate import evaluate_run

        return evaluate_run(self, **options)

    # ---- explanations ----------------------------------------------------------------------------
    def explain_batch(self, date: Any, ticker: str) -> ExplainBatch:
        """The input batch of one (date, ticker) of the run's data (graph models: that date's
        snapshot, ``nodes`` = the ticker's row)."""
        pred, prepared = self.predictor(), self.data()
        d, n = pred.select_rows(prepared, dates=[pd.Timestamp(date)], tickers=[ticker])
        return self._explain(d, n, per_row=True)

    def explain_sample(self, n_rows: int, segment: str = "test") -> ExplainBatch:
        """The input batch of ``n_rows`` rows evenly spaced over ``segment`` (graph models: the
        segment's last date, every ticker). RunError when the segment has no rows."""
        d, n = self.data().rows(segment)
        if len(d) == 0:
            raise RunError(f"run {self.name!r} has no {segment} rows to explain")
        pick = np.unique(np.linspace(0, len(d) - 1, min(n_rows, len(d))).round().astype(int))
        return self._explain(d[pick], n[pick], per_row=False)

    def _explain(self, d: np.ndarray, n: np.ndarray, *, per_row: bool) -> ExplainBatch:
        import torch

        from finmt_core.data.tensors import make_inference_batches

        pred, prepared = self.predictor(), self.data()
        graph = pred.input_kind == "graph"
        if graph and not per_row:  # one snapshot: the last date, every ticker
            d, n = np.full(len(prepared.tickers), d.max()), np.arange(len(prepared.tickers))
        batch = next(make_inference_batches(prepared, pred.input_kind, d, n, EXPLAIN_BATCH_ROWS))
        nodes = None
        if graph:
            nodes = (torch.as_tensor(np.flatnonzero(batch["ticker_idx"].numpy() == n[0])) if per_row
                     else torch.nonzero(batch["node_mask"]).view(-1))
        return ExplainBatch(pred, prepared, batch, nodes, d, n)
