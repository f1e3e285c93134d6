"""Cross-sectional normalisation and normalised training targets (Task.normalize)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from finmt_core.data.cs_norm import MIN_TICKERS, cs_normalize
from finmt_core.data.dense import to_dense
from finmt_core.data.labels import build_targets
from finmt_core.tasks import make_task


def _grid() -> np.ndarray:
    return np.array([[1.0, 2.0, 3.0, np.nan, 6.0], [5.0, 5.0, 5.0, 5.0, 5.0], [1.0, np.nan, np.nan, np.nan, 2.0]])


def test_demean_median_zscore_by_hand() -> None:
    v = _grid()
    d = cs_normalize(v, "demean")
    np.testing.assert_allclose(d[0], [-2.0, -1.0, 0.0, np.nan, 3.0])
    np.testing.assert_allclose(cs_normalize(v, "median")[0], [-1.5, -0.5, 0.5, np.nan, 3.5])
    z = cs_normalize(v, "zscore")
    np.testing.assert_allclose(z[0], (v[0] - 3.0) / np.nanstd(v[0]))
    np.testing.assert_array_equal(z[1], 0.0)  # a constant cross-section is 0, not NaN


def test_rank_is_centred_unit_variance_and_keeps_order() -> None:
    rng = np.random.default_rng(0)
    v = rng.standard_t(3, size=(200, 101))
    r = cs_normalize(v, "rank")
    np.testing.assert_allclose(r.mean(axis=1), 0.0, atol=1e-12)
    assert abs(r.std() - 1.0) < 0.02
    assert np.array_equal(np.argsort(r, axis=1), np.argsort(v, axis=1))


def test_nan_stays_nan_and_thin_dates_unchanged() -> None:
    v = _grid()
    for m in ("demean", "median", "zscore", "rank"):
        out = cs_normalize(v, m)
        assert np.array_equal(np.isnan(out), np.isnan(v))
        np.testing.assert_array_equal(out[2, [0, 4]], v[2, [0, 4]])  # 2 < MIN_TICKERS values
    assert MIN_TICKERS == 3
    with pytest.raises(ValueError, match="unknown"):
        cs_normalize(v, "minmax")


def _panel(n_days: int = 80, n: int = 6, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    market = rng.normal(0, 0.02, (n_days, 1))  # a strong common move
    close = 50.0 * np.exp(np.cumsum(market + rng.normal(0, 0.01, (n_days, n)), axis=0))
    dates = pd.bdate_range("2021-01-04", periods=n_days)
    idx = pd.MultiIndex.from_product([dates, [f"T{i}" for i in range(n)]], names=["date", "ticker"])
    return pd.DataFrame({"close": close.ravel()}, index=idx)


def test_normalised_targets_train_on_relative_moves_and_keep_raw_values() -> None:
    dense = to_dense(_panel())
    tasks = [make_task("return", 1, name="r_raw"), make_task("return", 1, name="r_z", normalize="zscore"),
             make_task("direction", 1, name="d_rel", normalize="demean"), make_task("direction", 1, name="d_raw")]
    tg = build_targets(dense, tasks)
    fwd = tg.values["r_raw"].astype(np.float64)
    # raw values are untouched: evaluation scores against the real outcome
    np.testing.assert_array_equal(tg.values["r_z"], tg.values["r_raw"])
    np.testing.assert_array_equal(tg.values["d_rel"], tg.values["d_raw"])
    z = tg.training("r_z").astype(np.float64)
    ok = np.isfinite(fwd).all(axis=1)
    np.testing.assert_allclose(np.nanmean(z[ok], axis=1), 0.0, atol=1e-5)
    np.testing.assert_allclose(np.nanstd(z[ok], axis=1), 1.0, atol=1e-4)
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):
        rel = fwd - np.nanmean(fwd, axis=1, keepdims=True)  # the last date has no target
    expect = np.where(np.isfinite(fwd), (rel > 0).astype(np.float32), np.nan)
    np.testing.assert_array_equal(tg.training("d_rel")[ok], expect[ok])
    # about half the stocks are "up" on every date once the market move is removed
    assert np.all(np.abs(np.nanmean(tg.training("d_rel")[ok], axis=1) - 0.5) <= 0.34)
    # the same validity as the raw target, and un-normalised tasks train on the raw values
    assert np.array_equal(np.isfinite(tg.training("r_z")), tg.valid["r_z"])
    assert tg.training("r_raw") is tg.values["r_raw"]


def test_normalize_choices_are_checked_per_family() -> None:
    with pytest.raises(ValueError, match=r"normalize .zscore. is not available"):
        make_task("direction", 1, normalize="zscore")
    with pytest.raises(ValueError, match="not available"):
        make_task("volatility", 5, normalize="demean")
    assert make_task("quantiles", 1, normalize="demean").normalize == "demean"
