"""Cross-sectional kernels: the sector mean (``xsection.group_mean``) against a pandas groupby and
the percentile rank (``xsection.cs_rank``) against bottleneck's ``nanrankdata``, bit for bit."""

from __future__ import annotations

import bottleneck as bn
import numpy as np
import pandas as pd
import pytest

from finmt_core.data.features import ops, xsection


@pytest.mark.parametrize("order", ["C", "F"])
def test_group_mean_equals_pandas_groupby(order: str) -> None:
    rng = np.random.default_rng(11)
    a = rng.normal(size=(60, 13))
    a[rng.random(a.shape) < 0.2] = np.nan
    a[:4] = np.nan  # dates with no value at all
    a[10, [0, 3, 6, 9, 12]] = np.nan  # group 0 has no value on date 10
    codes = np.arange(13) % 4  # group 0 = tickers 0, 4, 8, 12 ... (group 4 is empty)
    codes[[4, 8]] = 3
    got = xsection.group_mean(np.asarray(a, order=order), codes, 5)
    assert got.shape == a.shape and got.flags.f_contiguous
    frame = pd.DataFrame(a.T)
    ref = frame.groupby(codes).mean().reindex(range(5)).to_numpy()[codes].T  # [D, N]
    # Sums are taken in ticker order within each group: equal to pandas' to rounding (1e-15).
    np.testing.assert_allclose(got, ref, rtol=1e-13, atol=1e-15)
    assert np.isnan(got[:4]).all()
    assert np.isnan(got[10, codes == 0]).all() and np.isfinite(got[10, codes == 1]).all()


def test_group_mean_negative_code_counts_from_the_end() -> None:
    a = np.array([[1.0, 2.0, 4.0], [np.nan, 3.0, 5.0]])
    np.testing.assert_array_equal(xsection.group_mean(a, np.array([0, -1, 1]), 2), [[1.0, 3.0, 3.0], [np.nan, 4.0, 4.0]])


def _awkward_rows(rng: np.random.Generator, n_rows: int, n_cols: int) -> np.ndarray:
    """Rows with NaN, ±inf, ±0.0, exact ties and near-ties (values 1e-15 apart)."""
    a = rng.normal(size=(n_rows, n_cols))
    a[::3] = np.round(a[::3], 1)  # many exact ties
    a[1::5] += rng.normal(size=a[1::5].shape) * 1e-15  # near-ties: the exact path
    a[rng.random(a.shape) < 0.15] = np.nan
    a[rng.random(a.shape) < 0.03] = np.inf
    a[rng.random(a.shape) < 0.03] = -np.inf
    a[rng.random(a.shape) < 0.05] = -0.0
    a[rng.random(a.shape) < 0.05] = 0.0
    a[2] = np.nan  # no value
    a[4] = np.nan
    a[4, 0] = 0.7  # one value: 0.5
    a[6] *= 1e-310  # subnormals
    return a


@pytest.mark.parametrize(("n_rows", "n_cols"), [(40, 2), (60, 37), (12, 700), (3, 1)])
@pytest.mark.parametrize("order", ["C", "F"])
def test_cs_rank_equals_nanrankdata_bit_for_bit(n_rows: int, n_cols: int, order: str) -> None:
    rng = np.random.default_rng(n_cols)
    a = np.asarray(_awkward_rows(rng, max(n_rows, 7), n_cols), order=order)
    got = xsection.cs_rank(a)
    ranks = bn.nanrankdata(np.ascontiguousarray(a), axis=1)
    count = np.isfinite(a).sum(axis=1, keepdims=True).astype(np.float64)
    ref = ops.safe_div(ranks - 1.0, count - 1.0, fill=0.5)
    np.testing.assert_array_equal(got, ref)  # NaN where NaN, every other value identical
    np.testing.assert_array_equal(got, xsection._cs_rank_exact(a))
    if n_cols > 1:
        assert got[4, 0] == 0.5 and np.isnan(got[2]).all()


def test_cs_rank_fast_path_without_ties() -> None:
    rng = np.random.default_rng(3)
    a = rng.normal(size=(50, 300))
    a[:, :20] = np.nan
    got = xsection.cs_rank(np.asfortranarray(a))
    assert got.flags.c_contiguous and got.shape == a.shape
    np.testing.assert_array_equal(got, xsection._cs_rank_exact(a))
    np.testing.assert_array_equal(np.sort(got[:, 20:], axis=1), np.tile(np.arange(280) / 279, (50, 1)))


def test_blocked_rank_and_corr_equal_one_block(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(8)
    a = np.asfortranarray(_awkward_rows(rng, 40, 9))
    whole_rank = xsection.cs_rank(a)
    x = np.asfortranarray(rng.normal(size=(90, 9)))
    x[:5, 2] = np.nan
    mkt = x.mean(axis=1)
    whole_corr = ops.roll_corr_beta(x, mkt, 20)
    monkeypatch.setattr(xsection, "RANK_ROWS", 3)  # rows ranked 3 at a time
    monkeypatch.setattr(ops, "CORR_COLUMNS", 2)  # correlations 2 tickers at a time
    np.testing.assert_array_equal(xsection.cs_rank(a), whole_rank)
    for got, ref in zip(ops.roll_corr_beta(x, mkt, 20), whole_corr):
        np.testing.assert_array_equal(got, ref)
        assert got.flags.f_contiguous
