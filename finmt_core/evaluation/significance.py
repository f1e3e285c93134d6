"""Is an edge real? Standard errors and bootstrap intervals that respect the date structure.

Rows on the same date are strongly correlated (one market move hits every stock), so
treating n rows as independent overstates significance by a lot. Everything here blocks by
date: per-row statistics are summed per date, and uncertainty comes from the spread across
dates — a cluster-robust (by date) standard error, or a bootstrap that resamples whole dates.

All statistics are ratios ``sum(num) / sum(den)`` over rows (accuracy: num = correct, den = 1;
mean IC over dates: one row per date), so a bootstrap replicate is a matrix product of
multinomial date weights ``[B, D]`` with per-date sums ``[D]`` — no loop over dates or rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from finmt_core.errors import DataError

#: Default number of bootstrap replicates and interval level.
N_BOOT = 1000
ALPHA = 0.05


def per_date_sums(values: np.ndarray, dates: np.ndarray, weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Sum of ``values`` and of ``weights`` (default 1 per row) per date: two ``[D]`` arrays."""
    v = np.asarray(values, dtype=np.float64)
    if len(v) != len(dates):
        raise DataError(f"per_date_sums: {len(v)} values but {len(dates)} dates")
    codes, _ = pd.factorize(np.asarray(dates), sort=True)
    w = np.ones_like(v) if weights is None else np.asarray(weights, dtype=np.float64)
    return np.bincount(codes, weights=v * w), np.bincount(codes, weights=w)


def clustered_mean(num_d: np.ndarray, den_d: np.ndarray, alpha: float = ALPHA) -> dict[str, float]:
    """Ratio mean ``sum(num_d) / sum(den_d)`` with its date-clustered standard error.

    The SE is the linearised (sandwich) estimator with clusters = dates:
    ``var = D / (D - 1) * sum_d (num_d - m * den_d)^2 / (sum_d den_d)^2``. The interval uses a
    t distribution with D - 1 degrees of freedom. No p-value: "mean = 0" is a meaningful null
    only for a difference (an edge), see :func:`edge_p_value`.
    """
    d = len(num_d)
    total = float(den_d.sum())
    if d == 0 or total <= 0:
        return {"value": float("nan"), "se": float("nan"), "ci_low": float("nan"), "ci_high": float("nan"), "n_dates": float(d)}
    m = float(num_d.sum()) / total
    if d < 2:
        se = float("nan")
    else:
        resid = num_d - m * den_d
        se = float(np.sqrt(d / (d - 1) * np.sum(resid**2)) / total)
    q = stats.t.ppf(1 - alpha / 2, df=max(d - 1, 1))
    return {"value": m, "se": se, "ci_low": m - q * se, "ci_high": m + q * se, "n_dates": float(d)}


def bootstrap_ratio(
    num_d: np.ndarray, den_d: np.ndarray, n_boot: int = N_BOOT, alpha: float = ALPHA, seed: int = 0
) -> tuple[float, float]:
    """Percentile interval of ``sum(num) / sum(den)`` when whole dates are resampled with
    replacement (``n_boot`` replicates)."""
    d = len(num_d)
    if d < 2:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    w = rng.multinomial(d, np.full(d, 1.0 / d), size=n_boot).astype(np.float64)  # [B, D]
    den = w @ den_d
    reps = np.divide(w @ num_d, den, out=np.full(n_boot, np.nan), where=den > 0)
    lo, hi = np.nanquantile(reps, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


def mean_by_date(values: np.ndarray, dates: np.ndarray, *, bootstrap: bool = True, seed: int = 0) -> dict[str, float]:
    """Mean of a per-row statistic (e.g. correctness 0/1) with a date-clustered SE and, with
    ``bootstrap``, a date-bootstrap interval (``boot_low``, ``boot_high``)."""
    num_d, den_d = per_date_sums(values, dates)
    out = clustered_mean(num_d, den_d)
    if bootstrap:
        out["boot_low"], out["boot_high"] = bootstrap_ratio(num_d, den_d, seed=seed)
    return out


def paired_edge(
    model_values: np.ndarray, base_values: np.ndarray, dates: np.ndarray, *, seed: int = 0
) -> dict[str, float]:
    """Edge of a model over a baseline on the SAME rows: the mean of ``model - base`` per row
    (e.g. correct_model - correct_base, or abs_err_base - abs_err_model), date-clustered,
    with a date bootstrap interval. ``significant`` is 1.0 when the interval excludes 0;
    ``p_value`` tests H0 "no edge"."""
    m = np.asarray(model_values, dtype=np.float64)
    b = np.asarray(base_values, dtype=np.float64)
    if m.shape != b.shape:
        raise DataError(f"paired_edge: model and baseline rows differ ({m.shape} vs {b.shape}); score them on the same rows")
    out = mean_by_date(m - b, dates, seed=seed)
    out["significant"] = float(out["ci_low"] > 0 or out["ci_high"] < 0) if np.isfinite(out["se"]) else 0.0
    out["p_value"] = edge_p_value(out)  # H0: no edge
    return out


def edge_p_value(edge: dict[str, Any]) -> float:
    """Two-sided p-value of H0 "no edge" (``value == 0``) for a date-clustered edge (a dict of
    :func:`paired_edge` or :func:`series_mean` of per-date differences): t test with
    ``n_dates - 1`` degrees of freedom. NaN when the edge has no standard error."""
    value, se, d = (float(x) if (x := edge.get(k)) is not None else float("nan") for k in ("value", "se", "n_dates"))
    if not (np.isfinite(value) and np.isfinite(se) and se > 0 and d > 1):
        return float("nan")
    return float(2 * stats.t.sf(abs(value / se), df=d - 1))


def best_baseline_edge(vs: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    """The model's edge over its strongest baseline: of the per-baseline edges ``vs`` (model
    minus baseline on the same rows, > 0 = model better), the smallest finite one, with
    ``baseline`` (its name), ``p_value`` (:func:`edge_p_value`) and ``test`` (what it tests).
    None when no baseline has a finite edge."""
    finite = {k: e for k, e in vs.items() if e.get("value") is not None and np.isfinite(e["value"])}
    if not finite:
        return None
    name = min(finite, key=lambda k: finite[k]["value"])
    return {"baseline": name, **finite[name], "p_value": edge_p_value(finite[name]),
            "test": "H0: the model scores the same as this baseline on the same test rows "
                    "(per-date differences, date-clustered t test)"}


def series_mean(values: pd.Series | np.ndarray, *, seed: int = 0) -> dict[str, float]:
    """Mean of a per-date series (e.g. the daily IC) with SE ``std / sqrt(n)`` and a bootstrap
    interval over dates."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    ones = np.ones_like(v)
    out = clustered_mean(v, ones)
    out["boot_low"], out["boot_high"] = bootstrap_ratio(v, ones, seed=seed)
    return out


def describe(result: dict[str, Any], what: str) -> str:
    """One sentence: ``accuracy 0.512 ± 0.008 (95% CI 0.497-0.528, 120 dates)``."""
    return (
        f"{what} {result['value']:.4g} ± {result['se']:.2g} (95% CI {result['ci_low']:.4g} to "
        f"{result['ci_high']:.4g}, {int(result['n_dates'])} dates)"
    )
