"""Bundled real sample and the synthetic market: shape, determinism, stylised facts, planted signal, oracle."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from finmt_core.data.panel import load_panel
from finmt_core.data.samples import _simulate, demo_panel, synthetic_market, synthetic_market_with_oracle
from finmt_core.data.synthetic_structures import MACRO_PHI, MOMENTUM_WINDOW, expected_day_vol
from finmt_core.errors import ConfigError

#: one structure at a time at strength 1 (the reversal/lead-lag pair is signal_strength)
STRUCTURES = {
    "reversal+leadlag": {"signal_strength": 1.0},
    "momentum": {"signal_strength": 0.0, "momentum": 1.0},
    "vol_drift": {"signal_strength": 0.0, "vol_drift": 1.0},
    "context": {"signal_strength": 0.0, "context": 1.0},
}


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


def test_default_panel_unchanged_by_new_structures() -> None:
    """Values recorded from the generator before momentum / vol_drift / context existed (commit e3e78b9).

    rtol 1e-12 rather than bit equality only so that another CPU's libm cannot fail it; any change of
    the random stream or of the planted terms moves these numbers by far more.
    """
    recorded = {
        (7, 40, 3, 0, 0.5): ([25829.8985977646, 26187.537809185742, 25530.581531707707, 25870.813087765164,
                              853130864.0], [34.872650910170776, 207.60850431191002, 194.13469313659988]),
        (12, 80, 3, 5, 1.0): ([52570.09729998413, 53130.700493705895, 52034.63053014721, 52587.24953717494,
                               6461245914.0], [45.279696194983416, 52.120493216626286, 21.997731337422522]),
    }
    for (n, d, k, seed, s), (sums, last_close) in recorded.items():
        p = synthetic_market(n_stocks=n, n_days=d, n_sectors=k, seed=seed, signal_strength=s)
        np.testing.assert_allclose(p[["open", "high", "low", "close", "volume"]].sum().to_numpy(), sums, rtol=1e-12)
        np.testing.assert_allclose(p["close"].to_numpy()[-3:], last_close, rtol=1e-12)
        assert list(p.columns) == ["open", "high", "low", "close", "volume", "sector"]
        zeros = synthetic_market(n_stocks=n, n_days=d, n_sectors=k, seed=seed, signal_strength=s,
                                 momentum=0.0, vol_drift=0.0, context=0.0)
        pd.testing.assert_frame_equal(zeros, p, check_exact=True)
        assert zeros.attrs["source"] == p.attrs["source"] == (
            f"synthetic(n_stocks={n}, n_days={d}, n_sectors={k}, seed={seed}, signal_strength={s:g})")


@pytest.mark.parametrize("name", ["momentum", "vol_drift", "context"])
@pytest.mark.parametrize("value", [-0.1, 5.5, float("nan"), float("inf"), "strong"])
def test_new_strengths_rejected_out_of_range(name: str, value: object) -> None:
    with pytest.raises(ConfigError, match=name):
        synthetic_market(n_stocks=4, n_days=10, n_sectors=2, **{name: value})


def test_new_strengths_accept_the_maximum() -> None:
    p = synthetic_market(n_stocks=6, n_days=60, n_sectors=2, momentum=5.0, vol_drift=5.0, context=5.0)
    assert np.isfinite(p[["open", "high", "low", "close", "volume", "macro"]].to_numpy()).all()
    assert p.attrs["strengths"] == {"signal_strength": 0.5, "momentum": 5.0, "vol_drift": 5.0, "context": 5.0}
    for word in ("reversal", "momentum", "volatility-scaled drift", "macro context"):
        assert word in p.attrs["planted"]


@pytest.mark.parametrize("name", ["momentum", "vol_drift", "context"])
def test_new_structure_alone_is_described(name: str) -> None:
    p = synthetic_market(n_stocks=4, n_days=30, n_sectors=2, **STRUCTURES[name])
    assert "random walk" not in p.attrs["planted"] and "reversal" not in p.attrs["planted"]
    assert f"{name}=1" in p.attrs["source"]


def test_macro_column_only_with_context() -> None:
    assert "macro" not in synthetic_market(n_stocks=5, n_days=50, momentum=1.0, vol_drift=1.0).columns
    p = synthetic_market(n_stocks=5, n_days=3000, n_sectors=2, seed=4, context=1.0)
    assert p["macro"].dtype == np.float64
    assert p["macro"].groupby(level="date").nunique().eq(1).all()  # one value per date, every ticker
    macro = p["macro"].xs("S000", level="ticker").to_numpy()
    assert abs(macro.mean()) < 0.35 and 0.8 < macro.std() < 1.2  # standardised (persistent: wide bounds)
    assert abs(np.corrcoef(macro[:-1], macro[1:])[0, 1] - MACRO_PHI) < 0.03
    pd.testing.assert_frame_equal(load_panel(p), p)  # a numeric context column, kept by validation


def test_with_oracle_returns_the_same_panel_and_keeps_oracle_out() -> None:
    kwargs = {"n_stocks": 9, "n_days": 70, "n_sectors": 3, "seed": 2, "momentum": 0.5, "context": 2.0}
    panel, oracle = synthetic_market_with_oracle(**kwargs, horizons=(1, 5))
    pd.testing.assert_frame_equal(panel, synthetic_market(**kwargs), check_exact=True)
    assert not set(oracle.columns) & set(panel.columns)
    assert list(oracle.columns) == ["h1", "h5"]
    assert (oracle.dtypes == np.float64).all()
    assert oracle.index.equals(panel.index)


def test_oracle_horizons_nan_tail() -> None:
    _, oracle = synthetic_market_with_oracle(n_stocks=4, n_days=30, n_sectors=2, vol_drift=1.0, horizons=(5, 1, 29))
    assert list(oracle.columns) == ["h5", "h1", "h29"]
    dates = oracle.index.get_level_values("date").unique()
    for h in (1, 5, 29):
        col = oracle[f"h{h}"].unstack("ticker")
        assert col.loc[dates[-h:]].isna().all().all()
        assert np.isfinite(col.loc[dates[:-h]].to_numpy()).all()


@pytest.mark.parametrize("horizons", [(), (0,), (1, 1), (30,), ("1",), (True,), (1.5,), 5])
def test_oracle_rejects_bad_horizons(horizons: object) -> None:
    with pytest.raises(ConfigError, match="horizons"):
        synthetic_market_with_oracle(n_stocks=4, n_days=30, n_sectors=2, horizons=horizons)


def test_random_walk_oracle_is_zero() -> None:
    _, oracle = synthetic_market_with_oracle(n_stocks=8, n_days=100, seed=3, signal_strength=0.0,
                                             horizons=(1, 3, 30))
    for h in (1, 3, 30):
        values = oracle[f"h{h}"].unstack("ticker").to_numpy()
        assert (values[:-h] == 0.0).all() and np.isnan(values[-h:]).all()


def _brute_force_oracle(state, h: int) -> np.ndarray:
    """E[log C[t+h] / C[t] | t] by explicit loops over dates, stocks and days ahead: [D, N].

    Beyond one day the vol-drift term needs a constant vol state (no clustering: signal_strength 0),
    where ``E[v[t+k-1] | t] = v[t]``; :func:`test_expected_day_vol_matches_monte_carlo` covers the rest.
    """
    D, N = state.u.shape
    u = state.u
    assert h == 1 or state.vol_drift == 0.0 or state.idio_logvar[1] == state.mkt_logvar[1] == 0.0
    typical_vol = np.sqrt(state.market_var + state.sector_var + state.idio_var)
    out = np.full((D, N), np.nan)
    for t in range(D - h):
        for i in range(N):
            leader = int(state.leader_idx[state.sector_of[i]])
            sign = 1.0 if state.sector_of[i] % 2 == 0 else -1.0
            total = 0.0
            for k in range(1, h + 1):
                if k == 1:
                    total -= state.reversal * (u[t, i] - u[t].mean())
                    total += state.leadlag * u[t, leader] if i != leader else 0.0
                window = range(max(0, t + k - MOMENTUM_WINDOW), t + 1)  # innovations known at t
                total += state.momentum * sum(u[j, i] for j in window) / MOMENTUM_WINDOW
                total += state.vol_drift * state.kappa[i] * state.day_vol[t, i]
                total += state.context * sign * typical_vol[i] * MACRO_PHI ** (k - 1) * state.macro[t]
            out[t, i] = total
    return out


@pytest.mark.parametrize("name", [*STRUCTURES, "all"])
def test_oracle_matches_brute_force_and_realised_returns(name: str) -> None:
    kwargs = ({"signal_strength": 1.0, "momentum": 1.0, "vol_drift": 1.0, "context": 1.0} if name == "all"
              else STRUCTURES[name])
    horizons = (1, 3, 25) if name != "all" else (1,)  # beyond 1 day: each structure alone
    panel, oracle = synthetic_market_with_oracle(n_stocks=6, n_days=40, n_sectors=2, seed=8, **kwargs,
                                                 horizons=horizons)
    _, state = _simulate(6, 40, 2, 8, kwargs.get("signal_strength", 0.5), "2015-01-02",
                         momentum=kwargs.get("momentum", 0.0), vol_drift=kwargs.get("vol_drift", 0.0),
                         context=kwargs.get("context", 0.0))
    expected = {h: _brute_force_oracle(state, h) for h in horizons}
    for h in horizons:
        got = oracle[f"h{h}"].unstack("ticker").to_numpy()
        np.testing.assert_allclose(got, expected[h], rtol=1e-10, atol=1e-15, equal_nan=True)
    # and the one-day oracle is exactly the realised return minus its innovation
    realised = np.diff(np.log(panel["close"].unstack("ticker").to_numpy()), axis=0)
    h1 = oracle["h1"].unstack("ticker").to_numpy()[:-1]
    np.testing.assert_allclose(realised - state.u[1:], h1, rtol=0, atol=1e-12)
    assert np.abs(h1).max() > 1e-4  # something was planted


def test_expected_day_vol_matches_monte_carlo() -> None:
    _, state = _simulate(5, 300, 2, 4, 0.5, "2015-01-02", momentum=0.0, vol_drift=1.0, context=0.0)
    assert expected_day_vol(state, 0) is state.day_vol
    (phi_m, sd_m), (phi_i, sd_i) = state.mkt_logvar, state.idio_logvar
    rng = np.random.default_rng(0)
    n = 400_000
    for j in (1, 7, 40):
        ev = expected_day_vol(state, j)
        for t, i in [(10, 0), (150, 3), (299, 4)]:
            h_m = phi_m**j * state.h_m[t] + sd_m * np.sqrt(1 - phi_m ** (2 * j)) * rng.standard_normal(n)
            h_i = phi_i**j * state.h_i[t, i] + sd_i * np.sqrt(1 - phi_i ** (2 * j)) * rng.standard_normal(n)
            draws = np.sqrt(state.market_var[i] * np.exp(h_m - sd_m**2 / 2) + state.sector_var[i]
                            + state.idio_var[i] * np.exp(h_i - sd_i**2 / 2))
            assert abs(ev[t, i] - draws.mean()) < 4 * draws.std() / np.sqrt(n)
    # far ahead the expectation forgets today's state: the same for every date
    far = expected_day_vol(state, 2000)
    np.testing.assert_allclose(far, far[:1].repeat(300, axis=0), rtol=1e-9)
    # and without clustering (signal_strength 0) the vol state is constant: expectation = today
    _, flat = _simulate(5, 50, 2, 4, 0.0, "2015-01-02", momentum=0.0, vol_drift=1.0, context=0.0)
    np.testing.assert_allclose(expected_day_vol(flat, 5), flat.day_vol, rtol=1e-12)


def test_vol_drift_oracle_uses_expected_future_vol() -> None:
    """With clustering, days 2..h of the vol drift add expected vol states, not today's vol again."""
    kwargs = {"momentum": 0.0, "vol_drift": 1.0, "context": 0.0}
    _, oracle = synthetic_market_with_oracle(5, 300, 2, 4, 0.5, **kwargs, horizons=(1, 10))
    _, state = _simulate(5, 300, 2, 4, 0.5, "2015-01-02", **kwargs)
    # reversal and lead-lag (signal_strength 0.5) reach day 1 only, so h10 - h1 is the vol drift of days 2..10
    later = (oracle["h10"] - oracle["h1"]).unstack("ticker").to_numpy()[:-10]
    expected = state.vol_drift * state.kappa * sum(expected_day_vol(state, j) for j in range(1, 10))
    np.testing.assert_allclose(later, expected[:-10], rtol=1e-10)
    naive = 9 * state.vol_drift * state.kappa * state.day_vol[:-10]
    assert np.abs(later - naive).max() > 0.05 * np.abs(later).max()  # the vol state's mean reversion shows


def _per_date_corr(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson correlation across stocks on every date of [T, N] arrays: [T]."""
    xc = x - x.mean(axis=1, keepdims=True)
    yc = y - y.mean(axis=1, keepdims=True)
    return (xc * yc).sum(1) / np.sqrt((xc**2).sum(1) * (yc**2).sum(1))


@pytest.mark.parametrize("name", list(STRUCTURES))
def test_oracle_predicts_realised_returns(name: str) -> None:
    panel, oracle = synthetic_market_with_oracle(n_stocks=60, n_days=1500, n_sectors=5, seed=0, **STRUCTURES[name])
    realised = np.diff(np.log(panel["close"].unstack("ticker").to_numpy()), axis=0)  # [D-1, N]: t -> t+1
    h1 = oracle["h1"].unstack("ticker").to_numpy()[:-1]
    ic = _per_date_corr(h1, realised)
    t_ic = ic.mean() / (ic.std(ddof=1) / np.sqrt(len(ic)))
    assert ic.mean() > 0.05 and t_ic > 5
    # calibration: strength 1 of each structure alone gives an oracle IC of ~0.15 (0.10-0.20)
    assert 0.10 < ic.mean() < 0.20
    # unbiased: the residual has mean ~0 (per-date means are the independent units) ...
    residual = (realised - h1).mean(axis=1)
    assert abs(residual.mean() / (residual.std(ddof=1) / np.sqrt(len(residual)))) < 3
    # ... and the oracle is on the right scale: the cross-sectional slope of realised on oracle is ~1
    xc, yc = h1 - h1.mean(1, keepdims=True), realised - realised.mean(1, keepdims=True)
    assert 0.85 < (xc * yc).sum() / (xc**2).sum() < 1.15


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
