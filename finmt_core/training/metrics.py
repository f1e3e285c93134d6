"""Light per-task validation metrics logged every epoch (the full set lives in evaluation/).

Classification: accuracy and balanced accuracy; regression: MAE and the information
coefficient (Spearman rank correlation of prediction and target over the pooled rows);
quantile: mean pinball loss and the coverage of the outer quantile band.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import spearmanr
from sklearn.metrics import accuracy_score, balanced_accuracy_score, mean_absolute_error

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
        out["accuracy"] = _finite(accuracy_score(y, yhat))
        out["balanced_accuracy"] = _finite(balanced_accuracy_score(y, yhat)) if len(np.unique(y)) > 1 else None
        return out
    if task.kind == "quantile":
        qs = np.asarray(task.quantiles, dtype=np.float64)
        p = np.asarray(pred, dtype=np.float64)
        err = target[:, None] - p
        out["pinball"] = _finite(np.maximum(qs * err, (qs - 1) * err).mean())
        inside = (target >= p[:, 0]) & (target <= p[:, -1])
        out["coverage"] = _finite(inside.mean())
        mid = p[:, int(np.argmin(np.abs(qs - 0.5)))]
        out["mae"] = _finite(mean_absolute_error(target, mid))
        return out
    p = np.asarray(pred, dtype=np.float64).reshape(-1)
    out["mae"] = _finite(mean_absolute_error(target, p))
    if n > 2 and np.ptp(p) > 0 and np.ptp(target) > 0:
        out["ic"] = _finite(spearmanr(p, target).statistic)
    else:
        out["ic"] = None  # a constant prediction has no rank correlation (collapse)
    return out
