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
