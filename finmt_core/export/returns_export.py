"""The backtest's daily returns for quantstats / pyfolio (``finmt export RUN --to returns``).

One row per decision date (``DatetimeIndex`` named ``date``): ``strategy`` = the daily
return net of costs (the series ``quantstats.reports.html(returns)`` and pyfolio's
``create_returns_tear_sheet(returns)`` take), ``strategy_gross`` before costs and
``benchmark`` = the equal-weight buy-and-hold of the same tickers; float fractions
(0.01 = +1 %). The return of date t is earned close t -> close t+1 by the weights set at close t.
"""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from finmt_core.errors import DataError
from finmt_core.training.runs import RunDir

log = logging.getLogger(__name__)


def daily_returns(run: RunDir, *, split: str = "test", **settings: Any) -> pd.DataFrame:
    """``[days, 3]`` float frame (see the module doc) of the run's backtest on ``split``.

    Args:
        settings: backtest settings passed on (``strategy``, ``cost_bps``, ``k``, ``threshold``, ...).

    Raises:
        DataError: split not test/val, or no prediction rows to trade.
    """
    from finmt_core.run import Run

    if split not in ("test", "val"):
        raise DataError(f"split must be test or val, got {split!r}")
    res = Run.of(run).backtest(split, **settings)
    frame = res.frame()
    out = pd.DataFrame({"strategy": frame["net_return"], "strategy_gross": frame["gross_return"],
                        "benchmark": frame["benchmark_return"]}).astype(float)
    out.index = pd.DatetimeIndex(out.index, name="date")
    log.info("daily returns of %s (%s, %s): %d days", run.name, split, res.settings.get("strategy"), len(out))
    return out
