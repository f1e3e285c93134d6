"""Dense (date x ticker) view of a Panel: the grid every later array lives on."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd


@dataclass
class DensePanel:
    """A Panel pivoted onto the full (date x ticker) grid.

    Attributes:
        dates: D sorted unique trading dates (union over tickers).
        tickers: N sorted tickers.
        columns: column name -> ``[D, N]`` float64; NaN where the ticker has no row that day
            (gaps stay missing: nothing is forward-filled).
        sector: per-ticker sector label (len N) or None when the panel has no sector column.
        extra: names of extra numeric (context) columns present in ``columns``.
    """

    dates: pd.DatetimeIndex
    tickers: list[str]
    columns: dict[str, np.ndarray]
    sector: list[str] | None = None
    extra: list[str] = field(default_factory=list)

    @property
    def close(self) -> np.ndarray:
        return self.columns["close"]

    @property
    def present(self) -> np.ndarray:
        """``[D, N]`` bool: the ticker has a (finite) close on that date."""
        return np.isfinite(self.columns["close"])

    def has(self, *names: str) -> bool:
        return all(n in self.columns for n in names)


def _grid_codes(index: pd.MultiIndex) -> tuple[pd.DatetimeIndex, list[str], np.ndarray, np.ndarray]:
    """``(dates, tickers, row date position, row ticker position)`` from the index's codes.

    Dates are the sorted distinct dates, tickers the sorted distinct names (as str); only the
    levels' values are sorted (a few thousand), never the rows.
    """
    d_level, t_level = index.levels[0], index.levels[1]
    d_codes, t_codes = np.asarray(index.codes[0]), np.asarray(index.codes[1])
    d_used = np.unique(d_codes)
    t_used = np.unique(t_codes)
    d_values = pd.DatetimeIndex(d_level[d_used])
    d_order = np.argsort(d_values.to_numpy(), kind="stable")
    t_names = np.asarray(t_level[t_used].astype(str), dtype=object)
    t_order = np.argsort(t_names, kind="stable")
    # level code -> grid position
    d_pos = np.zeros(len(d_level), dtype=np.int64)
    d_pos[d_used[d_order]] = np.arange(d_used.size)
    t_pos = np.zeros(len(t_level), dtype=np.int64)
    t_pos[t_used[t_order]] = np.arange(t_used.size)
    return d_values[d_order], [str(t) for t in t_names[t_order]], d_pos[d_codes], t_pos[t_codes]


def to_dense(panel: pd.DataFrame) -> DensePanel:
    """Pivot a validated Panel (MultiIndex (date, ticker), unique rows) to a :class:`DensePanel`.

    The grid is filled straight from the index's integer codes: one scatter per column into a
    NaN-filled ``[D, N]`` array (``unstack`` made a wide frame and a reindexed copy per column:
    2-3x the memory and ~2x the time at 5,000 stocks).
    """
    numeric = [c for c in panel.columns if c != "sector" and pd.api.types.is_numeric_dtype(panel[c])]
    dates, tickers, d, n = _grid_codes(panel.index)
    cols: dict[str, np.ndarray] = {}
    for c in numeric:  # loop over columns, not rows
        grid = np.full((len(dates), len(tickers)), np.nan)
        grid[d, n] = panel[c].to_numpy(dtype=np.float64, na_value=np.nan)
        cols[c] = grid
    sector = None
    if "sector" in panel.columns:
        s = panel["sector"].groupby(level="ticker").first()
        sector = [str(s.get(t, "unknown")) for t in tickers]
    from finmt_core.data.containers import PRICE_COLUMNS

    extra = [c for c in numeric if c not in PRICE_COLUMNS]
    return DensePanel(dates=dates, tickers=tickers, columns=cols, sector=sector, extra=extra)
