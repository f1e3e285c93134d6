"""Cached access to finmt_core: ``st.cache_data`` for frames, ``st.cache_resource`` for models.

Every run-related function is a stamp-keyed wrapper around :class:`finmt_core.run.Run`: a
run file is cached under its path *and* its modification stamp (mtime, size), so a reader
never sees stale data while a run is still training, and an unchanged file is read once per
server. One shared Run per (config, checkpoints) stamp holds the run's data and model, built
once (:func:`run_object`). Functions take plain, hashable arguments; the public helpers take a
:class:`RunDir` and compute the stamp.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import streamlit as st

from finmt_core.config import ExperimentConfig
from finmt_core.inference.gating import GatingPolicy
from finmt_core.run import Run
from finmt_core.training.runs import RunDir

if TYPE_CHECKING:
    from finmt_core.data.prepare import PreparedData
    from finmt_core.evaluation.backtest import BacktestResult
    from finmt_core.evaluation.compare_runs import RunComparison
    from finmt_core.evaluation.frames import TaskRows
    from finmt_core.inference.predictor import Predictor

Stamp = tuple[int, int] | None
#: (config, best checkpoint, last checkpoint) stamps: what a run's data and model are built from.
ModelStamp = tuple[Stamp, Stamp, Stamp]


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
    return Run(path).config()


def config(run: RunDir) -> ExperimentConfig:
    return _config(str(run.path), stamp(run.config_path))


@st.cache_data(show_spinner=False, max_entries=128)
def _metrics(path: str, key: Stamp) -> pd.DataFrame:
    return Run(path).metrics()


def metrics(run: RunDir) -> pd.DataFrame:
    """The run's metrics log, one row per epoch (re-read whenever a line is appended)."""
    return _metrics(str(run.path), stamp(run.metrics_path))


@st.cache_data(show_spinner=False, max_entries=32)
def _predictions(path: str, key: Stamp) -> pd.DataFrame:
    return Run(path).predictions()


def predictions(run: RunDir) -> pd.DataFrame:
    """predictions.parquet (RunError when the run has none yet)."""
    return _predictions(str(run.path), stamp(run.predictions_path))


@st.cache_data(show_spinner=False, max_entries=128)
def _evaluation_file(path: str, key: Stamp) -> dict[str, Any] | None:
    return Run(path).evaluation_file()


def evaluation_file(run: RunDir) -> dict[str, Any] | None:
    """evaluation.json as written by ``finmt evaluate`` (None when not evaluated yet)."""
    return _evaluation_file(str(run.path), stamp(run.evaluation_path))


def has_predictions(run: RunDir) -> bool:
    return run.predictions_path.is_file()


@st.cache_data(show_spinner=False, max_entries=32)
def _comparison(paths: tuple[str, ...], key: tuple[tuple[Stamp, Stamp], ...], metrics: tuple[str, ...]) -> RunComparison:
    from finmt_core.evaluation.compare_runs import compare_runs

    return compare_runs([Run(p) for p in paths], metrics=list(metrics) or None)


def comparison(runs: Sequence[RunDir], metrics: Sequence[str] = ()) -> RunComparison:
    """:func:`~finmt_core.evaluation.compare_runs.compare_runs` of ``runs`` (``metrics``: the
    metrics to compare, () = every one), read again whenever a config or evaluation file changes."""
    key = tuple((stamp(r.config_path), stamp(r.evaluation_path)) for r in runs)
    return _comparison(tuple(str(r.path) for r in runs), key, tuple(metrics))


# ---- data -------------------------------------------------------------------------------
@st.cache_data(show_spinner="Loading data…", max_entries=8)
def panel(source: str) -> pd.DataFrame:
    """A Panel from a shortcut ("demo", "synthetic") or a file path."""
    from finmt_core.data.panel import load_panel

    return load_panel(source)


@st.cache_data(show_spinner="Checking the upload…", max_entries=4)
def uploaded_panel(name: str, data: bytes, date_format: str = "") -> pd.DataFrame:
    """A Panel from uploaded bytes (validated by load_panel; DataError names the problem),
    read with ``date_format`` (the Data page's "Date format" field) when one is given."""
    import io

    from finmt_core.data.panel import load_panel

    return load_panel(io.BytesIO(data), name=name, date_format=date_format or None)


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
    """Labels, split and stock graph of a panel for the Data page
    (:func:`finmt_core.data.overview.labels_and_graph`), cached per data source and tasks."""
    from finmt_core.data.overview import labels_and_graph

    return labels_and_graph(_panel, source_key, families, horizon)


# ---- the run as one object: its data and model are built once per checkpoint ---------------
def model_stamp(run: RunDir) -> ModelStamp:
    """The stamps of what a run's data and model are built from: config, best and last checkpoint."""
    return stamp(run.config_path), stamp(run.best_checkpoint), stamp(run.last_checkpoint)


@st.cache_resource(show_spinner=False, max_entries=4)  # each may hold a run's data: bounded like before
def _run(path: str, key: ModelStamp) -> Run:
    return Run(path)


def run_object(run: RunDir) -> Run:
    """The shared :class:`Run` of ``run``'s current config and checkpoints (a new one after
    every checkpoint, so a training run is never read stale); its data and predictor are
    built once and shared by every page and session."""
    return _run(str(run.path), model_stamp(run))


def gating(run: RunDir) -> GatingPolicy:
    """The run's gating policy (``.can_gate``: whether its predictions can be signal-gated)."""
    return GatingPolicy.for_tasks(config(run).tasks)


def evaluate(run: RunDir) -> dict[str, Any]:
    """Run ``Run.evaluate`` now (fits the baselines; writes evaluation.json). Refuses
    (ReadOnlyError) in viewer mode: it writes into the run."""
    from dashboard.state import require_editor

    require_editor("evaluating a run")
    return run_object(run).evaluate()


@st.cache_data(show_spinner=False, max_entries=64)
def _task_rows(path: str, key: Stamp, task_name: str, split: str | None) -> TaskRows:
    from finmt_core.evaluation.frames import task_rows as rows_of

    r = Run(path)
    return rows_of(r.predictions(), r.config().task(task_name), split=split)


def task_rows(run: RunDir, task_name: str, split: str | None = "test") -> TaskRows:
    """TaskRows (y, pred, dates, tickers) of one task on one split of the predictions."""
    return _task_rows(str(run.path), stamp(run.predictions_path), task_name, split)


@st.cache_resource(show_spinner="Rebuilding the run's data…", max_entries=4)
def _run_data(path: str, key: ModelStamp) -> tuple[pd.DataFrame, PreparedData]:
    r = _run(path, key)
    return r.panel(), r.data()


def run_data(run: RunDir) -> tuple[pd.DataFrame, PreparedData]:
    """(panel, PreparedData) exactly as the run saw them (shared, do not mutate)."""
    return _run_data(str(run.path), model_stamp(run))


@st.cache_data(show_spinner="Backtesting…", max_entries=64)
def _backtest(path: str, key: tuple[Stamp, ModelStamp], split: str, settings: tuple[tuple[str, Any], ...]) -> BacktestResult:
    run_data(RunDir(path))  # the data's spinner, and its cache entry, when it is not built yet
    return _run(path, key[1]).backtest(split, **dict(settings))


def backtest(run: RunDir, split: str = "test", **settings: Any) -> BacktestResult:
    """BacktestResult of the run's ``split`` predictions with ``settings`` (strategy, k,
    threshold, cost_bps, slippage_bps, max_gross, max_net), cached per setting."""
    key = (stamp(run.predictions_path), model_stamp(run))
    return _backtest(str(run.path), key, split, tuple(sorted(settings.items())))


@st.cache_resource(show_spinner="Loading the model…", max_entries=4)
def _predictor(path: str, key: ModelStamp) -> Predictor:
    return _run(path, key).predictor()


def predictor(run: RunDir) -> Predictor:
    """The run's Predictor (weights-only checkpoint; estimators refitted once), shared."""
    return _predictor(str(run.path), model_stamp(run))


@st.cache_data(show_spinner="Predicting the latest date…", max_entries=16)
def _latest(path: str, key: ModelStamp) -> pd.DataFrame:
    run_data(RunDir(path))
    predictor(RunDir(path))
    return _run(path, key).latest_predictions()


def latest_predictions(run: RunDir) -> pd.DataFrame:
    """The model's calls on the last date of the run's data ("what it says for tomorrow"):
    predictions.parquet columns, ``split`` = "predict", targets NaN (the future is unknown)."""
    return _latest(str(run.path), model_stamp(run))


@st.cache_data(show_spinner=False, max_entries=8)
def _report(path: str, key: tuple[Stamp, ...], model: ModelStamp, cost_bps: float, explain: bool) -> bytes:
    import tempfile

    from finmt_core.report import build_report

    with tempfile.TemporaryDirectory(prefix="finmt-report-") as tmp:
        out = build_report(_run(path, model), Path(tmp) / "report.html", cost_bps=cost_bps, explain=explain)
        return out.read_bytes()


def report(run: RunDir, cost_bps: float = 10.0, explain: bool = True) -> bytes:
    """The self-contained HTML report of a run (built in a temp folder; the run is only read,
    except that a missing evaluation.json is computed and written first)."""
    key = (stamp(run.predictions_path), stamp(run.evaluation_path), stamp(run.metrics_path))
    return _report(str(run.path), key, model_stamp(run), float(cost_bps), bool(explain))


def with_outcome(run: RunDir, rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` plus ``fwd_return`` over the gating task's horizon (:meth:`Run.with_outcome`),
    so gated calls are scored on every row with a known future exactly as evaluation.json
    scores them; ``rows`` unchanged when the run cannot be gated."""
    if not gating(run).can_gate:
        return rows
    run_data(run)
    return run_object(run).with_outcome(rows)


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
