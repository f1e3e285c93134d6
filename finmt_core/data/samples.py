"""Bundled data: a small real sample (:func:`demo_panel`) and a synthetic market (:func:`synthetic_market`).

The synthetic market is the project's laboratory: it has the stylised facts of real daily
equity data (factor structure, volatility clustering, fat tails, volume that rises with
|return|) plus a *documented* predictable structure whose strength is one number, so a
model's skill can be checked against what was planted — and, at ``signal_strength=0``,
against a market where nothing can be predicted.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources

import numpy as np
import pandas as pd
from scipy.signal import lfilter

from finmt_core.data.synthetic_structures import (
    CONTEXT_PER_STRENGTH,
    MACRO_PHI,
    MOMENTUM_PER_STRENGTH,
    MOMENTUM_WINDOW,
    VOL_DRIFT_PER_STRENGTH,
    MarketState,
    expected_planted,
    oracle_returns,
    sector_signs,
)
from finmt_core.errors import ConfigError

#: bundled real sample (see ``finmt_core/data/sample/NOTICE``)
DEMO_FILE = "stocks.csv.gz"

# --- constants of the synthetic market (daily units; log returns) -------------------------
_T_DF = 5.0  # Student-t degrees of freedom of every shock (fat tails, finite kurtosis)
_MARKET_VOL = 0.009  # market factor daily vol (~14% a year)
_SECTOR_VOL = 0.006  # sector factor daily vol
_IDIO_VOL_RANGE = (0.009, 0.018)  # per-stock idiosyncratic daily vol, uniform
_BETA_RANGE = (0.6, 1.4)  # market beta, uniform
_SECTOR_LOAD_RANGE = (0.6, 1.2)  # sector loading, uniform
_REVERSAL_PER_STRENGTH = 0.10  # a = 0.10 * s
_LEADLAG_PER_STRENGTH = 0.20  # b = 0.20 * s
_MKT_LOGVAR_PHI, _MKT_LOGVAR_SD = 0.98, 1.0  # market log-variance AR(1): persistence, stationary sd at c=1
_IDIO_LOGVAR_PHI, _IDIO_LOGVAR_SD = 0.97, 0.7  # idiosyncratic log-variance AR(1)
_VOL_ABSRET_LOAD = 0.35  # log-volume per unit of |standardised return|
_VOL_AR_PHI, _VOL_AR_SD, _VOL_NOISE_SD = 0.8, 0.3, 0.2  # persistent + transient log-volume noise
_MAX_STRENGTH = 5.0


def _t_shocks(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Student-t(5) draws rescaled to unit variance."""
    return rng.standard_t(_T_DF, size=shape) * np.sqrt((_T_DF - 2.0) / _T_DF)


def _ar1(shocks: np.ndarray, phi: float, stationary_sd: float) -> np.ndarray:
    """Stationary AR(1) ``h[t] = phi h[t-1] + sqrt(1-phi^2) sd e[t]`` along axis 0 (vectorised lfilter).

    ``shocks`` are standard normal ``[D, ...]``; the first row is drawn from the stationary law
    so there is no burn-in transient.
    """
    scaled = shocks * (stationary_sd * np.sqrt(1.0 - phi**2))
    # initial state chosen so that h[0] = sd * shocks[0] exactly, i.e. h[0] ~ N(0, sd^2)
    zi = (stationary_sd * shocks[0] - scaled[0])[None, ...]
    out, _ = lfilter([1.0], [1.0, -phi], scaled, axis=0, zi=zi)
    return out


def _variance_scale(h: np.ndarray, sd: float) -> np.ndarray:
    """``exp(h/2 - sd^2/4)``: a volatility multiplier with E[multiplier^2] = 1 for h ~ N(0, sd^2)."""
    return np.exp(0.5 * h - 0.25 * sd**2)


def synthetic_market(
    n_stocks: int = 50,
    n_days: int = 1000,
    n_sectors: int = 5,
    seed: int = 0,
    signal_strength: float = 0.5,
    start: str = "2015-01-02",
    *,
    momentum: float = 0.0,
    vol_drift: float = 0.0,
    context: float = 0.0,
) -> pd.DataFrame:
    """A synthetic daily OHLCV panel with a planted, documented predictable structure.

    Notation: ``s = signal_strength``, ``c = min(2 s, 1)`` (full clustering from the default 0.5 up), stock ``i`` in sector ``k(i)``, day
    ``t``; all shocks ``z`` are independent Student-t(5) scaled to unit variance, ``n`` are
    standard normal. Every sector's first stock (lowest index) is its *leader* ``L(k)``.

    Volatility (clustering; a stochastic-volatility form of GARCH(1,1), vectorised by lfilter)::

        h_m[t] = 0.98 h_m[t-1] + eta,   stationary sd 1.0 c      (market log-variance)
        h_i[t] = 0.97 h_i[t-1] + eta_i, stationary sd 0.7 c      (idiosyncratic, per stock)
        sigma_m[t] = 0.009 * exp(h_m/2 - var(h_m)/4)             (E[sigma_m^2] = 0.009^2)

    Base innovations (the unpredictable part)::

        u[i,t] = beta_i sigma_m[t] z_m[t] + g_i 0.006 z_k(i)[t] + sigma_i exp(h_i/2 - ...) z_i[t]

    with ``beta_i ~ U(0.6, 1.4)``, ``g_i ~ U(0.6, 1.2)``, ``sigma_i ~ U(0.9%, 1.8%)``: total daily
    vol ``v[i,t] = sqrt((beta_i sigma_m[t])^2 + (g_i 0.006)^2 + (sigma_i exp(h_i/2 - ...))^2)``, about
    1.3-2.2%; ``vbar_i`` is its typical (unconditional rms) level.

    Planted structure (every term is known at the close of t-1; no recursion over days)::

        r[i,t] = u[i,t] - a (u[i,t-1] - mean_j u[j,t-1])          (a) cross-sectional reversal
                        + b 1[i != L(k(i))] u[L(k(i)),t-1]         (b) within-sector lead-lag
                        + m mean(u[i,t-20..t-1])                   (m) time-series momentum
                        + d kappa_i v[i,t-1]                       (d) volatility-scaled drift
                        + e s_k(i) macro[t-1] vbar_i               (e) macro context
        a = 0.10 s,  b = 0.20 s,  m = 0.67 momentum,  d = 0.13 vol_drift,  e = 0.17 context

    so ``corr(r[i,t] - mean_j r[j,t], r[i,t+1]) ~ -a`` and ``corr(r[L,t], r[i,t+1]) ~ b *
    sd(u_L) / sd(u_i)`` for a follower ``i`` of leader ``L``. Momentum averages the last 20
    innovations (days before the first count as 0); ``kappa_i ~ N(0, 1)`` is a fixed per-stock score;
    ``macro`` is a standardised AR(1) (phi 0.9, one value per date, added as the ``macro`` column
    only when ``context > 0``) and ``s_k = +1, -1, +1, ...`` alternates over sectors. Strength 1 of
    each structure alone gives a next-day oracle IC of about 0.15 (see
    :func:`synthetic_market_with_oracle`). The new structures draw from a second generator
    (``default_rng([seed, 1])``), so with them at 0 the panel is bit-identical to the original.
    Close ``C[i,t] = C[i,0] exp(sum r)``.

    With every strength 0 every term above vanishes except the i.i.d. shocks: log prices are
    zero-drift random walks with i.i.d. (cross-sectionally correlated, fat-tailed) daily
    returns, so no function of the past predicts the next return or its size.

    OHLC and volume (built from day-t quantities and fresh day-t noise only, so they add no
    predictability): ``open = C[t-1] exp(0.3 r[t] + 0.3 v n)``, ``high = max(open, close) exp(0.5 v
    |n|)``, ``low = min(open, close) exp(-0.5 v |n|)`` with ``v`` the day's total vol; ``log volume
    = log V_i + 0.35 (|r|/v - E|n|) + AR(1)(0.8, sd 0.3) + N(0, 0.2^2)`` with ``V_i`` log-uniform in
    [2e5, 2e7] (log-normal, rising with |return|).

    Args:
        n_stocks: N >= 1 tickers (``S000``, ``S001``, ...).
        n_days: D >= 2 business days from ``start``.
        n_sectors: 1..N sectors (``sector_0``, ...; contiguous blocks of tickers).
        seed: seed of the numpy Generator; same arguments -> identical panel.
        signal_strength: s in [0, 5] (0 = pure random walk; 0.5 default; 1 strong).
        start: first business day.
        momentum: time-series momentum strength in [0, 5] (0 = off).
        vol_drift: volatility-scaled drift strength in [0, 5] (0 = off).
        context: macro-context strength in [0, 5] (0 = off, and no ``macro`` column).

    Returns:
        A Panel: MultiIndex ``(date, ticker)`` sorted, D*N rows; float64 ``open high low close
        volume``, str ``sector`` and, with ``context > 0``, float64 ``macro``. ``attrs``: ``source``,
        ``notes``, ``planted`` (a short description), ``leaders`` (sector -> leader ticker),
        ``signal_strength``, ``strengths`` (every strength by name).
    """
    return _simulate(n_stocks, n_days, n_sectors, seed, signal_strength, start,
                     momentum=momentum, vol_drift=vol_drift, context=context)[0]


def synthetic_market_with_oracle(
    n_stocks: int = 50,
    n_days: int = 1000,
    n_sectors: int = 5,
    seed: int = 0,
    signal_strength: float = 0.5,
    start: str = "2015-01-02",
    *,
    momentum: float = 0.0,
    vol_drift: float = 0.0,
    context: float = 0.0,
    horizons: Sequence[int] = (1,),
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`synthetic_market` and its oracle: the exact expected forward log return of every row.

    ``oracle[f"h{h}"]`` at ``(t, i)`` is ``E[log(C[i,t+h] / C[i,t]) | everything the generator knows at
    the close of t]``: the reversal and lead-lag terms reach only ``t+1``; momentum reaches
    ``t+1..t+20`` through the innovations already known; the vol drift through the expected future
    vol state (Gaussian AR(1) log-variances); the context through ``E[macro[t+k-1] | t] =
    0.9^(k-1) macro[t]``. Exactly 0 on a random walk; NaN where ``t + h`` is past the last day. The
    oracle is returned separately and never enters the panel (it must not become a feature).

    Args:
        n_stocks, n_days, n_sectors, seed, signal_strength, start, momentum, vol_drift, context:
            as :func:`synthetic_market` (the panel is identical to its result).
        horizons: distinct forward horizons in days, each in [1, n_days - 1].

    Returns:
        ``(panel, oracle)``; ``oracle`` has the panel's index and float64 columns ``h{h}`` (daily log
        return units, cumulative over h days), in the order of ``horizons``.
    """
    panel, state = _simulate(n_stocks, n_days, n_sectors, seed, signal_strength, start,
                             momentum=momentum, vol_drift=vol_drift, context=context)
    hs = list(horizons) if isinstance(horizons, Sequence | np.ndarray) else []
    if not (
        hs
        and all(isinstance(h, int | np.integer) and not isinstance(h, bool) and 1 <= h < n_days for h in hs)
        and len(set(hs)) == len(hs)
    ):
        raise ConfigError(
            f"synthetic_market_with_oracle: horizons must be distinct integers in [1, {int(n_days) - 1}], "
            f"got {horizons!r}"
        )
    hs = [int(h) for h in hs]
    expected = oracle_returns(state, hs)
    oracle = pd.DataFrame({f"h{h}": expected[h].ravel() for h in hs}, index=panel.index)
    oracle.attrs["source"] = panel.attrs["source"]
    return panel, oracle


def _check_strength(name: str, value: float) -> float:
    """``value`` as a float in [0, 5], or a :class:`ConfigError` naming the argument."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        x = float("nan")
    if not (np.isfinite(x) and 0.0 <= x <= _MAX_STRENGTH):
        raise ConfigError(f"synthetic_market: {name} must be in [0, {_MAX_STRENGTH}], got {value!r}")
    return x


def _simulate(
    n_stocks: int,
    n_days: int,
    n_sectors: int,
    seed: int,
    signal_strength: float,
    start: str,
    *,
    momentum: float,
    vol_drift: float,
    context: float,
) -> tuple[pd.DataFrame, MarketState]:
    """The one generator behind :func:`synthetic_market` and its oracle: the panel and the state."""
    if not (isinstance(n_stocks, int | np.integer) and n_stocks >= 1):
        raise ConfigError(f"synthetic_market: n_stocks must be an integer >= 1, got {n_stocks!r}")
    if not (isinstance(n_days, int | np.integer) and n_days >= 2):
        raise ConfigError(f"synthetic_market: n_days must be an integer >= 2, got {n_days!r}")
    if not (isinstance(n_sectors, int | np.integer) and 1 <= n_sectors <= n_stocks):
        raise ConfigError(
            f"synthetic_market: n_sectors must be between 1 and n_stocks={n_stocks}, got {n_sectors!r}"
        )
    s = _check_strength("signal_strength", signal_strength)
    strengths = {"signal_strength": s, "momentum": _check_strength("momentum", momentum),
                 "vol_drift": _check_strength("vol_drift", vol_drift), "context": _check_strength("context", context)}
    try:
        # pandas >= 3 defaults to microsecond resolution; the Panel contract is datetime64[ns]
        dates = pd.bdate_range(start=start, periods=n_days, name="date").as_unit("ns")
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"synthetic_market: start {start!r} is not a date (use e.g. 2015-01-02)") from exc

    rng = np.random.default_rng(seed)
    N, D, K = int(n_stocks), int(n_days), int(n_sectors)
    c = min(2.0 * s, 1.0)
    a, b = _REVERSAL_PER_STRENGTH * s, _LEADLAG_PER_STRENGTH * s

    # --- static stock characteristics
    sector_of = np.repeat(np.arange(K), np.diff(np.linspace(0, N, K + 1).round().astype(int)))
    leader_idx = np.searchsorted(sector_of, np.arange(K))  # first stock of each sector
    beta = rng.uniform(*_BETA_RANGE, N)
    sector_load = rng.uniform(*_SECTOR_LOAD_RANGE, N)
    idio_vol = rng.uniform(*_IDIO_VOL_RANGE, N)
    log_price0 = rng.uniform(np.log(10.0), np.log(200.0), N)
    log_volume0 = rng.uniform(np.log(2e5), np.log(2e7), N)

    # --- volatility clustering (c = 0 -> multipliers are exactly 1)
    h_m = _ar1(rng.standard_normal(D), _MKT_LOGVAR_PHI, _MKT_LOGVAR_SD * c)
    h_i = _ar1(rng.standard_normal((D, N)), _IDIO_LOGVAR_PHI, _IDIO_LOGVAR_SD * c)
    sigma_m = _MARKET_VOL * _variance_scale(h_m, _MKT_LOGVAR_SD * c)  # [D]
    sigma_i = idio_vol[None, :] * _variance_scale(h_i, _IDIO_LOGVAR_SD * c)  # [D, N]
    day_vol = np.sqrt((beta[None, :] * sigma_m[:, None]) ** 2 + (sector_load * _SECTOR_VOL) ** 2 + sigma_i**2)

    # --- base innovations u [D, N]
    z_m = _t_shocks(rng, (D,))
    z_k = _t_shocks(rng, (D, K))
    z_i = _t_shocks(rng, (D, N))
    u = (
        beta[None, :] * (sigma_m * z_m)[:, None]
        + sector_load[None, :] * _SECTOR_VOL * z_k[:, sector_of]
        + sigma_i * z_i
    )

    # --- planted structure: every term is known at t-1 (synthetic_structures holds their formulas,
    # shared with the oracle). The newer structures draw from their own generator so that the main
    # stream, and with them off the whole panel, stays exactly as it was.
    extra = np.random.default_rng(None if seed is None else [seed, 1])
    kappa = extra.standard_normal(N)
    macro = _ar1(extra.standard_normal(D), MACRO_PHI, 1.0)
    typical_vol = np.sqrt((beta * _MARKET_VOL) ** 2 + (sector_load * _SECTOR_VOL) ** 2 + idio_vol**2)
    state = MarketState(
        u=u, day_vol=day_vol, h_m=h_m, h_i=h_i,
        mkt_logvar=(_MKT_LOGVAR_PHI, _MKT_LOGVAR_SD * c), idio_logvar=(_IDIO_LOGVAR_PHI, _IDIO_LOGVAR_SD * c),
        market_var=(beta * _MARKET_VOL) ** 2, sector_var=(sector_load * _SECTOR_VOL) ** 2, idio_var=idio_vol**2,
        sector_of=sector_of, leader_idx=leader_idx, reversal=a, leadlag=b,
        momentum=MOMENTUM_PER_STRENGTH * strengths["momentum"],
        vol_drift=VOL_DRIFT_PER_STRENGTH * strengths["vol_drift"], kappa=kappa,
        context=CONTEXT_PER_STRENGTH * strengths["context"],
        context_load=sector_signs(K)[sector_of] * typical_vol, macro=macro,
    )
    r = u.copy()
    for term in expected_planted(state, 1):
        r[1:] += term[:-1]

    # --- prices: close from the log-price walk, open/high/low from day-t quantities
    log_close = log_price0[None, :] + np.cumsum(r, axis=0)
    log_prev = np.vstack([log_price0[None, :], log_close[:-1]])
    log_open = log_prev + 0.3 * r + 0.3 * day_vol * rng.standard_normal((D, N))
    top = np.maximum(log_open, log_close) + 0.5 * day_vol * np.abs(rng.standard_normal((D, N)))
    bottom = np.minimum(log_open, log_close) - 0.5 * day_vol * np.abs(rng.standard_normal((D, N)))
    persistent = _ar1(rng.standard_normal((D, N)), _VOL_AR_PHI, _VOL_AR_SD)
    log_vol = (
        log_volume0[None, :]
        + _VOL_ABSRET_LOAD * (np.abs(r) / day_vol - np.sqrt(2.0 / np.pi))
        + persistent
        + _VOL_NOISE_SD * rng.standard_normal((D, N))
    )

    width = max(3, len(str(N - 1)))
    tickers = [f"S{i:0{width}d}" for i in range(N)]
    sectors = np.array([f"sector_{k}" for k in range(K)], dtype=object)
    index = pd.MultiIndex.from_product([dates, tickers], names=["date", "ticker"])
    panel = pd.DataFrame(
        {
            "open": np.exp(log_open).ravel(),
            "high": np.exp(top).ravel(),
            "low": np.exp(bottom).ravel(),
            "close": np.exp(log_close).ravel(),
            "volume": np.round(np.exp(log_vol)).ravel(),
            "sector": np.tile(sectors[sector_of], D),
        },
        index=index,
    )
    if state.context > 0.0:  # known at the close of each date, same for every ticker; load_panel's order
        panel.insert(panel.columns.get_loc("sector"), "macro", np.repeat(macro, N))
    extras = "".join(f", {k}={v:g}" for k, v in strengths.items() if k != "signal_strength" and v > 0.0)
    panel.attrs["source"] = (
        f"synthetic(n_stocks={N}, n_days={D}, n_sectors={K}, seed={seed}, signal_strength={s:g}{extras})"
    )
    panel.attrs["notes"] = []
    panel.attrs["signal_strength"] = s
    panel.attrs["strengths"] = strengths
    panel.attrs["leaders"] = {str(sectors[k]): tickers[leader_idx[k]] for k in range(K)}
    panel.attrs["planted"] = _describe_planted(state, c)
    return panel, state


def _describe_planted(state: MarketState, c: float) -> str:
    """One line naming every active planted structure (or the random walk) with its coefficient."""
    parts = []
    if state.reversal > 0.0:
        parts.append(
            f"cross-sectional reversal a={state.reversal:.3g} on yesterday's relative return; within-sector "
            f"lead-lag b={state.leadlag:.3g} from each sector's first stock to its peers; volatility clustering c={c:.2g}"
        )
    if state.momentum > 0.0:
        parts.append(f"time-series momentum m={state.momentum:.3g} on the mean of the last {MOMENTUM_WINDOW} innovations")
    if state.vol_drift > 0.0:
        parts.append(f"volatility-scaled drift d={state.vol_drift:.3g} x per-stock score x yesterday's vol")
    if state.context > 0.0:
        parts.append(f"macro context e={state.context:.3g} x sector sign x yesterday's 'macro' x typical vol")
    return "; ".join(parts) or "pure zero-drift random walk (i.i.d. returns, nothing predictable)"


def demo_panel() -> pd.DataFrame:
    """The bundled real sample (daily OHLCV of a few US stocks, Quandl WIKI via bokeh-sampledata).

    Source, licence and derivation: ``finmt_core/data/sample/NOTICE``. Loaded and validated
    through :func:`finmt_core.data.panel.load_panel` like any user file.
    """
    from finmt_core.data.panel import load_panel

    ref = resources.files("finmt_core.data").joinpath("sample", DEMO_FILE)
    with resources.as_file(ref) as path:
        panel = load_panel(path, name=f"demo sample ({DEMO_FILE})")
    panel.attrs["source"] = "demo"
    return panel
