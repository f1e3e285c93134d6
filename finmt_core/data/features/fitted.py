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

``ctx_<col>`` — the stock's expected response to a market-wide extra column ``x`` (a macro
indicator, a sentiment index: any numeric panel column with one value per date). Per stock,
the slope ``b_i`` of its next-day market-relative return ``z_i[t+1]`` on the standardised
``x[t]`` is fitted on consecutive train dates (kept when it clears ``MIN_T`` standard errors,
else 0), and the feature at ``t`` is ``b_i x[t]``: how today's value of the column should move
this stock tomorrow. This is the "context moves each sector its own way" structure of the
dual-tower seed, made readable by any model (market-wide columns alone say nothing about
*which* stock they move).

Fitted features are not in the feature registry (they need a split): :func:`add_fitted_features`
appends them to a FeatureFrame inside ``prepare``; a what-if keeps their values as they were
(they depend on the other stocks' prices or the market-wide columns, not on the shocked
stock's own prices).
"""

from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np

from finmt_core.data.containers import FeatureFrame
from finmt_core.data.dense import DensePanel

log = logging.getLogger(__name__)

#: The lead-lag peers' return.
PEER_FEATURE = "peer_ret_1"
#: Prefix of the context-response features (``ctx_<column>``).
CONTEXT_PREFIX = "ctx_"
#: Fixed names of the fitted features (the context ones depend on the panel's columns).
FITTED_FEATURES: tuple[str, ...] = (PEER_FEATURE,)
#: Leaders kept per stock.
TOP_K = 5
#: A lagged correlation counts when |c| > MIN_T / sqrt(pairs of consecutive train dates).
MIN_T = 3.0
#: Fewest stocks for a cross-section (below it the feature is not added).
MIN_STOCKS = 3
#: Fewest consecutive train-date pairs for the correlations.
MIN_PAIRS = 60

DESCRIPTIONS = {
    PEER_FEATURE: "lead-lag peers' return: yesterday-to-today correlation-weighted sum of the market-relative "
                  "1-day returns of the stock's leaders (weights fitted on train dates)",
    CONTEXT_PREFIX + "<column>": "the stock's expected next-day response to a market-wide extra column "
                                 "(per-stock slope fitted on train dates x today's value)",
}


def is_fitted(name: str) -> bool:
    """Whether a feature name is a fitted feature (not in the registry)."""
    return name in FITTED_FEATURES or name.startswith(CONTEXT_PREFIX)


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


def context_slopes(z: np.ndarray, x: np.ndarray, train_idx: np.ndarray) -> np.ndarray:
    """Per-stock slope ``[N]`` of ``z[t+1]`` on standardised ``x[t]`` over consecutive train dates.

    Args:
        z: ``[D, N]`` standardised market-relative returns (NaN where unknown).
        x: ``[D]`` a market-wide column (NaN where unknown).
        train_idx: train date indices (both ``t`` and ``t+1`` must be train dates).

    Returns:
        ``[N]`` slopes in units of ``z`` per standard deviation of ``x``; 0 where fewer than
        ``MIN_PAIRS`` pairs exist or the correlation does not clear ``MIN_T`` standard errors.
    """
    idx = np.unique(np.asarray(train_idx, dtype=np.int64))
    t = idx[np.isin(idx + 1, idx)]
    n = z.shape[1]
    xs = x[t]
    ok_x = np.isfinite(xs)
    if ok_x.sum() < MIN_PAIRS or np.nanstd(xs) == 0:
        return np.zeros(n)
    xs = (xs - np.nanmean(xs)) / np.nanstd(xs)
    nxt = z[t + 1]
    ok = ok_x[:, None] & np.isfinite(nxt)
    cnt = ok.sum(axis=0)
    xz = np.where(ok, xs[:, None], 0.0)
    zz = np.where(ok, nxt, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mx, mz = xz.sum(0) / cnt, zz.sum(0) / cnt
        cov = (xz * zz).sum(0) / cnt - mx * mz
        vx = (xz**2).sum(0) / cnt - mx**2
        vz = (zz**2).sum(0) / cnt - mz**2
        slope = cov / vx
        corr = cov / np.sqrt(vx * vz)
    keep = (cnt >= MIN_PAIRS) & np.isfinite(corr) & (np.abs(corr) > MIN_T / np.sqrt(np.maximum(cnt, 1)))
    return np.where(keep, slope, 0.0)


def _standardised_relative(dense: DensePanel, tr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(market-relative returns ``r`` [D, N], the same divided by each stock's train std ``z``)."""
    r = relative_returns(dense.close.astype(np.float64))
    sd = np.nanstd(r[tr], axis=0) if tr.size else np.full(r.shape[1], np.nan)
    return r, r / np.where(np.isfinite(sd) & (sd > 0), sd, np.nan)


def fitted_planes(dense: DensePanel, train_idx: np.ndarray, market: list[str],
                  wanted: list[str] | None = None) -> dict[str, np.ndarray]:
    """The fitted features of ``dense``: name -> ``[D, N]`` float32 plane (NaN where unknown).

    Args:
        dense: the panel on its grid (close and the extra columns are read).
        train_idx: train date indices (the only dates the weights see).
        market: names of the market-wide features computed on it (``FeatureFrame.market``):
            a ``ctx_<col>`` feature exists for each market-wide ``extra_<col>``.
        wanted: ``data.features`` (None = all); fitted features not named there are left out.

    Returns:
        Empty when there are fewer than :data:`MIN_STOCKS` tickers or none is wanted.
    """
    if len(dense.tickers) < MIN_STOCKS:
        return {}
    market_set = set(market)
    context_cols = [c for c in dense.extra if f"extra_{c}" in market_set]
    names = [PEER_FEATURE] + [f"{CONTEXT_PREFIX}{c}" for c in context_cols]
    names = [f for f in names if wanted is None or f in wanted]
    if not names:
        return {}
    tr = np.asarray(train_idx, dtype=np.int64)
    r, z = _standardised_relative(dense, tr)
    planes: dict[str, np.ndarray] = {}
    for name in names:
        if name == PEER_FEATURE:
            c, pairs = lagged_corr(dense.close.astype(np.float64), tr)
            w = peer_weights(c, pairs)
            feat = np.nan_to_num(z) @ w.T  # [D, N]: sum_j w[i, j] z_j[t]
            log.info("%s: %d of %d stocks have lead-lag peers (%d train date pairs)", name,
                     int((w != 0).any(axis=1).sum()), w.shape[0], pairs)
        else:
            col = name[len(CONTEXT_PREFIX):]
            x = np.nanmean(np.where(np.isfinite(dense.columns[col]), dense.columns[col], np.nan), axis=1) \
                if np.isfinite(dense.columns[col]).any() else np.full(len(dense.dates), np.nan)
            xt = x[tr][np.isfinite(x[tr])]
            mu, sd = (float(xt.mean()), float(xt.std())) if xt.size else (0.0, 0.0)
            b = context_slopes(z, x, tr)
            xs = (x - mu) / sd if sd > 0 else np.zeros_like(x)
            feat = xs[:, None] * b[None, :]
            log.info("%s: %d of %d stocks respond to %r on train dates", name, int((b != 0).sum()), b.size, col)
        feat = np.where(np.isfinite(r), feat, np.nan)  # unknown where the stock's own return is unknown
        planes[name] = feat.astype(np.float32)
    return planes


def add_fitted_features(frame: FeatureFrame, dense: DensePanel, train_idx: np.ndarray,
                        wanted: list[str] | None = None) -> FeatureFrame:
    """``frame`` with the fitted features appended (group ``context``, cross-sectional).

    Args:
        frame: features from ``compute_features`` (same grid as ``dense``).
        dense: the panel on its grid (close and the extra columns are read).
        train_idx: train date indices (the only dates the weights see).
        wanted: ``data.features`` (None = all); fitted features not named there are left out.

    ``prepare`` passes :func:`fitted_planes` to ``compute_features(append=...)`` instead, which
    writes them in the same pass (no concatenated copy); the values are the same.
    """
    if len(frame.tickers) < MIN_STOCKS:
        return frame
    found = fitted_planes(dense, train_idx, list(frame.market), wanted)
    if not found:
        return frame
    names = list(found)
    values = np.concatenate([frame.values, np.stack(list(found.values()), axis=-1)], axis=2)
    mask = frame.mask & np.isfinite(values[..., -len(names):]).all(axis=-1)
    groups = {g: list(v) for g, v in frame.groups.items()}
    groups.setdefault("context", []).extend(names)
    return replace(frame, values=np.ascontiguousarray(values), mask=mask, names=[*frame.names, *names],
                   groups=groups, fitted=[*frame.fitted, *names])
