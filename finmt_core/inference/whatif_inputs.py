"""The inputs side of a what-if: which features one stock can be shocked on, their raw value on
a date, the shocks a set of controls means, and which inputs a shock moved.

Pure functions over a :class:`~finmt_core.data.containers.FeatureFrame` and
:class:`~finmt_core.inference.whatif.WhatIfResult` frames; the what-if itself is
:meth:`Predictor.what_if`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from finmt_core.data.containers import FeatureFrame

if TYPE_CHECKING:
    from finmt_core.data.prepare import PreparedData

#: an input whose raw value moved by less than this counts as unchanged (float noise)
CHANGE_TOL = 1e-12


def dates_with_window(prepared: PreparedData, ticker: str) -> pd.DatetimeIndex:
    """The dates on which ``ticker`` has a full input window (the rows a what-if can use)."""
    n = list(prepared.tickers).index(ticker)
    return prepared.dates[prepared.has_window()[:, n]]


def stock_features(frame: FeatureFrame) -> list[str]:
    """The features of ``frame`` a what-if can edit for one stock: every feature except the
    market-wide ones (those have one value per date for all tickers)."""
    market = set(frame.market)
    return [f for f in frame.names if f not in market]


def raw_value(frame: FeatureFrame, day: pd.Timestamp, ticker: str, feature: str) -> float:
    """The unscaled value of ``feature`` for ``ticker`` on ``day`` (NaN where unknown).

    Raises:
        KeyError: ``day``, ``ticker`` or ``feature`` is not in the frame.
    """
    d = frame.dates.get_loc(pd.Timestamp(day))
    n = list(frame.tickers).index(ticker)
    return float(frame.values[d, n, frame.names.index(feature)])


def build_shocks(
    return_pct: float = 0.0,
    volatility_factor: float = 1.0,
    volume_factor: float | None = 1.0,
    feature: str | None = None,
    value: float | None = None,
    current: float | None = None,
) -> dict[str, float]:
    """The ``shocks`` argument of :meth:`Predictor.what_if` for a set of controls; a control
    at its neutral value adds nothing (an empty dict = no shock).

    Args:
        return_pct: shock to the last log return, in percent (0 = none); stored as a fraction.
        volatility_factor: multiplier of the window's return deviations (1 = none).
        volume_factor: multiplier of the window's volume (1 = none; None = the data has no volume).
        feature: one feature to set on the date (None = none).
        value: its new raw value.
        current: its value now; setting it to the same value is no shock.
    """
    shocks: dict[str, float] = {}
    if return_pct:
        shocks["return"] = return_pct / 100.0
    if volatility_factor != 1.0:
        shocks["volatility"] = float(volatility_factor)
    if volume_factor is not None and volume_factor != 1.0:
        shocks["volume"] = float(volume_factor)
    if feature is not None and value is not None and value != current:
        shocks[feature] = float(value)
    return shocks


def start_value(current: float) -> float:
    """The value an edit field starts at: the current raw value, 0 where it is unknown."""
    return current if math.isfinite(current) else 0.0


def changed_inputs(features: pd.DataFrame, tol: float = CHANGE_TOL) -> pd.DataFrame:
    """The rows of ``WhatIfResult.features`` (index = feature; ``before``, ``after``,
    ``difference``) whose value moved by more than ``tol``, largest absolute move first."""
    diff = features["difference"].to_numpy(dtype=np.float64)
    moved = features[np.abs(diff) > tol]
    return moved.reindex(moved["difference"].abs().sort_values(ascending=False, kind="stable").index)
