"""Turning predictions into target weights ``[D, N]`` (vectorised over the whole grid).

Three families (see :func:`finmt_core.evaluation.backtest.run_backtest` for the timing):

- **signal-gated** long/short/flat: a direction in {-1, 0, +1} per (date, ticker) — e.g. Up /
  Neutral / Down from the signal and direction heads — equal- or confidence-weighted;
- **top-k**: long the k highest scores (predicted return or probability) and short the k
  lowest (or long-only);
- **sized**: weight proportional to predicted magnitude x confidence (the FinNeX seed's
  "position sizing based on regression").

Every builder returns weights with gross exposure 1 on dates that hold anything, 0 elsewhere;
:func:`apply_exposure_limits` then enforces the gross/net caps.
"""

from __future__ import annotations

import numpy as np

from finmt_core.errors import DataError
from finmt_core.evaluation.backtest import finite_or_zero

STRATEGIES = ("signal_gated", "top_k", "top_k_long", "sized")


def _normalise_gross(raw: np.ndarray) -> np.ndarray:
    gross = np.abs(raw).sum(axis=1, keepdims=True)
    return np.divide(raw, gross, out=np.zeros_like(raw), where=gross > 0)


def weights_signal_gated(direction: np.ndarray, confidence: np.ndarray | None = None) -> np.ndarray:
    """``direction`` ``[D, N]`` in {-1, 0, +1} (NaN = no view) -> weights, equal across the
    active names of a date, or proportional to ``confidence`` when given."""
    d = np.nan_to_num(np.asarray(direction, dtype=np.float64))
    if not np.isin(d, (-1.0, 0.0, 1.0)).all():
        raise DataError("signal-gated weights: direction must hold only -1, 0 and +1 (Down / Neutral / Up)")
    raw = d if confidence is None else d * np.nan_to_num(np.asarray(confidence, dtype=np.float64))
    return _normalise_gross(raw)


def weights_top_k(score: np.ndarray, k: int, long_short: bool = True) -> np.ndarray:
    """Long the ``k`` highest scores of each date (and short the ``k`` lowest when
    ``long_short``). NaN scores are never picked; on a date with fewer than 2k (long/short)
    or k (long-only) scored names, k shrinks to what is there. Names tied with the k-th
    score are all picked (weights stay equal, gross 1)."""
    if k < 1:
        raise DataError(f"top-k strategy needs k >= 1, got {k}")
    s = np.asarray(score, dtype=np.float64)
    valid = np.isfinite(s)
    n_valid = valid.sum(axis=1)
    k_eff = np.minimum(k, n_valid // 2 if long_short else n_valid)
    ranked = np.sort(np.where(valid, s, np.inf), axis=1)  # NaN (as +inf) sorts last
    rows = np.arange(s.shape[0])
    # thresholds: the k-th largest and k-th smallest valid score of each date
    hi = ranked[rows, np.clip(n_valid - k_eff, 0, s.shape[1] - 1)][:, None]
    lo = ranked[rows, np.clip(k_eff - 1, 0, s.shape[1] - 1)][:, None]
    active = (k_eff > 0)[:, None]
    raw = (valid & active & (s >= hi)).astype(np.float64)
    if long_short:
        raw -= (valid & active & (s <= lo)).astype(np.float64)
    return _normalise_gross(raw)


def weights_sized(pred_return: np.ndarray, confidence: np.ndarray | None = None, min_abs: float = 0.0) -> np.ndarray:
    """Weights proportional to ``pred_return * confidence`` (sign = predicted direction),
    ignoring predictions with ``|pred_return| <= min_abs``; gross 1 per date."""
    p = finite_or_zero(pred_return)
    raw = p if confidence is None else p * finite_or_zero(confidence)
    if min_abs > 0:
        raw = np.where(np.abs(p) > min_abs, raw, 0.0)
    return _normalise_gross(raw)
