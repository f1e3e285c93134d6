"""Light per-task validation metrics logged every epoch (the full set lives in evaluation/).

Classification: accuracy and balanced accuracy; regression: MAE and the information
coefficient (Spearman rank correlation of prediction and target over the pooled rows);
quantile: mean pinball loss and the coverage of the outer quantile band.

Computed with numpy/pandas alone (equal to scikit-learn's ``accuracy_score``,
``balanced_accuracy_score``, ``mean_absolute_error`` and scipy's ``spearmanr``, tested):
importing ``sklearn.metrics`` pulls in ``scipy.stats`` and costs ~0.8 s CPU in every
``finmt train`` process, for a handful of one-line formulas.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from finmt_core.tasks import Task


def _finite(x: float) -> float | None:
    """JSON-friendly: NaN/inf -> None."""
    return float(x) if math.isfinite(x) else None


def task_metrics(task: Task, pred: np.ndarray, target: np.ndarray) -> dict[str, float | None]:
    """Metrics of one task on its valid rows.

    Args:
        task: the task spec.
        pred: estimator-format predictions of the valid rows (probs ``[n, C]``, ``[n]`` or ``[n, Q]``).
        target: ``[n]`` targets (class index as float for classification).

    Returns:
        metric name -> value (None where undefined, e.g. no rows or a constant prediction).
    """
    n = len(target)
    if n == 0:
        return {"n": 0}
    out: dict[str, float | None] = {"n": n}
    if task.kind == "classification":
        y = target.astype(np.int64)
        yhat = np.asarray(pred).argmax(axis=1)
        out["accuracy"] = _finite(float(np.mean(y == yhat)))
        out["balanced_accuracy"] = _balanced_accuracy(y, yhat) if len(np.unique(y)) > 1 else None
        return out
    if task.kind == "quantile":
        qs = np.asarray(task.quantiles, dtype=np.float64)
        p = np.asarray(pred, dtype=np.float64)
        err = target[:, None] - p
        out["pinball"] = _finite(np.maximum(qs * err, (qs - 1) * err).mean())
        inside = (target >= p[:, 0]) & (target <= p[:, -1])
        out["coverage"] = _finite(inside.mean())
        mid = p[:, int(np.argmin(np.abs(qs - 0.5)))]
        out["mae"] = _finite(float(np.mean(np.abs(target - mid))))
        out["ic"] = _ic(mid, target)
        return out
    p = np.asarray(pred, dtype=np.float64).reshape(-1)
    out["mae"] = _finite(float(np.mean(np.abs(target - p))))
    out["ic"] = _ic(p, target)
    return out


def _ic(p: np.ndarray, target: np.ndarray) -> float | None:
    """Spearman rank correlation; None for a constant prediction (collapse) or < 3 rows."""
    if len(p) > 2 and np.ptp(p) > 0 and np.ptp(target) > 0:
        ranks_p = pd.Series(p).rank(method="average").to_numpy()
        ranks_t = pd.Series(target).rank(method="average").to_numpy()
        return _finite(float(np.corrcoef(ranks_p, ranks_t)[0, 1]))
    return None


def _balanced_accuracy(y: np.ndarray, yhat: np.ndarray) -> float | None:
    """Mean recall over the classes present in ``y`` (scikit-learn's ``balanced_accuracy_score``).

    Args:
        y: ``[n]`` int64 true class indices (>= 0).
        yhat: ``[n]`` int64 predicted class indices (>= 0).
    """
    size = int(max(y.max(), yhat.max())) + 1
    support = np.bincount(y, minlength=size)
    hits = np.bincount(y[y == yhat], minlength=size)
    present = support > 0
    return _finite(float(np.mean(hits[present] / support[present])))


def task_skill(task: Task, metrics: dict[str, float | None]) -> float | None:
    """One task's validation skill, 0 = no better than chance, in units that no loss weight
    or target scale can inflate.

    Classification: balanced accuracy minus chance (``1 / classes``): a head that predicts
    the base rate (or any single class) scores 0, however imbalanced the classes.
    Regression and quantile (the median): the information coefficient (Spearman); a
    collapsed, constant prediction scores 0.
    """
    if task.kind == "classification":
        bacc = metrics.get("balanced_accuracy")
        return None if bacc is None else float(bacc) - 1.0 / len(task.classes)
    if not metrics.get("n"):
        return None
    ic = metrics.get("ic")
    return 0.0 if ic is None else float(ic)


def validation_score(tasks: list[Task], metrics: dict[str, dict[str, float | None]]) -> float | None:
    """Mean :func:`task_skill` over the tasks that have one (unweighted: every task counts).

    The checkpoint criterion when ``train.monitor == "score"`` (higher is better): unlike the
    weighted validation loss it reflects every head, is not dominated by the classification
    losses' scale, and cannot be improved by shrinking a task weight.
    """
    skills = [task_skill(t, metrics[t.name]) for t in tasks if t.name in metrics]
    vals = [s for s in skills if s is not None and math.isfinite(s)]
    return float(np.mean(vals)) if vals else None
