"""Behavioural / volume features: volume and turnover z-scores, OBV slope, overnight gap,
intraday range, close location value and intraday return.

Volume enters through ``log(1 + volume)`` so z-scores are not dominated by spikes; a flat
window (std 0) gives z = 0 rather than a division by zero.
"""

from __future__ import annotations

import numpy as np

from finmt_core.data.features import ops
from finmt_core.data.features.inputs import FeatureInputs
from finmt_core.data.features.registry import HL, OPEN, VOLUME, feature


def _zscore(a: np.ndarray, window: int) -> np.ndarray:
    return ops.safe_div(a - ops.roll_mean(a, window), ops.roll_std(a, window))


@feature("volume_z_20", "volume", needs=VOLUME,
         description="z-score of log(1 + volume) against its trailing 20 days")
def _volume_z(x: FeatureInputs) -> np.ndarray:
    return _zscore(x.log1p("volume"), 20)


@feature("log_volume_change", "volume", needs=VOLUME,
         description="log(1 + V[t]) - log(1 + V[t-1])")
def _volume_change(x: FeatureInputs) -> np.ndarray:
    lv = x.log1p("volume")
    return ops.lag_diff(lv, lv, 1)


@feature("volume_ratio_5_20", "volume", needs=VOLUME,
         description="5-day mean volume / 20-day mean volume")
def _volume_ratio(x: FeatureInputs) -> np.ndarray:
    v = x.col("volume")
    return ops.safe_div(ops.roll_mean(v, 5), ops.roll_mean(v, 20), fill=1.0)


@feature("turnover_z_20", "volume", needs=VOLUME,
         description="z-score of log(1 + volume * close) (dollar-volume turnover proxy), 20 days")
def _turnover_z(x: FeatureInputs) -> np.ndarray:
    dollar = np.log1p(np.maximum(x.col("volume"), 0.0) * x.close)
    return _zscore(dollar, 20)


@feature("obv_slope_20", "volume", needs=VOLUME,
         description="20-day change of on-balance volume / 20-day total volume, in [-1, 1]")
def _obv_slope(x: FeatureInputs) -> np.ndarray:
    # OBV[t] - OBV[t-20] = sum of sign(r) * V over the window; dividing by the window's volume
    # makes it scale-free. No cumulative sum, so a gap cannot carry state across the series.
    r, v = x.ret(1), np.maximum(x.col("volume"), 0.0)
    signed = np.where(np.isfinite(r) & np.isfinite(v), np.sign(r) * v, np.nan)
    total = np.where(np.isfinite(signed), v, np.nan)
    return ops.safe_div(ops.roll_sum(signed, 20), ops.roll_sum(total, 20))


@feature("gap_open", "volume", needs=OPEN,
         description="overnight gap: log(open[t] / close[t-1])")
def _gap_open(x: FeatureInputs) -> np.ndarray:
    return ops.lag_diff(x.log("open"), x.log("close"), 1)


@feature("intraday_return", "volume", needs=OPEN, description="log(close / open) of the day")
def _intraday_return(x: FeatureInputs) -> np.ndarray:
    return x.log("close") - x.log("open")


@feature("intraday_range", "volume", needs=HL, description="(high - low) / close")
def _intraday_range(x: FeatureInputs) -> np.ndarray:
    return (x.col("high") - x.col("low")) / x.close


@feature("close_location", "volume", needs=HL,
         description="close location value ((C - L) - (H - C)) / (H - L) in [-1, 1]; 0 if H == L")
def _clv(x: FeatureInputs) -> np.ndarray:
    high, low, close = x.col("high"), x.col("low"), x.close
    return ops.safe_div((close - low) - (high - close), high - low)
