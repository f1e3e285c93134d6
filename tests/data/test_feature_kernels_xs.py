"""Cross-sectional kernels: the sector mean (``ops.group_mean``) against a pandas groupby and
the percentile rank (``ops.cs_rank``) against bottleneck's ``nanrankdata``, bit for bit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from finmt_core.data.features import ops


@pytest.mark.parametrize("order", ["C", "F"])
def test_group_mean_equals_pandas_groupby(order: str) -> None:
    rng = np.random.default_rng(11)
    a = rng.normal(size=(60, 13))
    a[rng.random(a.shape) < 0.2] = np.nan
    a[:4] = np.nan  # dates with no value at all
    a[10, [0, 3, 6, 9, 12]] = np.nan  # group 0 has no value on date 10
    codes = np.arange(13) % 4  # group 0 = tickers 0, 4, 8, 12 ... (group 4 is empty)
    codes[[4, 8]] = 3
    got = ops.group_mean(np.asarray(a, order=order), codes, 5)
    assert got.shape == a.shape and got.flags.f_contiguous
    frame = pd.DataFrame(a.T)
    ref = frame.groupby(codes).mean().reindex(range(5)).to_numpy()[codes].T  # [D, N]
    # Sums are taken in ticker order within each group: equal to pandas' to rounding (1e-15).
    np.testing.assert_allclose(got, ref, rtol=1e-13, atol=1e-15)
    assert np.isnan(got[:4]).all()
    assert np.isnan(got[10, codes == 0]).all() and np.isfinite(got[10, codes == 1]).all()


def test_group_mean_negative_code_counts_from_the_end() -> None:
    a = np.array([[1.0, 2.0, 4.0], [np.nan, 3.0, 5.0]])
    np.testing.assert_array_equal(ops.group_mean(a, np.array([0, -1, 1]), 2), [[1.0, 3.0, 3.0], [np.nan, 4.0, 4.0]])
