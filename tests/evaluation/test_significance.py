"""Date-blocked standard errors and bootstrap intervals."""

from __future__ import annotations

import numpy as np
import pytest

from finmt_core.evaluation import significance as S


def test_clustered_mean_equals_plain_se_with_one_row_per_date() -> None:
    rng = np.random.default_rng(0)
    v = rng.normal(size=200)
    out = S.mean_by_date(v, np.arange(200))
    assert out["value"] == pytest.approx(v.mean())
    assert out["se"] == pytest.approx(v.std(ddof=1) / np.sqrt(200))
    assert out["ci_low"] < v.mean() < out["ci_high"]
    assert out["boot_low"] < v.mean() < out["boot_high"]


def test_blocking_by_date_widens_correlated_errors() -> None:
    rng = np.random.default_rng(1)
    dates = np.repeat(np.arange(50), 20)
    shock = rng.normal(size=50)[dates]  # every row of a date moves together
    v = shock + 0.1 * rng.normal(size=len(dates))
    naive_se = v.std(ddof=1) / np.sqrt(len(v))
    out = S.mean_by_date(v, dates)
    assert out["se"] > 3 * naive_se


def test_paired_edge_detects_real_and_null_edges() -> None:
    rng = np.random.default_rng(2)
    dates = np.repeat(np.arange(100), 10)
    base = (rng.uniform(size=1000) < 0.5).astype(float)
    better = np.maximum(base, (rng.uniform(size=1000) < 0.3).astype(float))
    real = S.paired_edge(better, base, dates)
    assert real["value"] > 0 and real["significant"] == 1.0
    null = S.paired_edge(base, base, dates)
    assert null["value"] == 0 and null["significant"] == 0.0


def test_series_mean_and_describe() -> None:
    out = S.series_mean(np.array([0.1, 0.2, 0.0, 0.1, np.nan]))
    assert out["n_dates"] == 4 and out["value"] == pytest.approx(0.1)
    assert "4 dates" in S.describe(out, "IC")


def test_bootstrap_needs_two_dates() -> None:
    lo, hi = S.bootstrap_ratio(np.array([1.0]), np.array([1.0]))
    assert np.isnan(lo) and np.isnan(hi)


def test_edge_p_value_tests_no_edge_and_the_mean_has_none() -> None:
    from scipy import stats

    rng = np.random.default_rng(3)
    dates = np.repeat(np.arange(60), 5)
    model = (rng.uniform(size=300) < 0.55).astype(float)
    base = (rng.uniform(size=300) < 0.5).astype(float)
    edge = S.paired_edge(model, base, dates)
    t = edge["value"] / edge["se"]
    assert edge["p_value"] == pytest.approx(2 * stats.t.sf(abs(t), df=59))
    assert "p_value" not in S.mean_by_date(model, dates)  # "accuracy = 0" is no hypothesis worth a p-value
    assert np.isnan(S.edge_p_value({"value": 0.1, "se": float("nan"), "n_dates": 10}))


def test_best_baseline_edge_is_the_smallest_edge() -> None:
    vs = {"naive_majority": {"value": 0.08, "se": 0.01, "n_dates": 50.0},
          "lightgbm": {"value": 0.01, "se": 0.02, "n_dates": 50.0},
          "naive_zero": {"value": float("nan"), "note": "undefined"}}
    best = S.best_baseline_edge(vs)
    assert best["baseline"] == "lightgbm" and best["value"] == 0.01
    assert best["p_value"] == pytest.approx(S.edge_p_value(vs["lightgbm"])) and best["p_value"] > 0.5
    assert "same test rows" in best["test"]
    assert S.best_baseline_edge({"naive_zero": {"value": None}}) is None
