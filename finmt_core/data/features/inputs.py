"""Shared, memoised intermediates for feature functions.

Many features reuse the same arrays (daily log returns, realised vol, moving averages,
market return). :class:`FeatureInputs` computes each once per ``compute_features`` call and
hands out the cached float64 ``[D, N]`` (or ``[D]``) array. Cached arrays are shared, so
feature functions must not modify them in place.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from finmt_core.data.dense import DensePanel
from finmt_core.data.features import ops


class FeatureInputs:
    """Read-only access to a DensePanel's price arrays plus memoised derived arrays.

    Args:
        dense: the panel on its (date x ticker) grid; prices ``[D, N]`` float64 with NaN gaps.
    """

    def __init__(self, dense: DensePanel) -> None:
        self.dense = dense
        self._cache: dict[tuple[object, ...], np.ndarray] = {}
        self._pairs: dict[tuple[object, ...], tuple[np.ndarray, np.ndarray]] = {}

    def _memo(self, key: tuple[object, ...], make: Callable[[], np.ndarray]) -> np.ndarray:
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def memo(self, key: tuple[object, ...], make: Callable[[], np.ndarray]) -> np.ndarray:
        """``make()`` once per call of ``compute_features`` (per ticker block) under ``key``.

        For intermediates several features share that have no named accessor (the MACD line,
        a sector mean): ``key`` must name the computation and its parameters, e.g.
        ``("macd_line",)``. The cached array is shared: callers must not modify it.
        """
        return self._memo(key, make)

    # ---- raw columns -------------------------------------------------------------------
    def col(self, name: str) -> np.ndarray:
        """A panel column ``[D, N]`` float64 (NaN where missing), column-major.

        Column-major (Fortran) order keeps each ticker's history contiguous, which is what the
        date-axis scans of :mod:`ops` want; every derived array inherits the layout.
        """
        return self._memo(("col", name), lambda: np.asfortranarray(self.dense.columns[name], dtype=np.float64))

    @property
    def close(self) -> np.ndarray:
        return self.col("close")

    @property
    def present(self) -> np.ndarray:
        """``[D, N]`` bool: a close exists on that date."""
        return self._memo(("present",), lambda: np.isfinite(self.close))

    def log(self, name: str) -> np.ndarray:
        """Log of a price column (non-positive / missing -> NaN)."""
        return self._memo(("log", name), lambda: ops.log_prices(self.col(name)))

    def log1p(self, name: str) -> np.ndarray:
        """``log(1 + x)`` of a non-negative column such as volume (NaN where missing)."""
        return self._memo(("log1p", name), lambda: np.log1p(np.maximum(self.col(name), 0.0)))

    # ---- returns and volatility ------------------------------------------------------------
    def ret(self, h: int = 1) -> np.ndarray:
        """Log return over ``h`` days, ``log(C[t] / C[t-h])``; NaN if either close is missing."""
        return self._memo(("ret", h), lambda: self.log("close") - ops.shift(self.log("close"), h))

    def vol(self, window: int) -> np.ndarray:
        """Realised daily vol: trailing std (ddof=1) of daily log returns over ``window`` days."""
        return self._memo(("vol", window), lambda: ops.roll_std(self.ret(1), window))

    def sma(self, window: int) -> np.ndarray:
        """Simple moving average of the close over ``window`` days."""
        return self._memo(("sma", window), lambda: ops.roll_mean(self.close, window))

    def ema(self, span: int) -> np.ndarray:
        """Exponential moving average of the close (span ``span``, warm-up ``span`` values)."""
        return self._memo(("ema", span), lambda: ops.ewm_mean(self.close, span=span, minp=span))

    # ---- market ----------------------------------------------------------------------------
    def market_return(self) -> np.ndarray:
        """``[D]``: equal-weight cross-sectional mean of the tickers' daily log returns."""
        return self._memo(("mkt_ret",), lambda: ops.cs_mean(self.ret(1)))

    def market_corr_beta(self, window: int) -> tuple[np.ndarray, np.ndarray]:
        """Trailing correlation and beta of each ticker's daily return to the market's."""
        key = ("mkt_corr_beta", window)
        if key not in self._pairs:
            self._pairs[key] = ops.roll_corr_beta(self.ret(1), self.market_return(), window)
        return self._pairs[key]
