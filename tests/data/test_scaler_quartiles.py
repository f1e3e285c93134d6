"""FeatureScaler.fit's quartiles: numpy's float64 quantiles, computed on the float32 sample."""

from __future__ import annotations

import numpy as np
import pytest

from finmt_core.data.features.scaler import FeatureScaler, exact_quartiles


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 10, 101, 1000, 1001])
def test_exact_quartiles_equal_numpy_float64(n: int) -> None:
    rng = np.random.default_rng(n)
    cols = (rng.standard_t(3, size=(6, n)) * 10.0 ** rng.integers(-4, 3, size=(6, 1))).astype(np.float32)
    cols[0, : n // 2] = 1.0  # ties
    ref = np.quantile(cols.astype(np.float64), [0.25, 0.5, 0.75], axis=1)
    got = np.stack(exact_quartiles(cols))
    assert got.dtype == np.float64 and got.shape == (3, 6)
    # equal here; 1e-15 leaves room for a numpy that rounds its interpolation differently
    np.testing.assert_allclose(got, ref, rtol=1e-15, atol=0)


def _reference_fit(values: np.ndarray, mask: np.ndarray, train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The scaler's definition written out in float64 (median, IQR / 1.349, std fallback, 1)."""
    rows = values[train][mask[train]].astype(np.float64)
    rows = rows[np.isfinite(rows).all(axis=1)]
    q25, med, q75 = np.quantile(rows, [0.25, 0.5, 0.75], axis=0)
    scale = (q75 - q25) / 1.3489795003921634
    std = rows.std(axis=0)
    return med, np.where(scale > 0, scale, np.where(std > 0, std, 1.0))


def test_fit_equals_the_float64_definition_with_nan_rows_and_flat_features() -> None:
    rng = np.random.default_rng(0)
    values = rng.standard_normal((60, 9, 4)).astype(np.float32)
    values[:, :, 1] = np.where(rng.random((60, 9)) < 0.9, 3.0, values[:, :, 1])  # IQR 0: std fallback
    values[:, :, 2] = 7.0  # constant: scale 1
    values[5, 3, 0] = np.nan  # a row with a missing feature is left out
    mask = rng.random((60, 9)) < 0.8
    train = np.arange(40)
    sc = FeatureScaler().fit(values, mask, train)
    med, scale = _reference_fit(values, mask, train)
    np.testing.assert_allclose(sc.center_, med, rtol=1e-15, atol=0)
    np.testing.assert_allclose(sc.scale_, scale, rtol=1e-12)
    assert sc.scale_[2] == 1.0 and 0 < sc.scale_[1] < 1.0
