"""The per-epoch metrics (numpy/pandas only) equal scikit-learn's and scipy's definitions."""

from __future__ import annotations

import numpy as np
import pytest

from finmt_core.tasks import make_task
from finmt_core.training.metrics import task_metrics

sk = pytest.importorskip("sklearn.metrics", reason="reference implementation for the equality check")
stats = pytest.importorskip("scipy.stats", reason="reference implementation for the equality check")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_classification_metrics_equal_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    task = make_task("regime")
    c = len(task.classes)
    y = rng.integers(0, c - (seed == 2), size=200).astype(np.float32)  # seed 2: a class never true
    probs = rng.dirichlet(np.ones(c), size=200)
    m = task_metrics(task, probs, y)
    yhat = probs.argmax(axis=1)
    assert m["accuracy"] == pytest.approx(sk.accuracy_score(y.astype(int), yhat), abs=1e-12)
    with np.errstate(all="ignore"):
        ref = sk.balanced_accuracy_score(y.astype(int), yhat)
    assert m["balanced_accuracy"] == pytest.approx(ref, abs=1e-12)


@pytest.mark.parametrize("ties", [False, True])
def test_regression_and_quantile_metrics_equal_scipy(ties: bool) -> None:
    rng = np.random.default_rng(3)
    target = rng.normal(size=300)
    pred = rng.normal(size=300) + 0.3 * target
    if ties:  # rounded values: many ties on both sides
        target, pred = np.round(target, 1), np.round(pred, 1)
    reg = task_metrics(make_task("return"), pred, target)
    assert reg["ic"] == pytest.approx(stats.spearmanr(pred, target).statistic, abs=1e-12)
    assert reg["mae"] == pytest.approx(sk.mean_absolute_error(target, pred), abs=1e-12)
    q = make_task("quantiles", params={"quantiles": [0.1, 0.5, 0.9]})
    qp = np.stack([pred - 1, pred, pred + 1], axis=1)
    qm = task_metrics(q, qp, target)
    assert qm["ic"] == pytest.approx(stats.spearmanr(pred, target).statistic, abs=1e-12)
    assert qm["mae"] == pytest.approx(sk.mean_absolute_error(target, pred), abs=1e-12)


def test_constant_prediction_has_no_ic() -> None:
    task = make_task("return")
    assert task_metrics(task, np.zeros(10), np.arange(10.0))["ic"] is None
