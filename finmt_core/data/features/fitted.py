"""Features with fitted parameters: fitted on the train dates only, then computed causally.

``peer_ret_1`` — the lead-lag peers' return. For each stock ``i`` the lagged cross-correlation
``c[i, j] = corr(z_j[t-1], z_i[t])`` of market-relative daily returns ``z`` (each stock's
1-day log return minus the date's cross-sectional mean, divided by its train-date std) is
estimated on pairs of consecutive *train* dates; the ``top_k`` peers ``j != i`` by ``|c|``
whose correlation clears ``MIN_T`` standard errors are kept, and the feature at date ``t`` is
``sum_j c[i, j] z_j[t]``: the best linear guess, from yesterday's moves of its leaders, of
tomorrow's relative move of ``i``. It uses returns up to ``t`` only (causal); the weights
use train dates only (no look-ahead into validation or test). On a market without lead-lag
no peer clears the bar and the feature is (almost) identically 0.

Fitted features are not in the feature registry (they need a split): :func:`add_fitted_features`
appends them to a FeatureFrame inside ``prepare``; a what-if keeps their values as they were
(they depend on the other stocks' prices, not on the shocked stock's own).
"""

from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np

from finmt_core.data.containers import FeatureFrame
from finmt_core.data.dense import DensePanel

log = logging.getLogger(__name__)

#: Names of the fitted features, in column order.
FITTED_FEATURES: tuple[str, ...] = ("peer_ret_1",)
#: Leaders kept per stock.
TOP_K = 5
#: A lagged correlation counts when |c| > MIN_T / sqrt(pairs of consecutive train dates).
MIN_T = 3.0
#: Fewest stocks for a cross-section (below it the feature is not added).
MIN_STOCKS = 3
#: Fewest consecutive train-date pairs for the correlations.
MIN_PAIRS = 60

DESCRIPTIONS = {
    "peer_ret_1": "lead-lag peers' return: yesterday-to-today correlation-weighted sum of the market-relative "
                  "1-day returns of the stock's leaders (weights fitted on train dates)",
}


def relative_returns(close: np.ndarray) -> np.ndarray:
    """``[D, N]`` 1-day log return minus the date's cross-sectional mean (NaN where unknown)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        lc = np.log(np.where(close > 0, close, np.nan))
    r = np.full(lc.shape, np.nan)
    r[1:] = lc[1:] - lc[:-1]
    ok = np.isfinite(r)
    n = ok.sum(axis=1, keepdims=True)
    mean = np.where(ok, r, 0.0).sum(axis=1, keepdims=True) / np.maximum(n, 1)
    return np.where(ok & (n >= MIN_STOCKS), r - mean, np.nan)


def lagged_corr(close: np.ndarray, train_idx: np.ndarray) -> tuple[np.ndarray, int]:
    """``c[i, j] = corr(z_j[t-1], z_i[t])`` of market-relative returns over consecutive train
    dates (:func:`finmt_core.data.graph.leadlag_corr`, transposed to follower-first rows).

    Returns:
        ``([N, N] float64 with zero diagonal and 0 where undefined, number of date pairs used)``.
    """
    from finmt_core.data.graph import leadlag_corr

    idx = np.unique(np.asarray(train_idx, dtype=np.int64))
    # a pair (t-1, t) needs the closes of t-2, t-1 and t, all train dates (as leadlag_corr)
    pairs = int(np.sum(np.isin(idx - 1, idx) & np.isin(idx - 2, idx)))
    n = close.shape[1]
    if pairs < MIN_PAIRS:
        return np.zeros((n, n)), pairs
    c = np.nan_to_num(leadlag_corr(close, idx).T)
    np.fill_diagonal(c, 0.0)  # a stock's own reversal is already a feature (mkt_rel_ret_1)
    return c, pairs


def peer_weights(c: np.ndarray, pairs: int, top_k: int = TOP_K, min_t: float = MIN_T) -> np.ndarray:
    """Keep, per row, the ``top_k`` entries of ``c`` by ``|c|`` that exceed ``min_t / sqrt(pairs)``."""
    n = c.shape[0]
    w = np.zeros_like(c)
    if n < 2 or pairs <= 0:
        return w
    k = min(top_k, n - 1)
    top = np.argpartition(-np.abs(c), k - 1, axis=1)[:, :k]  # [N, k]
    rows = np.arange(n)[:, None]
    w[rows, top] = c[rows, top]
    w[np.abs(w) <= min_t / np.sqrt(pairs)] = 0.0
    return w


def add_fitted_features(frame: FeatureFrame, dense: DensePanel, train_idx: np.ndarray,
                        wanted: list[str] | None = None) -> FeatureFrame:
    """``frame`` with the fitted features appended (group ``context``, cross-sectional).

    Args:
        frame: features from ``compute_features`` (same grid as ``dense``).
        dense: the panel on its grid (close is read).
        train_idx: train date indices (the only dates the weights see).
        wanted: ``data.features`` (None = all); fitted features not named there are left out.
    """
    names = [f for f in FITTED_FEATURES if wanted is None or f in wanted]
    if not names or len(frame.tickers) < MIN_STOCKS:
        return frame
    r = relative_returns(dense.close.astype(np.float64))
    tr = np.asarray(train_idx, dtype=np.int64)
    sd = np.nanstd(r[tr], axis=0) if tr.size else np.full(r.shape[1], np.nan)
    z = r / np.where(np.isfinite(sd) & (sd > 0), sd, np.nan)
    c, pairs = lagged_corr(dense.close.astype(np.float64), tr)
    w = peer_weights(c, pairs)
    feat = np.nan_to_num(z) @ w.T  # [D, N]: sum_j w[i, j] z_j[t]
    feat[~np.isfinite(r)] = np.nan  # unknown where the stock's own return is unknown
    log.info("peer_ret_1: %d of %d stocks have lead-lag peers (%d train date pairs)",
             int((w != 0).any(axis=1).sum()), w.shape[0], pairs)
    values = np.concatenate([frame.values, feat[..., None].astype(np.float32)], axis=2)
    mask = frame.mask & np.isfinite(feat)
    groups = {g: list(v) for g, v in frame.groups.items()}
    groups.setdefault("context", []).extend(names)
    return replace(frame, values=np.ascontiguousarray(values), mask=mask, names=[*frame.names, *names],
                   groups=groups, fitted=[*frame.fitted, *names])
