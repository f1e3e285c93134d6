"""Figure 5 — what-if latency: one stock's inputs shocked, its features and every head recomputed.

A finished run of the preset (trained for one epoch through ``finmt train`` on the synthetic
market) is loaded with ``Predictor.from_run``; one untimed call prepares the panel (the
dashboard caches it the same way). Then each timed call is ``Predictor.what_if`` for one
stock on its latest date with a new slider value, cycling through a return shock, a
volatility factor and a volume factor (price-level shocks: the stock's features are
recomputed over the window plus look-back) — what a person dragging a slider produces.
Per round of ``calls`` calls the p50 and p95 are taken; the figures are the median (min, max)
of those over ``rounds`` rounds. Target: p95 <= 50 ms.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from benchmarks.fixtures import finished_run
from benchmarks.harness import Result, percentile

TARGET_P95_MS = 50.0


def expand(case: dict[str, Any]) -> list[dict[str, Any]]:
    """One case (one child process) per preset."""
    return [dict(case, presets=[p]) for p in case["presets"]]


def _shocks(i: int) -> dict[str, float]:
    """The i-th slider position: cycles over the three price-level shocks with moving values."""
    x = np.sin(0.7 * i)  # a slider moving back and forth in [-1, 1]
    kind = i % 3
    if kind == 0:
        return {"return": float(0.05 * x)}
    if kind == 1:
        return {"volatility": float(1.0 + 0.5 * x)}
    return {"volume": float(1.0 + 0.8 * x)}


def run(workdir: str, n_stocks: int, n_days: int, rounds: int, calls: int, presets: list[str]) -> list[Result]:
    import pandas as pd

    from finmt_core.data.panel import load_panel
    from finmt_core.inference import Predictor

    (preset,) = presets
    run_dir = finished_run(workdir, preset, n_stocks, n_days, evaluate=False)
    predictor = Predictor.from_run(run_dir)
    panel = load_panel(run_dir / "panel.parquet") if (run_dir / "panel.parquet").is_file() else None
    if panel is None:
        from benchmarks.fixtures import synthetic_parquet

        panel = load_panel(synthetic_parquet(workdir, n_stocks, n_days))
    ticker = str(pd.Index(panel.index.get_level_values("ticker")).unique()[0])
    predictor.what_if(panel, ticker, None, {"return": 0.01})  # prepares the panel once (cached)

    p50s, p95s, i = [], [], 0
    for _ in range(rounds):
        lat = []
        for _ in range(calls):
            shocks = _shocks(i)
            i += 1
            t0 = time.perf_counter()
            predictor.what_if(panel, ticker, None, shocks)
            lat.append((time.perf_counter() - t0) * 1e3)
        p50s.append(percentile(lat, 50))
        p95s.append(percentile(lat, 95))
    note = (f"{preset} run, {n_stocks} stocks x {n_days} days; Predictor.what_if on {ticker}'s latest date, "
            f"{rounds} rounds x {calls} calls cycling return/volatility/volume shocks")
    return [
        Result(f"whatif_p50_{preset}_{n_stocks}", "ms", p50s, None, "lower", note=note),
        Result(f"whatif_p95_{preset}_{n_stocks}", "ms", p95s, TARGET_P95_MS, "lower", note="p95 per round"),
    ]
