"""LightGBM bins its training matrix once for all boosters, with the same predictions as the
per-task scikit-learn wrappers it replaced (issue 17)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from finmt_core.config import ExperimentConfig
from finmt_core.data.prepare import PreparedData, prepare
from finmt_core.models import create_estimator
from finmt_core.models import gbm as gbm_module
from finmt_core.models.gbm import labelled_rows, lagged_features

lgb = pytest.importorskip("lightgbm", reason="the LightGBM baseline")

FAST = {"n_estimators": 20, "num_leaves": 7, "min_child_samples": 20, "early_stopping_rounds": 5}
TASKS = [
    {"target": "return"},
    {"target": "direction"},
    {"target": "action"},
    {"target": "regime"},
    {"target": "quantiles"},
    {"target": "signal"},
    {"target": "direction", "name": "direction_masked", "mask_by": "signal"},  # fewer rows: a subset
]


@pytest.fixture(scope="module")
def prepared(tiny_panel: pd.DataFrame) -> PreparedData:
    cfg = ExperimentConfig.from_dict({"data": {"source": "synthetic", "window": 10}, "tasks": TASKS})
    return prepare(tiny_panel, cfg)


def _reference(prepared: PreparedData, est: Any, task: Any, d: np.ndarray, n: np.ndarray) -> np.ndarray:
    """The previous implementation: a scikit-learn wrapper fitted on the task's own matrix."""
    params = {"n_estimators": est.cfg.n_estimators, "learning_rate": est.cfg.learning_rate,
              "num_leaves": est.cfg.num_leaves, "min_child_samples": est.cfg.min_child_samples,
              "colsample_bytree": est.cfg.colsample_bytree, "reg_lambda": est.cfg.reg_lambda, "n_jobs": 1,
              "random_state": est.cfg.seed, "deterministic": True, "force_row_wise": True, "verbose": -1}
    dt, nt, y = labelled_rows(prepared, task, "train", training=True)
    dv, nv, yv = labelled_rows(prepared, task, "val", training=True)
    xtr, xva = lagged_features(prepared.X, dt, nt, est.cfg.lags), lagged_features(prepared.X, dv, nv, est.cfg.lags)
    x = lagged_features(prepared.X, d, n, est.cfg.lags)
    stop = [lgb.early_stopping(est.cfg.early_stopping_rounds, verbose=False)]
    if task.kind == "classification":
        seen = np.unique(y)
        keep = np.isin(yv, seen)
        model = lgb.LGBMClassifier(**params).fit(xtr, y.astype(int), eval_set=[(xva[keep], yv[keep].astype(int))],
                                                 callbacks=stop)
        probs = np.zeros((len(x), len(task.classes)))
        probs[:, seen.astype(int)] = model.predict_proba(x)
        return probs
    if task.kind == "regression":
        return lgb.LGBMRegressor(objective="regression", **params).fit(xtr, y, eval_set=[(xva, yv)],
                                                                        callbacks=stop).predict(x)
    q = [lgb.LGBMRegressor(objective="quantile", alpha=a, **params).fit(xtr, y, eval_set=[(xva, yv)],
                                                                        callbacks=stop).predict(x)
         for a in task.quantiles]
    return np.sort(np.stack(q, axis=1), axis=1)


@pytest.mark.filterwarnings("ignore:The argument .eval_set. is deprecated")
def test_predictions_equal_the_per_task_wrappers(prepared: PreparedData, monkeypatch: pytest.MonkeyPatch) -> None:
    binned: list[int] = []
    original = gbm_module.lgb.Dataset

    class Counting(original):  # type: ignore[misc, valid-type]
        def __init__(self, data: Any, *args: Any, reference: Any = None, **kwargs: Any) -> None:
            if reference is None and data is not None:
                binned.append(len(data))
            super().__init__(data, *args, reference=reference, **kwargs)

    monkeypatch.setattr(gbm_module.lgb, "Dataset", Counting)
    est = create_estimator("lightgbm", FAST, prepared.config.tasks).fit(prepared)
    monkeypatch.setattr(gbm_module.lgb, "Dataset", original)
    assert len(binned) == 1, "the train matrix must be binned once for all boosters"
    union = {t.name: labelled_rows(prepared, t, "train")[0].size for t in prepared.config.tasks}
    assert binned[0] == max(union.values())
    assert union["direction_masked"] < binned[0]  # that task trains on a subset of the binned rows
    d, n = prepared.rows("test")
    out = est.predict(prepared, d, n)
    same_rows = [t for t in prepared.config.tasks if union[t.name] == binned[0]]
    assert {t.name for t in same_rows} >= {"return", "direction", "action", "regime", "quantiles"}
    for task in same_rows:  # same rows -> same bins -> the same boosters as before
        np.testing.assert_allclose(out[task.name], _reference(prepared, est, task, d, n), atol=1e-9, err_msg=task.name)
    masked = out["direction_masked"]
    np.testing.assert_allclose(masked.sum(axis=1), 1.0, atol=1e-9)
    assert est.best_iterations_["direction_masked"][0] >= 1


def test_tree_shap_reads_the_boosters(prepared: PreparedData) -> None:
    pytest.importorskip("shap", reason="tree SHAP")
    from finmt_core.explain.shap_values import tree_shap

    est = create_estimator("lightgbm", FAST, prepared.config.tasks).fit(prepared)
    d, n = prepared.rows("test")
    for name in ("regime", "return"):
        task = next(t for t in prepared.config.tasks if t.name == name)
        vals = tree_shap(est, prepared, d[:5], n[:5], task)
        assert vals.shape == (5, len(est.feature_names_))
        assert np.isfinite(vals.to_numpy()).all()
