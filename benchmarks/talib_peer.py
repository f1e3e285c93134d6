"""finmt's features that TA-Lib can compute, written with TA-Lib's kernels, one ticker at a time.

This is the peer of the ``features`` benchmark and the reference of the equality tests: each
entry of :data:`TALIB_FEATURES` computes one finmt feature (same name, same definition) for one
ticker from 1-D float64 ``open/high/low/close/volume`` arrays using TA-Lib functions (C
kernels, as a TA-Lib user would call them per ticker).

Where the two definitions agree on every defined row, :data:`WARMUP` is 0 and the values must
be equal to 1e-6. Where they differ only in how a recursive average is started, the entry
names the warm-up in days after which the start no longer matters (the difference decays as
``(1 - alpha)^t``, below 1e-6 after that many days):

- ``rsi_14``, ``atr_14``: Wilder's average (alpha = 1/14). TA-Lib seeds it with the simple mean
  of the first 14 values; finmt starts the recursion at the first value
  (pandas ``ewm(adjust=False)``). 0.93^t < 1e-6 for t > ~190.
- ``macd``, ``macd_signal``, ``macd_hist``: the EMAs (12, 26, 9) are seeded the same two ways.
  0.926^t (EMA 26) < 1e-6 for t > ~180; the signal line adds its own.
- finmt's rolling statistics need 80 % of a window (``ops.MIN_FILL``), so they are defined a
  few rows before TA-Lib's, which needs the full window; only rows both define are compared.
- Two finmt definitions differ from TA-Lib's textbook output and the peer applies the same
  transformation: Bollinger width and the volume z-score use the sample std (ddof=1), TA-Lib
  ``STDDEV``/``BBANDS`` the population std (the peer multiplies by ``sqrt(w / (w - 1))``);
  finmt's MACD is divided by the close before its signal EMA (scale-free across tickers), so
  the peer runs TA-Lib's ``EMA`` on that normalised line instead of ``MACD``'s own signal.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

Arrays = dict[str, np.ndarray]


def _talib() -> Any:
    import talib

    return talib


def _std(x: np.ndarray, w: int) -> np.ndarray:
    """Sample std (ddof=1) over ``w`` rows from TA-Lib's population STDDEV."""
    return _talib().STDDEV(x, w, 1.0) * np.sqrt(w / (w - 1.0))


def _ret(c: np.ndarray, h: int) -> np.ndarray:
    return np.log(_talib().ROCR(c, h))


def _macd_norm(a: Arrays) -> np.ndarray:
    t = _talib()
    return (t.EMA(a["close"], 12) - t.EMA(a["close"], 26)) / a["close"]


def _macd_signal(a: Arrays) -> np.ndarray:
    line = _macd_norm(a)
    first = int(np.argmax(np.isfinite(line)))
    out = np.full_like(line, np.nan)
    out[first:] = _talib().EMA(line[first:], 9)
    return out


def _safe(num: np.ndarray, den: np.ndarray, fill: float) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den == 0, fill, num / den)


def _rsi(a: Arrays) -> np.ndarray:
    return _talib().RSI(a["close"], 14) / 100.0


def _atr(a: Arrays) -> np.ndarray:
    return _talib().ATR(a["high"], a["low"], a["close"], 14) / a["close"]


def _stoch(a: Arrays) -> np.ndarray:
    t = _talib()
    lo, hi = t.MIN(a["close"], 14), t.MAX(a["close"], 14)
    return _safe(a["close"] - lo, hi - lo, 0.5)


def _bb(a: Arrays) -> np.ndarray:
    up, mid, low = _talib().BBANDS(a["close"], 20, 2.0, 2.0)
    return (up - low) / mid * np.sqrt(20.0 / 19.0)


def _zscore(x: np.ndarray, w: int) -> np.ndarray:
    return _safe(x - _talib().SMA(x, w), _std(x, w), 0.0)


def _obv(a: Arrays) -> np.ndarray:
    t = _talib()
    return _safe(t.MOM(t.OBV(a["close"], a["volume"]), 20), t.SUM(a["volume"], 20), 0.0)


def _vol(a: Arrays, w: int) -> np.ndarray:
    return _std(_ret(a["close"], 1), w)


TALIB_FEATURES: dict[str, Callable[[Arrays], np.ndarray]] = {
    **{f"ret_{h}": (lambda a, h=h: _ret(a["close"], h)) for h in (1, 5, 10, 20, 60)},
    **{f"ma_gap_{w}": (lambda a, w=w: a["close"] / _talib().SMA(a["close"], w) - 1.0) for w in (5, 10, 20, 50)},
    "ma_cross_5_20": lambda a: _talib().SMA(a["close"], 5) / _talib().SMA(a["close"], 20) - 1.0,
    "macd": _macd_norm,
    "macd_signal": _macd_signal,
    "macd_hist": lambda a: _macd_norm(a) - _macd_signal(a),
    "rsi_14": _rsi,
    "stoch_14": _stoch,
    "dist_high_60": lambda a: np.log(a["close"]) - np.log(_talib().MAX(a["close"], 60)),
    "trend_strength_20": lambda a: _safe(_ret(a["close"], 20), _vol(a, 20) * np.sqrt(20.0), 0.0),
    **{f"vol_{w}": (lambda a, w=w: _vol(a, w)) for w in (5, 20, 60)},
    "vol_ratio_5_20": lambda a: _safe(_vol(a, 5), _vol(a, 20), 1.0),
    "bb_width_20": _bb,
    "shock_20": lambda a: _safe(_ret(a["close"], 1), _vol(a, 20), 0.0),
    "atr_14": _atr,
    "volume_z_20": lambda a: _zscore(np.log1p(a["volume"]), 20),
    "volume_ratio_5_20": lambda a: _safe(_talib().SMA(a["volume"], 5), _talib().SMA(a["volume"], 20), 1.0),
    "obv_slope_20": _obv,
}

#: days after which a differently-seeded recursive average agrees to 1e-6 (0: from the start)
WARMUP: dict[str, int] = {"rsi_14": 250, "atr_14": 250, "macd": 250, "macd_signal": 300, "macd_hist": 300}


def compute_ticker(arrays: Arrays, names: list[str] | None = None) -> dict[str, np.ndarray]:
    """The TA-Lib version of each feature in ``names`` (default all) for one ticker.

    Args:
        arrays: ``open high low close volume`` -> ``[D]`` float64, contiguous, no gaps.
    """
    return {n: TALIB_FEATURES[n](arrays) for n in (names or list(TALIB_FEATURES))}


def compute_panel(columns: dict[str, np.ndarray], names: list[str] | None = None) -> dict[str, np.ndarray]:
    """The peer's whole run: :func:`compute_ticker` for every ticker of ``[D, N]`` columns,
    results as ``[D, N]`` arrays (the per-ticker loop is the peer's way of working)."""
    names = names or list(TALIB_FEATURES)
    n_tickers = columns["close"].shape[1]
    cols_t = {k: np.ascontiguousarray(v.T, dtype=np.float64) for k, v in columns.items()}  # ticker-major rows
    out = {n: np.empty((n_tickers, columns["close"].shape[0])) for n in names}
    for j in range(n_tickers):
        res = compute_ticker({k: v[j] for k, v in cols_t.items()}, names)
        for n in names:
            out[n][j] = res[n]
    return {n: v.T for n, v in out.items()}
