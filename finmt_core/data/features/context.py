"""Market / context features: market return, vol and breadth (market-wide), cross-sectional
ranks per date, sector-relative and market-relative returns, rolling correlation and beta.

Cross-sectional statistics at date t use only the tickers' values at date t, so they are as
causal as their inputs. The market is the equal-weight mean over the tickers present that day.
Extra numeric panel columns become ``extra_<name>`` features in ``compute_features``.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import pandas as pd

from finmt_core.data.features import ops, xsection
from finmt_core.data.features.inputs import FeatureInputs
from finmt_core.data.features.registry import CLOSE, SECTOR, FeatureSpec, feature, register_feature

RANK_WINDOWS: tuple[int, ...] = (1, 5, 20)


@feature("mkt_ret_1", "context", needs=CLOSE, market=True,
         description="market daily log return: cross-sectional mean of the tickers' 1-day returns")
def _mkt_ret(x: FeatureInputs) -> np.ndarray:
    return x.market_return()


@feature("mkt_ret_20", "context", needs=CLOSE, market=True,
         description="market 20-day log return: sum of the market's daily returns over 20 days")
def _mkt_ret_20(x: FeatureInputs) -> np.ndarray:
    return ops.roll_sum(x.market_return()[:, None], 20)[:, 0]


@feature("mkt_vol_20", "context", needs=CLOSE, market=True,
         description="market daily vol: std of the market's daily returns over 20 days")
def _mkt_vol(x: FeatureInputs) -> np.ndarray:
    return ops.roll_std(x.market_return()[:, None], 20)[:, 0]


@feature("breadth", "context", needs=CLOSE, market=True,
         description="fraction of tickers (with a 1-day return) that closed up")
def _breadth(x: FeatureInputs) -> np.ndarray:
    r = x.ret(1)
    up = np.where(np.isfinite(r), (r > 0).astype(np.float64), np.nan)
    return xsection.cs_mean(up)


def _rank_ret(x: FeatureInputs, h: int) -> np.ndarray:
    return xsection.cs_rank(x.ret(h))


for _h in RANK_WINDOWS:
    register_feature(FeatureSpec(
        f"cs_rank_ret_{_h}", "context", CLOSE,
        f"cross-sectional percentile rank of the {_h}-day return on the date, in [0, 1]",
        partial(_rank_ret, h=_h), cross_sectional=True))


@feature("cs_rank_vol_20", "context", needs=CLOSE, cross_sectional=True,
         description="cross-sectional percentile rank of the 20-day vol on the date, in [0, 1]")
def _rank_vol(x: FeatureInputs) -> np.ndarray:
    return xsection.cs_rank(x.vol(20))


@feature("rel_strength_20", "context", needs=CLOSE, cross_sectional=True,
         description="20-day log return minus the market's 20-day log return")
def _rel_strength(x: FeatureInputs) -> np.ndarray:
    return x.ret(20) - _mkt_ret_20(x)[:, None]


@feature("sector_rel_ret_5", "context", needs=SECTOR, cross_sectional=True,
         description="5-day log return minus the mean 5-day return of the ticker's sector")
def _sector_rel(x: FeatureInputs) -> np.ndarray:
    codes, uniques = pd.factorize(pd.Index(x.dense.sector or []))
    r5 = x.ret(5)
    return r5 - xsection.group_mean(r5, codes.astype(np.int64), len(uniques))


@feature("mkt_rel_ret_1", "context", needs=CLOSE, cross_sectional=True,
         description="1-day log return minus the market's (the short-term reversal input)")
def _mkt_rel_1(x: FeatureInputs) -> np.ndarray:
    return x.ret(1) - x.market_return()[:, None]


def _sector_mean_1(x: FeatureInputs) -> np.ndarray:
    # Memoised: sector_rel_ret_1 and sector_ret_1 both use it.
    def make() -> np.ndarray:
        codes, uniques = pd.factorize(pd.Index(x.dense.sector or []))
        return xsection.group_mean(x.ret(1), codes.astype(np.int64), len(uniques))

    return x.memo(("sector_mean", 1), make)


@feature("sector_rel_ret_1", "context", needs=SECTOR, cross_sectional=True,
         description="1-day log return minus the mean 1-day return of the ticker's sector")
def _sector_rel_1(x: FeatureInputs) -> np.ndarray:
    return x.ret(1) - _sector_mean_1(x)


@feature("sector_ret_1", "context", needs=SECTOR, cross_sectional=True,
         description="the ticker's sector's mean 1-day log return minus the market's (sector lead-lag input)")
def _sector_ret_1(x: FeatureInputs) -> np.ndarray:
    return _sector_mean_1(x) - x.market_return()[:, None]


@feature("corr_mkt_60", "context", needs=CLOSE, cross_sectional=True,
         description="60-day rolling correlation of the ticker's daily returns with the market's")
def _corr_mkt(x: FeatureInputs) -> np.ndarray:
    return x.market_corr_beta(60)[0]


@feature("beta_60", "context", needs=CLOSE, cross_sectional=True,
         description="60-day rolling beta of the ticker's daily returns to the market's")
def _beta(x: FeatureInputs) -> np.ndarray:
    return x.market_corr_beta(60)[1]
