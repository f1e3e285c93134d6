"""The synthetic market's planted structures and its exact oracle (used by :mod:`finmt_core.data.samples`).

Every planted term of the return ``r[i, t+1]`` is known at the close of ``t`` (it is a function of
innovations, volatility states and the macro series up to ``t``), so the generator writes
``r[t+1] = u[t+1] + sum of planted terms`` and the oracle is the same terms' conditional
expectation: :func:`expected_planted` with ``k = 1`` is both what the generator adds to tomorrow's
return and the one-day oracle; ``k > 1`` gives the expected contribution to ``r[t+k]``.
One code path, so the oracle cannot drift away from the generator.

All arrays are ``[D, N]`` (dates x stocks) indexed by the *information* date ``t``; returns are
daily log returns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

MOMENTUM_WINDOW = 20  # L: innovations averaged by the time-series momentum term
MACRO_PHI = 0.9  # AR(1) persistence of the standardised macro series
# per unit of strength; calibrated so strength 1 alone gives a next-day oracle IC of ~0.15
# (per-date Pearson, 60 stocks x 1500 days; see tests/data/test_samples.py)
MOMENTUM_PER_STRENGTH = 0.67  # m = 0.67 * momentum
VOL_DRIFT_PER_STRENGTH = 0.13  # d = 0.13 * vol_drift (daily drift in units of the stock's vol)
CONTEXT_PER_STRENGTH = 0.17  # e = 0.17 * context (daily drift in units of typical vol per unit macro)
_QUADRATURE_NODES = 16  # Gauss-Hermite nodes per volatility factor (future vol state expectation)


@dataclass(frozen=True)
class MarketState:
    """Everything the generator knows, as needed by the planted terms and the oracle.

    Shapes: D dates, N stocks, K sectors. Volatilities are daily log-return standard deviations.
    """

    u: np.ndarray  # [D, N] base innovations (unpredictable part of r)
    day_vol: np.ndarray  # [D, N] total daily vol state sigma_tot[t]
    h_m: np.ndarray  # [D] market log-variance state
    h_i: np.ndarray  # [D, N] idiosyncratic log-variance states
    mkt_logvar: tuple[float, float]  # (phi, stationary sd) of h_m
    idio_logvar: tuple[float, float]  # (phi, stationary sd) of h_i
    market_var: np.ndarray  # [N] (beta_i * market vol)^2 at h_m = sd^2/2 (unit multiplier)
    sector_var: np.ndarray  # [N] (sector loading * sector vol)^2
    idio_var: np.ndarray  # [N] idiosyncratic variance at unit multiplier
    sector_of: np.ndarray  # [N] sector index of each stock
    leader_idx: np.ndarray  # [K] column of each sector's leader
    reversal: float  # a
    leadlag: float  # b
    momentum: float  # m
    vol_drift: float  # d
    kappa: np.ndarray  # [N] per-stock vol-drift score, N(0, 1)
    context: float  # e
    context_load: np.ndarray  # [N] sector sign s_k(i) times the stock's typical daily vol
    macro: np.ndarray  # [D] standardised AR(1) macro series


def sector_signs(n_sectors: int) -> np.ndarray:
    """``s_k`` for the context effect: +1, -1, +1, ... (both signs present when K >= 2). Shape [K]."""
    return np.where(np.arange(n_sectors) % 2 == 0, 1.0, -1.0)


def momentum_known(u: np.ndarray, k: int, window: int = MOMENTUM_WINDOW) -> np.ndarray:
    """Part of ``r[t+k]``'s momentum average known at ``t``: ``sum(u[t+k-L .. t]) / L``. Shape [D, N].

    Innovations before the first day count as 0 (the window is always divided by ``L``); ``k > L``
    gives zeros. Vectorised with one cumulative sum.
    """
    D = u.shape[0]
    if k > window:
        return np.zeros_like(u)
    csum = np.vstack([np.zeros((1, *u.shape[1:])), np.cumsum(u, axis=0)])  # csum[t+1] = sum u[0..t]
    first = np.clip(np.arange(D) + k - window, 0, None)  # first innovation in the window
    return (csum[1:] - csum[first]) / window


def expected_day_vol(state: MarketState, j: int) -> np.ndarray:
    """``E[sigma_tot[t+j] | close of t]`` for every t: exact at j = 0, Gauss-Hermite for j > 0. [D, N].

    ``sigma_tot^2 = A_i exp(h_m - sd_m^2/2) + B_i + C_i exp(h_i - sd_i^2/2)`` with Gaussian AR(1)
    log-variances, so ``h[t+j] | h[t] ~ N(phi^j h[t], sd^2 (1 - phi^(2j)))`` for each factor
    (independent); the square root of their sum has no closed form, so the two-factor Gaussian
    expectation is taken by a 16 x 16 node tensor Gauss-Hermite rule (error far below 1e-10 here).
    """
    if j == 0:
        return state.day_vol
    (phi_m, sd_m), (phi_i, sd_i) = state.mkt_logvar, state.idio_logvar
    nodes, weights = np.polynomial.hermite_e.hermegauss(_QUADRATURE_NODES)
    weights = weights / weights.sum()  # probabilists' rule: E[f(Z)] = sum w f(x), Z ~ N(0, 1)
    spread_m = sd_m * np.sqrt(1.0 - phi_m ** (2 * j))
    spread_i = sd_i * np.sqrt(1.0 - phi_i ** (2 * j))
    idio = state.idio_var[:, None] * np.exp(phi_i**j * state.h_i[..., None] + spread_i * nodes - 0.5 * sd_i**2)  # [D,N,Q]
    idio += state.sector_var[:, None]
    out = np.zeros_like(state.day_vol)
    for x, w in zip(nodes, weights):
        market = np.exp(phi_m**j * state.h_m + spread_m * x - 0.5 * sd_m**2)[:, None] * state.market_var  # [D,N]
        out += w * (np.sqrt(market[..., None] + idio) @ weights)
    return out


def expected_planted(state: MarketState, k: int) -> list[np.ndarray]:
    """``E[planted term of r[t+k] | close of t]`` for each active structure, in a fixed order. [D, N] each.

    ``k = 1`` is exact knowledge (every term is known one day ahead): the generator adds these to
    ``r[1:]`` and the one-day oracle is their sum. Inactive structures (strength 0) are left out.
    """
    terms: list[np.ndarray] = []
    u = state.u
    if k == 1 and state.reversal > 0.0:
        terms.append(-(state.reversal * (u - u.mean(axis=1, keepdims=True))))
    if k == 1 and state.leadlag > 0.0:
        follower = np.ones(u.shape[1], dtype=bool)
        follower[state.leader_idx] = False
        lead = np.zeros_like(u)
        lead[:, follower] = state.leadlag * u[:, state.leader_idx[state.sector_of[follower]]]
        terms.append(lead)
    if state.momentum > 0.0 and k <= MOMENTUM_WINDOW:
        terms.append(state.momentum * momentum_known(u, k))
    if state.vol_drift > 0.0:
        terms.append(state.vol_drift * state.kappa[None, :] * expected_day_vol(state, k - 1))
    if state.context > 0.0:
        terms.append(state.context * (MACRO_PHI ** (k - 1) * state.macro)[:, None] * state.context_load[None, :])
    return terms


def oracle_returns(state: MarketState, horizons: Sequence[int]) -> dict[int, np.ndarray]:
    """``E[log C[t+h] / C[t] | close of t]`` for each horizon h: ``{h: [D, N]}``, NaN where t+h >= D.

    The innovations ``u`` have mean zero given the past, so only the planted terms contribute:
    ``sum_{k=1..h} E[planted r[t+k] | t]``. All zeros on a random walk.
    """
    D = state.u.shape[0]
    cumulative = np.zeros_like(state.u)
    out: dict[int, np.ndarray] = {}
    for k in range(1, max(horizons) + 1):
        for term in expected_planted(state, k):
            cumulative += term
        if k in horizons:
            value = cumulative.copy()
            value[D - k:] = np.nan
            out[k] = value
    return out
