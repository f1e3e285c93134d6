"""to_dense fills the (date x ticker) grid from the index codes: the same arrays as an unstack."""

from __future__ import annotations

import numpy as np
import pandas as pd

from finmt_core.data.dense import to_dense
from finmt_core.data.samples import synthetic_market


def _reference(panel: pd.DataFrame, col: str) -> np.ndarray:
    wide = panel[col].unstack("ticker").sort_index()
    tickers = sorted(panel.index.get_level_values("ticker").unique().astype(str).tolist())
    return wide.reindex(columns=tickers).to_numpy(dtype=np.float64)


def test_grid_equals_unstack_with_gaps_and_unused_levels() -> None:
    panel = synthetic_market(n_stocks=9, n_days=80, seed=2, context=1)
    panel = panel.drop(panel.index[::5])  # gaps
    panel = panel[panel.index.get_level_values("ticker") != "S003"]  # a level value no row uses
    panel = panel.sample(frac=1.0, random_state=0)  # rows out of order
    dense = to_dense(panel)
    assert dense.tickers == sorted(set(panel.index.get_level_values("ticker")))
    assert "S003" not in dense.tickers
    assert dense.dates.is_monotonic_increasing and len(dense.dates) == panel.index.get_level_values("date").nunique()
    for col in ("open", "high", "low", "close", "volume", "macro"):
        got = dense.columns[col]
        assert got.dtype == np.float64 and got.shape == (len(dense.dates), len(dense.tickers))
        np.testing.assert_array_equal(got, _reference(panel, col))
    assert dense.extra == ["macro"] and dense.sector is not None and len(dense.sector) == len(dense.tickers)
