"""Baseline predictions on exactly the rows a run was scored on.

Estimators (``naive_majority``, ``naive_momentum``, ``naive_zero``, ``lightgbm``) are fitted
on the run's own train segment (LightGBM early-stops on its validation segment) from the
run's rebuilt :class:`PreparedData`, then predict the run's test rows. A single-task run of
the same model on the same data and split — a sibling directory whose config has one task
equal to one of this run's tasks — supplies the "single-task" baseline from its own
predictions.parquet.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from finmt_core.config import ExperimentConfig
from finmt_core.evaluation.frames import output_columns
from finmt_core.tasks import Task

if TYPE_CHECKING:
    from finmt_core.data.prepare import PreparedData

log = logging.getLogger(__name__)

#: The estimator baselines every evaluation reports (registered estimator names).
DEFAULT_BASELINES: tuple[str, ...] = ("naive_majority", "naive_momentum", "naive_zero", "lightgbm")
SINGLE_TASK = "single_task"


def fit_predict_baselines(
    prepared: PreparedData, date_idx: np.ndarray, ticker_idx: np.ndarray, names: tuple[str, ...] = DEFAULT_BASELINES,
    params: dict[str, dict[str, Any]] | None = None,
) -> tuple[dict[str, dict[str, np.ndarray]], list[str]]:
    """Fit each estimator on ``prepared``'s train segment and predict the given rows.

    ``params`` optionally overrides an estimator's hyper-parameters (``{"lightgbm": {"n_jobs": 1}}``).

    Returns:
        (``{name: {task: predictions in the estimator format}}``, notes on baselines that
        could not be fitted — an estimator failing is reported, not fatal).
    """
    from finmt_core.models import create_estimator

    tasks = list(prepared.targets.tasks)
    out: dict[str, dict[str, np.ndarray]] = {}
    notes: list[str] = []
    for name in names:  # a handful of estimators
        try:
            est = create_estimator(name, (params or {}).get(name, {}), tasks).fit(prepared)
            out[name] = est.predict(prepared, date_idx, ticker_idx)
        except Exception as exc:  # one broken baseline must not hide the others
            log.warning("baseline %s failed: %s", name, exc)
            notes.append(f"baseline {name} could not be fitted: {exc}")
    return out, notes


def _same_data(a: ExperimentConfig, b: ExperimentConfig) -> bool:
    """Same data, features, window and split (so the test rows and inputs are the same)."""
    return a.data.model_dump() == b.data.model_dump() and a.split.model_dump() == b.split.model_dump()


def _same_task(a: Task, b: Task) -> bool:
    skip = {"weight", "mask_by"}
    return {k: v for k, v in a.model_dump().items() if k not in skip} == {k: v for k, v in b.model_dump().items() if k not in skip}


def find_single_task_runs(run_path: Path, config: ExperimentConfig) -> dict[str, Path]:
    """Sibling runs that trained the same model on the same data with only one of this run's
    tasks: ``{task name: run path}`` (the newest finished one per task).

    A multi-task run with one task has no single-task variant (it is one).
    """
    from finmt_core.training.runs import list_runs

    if len(config.tasks) < 2:
        return {}
    found: dict[str, Path] = {}
    for other in list_runs(run_path.parent):  # newest first
        if other.path.resolve() == run_path.resolve() or not other.predictions_path.is_file():
            continue
        try:
            cfg = other.config()
        except Exception:  # an unreadable sibling is not our problem here
            continue
        if len(cfg.tasks) != 1 or cfg.model.name != config.model.name or not _same_data(cfg, config):
            continue
        for t in config.tasks:
            if t.name not in found and _same_task(t, cfg.tasks[0]) and other.status().get("state") == "done":
                found[t.name] = other.path
    return found


def single_task_predictions(
    task: Task, sibling: Path, dates: np.ndarray, tickers: np.ndarray
) -> np.ndarray | None:
    """A sibling single-task run's test predictions of ``task`` on the given rows (estimator
    format), or None when it does not cover every one of them or its predictions are damaged."""
    from finmt_core.errors import RunError
    from finmt_core.training.runs import RunDir

    try:
        df = RunDir(sibling).predictions()
    except RunError as exc:  # a damaged sibling is no reason to fail this run's evaluation
        log.warning("single-task run %s not used: %s", Path(sibling).name, exc)
        return None
    df = df[df["split"] == "test"]
    cols = output_columns(task)
    if any(c not in df.columns for c in cols):
        return None
    key = pd.MultiIndex.from_arrays([pd.to_datetime(df["date"]), df["ticker"].astype(str)])
    want = pd.MultiIndex.from_arrays([pd.DatetimeIndex(dates), pd.Index(tickers, dtype=object)])
    pos = key.get_indexer(want)
    if (pos < 0).any():
        log.warning("single-task run %s lacks %d of the scored rows of %s; not used", sibling, int((pos < 0).sum()), task.name)
        return None
    vals = df[cols].to_numpy(dtype=np.float64)[pos]
    return vals[:, 0] if task.kind == "regression" else vals
