"""Cached access to finmt_core: ``st.cache_data`` for frames, ``st.cache_resource`` for models.

Every run file is cached under its path *and* its modification stamp (mtime, size), so a
reader never sees stale data while a run is still training, and an unchanged file is read
once per server. Functions take plain, hashable arguments; the public helpers take a
:class:`RunDir` and compute the stamp.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from finmt_core.config import ExperimentConfig
from finmt_core.training.runs import RunDir

Stamp = tuple[int, int] | None


def stamp(path: Path) -> Stamp:
    """(mtime_ns, size) of a file, or None when it does not exist: the cache key of its content."""
    try:
        s = path.stat()
    except FileNotFoundError:
        return None
    return (s.st_mtime_ns, s.st_size)


# ---- run files --------------------------------------------------------------------------
@st.cache_data(show_spinner=False, max_entries=256)
def _config(path: str, key: Stamp) -> ExperimentConfig:
    return RunDir(path).config()


def config(run: RunDir) -> ExperimentConfig:
    return _config(str(run.path), stamp(run.config_path))


@st.cache_data(show_spinner=False, max_entries=128)
def _metrics(path: str, key: Stamp) -> pd.DataFrame:
    return RunDir(path).metrics()


def metrics(run: RunDir) -> pd.DataFrame:
    """The run's metrics log, one row per epoch (re-read whenever a line is appended)."""
    return _metrics(str(run.path), stamp(run.metrics_path))


@st.cache_data(show_spinner=False, max_entries=32)
def _predictions(path: str, key: Stamp) -> pd.DataFrame:
    return RunDir(path).predictions()


def predictions(run: RunDir) -> pd.DataFrame:
    """predictions.parquet (RunError when the run has none yet)."""
    return _predictions(str(run.path), stamp(run.predictions_path))


@st.cache_data(show_spinner=False, max_entries=128)
def _evaluation_file(path: str, key: Stamp) -> dict[str, Any] | None:
    run = RunDir(path)
    return run.evaluation() if run.evaluation_path.is_file() else None


def evaluation_file(run: RunDir) -> dict[str, Any] | None:
    """evaluation.json as written by ``finmt evaluate`` (None when not evaluated yet)."""
    return _evaluation_file(str(run.path), stamp(run.evaluation_path))


def has_predictions(run: RunDir) -> bool:
    return run.predictions_path.is_file()


# ---- data -------------------------------------------------------------------------------
@st.cache_data(show_spinner="Loading data…", max_entries=8)
def panel(source: str) -> pd.DataFrame:
    """A Panel from a shortcut ("demo", "synthetic") or a file path."""
    from finmt_core.data.panel import load_panel

    return load_panel(source)


@st.cache_data(show_spinner="Checking the upload…", max_entries=4)
def uploaded_panel(name: str, data: bytes) -> pd.DataFrame:
    """A Panel from uploaded bytes (validated by load_panel; DataError names the problem)."""
    import io

    from finmt_core.data.panel import load_panel

    return load_panel(io.BytesIO(data), name=name)


@st.cache_data(show_spinner=False, max_entries=8)
def summary(source_key: str, _panel: pd.DataFrame) -> dict[str, Any]:
    """panel_summary, cached per data source (the frame itself is not hashed)."""
    from finmt_core.data.panel import panel_summary

    return panel_summary(_panel)


@st.cache_data(show_spinner="Computing features…", max_entries=4)
def features(source_key: str, _panel: pd.DataFrame) -> Any:
    """The raw FeatureFrame of a panel ([D, N, F], unscaled)."""
    from finmt_core.data.features import compute_features

    return compute_features(_panel)


@st.cache_resource(show_spinner=False)
def device_info() -> dict[str, Any]:
    """CUDA availability and GPU names (imports torch once per server)."""
    from dashboard.jobs import device_info as probe

    return probe()


@st.cache_data(show_spinner="Building labels and the stock graph…", max_entries=8)
def data_view(source_key: str, families: tuple[str, ...], horizon: int, _panel: pd.DataFrame) -> dict[str, Any]:
    """Labels, split and stock graph of a panel for the Data page, via ``prepare``.

    Returns ``{"counts"}`` (rows task, class, split, count: the input of
    ``plots.label_distribution``), ``{"edge_index", "edge_weight", "tickers", "sectors",
    "graph_kind", "split_dates"}``.
    """
    import numpy as np

    from finmt_core.data.prepare import prepare

    config = ExperimentConfig.model_validate(
        {"name": "data-view", "data": {"source": source_key},
         "tasks": [{"target": f, "horizon": int(horizon)} for f in families]}
    )
    prep = prepare(_panel, config)
    rows = []
    for task in prep.targets.tasks:
        values, valid = prep.targets.values[task.name], prep.targets.valid[task.name]
        for seg in ("train", "val", "test"):
            idx = prep.split.segment(seg)
            y = values[idx][valid[idx]].astype(np.int64)
            counts = np.bincount(y, minlength=len(task.classes))
            rows += [{"task": task.name, "class": c, "split": seg, "count": int(n)} for c, n in zip(task.classes, counts)]
    dates = prep.frame.dates
    return {
        "counts": pd.DataFrame(rows),
        "edge_index": prep.graph.edge_index,
        "edge_weight": prep.graph.edge_weight,
        "tickers": list(prep.frame.tickers),
        "sectors": list(prep.dense.sector) if prep.dense.sector else None,
        "graph_kind": prep.graph.kind,
        "split_dates": {s: (dates[prep.split.segment(s)].min(), dates[prep.split.segment(s)].max())
                        for s in ("train", "val", "test")},
    }


# ---- evaluation -------------------------------------------------------------------------
def evaluate(run: RunDir) -> dict[str, Any]:
    """Run ``evaluate_run`` now (fits the baselines; writes evaluation.json). Refuses
    (ReadOnlyError) in viewer mode: it writes into the run."""
    from dashboard.state import require_editor
    from finmt_core.evaluation.evaluate import evaluate_run

    require_editor("evaluating a run")

    return evaluate_run(run.path)


@st.cache_data(show_spinner=False, max_entries=64)
def _task_rows(path: str, key: Stamp, task_name: str, split: str | None) -> Any:
    from finmt_core.evaluation.frames import task_rows as rows_of

    run = RunDir(path)
    return rows_of(run.predictions(), run.config().task(task_name), split=split)


def task_rows(run: RunDir, task_name: str, split: str | None = "test") -> Any:
    """TaskRows (y, pred, dates, tickers) of one task on one split of the predictions."""
    return _task_rows(str(run.path), stamp(run.predictions_path), task_name, split)


# ---- a run's data and model ---------------------------------------------------------------
def model_stamp(run: RunDir) -> tuple[Stamp, Stamp, Stamp]:
    return stamp(run.config_path), stamp(run.best_checkpoint), stamp(run.last_checkpoint)


@st.cache_resource(show_spinner="Rebuilding the run's data…", max_entries=4)
def _run_data(path: str, key: tuple[Stamp, Stamp, Stamp]) -> tuple[pd.DataFrame, Any]:
    from finmt_core.training import load_run_data

    return load_run_data(path)


def run_data(run: RunDir) -> tuple[pd.DataFrame, Any]:
    """(panel, PreparedData) exactly as the run saw them (shared, do not mutate)."""
    return _run_data(str(run.path), model_stamp(run))


@st.cache_data(show_spinner="Backtesting…", max_entries=64)
def _backtest(path: str, key: Stamp, split: str, settings: tuple[tuple[str, Any], ...]) -> Any:
    from finmt_core.evaluation.run_backtest import backtest_predictions

    run = RunDir(path)
    _, prepared = run_data(run)
    preds = run.predictions()
    rows = preds[preds["split"] == split].reset_index(drop=True)
    return backtest_predictions(rows, list(run.config().tasks), prepared.dense.close, prepared.dates,
                                list(prepared.tickers), **dict(settings))


def backtest(run: RunDir, split: str = "test", **settings: Any) -> Any:
    """BacktestResult of the run's ``split`` predictions with ``settings`` (strategy, k,
    threshold, cost_bps, slippage_bps, max_gross, max_net), cached per setting."""
    return _backtest(str(run.path), stamp(run.predictions_path), split, tuple(sorted(settings.items())))


@st.cache_resource(show_spinner="Loading the model…", max_entries=4)
def _predictor(path: str, key: tuple[Stamp, Stamp, Stamp]) -> Any:
    from finmt_core.inference import Predictor

    return Predictor.from_run(path)


def predictor(run: RunDir) -> Any:
    """The run's Predictor (weights-only checkpoint; estimators refitted once), shared."""
    return _predictor(str(run.path), model_stamp(run))


@st.cache_data(show_spinner="Predicting the latest date…", max_entries=16)
def _latest(path: str, key: tuple[Stamp, Stamp, Stamp]) -> pd.DataFrame:
    run = RunDir(path)
    panel, _ = run_data(run)
    return predictor(run).predict(panel, dates="latest")


def latest_predictions(run: RunDir) -> pd.DataFrame:
    """The model's calls on the last date of the run's data ("what it says for tomorrow"):
    predictions.parquet columns, ``split`` = "predict", targets NaN (the future is unknown)."""
    return _latest(str(run.path), model_stamp(run))


# ---- report -------------------------------------------------------------------------------
@st.cache_data(show_spinner=False, max_entries=8)
def _report(path: str, key: tuple[Stamp, ...], cost_bps: float, explain: bool) -> bytes:
    import tempfile

    from finmt_core.report import build_report

    with tempfile.TemporaryDirectory(prefix="finmt-report-") as tmp:
        out = build_report(path, Path(tmp) / "report.html", cost_bps=cost_bps, explain=explain)
        return out.read_bytes()


def report(run: RunDir, cost_bps: float = 10.0, explain: bool = True) -> bytes:
    """The self-contained HTML report of a run (built in a temp folder; the run is only read,
    except that a missing evaluation.json is computed and written first)."""
    key = (stamp(run.predictions_path), stamp(run.evaluation_path), stamp(run.metrics_path), *model_stamp(run))
    return _report(str(run.path), key, float(cost_bps), bool(explain))


def with_outcome(run: RunDir, rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` plus ``fwd_return`` over the gating task's horizon, from the run's rebuilt data
    (:func:`finmt_core.evaluation.with_outcome`), so gated calls are scored on every row with a
    known future exactly as evaluation.json scores them."""
    from finmt_core.evaluation.evaluate import with_outcome as add_outcome

    names = {t.name: t for t in config(run).tasks}
    gate_task = names.get("direction") or names.get("action")
    if gate_task is None:
        return rows
    _, prepared = run_data(run)
    return add_outcome(rows, prepared, gate_task.horizon)


# ---- cache keys of data sources ------------------------------------------------------------
def upload_key(data: bytes, date_format: str = "") -> str:
    """The cache key of an uploaded file: the SHA-256 of its bytes (plus the date format it was
    read with). Two different files never share a key, whatever their names and row counts."""
    import hashlib

    return f"upload-sha256:{hashlib.sha256(data).hexdigest()}:{date_format}"


def dataset_key(source: str) -> str:
    """The cache key of a data source: the shortcut itself ("demo", "synthetic") or, for a
    file, its path with its modification stamp (a replaced file gets a new key)."""
    path = Path(source)
    if path.suffix and path.is_file():
        return f"file:{path}:{stamp(path)}"
    return f"builtin:{source}"
