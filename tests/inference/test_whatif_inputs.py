"""The inputs side of a what-if (finmt_core.inference.whatif_inputs)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from finmt_core.data.containers import FeatureFrame
from finmt_core.inference.whatif_inputs import (
    build_shocks,
    changed_inputs,
    raw_value,
    start_value,
    stock_features,
)


def _frame() -> FeatureFrame:
    values = np.arange(2 * 3 * 3, dtype=np.float32).reshape(2, 3, 3)
    values[1, 2, 0] = np.nan
    return FeatureFrame(values=values, mask=np.ones((2, 3), bool), dates=pd.bdate_range("2024-01-01", periods=2),
                        tickers=["A", "B", "C"], names=["ret_1", "mkt_ret", "vol_20"],
                        groups={"trend": ["ret_1", "mkt_ret"], "volatility": ["vol_20"]}, market=["mkt_ret"])


def test_stock_features_leave_out_market_wide_ones():
    assert stock_features(_frame()) == ["ret_1", "vol_20"]


def test_raw_value_reads_the_unscaled_cell():
    frame = _frame()
    assert raw_value(frame, pd.Timestamp("2024-01-02"), "B", "vol_20") == float(frame.values[1, 1, 2])
    assert np.isnan(raw_value(frame, pd.Timestamp("2024-01-02"), "C", "ret_1"))
    assert start_value(float("nan")) == 0.0 and start_value(1.5) == 1.5


def test_neutral_controls_make_no_shock():
    assert build_shocks() == {}
    assert build_shocks(0.0, 1.0, None, "vol_20", 2.0, current=2.0) == {}


def test_controls_become_shocks():
    shocks = build_shocks(-5.0, 2.0, 0.5, "vol_20", 3.0, current=2.0)
    assert shocks == {"return": -0.05, "volatility": 2.0, "volume": 0.5, "vol_20": 3.0}
    assert "volume" not in build_shocks(volume_factor=None)


def test_changed_inputs_sorted_by_absolute_move():
    features = pd.DataFrame({"before": [1.0, 2.0, 3.0], "after": [1.0, 1.5, 4.0]}, index=["a", "b", "c"])
    features["difference"] = features["after"] - features["before"]
    moved = changed_inputs(features)
    assert list(moved.index) == ["c", "b"]
