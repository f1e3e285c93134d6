"""Volatility features: realised vol, range-based estimators (ATR, Parkinson, Garman-Klass),
Bollinger width, vol ratios, downside vol and return shocks.

Vols are daily (not annualised) in log-return units; ratios are dimensionless.
"""

from __future__ import annotations

from functools import partial

import numpy as np

from finmt_core.data.features import ops
from finmt_core.data.features.inputs import FeatureInputs
from finmt_core.data.features.registry import CLOSE, HL, OHLC, FeatureSpec, feature, register_feature

VOL_WINDOWS: tuple[int, ...] = (5, 20, 60)


def _vol(x: FeatureInputs, w: int) -> np.ndarray:
    return x.vol(w)


for _w in VOL_WINDOWS:
    register_feature(FeatureSpec(
        f"vol_{_w}", "volatility", CLOSE,
        f"realised daily vol: std of daily log returns over {_w} days", partial(_vol, w=_w)))


@feature("vol_ratio_5_20", "volatility", needs=CLOSE, description="5-day vol / 20-day vol")
def _vol_ratio(x: FeatureInputs) -> np.ndarray:
    return ops.safe_div(x.vol(5), x.vol(20), fill=1.0)


@feature("downside_vol_20", "volatility", needs=CLOSE,
         description="semi-deviation: sqrt(mean(min(r, 0)^2)) of daily log returns over 20 days")
def _downside(x: FeatureInputs) -> np.ndarray:
    r = x.ret(1)
    neg = np.where(np.isfinite(r), np.minimum(r, 0.0), np.nan)
    # a running-sum mean of squares can dip a rounding error below 0 (-1e-20): clip before sqrt
    return np.sqrt(np.maximum(ops.roll_mean(neg * neg, 20), 0.0))


@feature("bb_width_20", "volatility", needs=CLOSE,
         description="Bollinger band width: 4 * 20-day std of the close / 20-day SMA")
def _bb_width(x: FeatureInputs) -> np.ndarray:
    return 4.0 * ops.roll_std(x.close, 20) / x.sma(20)


@feature("shock_20", "volatility", needs=CLOSE,
         description="today's log return in units of the 20-day daily vol")
def _shock(x: FeatureInputs) -> np.ndarray:
    return ops.safe_div(x.ret(1), x.vol(20))


@feature("atr_14", "volatility", needs=HL,
         description="Wilder average true range over 14 days / close")
def _atr(x: FeatureInputs) -> np.ndarray:
    high, low = x.col("high"), x.col("low")
    # fmax ignores a missing previous close (first day after a gap): TR is then high - low.
    # lag_diff(h, c, 1) = high - previous close, without a shifted copy of the close
    tr = np.fmax(high - low, np.fmax(np.abs(ops.lag_diff(high, x.close, 1)), np.abs(ops.lag_diff(low, x.close, 1))))
    return ops.ewm_mean(tr, alpha=1.0 / 14.0, minp=14) / x.close


def _log_range(x: FeatureInputs) -> np.ndarray:
    # ln(H / L); memoised: the Parkinson and Garman-Klass estimators both use it
    return x.memo(("log_range",), lambda: x.log("high") - x.log("low"))


@feature("parkinson_20", "volatility", needs=HL,
         description="Parkinson high-low daily vol over 20 days: sqrt(mean(ln(H/L)^2) / (4 ln 2))")
def _parkinson(x: FeatureInputs) -> np.ndarray:
    hl = _log_range(x)
    return np.sqrt(ops.roll_mean(hl * hl, 20) / (4.0 * np.log(2.0)))


@feature("garman_klass_20", "volatility", needs=OHLC,
         description="Garman-Klass OHLC daily vol over 20 days")
def _garman_klass(x: FeatureInputs) -> np.ndarray:
    hl = _log_range(x)
    co = x.log("close") - x.log("open")
    term = 0.5 * hl * hl - (2.0 * np.log(2.0) - 1.0) * co * co
    # The estimator's window mean can dip below 0 on tiny samples; vol is then 0, not NaN.
    return np.sqrt(np.maximum(ops.roll_mean(term, 20), 0.0))
