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


def to_dense(panel: pd.DataFrame) -> DensePanel:
    """Pivot a validated Panel (MultiIndex (date, ticker)) to a :class:`DensePanel`.

    One vectorised unstack per column; no per-ticker loop.
    """
    numeric = [c for c in panel.columns if c != "sector" and pd.api.types.is_numeric_dtype(panel[c])]
    wide = panel[numeric].unstack("ticker").sort_index()
    dates = pd.DatetimeIndex(wide.index)
    tickers = sorted(panel.index.get_level_values("ticker").unique().astype(str).tolist())
    cols: dict[str, np.ndarray] = {}
    for c in numeric:
        cols[c] = wide[c].reindex(columns=tickers).to_numpy(dtype=np.float64)
    sector = None
    if "sector" in panel.columns:
        s = panel["sector"].groupby(level="ticker").first()
        sector = [str(s.get(t, "unknown")) for t in tickers]
    from finmt_core.data.containers import PRICE_COLUMNS

    extra = [c for c in numeric if c not in PRICE_COLUMNS]
    return DensePanel(dates=dates, tickers=tickers, columns=cols, sector=sector, extra=extra)
