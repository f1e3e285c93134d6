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
from finmt_core.data.features import ops, xsection

#: Cache kinds computed column by column (one ticker's value depends on its own columns only),
#: so the tickers ``b0:b1`` of a whole-grid array equal the array computed on those tickers.
PER_TICKER_KINDS: frozenset[str] = frozenset({"col", "present", "log", "log1p", "ret", "vol", "sma", "ema",
                                             "absmax"})  # absmax: [N], one value per ticker


class FeatureInputs:
    """Read-only access to a DensePanel's price arrays plus memoised derived arrays.

    Args:
        dense: the panel on its (date x ticker) grid; prices ``[D, N]`` float64 with NaN gaps.
        seed: cache entries already computed elsewhere (see :meth:`ticker_slices`): used
            as they are instead of being recomputed.
    """

    def __init__(self, dense: DensePanel,
                 seed: dict[tuple[object, ...], np.ndarray] | None = None) -> None:
        self.dense = dense
        self._cache: dict[tuple[object, ...], np.ndarray] = dict(seed or {})
        self._pairs: dict[tuple[object, ...], tuple[np.ndarray, np.ndarray]] = {}

    def ticker_slices(self, b0: int, b1: int) -> dict[tuple[object, ...], np.ndarray]:
        """The per-ticker cached arrays (:data:`PER_TICKER_KINDS`) restricted to tickers
        ``b0:b1``, as column views ``[D, b1 - b0]`` (no copy; column-major stays contiguous).

        Seeds the :class:`FeatureInputs` of a ticker block with what the whole-grid features
        already computed (the close, its log, returns, vols), so no block recomputes them.
        Values are identical: each of these arrays is computed column by column.
        """
        return {k: a[:, b0:b1] if a.ndim == 2 else a[b0:b1] for k, a in self._cache.items()
                if k[0] in PER_TICKER_KINDS and isinstance(a, np.ndarray) and a.ndim in (1, 2)}

    def keep_per_ticker(self) -> None:
        """Drop every cached array but the per-ticker ones :meth:`ticker_slices` hands out
        (frees the cross-sectional intermediates while the blocks run)."""
        self._cache = {k: a for k, a in self._cache.items()
                       if k[0] in PER_TICKER_KINDS and isinstance(a, np.ndarray) and a.ndim in (1, 2)}
        self._pairs.clear()

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
        return self._memo(("ret", h), lambda: ops.lag_diff(self.log("close"), self.log("close"), h))

    def vol(self, window: int) -> np.ndarray:
        """Realised daily vol: trailing std (ddof=1) of daily log returns over ``window`` days."""
        # the largest |return| per ticker bounds every window's mean: found once for all windows
        return self._memo(("vol", window), lambda: ops.roll_std(
            self.ret(1), window, bound=self._memo(("absmax", "ret", 1), lambda: ops.abs_bound(self.ret(1)))))

    def sma(self, window: int) -> np.ndarray:
        """Simple moving average of the close over ``window`` days."""
        return self._memo(("sma", window), lambda: ops.roll_mean(self.close, window))

    def ema(self, span: int) -> np.ndarray:
        """Exponential moving average of the close (span ``span``, warm-up ``span`` values)."""
        return self._memo(("ema", span), lambda: ops.ewm_mean(self.close, span=span, minp=span))

    # ---- market ----------------------------------------------------------------------------
    def market_return(self) -> np.ndarray:
        """``[D]``: equal-weight cross-sectional mean of the tickers' daily log returns."""
        return self._memo(("mkt_ret",), lambda: xsection.cs_mean(self.ret(1)))

    def market_corr_beta(self, window: int) -> tuple[np.ndarray, np.ndarray]:
        """Trailing correlation and beta of each ticker's daily return to the market's."""
        key = ("mkt_corr_beta", window)
        if key not in self._pairs:
            self._pairs[key] = ops.roll_corr_beta(self.ret(1), self.market_return(), window)
        return self._pairs[key]
