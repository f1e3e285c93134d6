"""The vectorised backtest against a naive day-by-day loop, and hand-made cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from finmt_core.errors import DataError
from finmt_core.evaluation import backtest as B
from finmt_core.evaluation import strategies as S


def _naive(weights: np.ndarray, returns: np.ndarray, cost_bps: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reference: walk the days one by one, tracking the drifted book."""
    d, n = weights.shape
    prev = np.zeros(n)
    gross, net, turn = np.zeros(d), np.zeros(d), np.zeros(d)
    for t in range(d):
        w = np.nan_to_num(weights[t])
        r = np.nan_to_num(returns[t])
        turn[t] = np.abs(w - prev).sum()
        gross[t] = float(w @ r)
        net[t] = gross[t] - turn[t] * cost_bps / 1e4
        prev = w * (1 + r) / (1 + gross[t])
    return gross, net, turn


def test_matches_naive_loop_on_random_data() -> None:
    rng = np.random.default_rng(0)
    d, n = 60, 12
    r = rng.normal(0, 0.02, (d, n))
    r[rng.uniform(size=(d, n)) < 0.05] = np.nan
    w = S.weights_top_k(rng.normal(size=(d, n)), k=3)
    res = B.run_backtest(w, r, pd.bdate_range("2021-01-04", periods=d), cost_bps=7.5)
    g, nt, tv = _naive(res.weights, r, 7.5)
    np.testing.assert_allclose(res.gross_returns, g)
    np.testing.assert_allclose(res.net_returns, nt)
    np.testing.assert_allclose(res.turnover, tv)
    f = res.frame()
    np.testing.assert_allclose(f["equity_net"].to_numpy(), np.cumprod(1 + nt))
    assert (f["drawdown_net"] <= 0).all()
    assert res.metrics["net"]["total_return"] == pytest.approx(np.prod(1 + nt) - 1)
    assert res.metrics["gross"]["total_return"] >= res.metrics["net"]["total_return"]


def test_perfect_foresight_wins_every_day() -> None:
    rng = np.random.default_rng(1)
    r = rng.normal(0, 0.01, (40, 10))
    w = S.weights_top_k(r, k=2)  # knows tomorrow's return: long the best, short the worst
    res = B.run_backtest(w, r, cost_bps=0.0)
    assert (res.gross_returns > 0).all()
    m = res.metrics["net"]
    assert m["win_rate"] == 1.0 and m["max_drawdown"] == 0.0
    assert np.isnan(m["profit_factor"])  # no losing day
    signs = B.run_backtest(S.weights_signal_gated(np.sign(r)), r, cost_bps=0.0)
    assert signs.metrics["net"]["hit_rate"] == 1.0
    assert signs.gross_returns == pytest.approx(np.abs(r).mean(axis=1))


def test_zero_positions_and_costs_only() -> None:
    rng = np.random.default_rng(2)
    r = rng.normal(0, 0.01, (20, 5))
    zero = B.run_backtest(np.zeros((20, 5)), r, cost_bps=10)
    assert np.all(zero.net_returns == 0) and np.all(zero.turnover == 0)
    assert zero.metrics["net"]["total_return"] == 0.0
    # zero returns: the only P&L is costs; a daily flip long<->short trades 2x gross each day
    flip = np.where(np.arange(20)[:, None] % 2 == 0, 1.0, -1.0) * np.full((20, 5), 0.2)
    res = B.run_backtest(flip, np.zeros((20, 5)), cost_bps=10, slippage_bps=5)
    assert res.turnover[0] == pytest.approx(1.0) and np.allclose(res.turnover[1:], 2.0)
    np.testing.assert_allclose(res.net_returns, -res.turnover * 15e-4)
    assert res.metrics["net"]["total_cost"] == pytest.approx(res.costs.sum())


def test_exposure_limits() -> None:
    w = np.array([[0.6, 0.6, -0.2], [0.1, -0.5, -0.5], [0.0, 0.0, 0.0]])
    out = B.apply_exposure_limits(w, max_gross=1.0, max_net=0.2)
    assert (np.abs(out).sum(axis=1) <= 1.0 + 1e-12).all()
    assert (np.abs(out.sum(axis=1)) <= 0.2 + 1e-12).all()
    assert np.all(np.sign(out) == np.sign(w))
    with pytest.raises(DataError):
        B.apply_exposure_limits(w, max_gross=0)


def test_strategies_shapes_and_gross() -> None:
    rng = np.random.default_rng(3)
    score = rng.normal(size=(5, 6))
    score[0, :5] = np.nan  # one scored name only: nothing to long/short
    w = S.weights_top_k(score, k=2)
    assert np.all(w[0] == 0)
    np.testing.assert_allclose(np.abs(w[1:]).sum(axis=1), 1.0)
    np.testing.assert_allclose(w[1:].sum(axis=1), 0.0, atol=1e-12)
    lo = S.weights_top_k(score, k=2, long_short=False)
    assert (lo >= 0).all() and lo[0, 5] == 1.0
    gated = S.weights_signal_gated(np.array([[1, 0, -1, 1], [0, 0, 0, 0]]))
    np.testing.assert_allclose(gated[0], [1 / 3, 0, -1 / 3, 1 / 3])
    assert np.all(gated[1] == 0)
    sized = S.weights_sized(np.array([[0.02, -0.01, 0.0]]), np.array([[0.5, 1.0, 1.0]]))
    np.testing.assert_allclose(sized, [[0.5, -0.5, 0.0]])
    with pytest.raises(DataError):
        S.weights_signal_gated(np.array([[2.0]]))


def test_benchmark_buy_and_hold() -> None:
    r = np.array([[0.1, 0.0], [0.0, 0.1], [np.nan, 0.0]])
    daily = B.equal_weight_buy_and_hold(r, cost_bps=0)
    eq = np.cumprod(1 + daily)
    assert eq[-1] == pytest.approx(np.mean([1.1, 1.1]))
    assert B.equal_weight_buy_and_hold(r, cost_bps=10)[0] == pytest.approx(0.05 - 0.001)


def test_shape_mismatch_raises() -> None:
    with pytest.raises(DataError, match="must both be"):
        B.simulate(np.zeros((3, 2)), np.zeros((3, 3)))


def _reference_limits(w: np.ndarray, max_gross: float, max_net: float) -> np.ndarray:
    """The exposure caps written out row by row (gross first, then the dominant side)."""
    out = np.nan_to_num(w.astype(np.float64))
    for t, row in enumerate(out):
        gross = np.abs(row).sum()
        if gross > max_gross:
            row = row * max_gross / gross
        long, short = row[row > 0].sum(), -row[row < 0].sum()
        if long - short > max_net:
            row = np.where(row > 0, row * (max_net + short) / long, row)
        elif short - long > max_net:
            row = np.where(row < 0, row * (max_net + long) / short, row)
        out[t] = row
    return out


@pytest.mark.parametrize(("max_gross", "max_net"), [(1.0, 1.0), (0.8, 0.3), (2.0, 0.0)])
def test_exposure_limits_match_row_by_row_reference(max_gross: float, max_net: float) -> None:
    rng = np.random.default_rng(7)
    w = rng.normal(0, 0.3, (50, 8)) + rng.choice([-0.2, 0.0, 0.2], size=(50, 1))
    w[rng.uniform(size=w.shape) < 0.1] = np.nan
    np.testing.assert_allclose(B.apply_exposure_limits(w, max_gross, max_net), _reference_limits(w, max_gross, max_net))


def test_finite_or_zero_and_hit_rate() -> None:
    a = np.array([[1.0, 2.0]])
    assert B.finite_or_zero(a) is a  # finite input: no copy
    np.testing.assert_array_equal(B.finite_or_zero(np.array([np.nan, np.inf, -np.inf, 3.0])), [0, 0, 0, 3])
    w = np.array([[0.5, -0.5, 0.0, 0.2], [0.3, 0.3, 0.0, -0.1]])
    r = np.array([[0.01, 0.02, 0.05, np.nan], [0.0, 0.01, -0.1, -0.02]])
    # held with a known return: (0,0) hit, (0,1) miss, (1,0) zero return = miss, (1,1) hit, (1,3) hit
    stats = B.position_stats(w, r)
    assert stats["hit_rate"] == pytest.approx(3 / 5)
    assert stats["avg_gross_exposure"] == pytest.approx((1.2 + 0.7) / 2)
