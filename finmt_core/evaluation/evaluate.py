"""A run directory -> ``evaluation.json``: the honest scorecard of one run.

``evaluate_run(run_dir)`` scores the run's test predictions per task and puts every metric
beside the baselines on exactly the same rows (estimators fitted on the run's own train
segment; the single-task variant when a sibling run trained it), with date-blocked
uncertainty, signal-gated accuracy, breakdowns (regime, ticker, horizon, cross-task), a
default backtest net of costs, and plain-spoken warnings. JSON keys: ``run``, ``splits``,
``tasks``, ``baselines``, ``significance``, ``signal_gated``, ``breakdowns``, ``confusion``,
``backtest``, ``warnings``, ``gates`` (validation gates, :mod:`finmt_core.evaluation.gates`).
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from finmt_core.config import ExperimentConfig
from finmt_core.errors import DataError, RunError
from finmt_core.evaluation import breakdowns as bd
from finmt_core.evaluation.baselines import (
    DEFAULT_BASELINES,
    SINGLE_TASK,
    find_single_task_runs,
    fit_predict_baselines,
    single_task_predictions,
)
from finmt_core.evaluation.checks import baseline_warnings, collapse_warnings
from finmt_core.evaluation.compare import task_significance
from finmt_core.evaluation.frames import TaskRows, grid_positions, task_rows
from finmt_core.evaluation.gates import judge_gates
from finmt_core.evaluation.metrics import HEADLINE, confusion, score_task
from finmt_core.evaluation.run_backtest import backtest_predictions
from finmt_core.inference.gating import GatingPolicy
from finmt_core.run import Run
from finmt_core.tasks import Task

if TYPE_CHECKING:
    from finmt_core.data.prepare import PreparedData
    from finmt_core.training.runs import RunDir

log = logging.getLogger(__name__)

#: Default signal-gating threshold reported in evaluation.json.
GATE_THRESHOLD = 0.5


def json_safe(obj: Any) -> Any:
    """JSON-safe copy: numpy scalars -> python, NaN/inf -> None, timestamps -> ISO dates."""
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, (np.ndarray,)):
        return json_safe(obj.tolist())
    if isinstance(obj, (pd.Timestamp, np.datetime64)):
        return str(pd.Timestamp(obj).date())
    if isinstance(obj, (np.floating, float)):
        v = float(obj)
        return v if math.isfinite(v) else None
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def _splits(prepared: PreparedData) -> dict[str, list[str]]:
    out = {}
    for seg in ("train", "val", "test"):
        idx = prepared.split.segment(seg)
        out[seg] = [str(prepared.dates[idx.min()].date()), str(prepared.dates[idx.max()].date())] if len(idx) else []
    return out


def _row_index(df: pd.DataFrame, prepared: PreparedData) -> tuple[np.ndarray, np.ndarray]:
    d, n = grid_positions(df, prepared.dates, list(prepared.tickers))
    if (d < 0).any() or (n < 0).any():
        raise RunError("predictions.parquet names dates or tickers that the run's data does not have; "
                       "the data changed since training (re-run training)")
    return d, n


def with_outcome(df: pd.DataFrame, prepared: PreparedData, horizon: int, d: np.ndarray | None = None,
                 n: np.ndarray | None = None) -> pd.DataFrame:
    """``df`` plus ``fwd_return``: the realised forward log return over ``horizon`` days
    (``prepared.targets.aux["fwd_return_<h>"]``), so gated calls are scored on every row with
    a known future, not only where the direction target is labelled (``mask_by: signal``
    masks it). ``df`` is returned unchanged when the run's targets have no such return.

    Args:
        df: predictions rows (``date``, ``ticker``).
        prepared: the run's PreparedData.
        d, n: the rows' date / ticker positions in ``prepared`` (``[len(df)]`` int); looked
            up from ``date`` / ``ticker`` when omitted.

    Raises:
        RunError: a row's date or ticker is not in the run's data.
    """
    aux = prepared.targets.aux.get(f"fwd_return_{horizon}")
    if aux is None:
        return df
    if d is None or n is None:
        d, n = _row_index(df, prepared)
    return df.assign(fwd_return=aux[d, n].astype(np.float64))


def _signal_gated(test: pd.DataFrame, prepared: PreparedData, d: np.ndarray, n: np.ndarray, config: ExperimentConfig,
                  base_frames: dict[str, pd.DataFrame]) -> dict[str, Any] | None:
    """Coverage and accuracy of the seed's signal + direction gate at :data:`GATE_THRESHOLD`
    (and its curve), beside every baseline that can be gated, on the same test rows; None
    unless the run has signal + direction heads."""
    policy = GatingPolicy.for_tasks(config.tasks)
    if not policy.hierarchical or policy.task is None:
        return None
    horizon = config.task(policy.task).horizon
    df = with_outcome(test, prepared, horizon, d, n)
    res = policy.accuracy(df, GATE_THRESHOLD)
    out: dict[str, Any] = {"threshold": res["threshold"], "coverage": res["coverage"], "accuracy": res["accuracy"],
                           "n_calls": res["n_calls"], "curve": policy.curve(df).to_dict(orient="list"),
                           "baselines": {}}
    for name, bdf in base_frames.items():
        theirs = GatingPolicy.for_frame(bdf)
        if theirs.can_gate:
            b = theirs.accuracy(with_outcome(bdf, prepared, horizon, d, n), GATE_THRESHOLD)
            out["baselines"][name] = {"coverage": b["coverage"], "accuracy": b["accuracy"]}
    return out


def _prob_frame(test: pd.DataFrame, config: ExperimentConfig, preds: dict[str, np.ndarray]) -> pd.DataFrame:
    """A predictions-like frame (date, ticker, prob columns) from estimator outputs."""
    cols: dict[str, Any] = {"date": test["date"].to_numpy(), "ticker": test["ticker"].to_numpy()}
    for t in config.tasks:
        if t.kind == "classification" and t.name in preds:
            for c, cls in enumerate(t.classes):
                cols[f"{t.name}_prob_{cls}"] = preds[t.name][:, c]
    return pd.DataFrame(cols, index=test.index)


def evaluate_run(run_dir: str | Path | RunDir, *, write: bool = True, baselines: tuple[str, ...] = DEFAULT_BASELINES,
                 backtest: bool = True, cost_bps: float = 10.0,
                 baseline_params: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """Evaluate a finished run on its test segment (see the module doc for the JSON layout).

    Args:
        run_dir: the run (a :class:`~finmt_core.run.Run` reuses its cached data).
        baselines: registered estimator names fitted on the run's train segment.
        backtest: add the default backtest (``strategy="auto"``) net of ``cost_bps``.
        baseline_params: hyper-parameter overrides per baseline (default: their defaults).

    Raises:
        RunError: the run has no predictions or its data cannot be rebuilt.
    """
    from finmt_core.training.runs import atomic_write_json

    t0 = time.perf_counter()
    run = Run.of(run_dir)
    config = run.config()
    preds = run.predictions()
    test = preds[preds["split"] == "test"].reset_index(drop=True)
    if test.empty:
        raise RunError(f"run {run.name!r} has no test predictions; was it trained to the end?")
    prepared = run.data()
    d, n = _row_index(test, prepared)
    tasks = list(config.tasks)
    rows: dict[str, TaskRows] = {t.name: task_rows(test, t, split=None) for t in tasks}

    names = tuple(b for b in baselines if b != config.model.name)  # an estimator run is not its own baseline
    val = preds[preds["split"] == "val"].reset_index(drop=True)
    dv, nv = _row_index(val, prepared) if len(val) else (np.zeros(0, np.int64), np.zeros(0, np.int64))
    # one fit per baseline predicts the test rows and (for the gates) the validation rows
    both, notes = fit_predict_baselines(prepared, np.concatenate([d, dv]), np.concatenate([n, nv]), names, baseline_params)
    base_preds = {b: {t: v[: len(test)] for t, v in bp.items()} for b, bp in both.items()}
    base_val = {b: {t: v[len(test):] for t, v in bp.items()} for b, bp in both.items()}
    if config.model.name == "ensemble":  # its members and their equal-weight mix, on the same test rows
        from finmt_core.ensemble.evaluate import member_baselines

        extra, more = member_baselines(config, test)
        base_preds.update(extra)
        notes = [*notes, *more]
    singles = find_single_task_runs(run.path, config)

    result: dict[str, Any] = {
        "run": {"name": run.name, "model": config.model.name, "preset": config.preset, "tasks": [t.name for t in tasks],
                "data": config.data.source, "state": run.status().get("state"), "n_test_rows": len(test),
                "tickers": len(prepared.tickers), "single_task_runs": {k: Path(v).name for k, v in singles.items()}},
        "splits": _splits(prepared), "tasks": {}, "baselines": {b: {} for b in [*base_preds, *([SINGLE_TASK] if singles else [])]},
        "significance": {}, "confusion": {}, "warnings": list(notes),
    }
    for t in tasks:
        r = rows[t.name]
        if len(r) == 0:
            result["warnings"].append(f"{t.name}: no test row has a known target; not scored")
            continue
        m = score_task(t, r.y, r.pred, r.dates)
        result["tasks"][t.name] = m
        if t.kind == "classification":
            result["confusion"][t.name] = {"classes": list(t.classes), "matrix": confusion(r.y, r.pred.argmax(1), len(t.classes))}
        same_rows = {name: bp[t.name][r.index] for name, bp in base_preds.items() if t.name in bp}
        if t.name in singles:
            sp = single_task_predictions(t, singles[t.name], r.dates, r.tickers)
            if sp is not None:
                same_rows[SINGLE_TASK] = sp
        for name, bp in same_rows.items():
            result["baselines"][name][t.name] = score_task(t, r.y, bp, r.dates)
        result["significance"][t.name] = _with_edge_tests(task_significance(t, r, same_rows))
        result["warnings"] += collapse_warnings(t, m)
        result["warnings"] += baseline_warnings(t, m, result["baselines"], result["significance"][t.name])

    result["gates"] = _gates(config, val, base_val)
    base_frames = {name: _prob_frame(test, config, bp) for name, bp in base_preds.items()}
    result["signal_gated"] = _signal_gated(test, prepared, d, n, config, base_frames)
    result["breakdowns"] = _breakdowns(tasks, rows, result["tasks"], prepared, pd.DatetimeIndex(test["date"]))
    if backtest:
        result["backtest"] = _backtest_summary(test, tasks, prepared, cost_bps, result["warnings"])
    if config.model.name == "ensemble":
        from finmt_core.ensemble.build import read_summary

        result["ensemble"] = read_summary(run.path)
    result["elapsed_s"] = round(time.perf_counter() - t0, 3)
    result = json_safe(result)
    if write:
        atomic_write_json(run.evaluation_path, result)
        log.info("wrote %s", run.evaluation_path)
    return result


def _gates(config: ExperimentConfig, val: pd.DataFrame, base_val: dict[str, dict[str, np.ndarray]]) -> dict[str, Any]:
    """Validation gates (:mod:`finmt_core.evaluation.gates`) on the run's validation rows,
    beside the estimator baselines on those same rows (a single-task sibling run keeps test
    predictions only, so it is not among them)."""
    if val.empty:
        return {"segment": "val", "enabled": config.gates.enabled, "passed": False if config.gates.enabled else None,
                "n_failed": 1, "tasks": {}, "failed": ["the run has no validation predictions, so no gate can be judged"]}
    out = judge_gates(config, val, base_val)
    if config.model.name == "ensemble":  # its combination weights were learned on these very rows
        out["note"] = ("the ensemble's weights were learned on these validation rows, so its gates are optimistic; "
                       "its test metrics are the honest check")
    return out


def _with_edge_tests(sig: dict[str, Any]) -> dict[str, Any]:
    """Every edge gets its p-value (H0: no edge over that baseline, paired by date), and
    ``vs_best_baseline`` is the edge over the strongest baseline: the test that answers "does the
    model beat what a naive rule already gets?". The model's own metric carries no p-value (a test
    of accuracy = 0 or pinball = 0 says nothing)."""
    from finmt_core.evaluation.significance import best_baseline_edge, edge_p_value

    sig.get("model", {}).pop("p_value", None)
    for edge in sig.get("vs", {}).values():
        if "se" in edge:
            edge["p_value"] = edge_p_value(edge)
    sig["vs_best_baseline"] = best_baseline_edge(sig.get("vs", {}))
    return sig


def _breakdowns(tasks: list[Task], rows: dict[str, TaskRows], task_metrics: dict[str, Any], prepared: PreparedData,
                test_dates: pd.DatetimeIndex) -> dict[str, Any]:
    regimes = bd.market_regimes(prepared.dense.close, prepared.dates, prepared.split.train)
    scored = [t for t in tasks if t.name in task_metrics]
    corr = bd.cross_task_correlation(scored, rows)
    return {
        "regime": {t.name: bd.by_regime(t, rows[t.name], regimes) for t in scored},
        "ticker": {t.name: bd.by_ticker(t, rows[t.name]).to_dict(orient="index") for t in scored},
        "horizon": bd.by_horizon(scored, rows, task_metrics),
        "cross_task_correlation": corr.round(6).to_dict() if not corr.empty else {},
        "regime_days": regimes.reindex(test_dates.unique()).value_counts().to_dict(),
    }


def _backtest_summary(test: pd.DataFrame, tasks: list[Task], prepared: PreparedData, cost_bps: float, warnings: list[str]) -> dict[str, Any] | None:
    try:
        res = backtest_predictions(test, tasks, prepared.dense.close, prepared.dates, prepared.tickers, cost_bps=cost_bps)
    except DataError as exc:
        warnings.append(f"backtest skipped: {exc}")
        return None
    net, bench = res.metrics["net"], res.metrics["benchmark"]
    if np.isfinite(net.get("sharpe", np.nan)) and net["sharpe"] <= bench.get("sharpe", -np.inf):
        warnings.append(f"backtest ({res.settings['strategy']}, {cost_bps:g} bps): net Sharpe {net['sharpe']:.2f} does not beat "
                        f"equal-weight buy & hold ({bench.get('sharpe', float('nan')):.2f})")
    return res.to_dict()


def load_evaluation(run_dir: str | Path | RunDir) -> dict[str, Any]:
    """evaluation.json of a run (RunError when it has not been evaluated or is damaged)."""
    return Run.of(run_dir).evaluation()


def metric_table(evaluation: dict[str, Any], metrics: tuple[str, ...] | None = None) -> pd.DataFrame:
    """Tidy rows ``task, name, metric, value, ci_low, ci_high`` of the model ("model") and
    every baseline, for tables and ``plots.metric_vs_baseline``. Default metrics: each task's
    headline plus accuracy/balanced accuracy/MCC, IC/rank IC/directional accuracy/MAE."""
    default = ("accuracy", "balanced_accuracy", "mcc", "roc_auc", "log_loss", "ic", "rank_ic", "directional_accuracy",
               "mae", "r2", "pinball", "coverage")
    want = metrics or default
    recs = []
    sources = [("model", evaluation.get("tasks", {})), *evaluation.get("baselines", {}).items()]
    for name, per_task in sources:
        for task, m in per_task.items():
            sig = evaluation.get("significance", {}).get(task, {})
            for k in want:
                if k in m and m[k] is not None:
                    ci = sig.get("model", {}) if name == "model" and sig.get("metric") == k else {}
                    recs.append({"task": task, "name": name, "metric": k, "value": m[k],
                                 "ci_low": ci.get("ci_low", np.nan), "ci_high": ci.get("ci_high", np.nan)})
    return pd.DataFrame(recs, columns=["task", "name", "metric", "value", "ci_low", "ci_high"])


def headline_frame(evaluation: dict[str, Any]) -> pd.DataFrame:
    """One row per task: its headline metric for the model and each baseline (columns)."""
    table = metric_table(evaluation)
    rows = []
    for task, m in evaluation.get("tasks", {}).items():
        kind = "classification" if "accuracy" in m else "quantile" if "pinball" in m else "regression"
        metric = HEADLINE[kind][0]
        sub = table[(table["task"] == task) & (table["metric"] == metric)]
        rows.append({"task": task, "metric": metric, **dict(zip(sub["name"], sub["value"]))})
    return pd.DataFrame(rows)
