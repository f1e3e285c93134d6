"""finmt's features equal TA-Lib's where the definitions agree (benchmarks/talib_peer.py says
where they differ and why), and the blocked output writer changes no value."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from finmt_core.data.dense import to_dense
from finmt_core.data.features import compute, compute_features
from finmt_core.data.features.inputs import FeatureInputs
from finmt_core.data.features.registry import list_features
from finmt_core.data.samples import synthetic_market


@pytest.fixture(scope="module")
def long_panel() -> pd.DataFrame:
    return synthetic_market(n_stocks=4, n_days=500, n_sectors=2, seed=3)


def test_shared_features_equal_talib(long_panel: pd.DataFrame) -> None:
    pytest.importorskip("talib", reason="TA-Lib is the reference implementation")
    from benchmarks.talib_peer import TALIB_FEATURES, WARMUP, compute_panel

    dense = to_dense(long_panel)
    peer = compute_panel({k: dense.columns[k] for k in ("open", "high", "low", "close", "volume")})
    specs = {s.name: s for s in list_features()}
    inputs = FeatureInputs(dense)
    assert len(TALIB_FEATURES) == 27
    for name in TALIB_FEATURES:
        ours = specs[name].fn(inputs)
        both = np.isfinite(ours) & np.isfinite(peer[name])
        both[: WARMUP.get(name, 0)] = False
        assert both.sum() >= 4 * 150, name
        np.testing.assert_allclose(ours[both], peer[name][both], rtol=0, atol=1e-6, err_msg=name)
        # finmt defines a value wherever TA-Lib does (and a few rows earlier: 80 % of a window)
        assert not (np.isfinite(peer[name]) & ~np.isfinite(ours)).any(), name


def test_written_in_small_blocks_equals_one_block(long_panel: pd.DataFrame, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ticker blocks and write blocks of every size give the same array, bit for bit (gaps included)."""
    rng = np.random.default_rng(0)
    panel = long_panel.iloc[rng.random(len(long_panel)) > 0.03]
    ref = compute_features(panel)
    monkeypatch.setattr(compute, "TICKER_BLOCK", 3)
    monkeypatch.setattr(compute, "WRITE_BLOCK", 2)
    got = compute_features(panel)
    assert got.names == ref.names
    np.testing.assert_array_equal(got.values, ref.values)
    np.testing.assert_array_equal(got.mask, ref.mask)
    assert np.isnan(got.values[~np.isfinite(to_dense(panel).close)]).all()
