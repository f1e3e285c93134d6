"""``finmt export RUN --to mlflow|tensorboard|alphalens|returns``: hand a run to other tools."""

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
from finmt_core.errors import ConfigError, DataError


def register(app: typer.Typer) -> None:
    """Attach ``finmt export`` to the ``finmt`` app."""
    app.command("export")(export)


def parse_periods(text: str) -> list[int]:
    """``"1,5,10"`` -> ``[1, 5, 10]`` (DataError naming the bad part)."""
    try:
        periods = [int(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise DataError(f"--periods must be whole days separated by commas (e.g. 1,5,10), got {text!r}") from None
    if not periods or min(periods) < 1:
        raise DataError(f"--periods must be whole days >= 1 (e.g. 1,5,10), got {text!r}")
    return sorted(set(periods))


@friendly_errors
def export(
    run: str = typer.Argument(..., help="Run directory path, or a run name under --runs-dir."),
    to: str = typer.Option(..., "--to", help="mlflow | tensorboard | alphalens | returns"),
    out: Path = typer.Option(None, "--out", help="tensorboard: log folder (default tensorboard/RUN); alphalens / "
                                                 "returns: file, .parquet or .csv (default RUN-factor_data.parquet / RUN-returns.csv)."),
    tracking_uri: str = typer.Option(None, "--tracking-uri", help="mlflow: tracking URI (default: MLflow's own: MLFLOW_TRACKING_URI, else sqlite:///mlflow.db here in MLflow 3)."),
    experiment: str = typer.Option("finmt", "--experiment", help="mlflow: experiment name."),
    factor: str = typer.Option(None, "--factor", help="alphalens: prediction column used as the factor "
                                                      "(default: a return prediction, else P(Up))."),
    periods: str = typer.Option("1,5,10", "--periods", help="alphalens: forward-return horizons in days."),
    quantiles: int = typer.Option(5, "--quantiles", min=2, help="alphalens: factor quantiles per date."),
    split: str = typer.Option("test", "--split", help="alphalens: test | val | all; returns: test | val."),
    strategy: str = typer.Option("auto", "--strategy", help="returns: backtest strategy (as finmt backtest)."),
    cost_bps: float = typer.Option(10.0, "--cost-bps", min=0.0, help="returns: cost, bps per unit of turnover."),
    runs_dir: Path | None = runs_dir_option(),
    run_dir: Path | None = run_dir_alias(),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug logging."),
) -> None:
    """Export RUN: to an MLflow run, TensorBoard event files, alphalens factor_data, or daily returns
    for quantstats / pyfolio."""
    setup_logging(verbose)
    from finmt_core.export import TARGETS
    from finmt_core.run import Run

    if to not in TARGETS:
        raise ConfigError(f"--to {to!r} is not one of {', '.join(TARGETS)}")
    rd = Run.resolve(run, runs_root(runs_dir, run_dir))
    if to == "mlflow":
        from finmt_core.export.mlflow_export import export_mlflow

        res = export_mlflow(rd, tracking_uri=tracking_uri, experiment=experiment)
        typer.echo(f"exported {rd.name} to MLflow {res.tracking_uri}: experiment {res.experiment_id}, run {res.run_id} "
                   f"({res.n_params} params, {res.n_metrics} metric points, artifacts: {', '.join(res.artifacts) or 'none'})")
    elif to == "tensorboard":
        from finmt_core.export.tensorboard_export import export_tensorboard

        tb = export_tensorboard(rd, out or Path("tensorboard") / rd.name)
        typer.echo(f"wrote {tb.n_scalars} scalars ({len(tb.tags)} tags) to {tb.logdir}; view with "
                   f"`tensorboard --logdir {tb.logdir.parent}`")
    elif to == "alphalens":
        from finmt_core.export import write_frame
        from finmt_core.export.alphalens_export import factor_data

        frame = factor_data(rd, factor=factor, periods=parse_periods(periods), quantiles=quantiles, split=split)
        path = write_frame(frame, out or Path(f"{rd.name}-factor_data.parquet"))
        typer.echo(f"wrote {path}: {len(frame)} rows x {', '.join(frame.columns)} (index date, asset)")
    else:
        from finmt_core.export import write_frame
        from finmt_core.export.returns_export import daily_returns

        returns = daily_returns(rd, split=split, strategy=strategy, cost_bps=cost_bps)
        path = write_frame(returns, out or Path(f"{rd.name}-returns.csv"))
        typer.echo(f"wrote {path}: {len(returns)} daily returns ({returns.index[0]:%Y-%m-%d} .. "
                   f"{returns.index[-1]:%Y-%m-%d}), columns {', '.join(returns.columns)}")
