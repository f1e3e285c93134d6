"""Figure 6 — backtest of 500 stocks x 2,520 days with costs and sizing: target <= 100 ms.

One timed call turns predictions into weights with the regression-sized strategy
(``weights_sized``: predicted return x confidence) and runs ``run_backtest`` with transaction
costs, slippage and gross/net exposure limits, which also computes every metric with and
without costs and the equal-weight benchmark. Inputs are the synthetic market's simple
next-day returns and noisy predictions of them (random, seeded), generated outside the timing.
"""

from __future__ import annotations

import numpy as np

from benchmarks.harness import Result, time_repeats

TARGET_MS = 100.0
TARGET_SIZE = (500, 2520)
SEED = 11


def _inputs(n_stocks: int, n_days: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Returns ``[D, N]`` (about 2 % daily vol, 1 % missing), predicted returns correlated with
    them, and a confidence in [0.5, 1] — all float64, as the evaluation code receives them."""
    rng = np.random.default_rng(SEED)
    returns = rng.standard_t(5, size=(n_days, n_stocks)) * 0.02 / np.sqrt(5 / 3)
    returns[rng.random(returns.shape) < 0.01] = np.nan
    pred = 0.1 * np.nan_to_num(returns) + rng.normal(0.0, 0.02, size=returns.shape)
    confidence = rng.uniform(0.5, 1.0, size=returns.shape)
    return returns, pred, confidence


def run(workdir: str, n_stocks: int, n_days: int, repeats: int) -> list[Result]:
    from finmt_core.evaluation.backtest import run_backtest
    from finmt_core.evaluation.strategies import weights_sized

    returns, pred, confidence = _inputs(n_stocks, n_days)
    dates = np.arange(n_days)

    def backtest() -> None:
        weights = weights_sized(pred, confidence, min_abs=0.001)
        run_backtest(weights, returns, dates=dates, cost_bps=10.0, slippage_bps=5.0, max_gross=1.0, max_net=0.5,
                     settings={"strategy": "sized"})

    times_ms = [t * 1000.0 for t in time_repeats(backtest, repeats=repeats, warmup=1)]
    target = TARGET_MS if (n_stocks, n_days) == TARGET_SIZE else None
    note = (f"{n_stocks} x {n_days}: weights_sized + run_backtest (10 bps cost, 5 bps slippage, "
            "gross 1 / net 0.5 limits, metrics gross+net+benchmark)")
    return [Result(f"backtest_{n_stocks}x{n_days}", "ms", times_ms, target, "lower", note=note)]
