"""Slices of a panel and its features for display (finmt_core.data.views)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from finmt_core.data.containers import FeatureFrame
from finmt_core.data.views import classification_families, last_days, ticker_features


def _panel() -> pd.DataFrame:
    index = pd.MultiIndex.from_product([pd.bdate_range("2024-01-01", periods=5), ["A", "B"]], names=["date", "ticker"])
    return pd.DataFrame({"close": np.arange(10.0)}, index=index)


def test_last_days_keeps_every_ticker_on_the_last_dates():
    panel = _panel()
    last = last_days(panel, 2)
    assert len(last) == 4 and last.index.get_level_values("date").min() == pd.Timestamp("2024-01-04")
    assert last_days(panel, None) is panel and len(last_days(panel, 50)) == 10


def test_ticker_features_is_one_ticker_over_time():
    values = np.arange(2 * 2 * 3, dtype=np.float32).reshape(2, 2, 3)
    frame = FeatureFrame(values=values, mask=np.ones((2, 2), bool), dates=pd.bdate_range("2024-01-01", periods=2),
                         tickers=["A", "B"], names=["f1", "f2", "f3"], groups={"trend": ["f1", "f2", "f3"]})
    one = ticker_features(frame, "B")
    assert list(one.columns) == ["f1", "f2", "f3"] and one.shape == (2, 3)
    np.testing.assert_array_equal(one.to_numpy(), values[:, 1, :])
    with pytest.raises(KeyError, match="'C'"):
        ticker_features(frame, "C")


def test_classification_families_have_classes():
    families = classification_families()
    assert {"direction", "signal"} <= set(families) and "return" not in families
