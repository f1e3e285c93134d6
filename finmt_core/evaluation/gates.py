"""Validation gates: named pass/fail checks a run must pass before anyone deploys it.

The defaults are seed 003's deployment checks (R² > 0, prediction variance > 0.005,
directional accuracy > 52 %, positive bias 45-55 %) plus "beats the best baseline", with the
thresholds in the config's ``gates:`` section (:class:`finmt_core.config.GatesConfig`).

Honesty rules:

* Gates are judged on the **validation** segment only. :func:`judge_gates` refuses a frame
  holding any other split, so a test row can never decide whether a model ships.
* Every gate value stands beside the same value of the best baseline (by the task's headline
  metric) on exactly the same rows, so "R² = -0.01" reads against "naive_zero R² = -0.0003".

Which gates apply (a gate that does not apply to a task is not listed for it):

========================  ==============================================  ==================
gate                      value                                            tasks
========================  ==============================================  ==================
``r2``                    R² of the (median) forecast                      regression, quantile
``prediction_variance``   var(pred) / var(target) (unit-free, see config)  regression, quantile
``directional_accuracy``  sign hit rate / accuracy of Up-Down              signed regression/quantile, direction
``positive_bias``         share of "up" calls (pred > 0 / argmax = Up)     signed regression/quantile, direction
``class_share``           share of the most predicted class                classification
``beats_best_baseline``   headline metric vs the best baseline's           every task
========================  ==============================================  ==================

Signed targets are those of the ``return``, ``relevance`` and ``quantiles`` families (a
volatility forecast has no direction).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from finmt_core.config import GatesConfig, GateThresholds
from finmt_core.errors import RunError
from finmt_core.evaluation.frames import point_prediction, task_rows
from finmt_core.evaluation.metrics import HEADLINE, score_task
from finmt_core.tasks import Task

#: Task families whose target has a sign worth calling (directional accuracy, positive bias).
SIGNED_FAMILIES = ("return", "relevance", "quantiles")
#: The validation segment's name in predictions.parquet.
SEGMENT = "val"


def _signed(task: Task) -> bool:
    return task.target in SIGNED_FAMILIES and task.kind != "classification"


def _up_direction(task: Task) -> bool:
    return task.kind == "classification" and task.target == "direction" and "Up" in task.classes


def gate_values(task: Task, y: np.ndarray, pred: np.ndarray, dates: np.ndarray) -> dict[str, float]:
    """The value each gate tests, for one source (model or baseline) on the given rows.

    Args:
        y: ``[n]`` targets (class index for classification).
        pred: the source's outputs in the estimator format (probs ``[n, C]`` / ``[n]`` / ``[n, Q]``).
        dates: ``[n]`` datetime64 (for the IC headline).

    Returns:
        ``{gate: value}`` plus ``headline`` (the task's headline metric); NaN where undefined.
    """
    m = score_task(task, y, pred, dates)
    point = point_prediction(task, pred).astype(np.float64)
    out: dict[str, float] = {"headline": float(m.get(HEADLINE[task.kind][0], np.nan))}
    if task.kind == "classification":
        out["class_share"] = float(m["top_pred_share"])
        if _up_direction(task):
            out["directional_accuracy"] = float(m["accuracy"])
            out["positive_bias"] = float(np.mean(point == task.classes.index("Up"))) if len(point) else np.nan
        return out
    prefix = "median_" if task.kind == "quantile" else ""
    out["r2"] = float(m.get(f"{prefix}r2", np.nan))
    p_std, t_std = float(m.get(f"{prefix}pred_std", np.nan)), float(m.get(f"{prefix}target_std", np.nan))
    out["prediction_variance"] = (p_std / t_std) ** 2 if t_std > 0 else np.nan
    if _signed(task):
        out["directional_accuracy"] = float(m.get(f"{prefix}directional_accuracy", np.nan))
        out["positive_bias"] = float(np.mean(point > 0)) if len(point) else np.nan
    return out


def _rule(gate: str, th: GateThresholds) -> tuple[str, Any] | None:
    """(operator, threshold) of a gate; None when the config switches it off."""
    if gate == "r2":
        return None if th.r2_min is None else (">", th.r2_min)
    if gate == "prediction_variance":
        return None if th.pred_var_ratio_min is None else (">", th.pred_var_ratio_min)
    if gate == "directional_accuracy":
        return None if th.directional_accuracy_min is None else (">", th.directional_accuracy_min)
    if gate == "positive_bias":
        if th.positive_bias_min is None and th.positive_bias_max is None:
            return None
        return ("within", [th.positive_bias_min if th.positive_bias_min is not None else 0.0,
                           th.positive_bias_max if th.positive_bias_max is not None else 1.0])
    if gate == "class_share":
        return None if th.max_class_share is None else ("<", th.max_class_share)
    return None


def _passes(op: str, value: float, threshold: Any) -> bool:
    if not np.isfinite(value):
        return False  # an undefined value (e.g. every prediction 0) cannot pass a gate
    if op == ">":
        return bool(value > threshold)
    if op == "<":
        return bool(value < threshold)
    return bool(threshold[0] <= value <= threshold[1])


def _fmt(v: Any) -> str:
    if isinstance(v, list):
        return f"[{_fmt(v[0])}, {_fmt(v[1])}]"
    return "undefined" if v is None or not np.isfinite(v) else f"{v:.4g}"


def _gate(name: str, metric: str, op: str, threshold: Any, value: float, base: str | None,
          base_value: float | None) -> dict[str, Any]:
    passed = _passes(op, value, threshold)
    word = {">": "must be >", "<": "must be <", "within": "must lie within"}[op]
    beside = f"; best baseline {base}: {_fmt(base_value)}" if base else ""
    reason = f"{metric} {_fmt(value)} ({word} {_fmt(threshold)}{beside})"
    return {"gate": name, "metric": metric, "op": op, "threshold": threshold, "value": value, "passed": passed,
            "baseline": base, "baseline_value": base_value, "reason": reason}


def judge_task(task: Task, th: GateThresholds, model: dict[str, float], baselines: dict[str, dict[str, float]]) -> list[dict[str, Any]]:
    """The gates of one task from :func:`gate_values` of the model and of each baseline."""
    metric, higher = HEADLINE[task.kind]
    scored = {b: v for b, v in baselines.items() if np.isfinite(v.get("headline", np.nan))}
    best = (max if higher else min)(scored, key=lambda b: scored[b]["headline"]) if scored else None
    out = []
    for gate in ("r2", "prediction_variance", "directional_accuracy", "positive_bias", "class_share"):
        rule = _rule(gate, th)
        if gate not in model or rule is None:
            continue
        base_value = baselines[best].get(gate) if best else None
        out.append(_gate(gate, gate, rule[0], rule[1], model[gate], best, base_value))
    if th.beat_best_baseline:
        if best is None:
            out.append({"gate": "beats_best_baseline", "metric": metric, "op": ">" if higher else "<", "threshold": None,
                        "value": model["headline"], "passed": False, "baseline": None, "baseline_value": None,
                        "reason": f"{metric} {_fmt(model['headline'])}: no baseline could be scored on these rows, "
                                  "so the model cannot show it beats one"})
        else:
            out.append(_gate("beats_best_baseline", metric, ">" if higher else "<", scored[best]["headline"],
                             model["headline"], best, scored[best]["headline"]))
    return out


def judge_gates(config: Any, val: pd.DataFrame, baseline_preds: dict[str, dict[str, np.ndarray]]) -> dict[str, Any]:
    """Judge every task's gates on the validation rows.

    Args:
        config: the run's ExperimentConfig (``config.gates``, ``config.tasks``).
        val: predictions.parquet rows of the validation segment ONLY (``split == "val"``).
        baseline_preds: ``{baseline: {task: outputs}}`` aligned with ``val``'s rows (row i of an
            array belongs to ``val.iloc[i]``), fitted on the train segment.

    Returns:
        ``{"segment": "val", "enabled", "passed", "n_failed", "failed": [str], "tasks": {task:
        {"passed", "n_rows", "best_baseline", "gates": [{gate, metric, op, threshold, value,
        passed, baseline, baseline_value, reason}]}}}``. ``passed`` is None when gates are off.

    Raises:
        RunError: ``val`` holds rows of another segment (gates never read test rows).
    """
    cfg: GatesConfig = config.gates
    splits = set(val["split"].astype(str).unique()) if "split" in val else {SEGMENT}
    if splits - {SEGMENT}:
        raise RunError(f"validation gates got rows of the {sorted(splits - {SEGMENT})} segment; gates are judged "
                       "on validation rows only (pass predictions[predictions.split == 'val'])")
    out: dict[str, Any] = {"segment": SEGMENT, "enabled": cfg.enabled, "tasks": {}, "failed": []}
    if not cfg.enabled:
        return {**out, "passed": None, "n_failed": 0}
    val = val.reset_index(drop=True)
    for task in config.tasks:
        rows = task_rows(val, task, split=None)
        if len(rows) == 0:
            out["tasks"][task.name] = {"passed": False, "n_rows": 0, "best_baseline": None, "gates": []}
            out["failed"].append(f"{task.name}: no validation row has a known target, so no gate can be judged")
            continue
        model = gate_values(task, rows.y, rows.pred, rows.dates)
        bases = {b: gate_values(task, rows.y, bp[task.name][rows.index], rows.dates)
                 for b, bp in baseline_preds.items() if task.name in bp}
        gates = judge_task(task, cfg.for_task(task.name), model, bases)
        best = next((g["baseline"] for g in gates if g["baseline"]), None)
        out["tasks"][task.name] = {"passed": all(g["passed"] for g in gates), "n_rows": len(rows),
                                   "best_baseline": best, "gates": gates}
        out["failed"] += [f"{task.name}: {g['gate']} failed — {g['reason']} on {len(rows)} validation rows"
                          for g in gates if not g["passed"]]
    out["passed"] = not out["failed"]
    out["n_failed"] = len(out["failed"])
    return out


def gate_summary(gates: dict[str, Any] | None) -> tuple[str, str]:
    """(state, one line) of an evaluation's gates: state is ``passed``, ``failed``, ``off`` or
    ``unknown`` (evaluated before gates existed)."""
    if not gates:
        return "unknown", "gates not judged (evaluate the run again)"
    if gates.get("passed") is None:
        return "off", "gates switched off (gates.enabled: false)"
    n = sum(len(t["gates"]) for t in gates.get("tasks", {}).values())
    if gates["passed"]:
        return "passed", f"all {n} validation gates passed"
    return "failed", f"{gates['n_failed']} of {n} validation gates failed: " + "; ".join(gates["failed"][:3])
