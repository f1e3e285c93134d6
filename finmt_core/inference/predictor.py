"""``Predictor``: a trained run, loaded safely, predicting on any panel with the same features.

``Predictor.from_run(run_dir)`` reads ``checkpoints/best.pt`` with ``torch.load(weights_only=True)``
(plain dicts only), rebuilds the model through the registry and restores the fitted feature
scaler, so new data is scaled with the *training* statistics. Estimator runs (LightGBM, naive
rules) have no checkpoint: their estimator is refitted deterministically on the run's own
train segment. The run directory is only ever read.

Graph models need the run's stock graph (fitted on its train dates); it is taken from the
run's data, so a new panel must hold the same tickers.

Models with a ticker embedding (``model.ticker_embedding``) map the new panel's tickers to
their training rows by name (``InputInfo.tickers`` in the checkpoint); tickers the run never
trained on get the shared unseen-ticker vector. Every prediction path binds the model to the
ticker list of the data it predicts (:meth:`Predictor._bind_tickers`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from finmt_core.config import ExperimentConfig
from finmt_core.data.containers import Split
from finmt_core.data.prepare import InputInfo, PreparedData
from finmt_core.errors import DataError, RunError
from finmt_core.inference.gating import GatingPolicy
from finmt_core.inference.whatif import WhatIfResult, what_if
from finmt_core.models.base import MultiTaskModel
from finmt_core.tasks import Task
from finmt_core.training.runs import RunDir

log = logging.getLogger(__name__)


def _data_loader(run: RunDir) -> Callable[[], PreparedData]:
    """A function rebuilding the run's PreparedData (``load_run_data``), called when first needed."""

    def load() -> PreparedData:
        from finmt_core.training import load_run_data

        return load_run_data(run)[1]

    return load

#: Rows per forward pass.
BATCH_ROWS = 4096


class Predictor:
    """A trained model (or fitted estimator) with its config, tasks, scaler and graph.

    Attributes:
        config: the run's ExperimentConfig.
        tasks: the heads, in order.
        model: the network (a MultiTaskModel) in eval mode (None for estimator runs).
        estimator: the fitted estimator (None for neural runs).
    """

    def __init__(self, config: ExperimentConfig, *, model: MultiTaskModel | None = None, estimator: Any = None,
                 scaler_state: dict[str, Any] | None = None, info: InputInfo | None = None,
                 run_prepared: PreparedData | None = None,
                 run_path: Path | None = None, device: str = "cpu") -> None:
        if (model is None) == (estimator is None):
            raise RunError("a Predictor needs exactly one of a model or an estimator")
        self.config = config
        self.tasks: list[Task] = list(config.tasks)
        self.model = model
        self.estimator = estimator
        self.scaler_state = scaler_state
        self.info = info
        self.run_path = run_path
        self.device = torch.device(device)
        self._run_prepared = run_prepared
        self._run_data_loader: Callable[[], PreparedData] | None = None
        self._lock = threading.RLock()
        self._prepared_cache: tuple[int, int, PreparedData] | None = None

    # ---- loading ----------------------------------------------------------------------------
    @classmethod
    def from_run(cls, run_dir: str | Path | RunDir, checkpoint: str = "best", device: str = "cpu",
                 run_data: Callable[[], PreparedData] | None = None) -> Predictor:
        """Load a finished run (``checkpoint``: ``"best"`` or ``"last"``) read-only.

        Args:
            run_data: returns the run's own PreparedData (default: rebuilt with
                ``load_run_data`` when first needed); :class:`finmt_core.run.Run` passes its
                cached ``data`` so a run's data is built once for its predictor and its readers.
        """
        from finmt_core.models import create_estimator, is_estimator
        from finmt_core.training.checkpoint import load_checkpoint, model_from_checkpoint

        run = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
        loader = run_data or _data_loader(run)
        config = run.config()
        if is_estimator(config.model.name):
            prepared = loader()
            est = create_estimator(config.model.name, config.model.params, config.tasks).fit(prepared)
            return cls(config, estimator=est, scaler_state=prepared.scaler.state_dict(), info=prepared.info,
                       run_prepared=prepared, run_path=run.path, device=device)
        path = run.best_checkpoint if checkpoint == "best" else run.last_checkpoint
        if not path.is_file():
            path = run.last_checkpoint if path == run.best_checkpoint else run.best_checkpoint
        if not path.is_file():
            raise RunError(f"run {run.name!r} has no checkpoint yet (state: {run.effective_state()}); wait for an epoch to finish")
        ckpt = load_checkpoint(path)
        model = model_from_checkpoint(ckpt, device=device)
        predictor = cls(config, model=model, scaler_state=ckpt["scaler"], info=InputInfo.from_dict(ckpt["input_info"]),
                        run_path=run.path, device=device)
        predictor._run_data_loader = loader
        return predictor

    def run_data(self) -> PreparedData:
        """The run's own PreparedData (rebuilt once, lazily)."""
        if self._run_prepared is None:
            if self._run_data_loader is None:
                if self.run_path is None:
                    raise RunError("this Predictor was not loaded from a run; pass a panel instead")
                self._run_data_loader = _data_loader(RunDir(self.run_path))
            self._run_prepared = self._run_data_loader()
        return self._run_prepared

    @property
    def input_kind(self) -> str:
        """The model's batch kind (``window``, ``graph``, ...); ``flat`` for estimators."""
        return str(self.model.input_kind) if self.model is not None else "flat"

    def network(self) -> MultiTaskModel:
        """The neural model; RunError for an estimator run (it has no network to run or explain)."""
        if self.model is None:
            raise RunError(f"run model {self.config.model.name!r} is a fitted estimator, not a neural network")
        return self.model

    # ---- data -------------------------------------------------------------------------------
    def prepare(self, panel: pd.DataFrame) -> PreparedData:
        """Features of ``panel`` scaled with the run's scaler (no refitting); cached for the
        last panel object so repeated calls (what-if sliders) are free."""
        key = (id(panel), len(panel))
        if self._prepared_cache is not None and self._prepared_cache[:2] == key:
            self._bind_tickers(self._prepared_cache[2])
            return self._prepared_cache[2]
        from finmt_core.data.prepare import prepare

        n_dates = len(panel.index.get_level_values("date").unique())
        # every date as "train": the split only decides which dates fit the graph, and graph
        # models get the run's graph below; the scaler comes from the checkpoint
        first = min(self.config.data.window - 1, max(n_dates - 1, 0))
        split = Split(train=np.arange(first, n_dates), val=np.arange(0), test=np.arange(0), embargo=self.config.embargo)
        prepared = prepare(panel, self.config, split=split, scaler_state=self.scaler_state)
        if self.info is not None and list(prepared.info.feature_names) != list(self.info.feature_names):
            missing = sorted(set(self.info.feature_names) - set(prepared.info.feature_names))
            raise DataError(f"the panel does not give the run's features; missing {missing or 'none'} (order or "
                            f"extra columns differ otherwise). Supply the same columns as the training data.")
        if self.input_kind == "graph":
            run_prep = self.run_data()
            if list(run_prep.tickers) != list(prepared.tickers):
                raise DataError(f"graph model: the panel must hold exactly the run's {len(run_prep.tickers)} tickers "
                                f"({', '.join(run_prep.tickers[:8])} ...) in the stock graph it was trained on")
            prepared.graph = run_prep.graph
        self._prepared_cache = (*key, prepared)
        self._bind_tickers(prepared)
        return prepared

    def _bind_tickers(self, prepared: PreparedData) -> None:
        """Batches built from ``prepared`` index its ticker list: map it to the model's
        training tickers (no-op without a ticker embedding or for estimators)."""
        bind = getattr(self.model, "bind_tickers", None)
        if bind is not None:
            with self._lock:
                bind(list(prepared.tickers))

    @staticmethod
    def select_rows(prepared: PreparedData, dates: Any = None, tickers: Sequence[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Rows with features and a full window: all (``None``), ``"latest"`` (the last date on
        which any ticker has one), one date or a list of dates; optionally only ``tickers``."""
        d, n = prepared.rows_all()
        if len(d) == 0:
            raise DataError(f"no row has features and a full {prepared.info.window}-day window; supply more history")
        if isinstance(dates, str) and dates == "latest":
            keep = d == d.max()
        elif dates is not None:
            want = pd.DatetimeIndex(pd.to_datetime([dates] if isinstance(dates, (str, pd.Timestamp)) else list(dates)))
            idx = prepared.dates.get_indexer(want)
            if (idx < 0).any():
                raise DataError(f"dates not in the panel: {[str(x.date()) for x in want[idx < 0]][:5]}")
            keep = np.isin(d, idx)
        else:
            keep = np.ones(len(d), dtype=bool)
        if tickers is not None:
            keep &= np.isin(np.asarray(prepared.tickers)[n], list(tickers))
        if not keep.any():
            raise DataError("none of the requested rows has features and a full window")
        return d[keep], n[keep]

    # ---- prediction -------------------------------------------------------------------------
    def predict_rows(self, prepared: PreparedData, date_idx: np.ndarray, ticker_idx: np.ndarray) -> dict[str, np.ndarray]:
        """Estimator-format outputs ``{task: probs [n, C] | [n] | [n, Q]}`` of the given rows."""
        with self._lock:
            if self.estimator is not None:
                return self.estimator.predict(prepared, date_idx, ticker_idx)
            from finmt_core.training.predict import predict_rows

            self._bind_tickers(prepared)
            return predict_rows(self.network(), prepared, date_idx, ticker_idx, self.device, BATCH_ROWS)

    def predict(self, panel: pd.DataFrame, dates: Any = None, tickers: Sequence[str] | None = None) -> pd.DataFrame:
        """Predictions for ``panel`` rows (``dates``: None = all rows with a full window,
        ``"latest"`` = the last date — "what does the model say for tomorrow" —, a date or a
        list). Columns as predictions.parquet (``split`` = ``"predict"``); targets are NaN
        where the future is not in the panel yet."""
        from finmt_core.training.predict import prediction_frame

        prepared = self.prepare(panel)
        d, n = self.select_rows(prepared, dates, tickers)
        out = prediction_frame(prepared, self.predict_rows(prepared, d, n), d, n, "predict")
        out["date"] = pd.to_datetime(out["date"])
        return out

    def signal_gated(self, df: pd.DataFrame, threshold: float = 0.5) -> pd.DataFrame:
        """``df`` with ``gate`` (Down / Neutral / Up), ``gate_code`` and ``confidence`` added
        (DataError when the frame has no gating heads: see :attr:`gating`)."""
        return pd.concat([df, self.gating.gate(df, threshold)], axis=1)

    @property
    def gating(self) -> GatingPolicy:
        """The gating policy of the run's tasks (``.can_gate`` says whether it can gate)."""
        return GatingPolicy.for_tasks(self.tasks)

    def predict_uncertainty(self, panel: pd.DataFrame, dates: Any = None, n_samples: int = 30, seed: int = 0) -> pd.DataFrame:
        """MC-dropout predictive distribution of the selected rows (see :mod:`.uncertainty`)."""
        from finmt_core.inference.uncertainty import mc_dropout

        if self.model is None:
            raise RunError(f"MC dropout needs a neural model; {self.config.model.name!r} is an estimator")
        prepared = self.prepare(panel)
        d, n = self.select_rows(prepared, dates)
        with self._lock:
            self._bind_tickers(prepared)
            return mc_dropout(self.network(), prepared, d, n, self.tasks, n_samples=n_samples, seed=seed, device=self.device)

    def what_if(self, panel: pd.DataFrame, ticker: str, date: Any = None, shocks: dict[str, float] | None = None,
                mc_samples: int = 0, seed: int = 0) -> WhatIfResult:
        """Predictions for one (ticker, date) before and after ``shocks`` (see :mod:`.whatif`).

        ``mc_samples > 0`` adds MC-dropout means and 10-90 % intervals before and after (and
        each classification head's predictive entropy); 0 keeps the fast point-only path."""
        return what_if(self, self.prepare(panel), ticker, date, shocks or {}, mc_samples=mc_samples, seed=seed)
