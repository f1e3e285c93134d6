"""Stacking weights: one non-negative, sum-to-one weight per member and task.

Members' predictions are in the estimator format (class probabilities ``[n, C]``,
regression values ``[n]``, quantiles ``[n, Q]``). The ensemble's prediction is the weighted
sum ``sum_m w_m * pred_m`` with ``w_m >= 0`` and ``sum_m w_m = 1``, so probabilities stay
probabilities and quantiles stay sorted. The weights minimise, on the rows given (the
validation segment):

* classification: the log loss ``-mean log p[y]`` of the mixed probabilities;
* regression: the mean squared error against the training target;
* quantile: the mean pinball loss over the quantile levels.

All three objectives are convex in ``w`` (a log of a linear function, a quadratic, a sum of
piecewise-linear terms), so SLSQP from the equal weights finds the optimum up to
tolerance. The result is never worse than the equal weights or any single member on the
fitting rows: those simplex vertices are candidates too and the best candidate wins.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from finmt_core.errors import DataError
from finmt_core.tasks import Task

log = logging.getLogger(__name__)

#: Probabilities are clipped before the log so a member that says 0 for the truth stays finite.
PROB_FLOOR = 1e-7
METHODS: tuple[str, ...] = ("stack", "equal")


@dataclass
class TaskWeights:
    """The weights of one task and the losses that justify them (fitting rows only).

    Attributes:
        weights: ``[M]`` float, >= 0, sums to 1 (member order).
        loss: the ensemble's loss with ``weights``.
        equal_loss: the loss with equal weights ``1/M`` (the baseline).
        member_losses: ``[M]`` each member's own loss.
        n_rows: rows the weights were fitted on.
        metric: ``log_loss`` | ``mse`` | ``pinball``.
    """

    weights: np.ndarray
    loss: float
    equal_loss: float
    member_losses: np.ndarray
    n_rows: int
    metric: str

    def to_dict(self, names: Sequence[str]) -> dict[str, object]:
        return {"metric": self.metric, "n_rows": self.n_rows, "loss": self.loss, "equal_loss": self.equal_loss,
                "weights": {m: float(w) for m, w in zip(names, self.weights, strict=True)},
                "member_losses": {m: float(v) for m, v in zip(names, self.member_losses, strict=True)}}


def loss_metric(task: Task) -> str:
    """The name of the objective the weights of ``task`` minimise."""
    return {"classification": "log_loss", "regression": "mse", "quantile": "pinball"}[task.kind]


def combine(preds: Sequence[np.ndarray], weights: np.ndarray) -> np.ndarray:
    """``sum_m w_m * preds[m]``: ``preds`` are M arrays of one shape (``[n]``, ``[n, C]`` or
    ``[n, Q]``); the result has that shape, float64."""
    stacked = np.stack([np.asarray(p, dtype=np.float64) for p in preds], axis=0)  # [M, n, ...]
    return np.tensordot(np.asarray(weights, dtype=np.float64), stacked, axes=1)


def _objective(task: Task, stacked: np.ndarray, target: np.ndarray) -> Callable[[np.ndarray], tuple[float, np.ndarray]]:
    """(loss(w), grad(w)) of ``task`` for member predictions ``stacked`` ``[M, n, ...]``."""
    n = stacked.shape[1]
    if task.kind == "classification":
        picked = stacked[:, np.arange(n), target.astype(np.int64)]  # [M, n]: each member's p of the truth

        def f(w: np.ndarray) -> tuple[float, np.ndarray]:
            p = np.maximum(w @ picked, PROB_FLOOR)
            return float(-np.log(p).mean()), -(picked / p).mean(axis=1)
    elif task.kind == "quantile":
        qs = np.asarray(task.quantiles, dtype=np.float64)  # [Q]

        def f(w: np.ndarray) -> tuple[float, np.ndarray]:
            err = target[:, None] - np.tensordot(w, stacked, axes=1)  # [n, Q]
            loss = np.where(err >= 0, qs * err, (qs - 1.0) * err)
            slope = np.where(err >= 0, -qs, 1.0 - qs)  # d loss / d prediction
            return float(loss.mean()), np.einsum("mnq,nq->m", stacked, slope) / err.size
    else:
        def f(w: np.ndarray) -> tuple[float, np.ndarray]:
            err = w @ stacked - target
            return float((err**2).mean()), 2.0 * (stacked @ err) / n
    return f


def fit_weights(task: Task, preds: Sequence[np.ndarray], target: np.ndarray, valid: np.ndarray,
                method: str = "stack") -> TaskWeights:
    """Weights of ``task`` learned on the rows where ``valid`` is true.

    Args:
        task: the task (its kind picks the objective).
        preds: M member predictions in the estimator format, row-aligned.
        target: ``[n]`` training target (class index for classification).
        valid: ``[n]`` bool, rows with a known target.
        method: ``stack`` (learned) or ``equal`` (``1/M`` each).

    Raises:
        DataError: no valid row, fewer than one member, or an unknown method.
    """
    if method not in METHODS:
        raise DataError(f"ensemble method {method!r} is unknown; choose one of {', '.join(METHODS)}")
    if not preds:
        raise DataError("an ensemble needs at least one member")
    valid = np.asarray(valid, dtype=bool)
    if not valid.any():
        raise DataError(f"task {task.name!r}: no validation row has a known target, so its ensemble weights "
                        "cannot be learned; use a longer validation segment (split.val_frac)")
    stacked = np.stack([np.asarray(p, dtype=np.float64)[valid] for p in preds], axis=0)
    y = np.asarray(target, dtype=np.float64)[valid]
    m = len(preds)
    f = _objective(task, stacked, y)
    equal = np.full(m, 1.0 / m)
    candidates = [equal, *np.eye(m)]
    if method == "stack" and m > 1:
        # scale-free objective: daily-return MSEs are ~1e-4, below SLSQP's tolerances in raw units
        scale = max(f(equal)[0], 1e-300)
        res = minimize(lambda w: f(w)[0] / scale, equal, jac=lambda w: f(w)[1] / scale, method="SLSQP",
                       bounds=[(0.0, 1.0)] * m, constraints=({"type": "eq", "fun": lambda w: w.sum() - 1.0},),
                       options={"maxiter": 200, "ftol": 1e-12})
        w = np.clip(np.asarray(res.x, dtype=np.float64), 0.0, None)
        if w.sum() > 0:
            candidates.insert(0, w / w.sum())
        if not res.success:
            log.info("task %s: SLSQP stopped early (%s); keeping the best candidate", task.name, res.message)
    losses = [f(c)[0] for c in candidates] if method == "stack" else [f(equal)[0]]
    best = int(np.argmin(losses))
    weights = candidates[best] if method == "stack" else equal
    return TaskWeights(weights=weights, loss=losses[best], equal_loss=f(equal)[0],
                       member_losses=np.array([f(e)[0] for e in np.eye(m)]), n_rows=int(valid.sum()),
                       metric=loss_metric(task))
