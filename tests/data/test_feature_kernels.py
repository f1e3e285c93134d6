"""The doubling rolling max/min and the EWM's leading-date blanking equal their references."""

from __future__ import annotations

import bottleneck as bn
import numpy as np
import pandas as pd
import pytest

from finmt_core.data.features import ops


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("shape", [(300, 9), (7, 3), (1, 2), (120,)])
def test_roll_extremes_equal_bottleneck(order: str, shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(5)
    a = rng.standard_normal(shape)
    a[rng.random(shape) < 0.15] = np.nan
    if a.ndim == 2 and a.shape[1] > 2:
        a[:, 0] = np.nan  # an all-missing ticker
        a[: a.shape[0] // 2, 1] = np.nan  # a late start
    a = np.asarray(a, order=order)
    for window in (1, 2, 3, 5, 14, 60, 500):
        for minp in (1, max(1, window // 2), window):
            got_max, got_min = ops.roll_max(a, window, minp), ops.roll_min(a, window, minp)
            assert got_max.shape == a.shape and got_min.shape == a.shape
            if minp > a.shape[0]:
                assert np.isnan(got_max).all() and np.isnan(got_min).all()
                continue
            w = min(window, a.shape[0])
            np.testing.assert_array_equal(got_max, bn.move_max(a, w, min_count=minp, axis=0))
            np.testing.assert_array_equal(got_min, bn.move_min(a, w, min_count=minp, axis=0))
    if a.ndim == 2 and order == "F" and a.shape[1] > 1:
        assert ops.roll_max(a, 14).flags.f_contiguous  # the column-major layout is kept


def test_ewm_leading_dates_blanked_like_pandas() -> None:
    rng = np.random.default_rng(6)
    a = rng.standard_normal((80, 5))
    a[:30, 1] = np.nan  # starts late: its first 30 + 13 dates are undefined
    a[:, 2] = np.nan
    a[:79, 3] = np.nan  # one value: never reaches min_periods
    got = ops.ewm_mean(np.asfortranarray(a), alpha=1.0 / 14.0, minp=14)
    ref = pd.DataFrame(a).ewm(alpha=1.0 / 14.0, adjust=False, min_periods=14).mean().to_numpy()
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-14)
    assert np.isnan(got[:43, 1]).all() and np.isfinite(got[43:, 1]).all()
    assert np.isnan(got[:, 2]).all() and np.isnan(got[:, 3]).all()
