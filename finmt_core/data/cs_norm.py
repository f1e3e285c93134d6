"""Cross-sectional normalisation of ``[D, N]`` arrays: per date (row), across tickers (columns).

The operators of qlib's label processors (``CSZScoreNorm``, ``CSRankNorm``) plus plain
demeaning and median-centring, NaN-aware and vectorised over the whole grid. Dates with fewer
than :data:`MIN_TICKERS` finite values have no cross-section to speak of; there the input is
returned unchanged (a one-stock panel trains on its raw target).
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

#: Fewest finite values on a date for a cross-sectional statistic to be used.
MIN_TICKERS = 3
#: ``sqrt(12)``: the std of a uniform on [-0.5, 0.5] is 1/sqrt(12), so ranks scaled by it have unit variance.
_RANK_SCALE = float(np.sqrt(12.0))

METHODS = ("demean", "median", "zscore", "rank")


def cs_normalize(values: np.ndarray, method: str) -> np.ndarray:
    """Normalise each date's cross-section of ``values``.

    Args:
        values: ``[D, N]`` float (NaN = missing).
        method: ``demean`` (minus the date's mean), ``median`` (minus the date's median),
            ``zscore`` (minus mean, over std ddof=0), ``rank`` ((percentile rank - 0.5) * sqrt(12),
            ties averaged: a unit-variance uniform score, robust to outliers).

    Returns:
        ``[D, N]`` float64, NaN exactly where ``values`` is NaN; rows with fewer than
        :data:`MIN_TICKERS` finite values are returned unchanged.
    """
    if method not in METHODS:
        raise ValueError(f"unknown cross-sectional normalisation {method!r}; choose one of {METHODS}")
    v = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(v)
    count = finite.sum(axis=1, keepdims=True)
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows: handled by `enough` below
        if method == "demean":
            out = v - np.nanmean(v, axis=1, keepdims=True)
        elif method == "median":
            out = v - np.nanmedian(v, axis=1, keepdims=True)
        elif method == "zscore":
            sd = np.nanstd(v, axis=1, keepdims=True)
            out = (v - np.nanmean(v, axis=1, keepdims=True)) / np.where(sd > 0, sd, np.nan)
            out = np.where(finite & ~np.isfinite(out), 0.0, out)  # a constant cross-section -> 0
        else:
            pct = pd.DataFrame(v).rank(axis=1, pct=True, method="average").to_numpy()
            # pandas' pct rank runs 1/n..1; centre it exactly: (rank - 0.5) / n - 0.5
            out = (pct - 0.5 / np.maximum(count, 1) - 0.5) * _RANK_SCALE
    enough = count >= MIN_TICKERS
    return np.where(enough, out, v)
