"""Estimator baselines: fit/predict contract, naive rules by hand, LightGBM finds a planted signal."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from finmt_core.config import ExperimentConfig
from finmt_core.data.prepare import PreparedData, prepare
from finmt_core.data.samples import synthetic_market
from finmt_core.errors import ConfigError
from finmt_core.models import create_estimator, get_estimator_class, list_estimators

ALL_FAMILIES = [
    {"target": "signal"},
    {"target": "direction", "mask_by": "signal"},
    {"target": "action"},
    {"target": "regime", "horizon": 5},
    {"target": "return"},
    {"target": "volatility", "horizon": 5},
    {"name": "relevance_7d", "target": "relevance", "horizon": 7},
    {"target": "quantiles"},
]
#: fit-on-data estimators (the ensemble combines finished runs: tests/ensemble/)
BASELINES = [n for n in list_estimators() if not getattr(get_estimator_class(n), "is_combiner", False)]
FAST_GBM = {"n_estimators": 30, "num_leaves": 7, "min_child_samples": 20}


@pytest.fixture(scope="module")
def prepared(tiny_panel: pd.DataFrame) -> PreparedData:
    cfg = ExperimentConfig.from_dict({"data": {"source": "synthetic", "window": 10}, "tasks": ALL_FAMILIES})
    return prepare(tiny_panel, cfg)


def _fit(name: str, prepared: PreparedData) -> object:
    params = FAST_GBM if name == "lightgbm" else {}
    return create_estimator(name, params, prepared.config.tasks).fit(prepared)


@pytest.mark.parametrize("name", BASELINES)
def test_fit_predict_shapes(name: str, prepared: PreparedData) -> None:
    est = create_estimator(name, FAST_GBM if name == "lightgbm" else {}, prepared.config.tasks)
    with pytest.raises(ConfigError, match="fit"):
        est.predict(prepared, np.array([20]), np.array([0]))
    assert est.fit(prepared) is est
    d, n = prepared.rows("test")
    out = est.predict(prepared, d, n)
    assert set(out) == {t.name for t in prepared.config.tasks}
    for t in prepared.config.tasks:
        y = np.asarray(out[t.name])
        assert np.isfinite(y).all(), t.name
        if t.kind == "classification":
            assert y.shape == (len(d), len(t.classes))
            assert (y >= 0).all() and (y <= 1).all()
            np.testing.assert_allclose(y.sum(axis=1), 1.0, atol=1e-9)
        elif t.kind == "regression":
            assert y.shape == (len(d),)
        else:
            assert y.shape == (len(d), len(t.quantiles))
            assert (np.diff(y, axis=1) >= 0).all()
    assert np.abs(out["relevance_7d"]).max() <= 1.0


def test_naive_majority_and_zero_by_hand(prepared: PreparedData) -> None:
    d, n = prepared.rows("val")
    major = _fit("naive_majority", prepared).predict(prepared, d, n)
    zero = _fit("naive_zero", prepared).predict(prepared, d, n)
    dt, nt = prepared.rows("train")
    ok = prepared.targets.valid["action"][dt, nt]
    y = prepared.targets.values["action"][dt, nt][ok].astype(int)
    np.testing.assert_allclose(major["action"][0], np.bincount(y, minlength=3) / y.size)
    ret = prepared.targets.values["return"][dt, nt][prepared.targets.valid["return"][dt, nt]]
    np.testing.assert_allclose(major["return"], ret.mean())
    np.testing.assert_allclose(zero["direction"], 0.5)
    np.testing.assert_allclose(zero["regime"], 0.25)
    assert (zero["return"] == 0).all() and (zero["relevance_7d"] == 0).all()
    assert zero["volatility"][0] == major["volatility"][0] > 0
    assert zero["quantiles"][0, 1] == 0.0  # median centred on zero


def test_naive_momentum_follows_the_sign_of_the_past_return(prepared: PreparedData) -> None:
    est = _fit("naive_momentum", prepared)
    d, n = prepared.rows("test")
    out = est.predict(prepared, d, n)
    close = prepared.dense.close
    past = np.log(close[d, n] / close[d - 20, n])
    up = out["direction"][:, 1] > 0.5
    np.testing.assert_array_equal(up, past > 0)
    np.testing.assert_allclose(out["return"], past / 20, rtol=1e-6)
    # Buy where the drift clears the threshold, never Buy and Sell at once
    action = out["action"].argmax(axis=1)
    assert set(np.unique(action[past > 0])) <= {1, 2} and set(np.unique(action[past < 0])) <= {0, 1}
    assert (out["volatility"] > 0).all()


def test_lightgbm_is_deterministic(prepared: PreparedData) -> None:
    d, n = prepared.rows("test")
    a = _fit("lightgbm", prepared).predict(prepared, d, n)
    b = _fit("lightgbm", prepared).predict(prepared, d, n)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])


def test_lightgbm_rejects_bad_lags() -> None:
    with pytest.raises(ConfigError, match="lags"):
        create_estimator("lightgbm", {"lags": [0]}, ExperimentConfig().tasks)


def test_lightgbm_beats_the_naive_rules_on_a_planted_signal() -> None:
    panel = synthetic_market(n_stocks=20, n_days=500, n_sectors=4, seed=0, signal_strength=2.0)
    cfg = ExperimentConfig.from_dict(
        {"data": {"source": "synthetic", "window": 10}, "tasks": [{"target": "direction"}, {"target": "return"}]}
    )
    prep = prepare(panel, cfg)
    d, n = prep.rows("test")
    ok = prep.targets.valid["direction"][d, n]
    y = prep.targets.values["direction"][d, n][ok].astype(int)
    r = prep.targets.values["return"][d, n][ok]
    acc, logloss = {}, {}
    for name in BASELINES:
        out = create_estimator(name, {}, cfg.tasks).fit(prep).predict(prep, d, n)
        p = out["direction"][ok]
        acc[name] = float((p.argmax(axis=1) == y).mean())
        logloss[name] = float(-np.log(np.clip(p[np.arange(y.size), y], 1e-12, 1.0)).mean())
        if name == "lightgbm":
            ic = float(np.corrcoef(out["return"][ok], r)[0, 1])
    naive = [k for k in acc if k != "lightgbm"]
    assert acc["lightgbm"] > max(acc[k] for k in naive) + 0.03, acc
    assert logloss["lightgbm"] < min(logloss[k] for k in naive), logloss
    assert ic > 0.05
