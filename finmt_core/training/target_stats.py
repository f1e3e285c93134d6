"""Statistics of a run's training targets on the train segment, for the loss.

``target_scales``: the std of each regression/quantile target (``loss.standardize``: targets
and outputs are divided by it inside the loss). ``balanced_class_weights``: ``n / (C n_c)`` per
class (``loss.balance_classes``). Both read the *training* targets (normalised where the task
says so) of the train rows only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from finmt_core.data.prepare import PreparedData
    from finmt_core.tasks import Task


def target_scales(prepared: PreparedData, tasks: Sequence[Task]) -> dict[str, float]:
    """Train-segment std of every regression/quantile task's training target (1.0 when it
    has fewer than 2 valid rows or no spread), for :meth:`MultiTaskLoss.set_target_scales`."""
    d, n = prepared.rows("train")
    out: dict[str, float] = {}
    for t in tasks:
        if t.kind == "classification":
            continue
        ok = prepared.targets.valid[t.name][d, n]
        y = prepared.targets.training(t.name)[d, n][ok].astype(np.float64)
        sd = float(y.std()) if y.size >= 2 else 0.0
        out[t.name] = sd if math.isfinite(sd) and sd > 0 else 1.0
    return out


#: Balanced class weights are clipped to this range (a class seen a handful of times must not
#: dominate the loss).
CLASS_WEIGHT_RANGE = (0.2, 5.0)


def balanced_class_weights(prepared: PreparedData, tasks: Sequence[Task]) -> dict[str, list[float]]:
    """``n / (C * n_c)`` per class of every classification task, from its train-segment
    training targets (clipped to :data:`CLASS_WEIGHT_RANGE`; an absent class gets the maximum)."""
    d, n = prepared.rows("train")
    out: dict[str, list[float]] = {}
    for t in tasks:
        if t.kind != "classification":
            continue
        ok = prepared.targets.valid[t.name][d, n]
        y = prepared.targets.training(t.name)[d, n][ok].astype(np.int64)
        if y.size == 0:
            continue
        c = len(t.classes)
        counts = np.bincount(y, minlength=c)[:c].astype(np.float64)
        w = np.where(counts > 0, y.size / (c * np.maximum(counts, 1)), CLASS_WEIGHT_RANGE[1])
        out[t.name] = [float(x) for x in np.clip(w, *CLASS_WEIGHT_RANGE)]
    return out
