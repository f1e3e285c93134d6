"""``finmt backtest RUN``: trade a run's predictions net of costs, beside buy & hold."""

from __future__ import annotations

from pathlib import Path

import typer

from finmt_core.commands._common import (
    friendly_errors,
    run_dir_alias,
    runs_dir_option,
    runs_root,
    setup_logging,
)
from finmt_core.commands._output import RUN_HELP, dumps, write_frame
from finmt_core.errors import DataError

#: Metrics printed per series (net, gross, benchmark).
SHOWN = ("total_return", "annual_return", "annual_vol", "sharpe", "sortino", "max_drawdown", "calmar", "win_rate",
         "profit_factor")


def register(app: typer.Typer) -> None:
    """Attach ``finmt backtest`` to the ``finmt`` app."""
    app.command("backtest")(backtest)


@friendly_errors
def backtest(
    run: str = typer.Argument(..., help=RUN_HELP),
    strategy: str = typer.Option("auto", "--strategy", help="auto | signal_gated | top_k | top_k_long | sized"),
    cost_bps: float = typer.Option(10.0, "--cost-bps", min=0.0, help="Transaction cost, bps per unit of turnover."),
    slippage_bps: float = typer.Option(0.0, "--slippage-bps", min=0.0, help="Extra slippage, bps per unit of turnover."),
    k: int = typer.Option(None, "--k", min=1, help="Names per side for top-k (default 10% of tickers)."),
    threshold: float = typer.Option(0.5, "--threshold", min=0.0, max=1.0, help="Signal-gating threshold."),
    max_gross: float = typer.Option(1.0, "--max-gross", help="Gross exposure cap (sum |w|)."),
    max_net: float = typer.Option(1.0, "--max-net", help="Net exposure cap (|sum w|)."),
    split: str = typer.Option("test", "--split", help="test | val"),
    out: Path = typer.Option(None, "--out", help="Write the daily series (equity, drawdown, turnover) to CSV/Parquet."),
    as_json: bool = typer.Option(False, "--json", help="Print settings and metrics as JSON."),
    runs_dir: Path | None = runs_dir_option(),
    run_dir: Path | None = run_dir_alias(),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug logging."),
) -> None:
    """Trade RUN's predictions (positions at close t earn t -> t+1), net and gross of costs, vs buy & hold."""
    setup_logging(verbose)
    import pandas as pd

    from finmt_core.evaluation.evaluate import json_safe
    from finmt_core.run import Run

    if split not in ("test", "val"):
        raise DataError(f"--split must be test or val, got {split!r}")
    res = Run.resolve(run, runs_root(runs_dir, run_dir)).backtest(split, strategy=strategy, k=k, threshold=threshold, cost_bps=cost_bps,
                                             slippage_bps=slippage_bps, max_gross=max_gross, max_net=max_net)
    if out is not None:
        write_frame(res.frame().reset_index(), out)
    if as_json:
        typer.echo(dumps(json_safe(res.to_dict())))
        return
    table = pd.DataFrame(res.metrics).loc[list(SHOWN)]
    typer.echo(f"{res.settings['strategy']} on {split}, {cost_bps:g} bps + {slippage_bps:g} bps slippage, "
               f"{len(res.dates)} days (positions at close t earn t -> t+1)")
    typer.echo(table.to_string(float_format=lambda v: f"{v:.4f}"))
    typer.echo(f"average daily turnover {res.metrics['net'].get('avg_turnover', float('nan')):.3f}, "
               f"total cost {res.metrics['net'].get('total_cost', float('nan')):.4f}")
