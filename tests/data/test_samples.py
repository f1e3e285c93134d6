"""Bundled real sample and the synthetic market: shape, determinism, stylised facts, planted signal."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from finmt_core.data.panel import load_panel
from finmt_core.data.samples import demo_panel, synthetic_market
from finmt_core.errors import ConfigError


def _returns(panel: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """[D-1, N] daily log returns and the ticker order."""
    close = panel["close"].unstack("ticker")
    return np.diff(np.log(close.to_numpy()), axis=0), [str(t) for t in close.columns]


def _fama_macbeth_t(x: np.ndarray, y: np.ndarray) -> float:
    """t-statistic of the mean per-day cross-sectional correlation of x[t] and y[t] ([T, N] each).

    Days are the independent units, so common factors (market, sector) that make stocks move
    together on one day do not inflate the significance.
    """
    xc = x - x.mean(axis=1, keepdims=True)
    yc = y - y.mean(axis=1, keepdims=True)
    corr = (xc * yc).sum(1) / np.sqrt((xc**2).sum(1) * (yc**2).sum(1))
    return float(corr.mean() / (corr.std(ddof=1) / np.sqrt(len(corr))))


def _leader_pairs(panel: pd.DataFrame, tickers: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(leader column index, follower column index) for every follower of every sector."""
    sector = panel["sector"].groupby(level="ticker").first()
    col = {t: i for i, t in enumerate(tickers)}
    lead, follow = [], []
    for sec, leader in panel.attrs["leaders"].items():
        for t in sector.index[sector == sec]:
            if t != leader:
                lead.append(col[leader])
                follow.append(col[t])
    return np.array(lead), np.array(follow)


def test_synthetic_panel_contract() -> None:
    p = synthetic_market(n_stocks=7, n_days=40, n_sectors=3, seed=0)
    assert list(p.index.names) == ["date", "ticker"]
    assert p.index.is_monotonic_increasing and p.index.is_unique
    assert len(p) == 7 * 40
    assert p.index.get_level_values("date").dtype == np.dtype("datetime64[ns]")
    assert (p.index.get_level_values("date").dayofweek < 5).all()  # business days
    for c in ("open", "high", "low", "close", "volume"):
        assert p[c].dtype == np.float64
        assert np.isfinite(p[c]).all() and (p[c] > 0).all()
    assert p["sector"].groupby(level="ticker").nunique().eq(1).all()
    assert p["sector"].nunique() == 3
    assert set(p.attrs["leaders"]) == set(p["sector"].unique())
    assert isinstance(p.attrs["planted"], str) and "reversal" in p.attrs["planted"]
    # a Panel as load_panel would return it: validation round trip changes nothing
    pd.testing.assert_frame_equal(load_panel(p), p)


def test_synthetic_ohlc_consistent() -> None:
    p = synthetic_market(n_stocks=10, n_days=200, seed=3, signal_strength=1.0)
    body_hi = p[["open", "close"]].max(axis=1)
    body_lo = p[["open", "close"]].min(axis=1)
    assert (p["high"] >= body_hi).all() and (p["low"] <= body_lo).all()
    assert (p["high"] > p["low"]).all()


def test_synthetic_deterministic_per_seed() -> None:
    a = synthetic_market(n_stocks=6, n_days=60, seed=11)
    b = synthetic_market(n_stocks=6, n_days=60, seed=11)
    c = synthetic_market(n_stocks=6, n_days=60, seed=12)
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a["close"].to_numpy(), c["close"].to_numpy())


def test_synthetic_realistic_scale_and_stylised_facts() -> None:
    p = synthetic_market(n_stocks=30, n_days=1500, n_sectors=3, seed=5, signal_strength=0.5)
    r, _ = _returns(p)
    vol = r.std(axis=0)
    assert 0.008 < np.median(vol) < 0.025  # ~1-2% daily vol
    assert abs(r.mean()) < 5e-4  # no drift
    pooled = (r - r.mean(0)) / r.std(0)
    kurt = float((pooled**4).mean() - 3.0)
    assert kurt > 1.0  # fat tails
    # volatility clustering: |return| is autocorrelated (per stock, averaged; ~0 at s=0)
    a = np.abs(r)
    assert np.mean([np.corrcoef(a[:-1, i], a[1:, i])[0, 1] for i in range(a.shape[1])]) > 0.03
    # volume rises with |return|
    logv = np.log(p["volume"].unstack("ticker").to_numpy()[1:])
    t = _fama_macbeth_t(np.abs(r), logv)
    assert t > 5


def test_random_walk_is_unpredictable() -> None:
    p = synthetic_market(n_stocks=40, n_days=1000, n_sectors=4, seed=7, signal_strength=0.0)
    assert "random walk" in p.attrs["planted"]
    r, tickers = _returns(p)
    x, y = r[:-1], r[1:]
    n = x.size
    # pooled over stocks, on returns net of each day's cross-sectional mean (removing the
    # common factor makes the pooled rows close to independent, so 3/sqrt(n) is a fair bound)
    xd, yd = x - x.mean(1, keepdims=True), y - y.mean(1, keepdims=True)
    assert abs(np.corrcoef(xd.ravel(), yd.ravel())[0, 1]) < 3 / np.sqrt(n)
    assert abs(_fama_macbeth_t(x, y)) < 3  # reversal predictor: nothing there
    mkt = r.mean(axis=1)
    assert abs(np.corrcoef(mkt[:-1], mkt[1:])[0, 1]) < 3 / np.sqrt(len(mkt) - 1)
    # no volatility predictability either: |r_t| does not predict |r_t+1| beyond sampling error
    assert abs(np.corrcoef(np.abs(mkt[:-1]), np.abs(mkt[1:]))[0, 1]) < 3 / np.sqrt(len(mkt) - 1)
    lead, follow = _leader_pairs(p, tickers)
    assert abs(_fama_macbeth_t(x[:, lead], y[:, follow])) < 3


def test_strong_signal_is_planted() -> None:
    p = synthetic_market(n_stocks=40, n_days=600, n_sectors=4, seed=7, signal_strength=1.0)
    r, tickers = _returns(p)
    x, y = r[:-1], r[1:]
    # (a) cross-sectional reversal: yesterday's relative return predicts today's with a minus sign
    assert _fama_macbeth_t(x, y) < -4
    # (b) lead-lag: a sector leader's return predicts its followers' next return
    lead, follow = _leader_pairs(p, tickers)
    assert _fama_macbeth_t(x[:, lead], y[:, follow]) > 4
    lead_corr = np.corrcoef(x[:, lead].ravel(), y[:, follow].ravel())[0, 1]
    assert lead_corr > 0.1


def test_signal_strength_scales_reversal() -> None:
    weak = synthetic_market(n_stocks=40, n_days=600, seed=2, signal_strength=0.25)
    strong = synthetic_market(n_stocks=40, n_days=600, seed=2, signal_strength=1.5)
    rw, _ = _returns(weak)
    rs, _ = _returns(strong)
    assert _fama_macbeth_t(rs[:-1], rs[1:]) < _fama_macbeth_t(rw[:-1], rw[1:])


@pytest.mark.parametrize(
    "kwargs",
    [{"n_stocks": 0}, {"n_days": 1}, {"n_sectors": 9, "n_stocks": 3}, {"signal_strength": -1.0},
     {"signal_strength": float("nan")}, {"start": "not a date"}],
)
def test_synthetic_rejects_bad_arguments(kwargs: dict) -> None:
    with pytest.raises(ConfigError):
        synthetic_market(**kwargs)


def test_demo_panel_is_real_sample() -> None:
    p = demo_panel()
    tickers = set(p.index.get_level_values("ticker"))
    assert {"AAPL", "GOOG", "IBM", "MSFT"} <= tickers
    assert p.index.get_level_values("date").nunique() > 2000
    assert {"open", "high", "low", "close", "volume"} <= set(p.columns)
    assert (p["low"] <= p["close"]).all() and (p["close"] <= p["high"]).all()
    assert p.index.is_monotonic_increasing and p.index.is_unique
    pd.testing.assert_frame_equal(load_panel("demo"), p)


def test_sample_files_ship_with_notice() -> None:
    from importlib import resources

    root = resources.files("finmt_core.data").joinpath("sample")
    notice = root.joinpath("NOTICE").read_text()
    assert "Quandl" in notice and "public domain" in notice.lower()
    assert root.joinpath("stocks.csv.gz").read_bytes()[:2] == b"\x1f\x8b"
