"""Trend / momentum features (close only): returns, moving-average gaps, MACD, RSI, ranges.

All values are dimensionless (log returns, ratios, fractions), causal and NaN during warm-up.
"""

from __future__ import annotations

from functools import partial

import numpy as np

from finmt_core.data.features import ops
from finmt_core.data.features.inputs import FeatureInputs
from finmt_core.data.features.registry import CLOSE, FeatureSpec, feature, register_feature

RETURN_WINDOWS: tuple[int, ...] = (1, 5, 10, 20, 60)
MA_WINDOWS: tuple[int, ...] = (5, 10, 20, 50)


def _ret(x: FeatureInputs, h: int) -> np.ndarray:
    return x.ret(h)


def _ma_gap(x: FeatureInputs, w: int) -> np.ndarray:
    return x.close / x.sma(w) - 1.0


# Parameterised families: one registry entry per window (a loop over the registry, not the data).
for _h in RETURN_WINDOWS:
    register_feature(FeatureSpec(
        f"ret_{_h}", "trend", CLOSE,
        f"log return over {_h} trading day(s): log(C[t] / C[t-{_h}])", partial(_ret, h=_h)))
for _w in MA_WINDOWS:
    register_feature(FeatureSpec(
        f"ma_gap_{_w}", "trend", CLOSE,
        f"close / {_w}-day simple moving average - 1", partial(_ma_gap, w=_w)))


@feature("ma_cross_5_20", "trend", needs=CLOSE, description="5-day SMA / 20-day SMA - 1")
def _ma_cross(x: FeatureInputs) -> np.ndarray:
    return x.sma(5) / x.sma(20) - 1.0


def _macd_line(x: FeatureInputs) -> np.ndarray:
    # Divided by the close so the value is comparable across price levels and tickers.
    # Memoised: macd, macd_signal and macd_hist all use it (as does the signal line below).
    return x.memo(("macd_line",), lambda: (x.ema(12) - x.ema(26)) / x.close)


def _macd_signal_line(x: FeatureInputs) -> np.ndarray:
    return x.memo(("macd_signal",), lambda: ops.ewm_mean(_macd_line(x), span=9, minp=9))


@feature("macd", "trend", needs=CLOSE, description="MACD (EMA12 - EMA26) / close")
def _macd(x: FeatureInputs) -> np.ndarray:
    return _macd_line(x)


@feature("macd_signal", "trend", needs=CLOSE, description="9-day EMA of the normalised MACD")
def _macd_signal(x: FeatureInputs) -> np.ndarray:
    return _macd_signal_line(x)


@feature("macd_hist", "trend", needs=CLOSE, description="normalised MACD - its signal line")
def _macd_hist(x: FeatureInputs) -> np.ndarray:
    return _macd_line(x) - _macd_signal_line(x)


@feature("rsi_14", "trend", needs=CLOSE,
         description="Wilder RSI over 14 days, as a fraction in [0, 1] (0.5 when flat)")
def _rsi(x: FeatureInputs) -> np.ndarray:
    diff = ops.lag_diff(x.close, x.close, 1)  # NaN across a gap: that day is skipped, not filled
    gain = np.maximum(diff, 0.0)  # np.maximum propagates NaN: a missing diff stays missing
    loss = np.maximum(-diff, 0.0)
    avg_gain = ops.ewm_mean(gain, alpha=1.0 / 14.0, minp=14)
    avg_loss = ops.ewm_mean(loss, alpha=1.0 / 14.0, minp=14)
    return ops.safe_div(avg_gain, avg_gain + avg_loss, fill=0.5)


@feature("stoch_14", "trend", needs=CLOSE,
         description="position of the close in its 14-day close range, in [0, 1]")
def _stoch(x: FeatureInputs) -> np.ndarray:
    lo, hi = ops.roll_min(x.close, 14), ops.roll_max(x.close, 14)
    return ops.safe_div(x.close - lo, hi - lo, fill=0.5)


@feature("dist_high_60", "trend", needs=CLOSE,
         description="log distance of the close below its 60-day high (<= 0)")
def _dist_high(x: FeatureInputs) -> np.ndarray:
    return x.log("close") - np.log(ops.roll_max(x.close, 60))


@feature("trend_strength_20", "trend", needs=CLOSE,
         description="20-day log return / (20-day daily vol * sqrt(20)): a momentum t-statistic")
def _trend_strength(x: FeatureInputs) -> np.ndarray:
    return ops.safe_div(x.ret(20), x.vol(20) * np.sqrt(20.0))
