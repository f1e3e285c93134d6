"""``finmt predict RUN --data PANEL``: what a run's model says on new data, signal-gated when it can be."""

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
from finmt_core.commands._output import RUN_HELP, write_frame


def register(app: typer.Typer) -> None:
    """Attach ``finmt predict`` to the ``finmt`` app."""
    app.command("predict")(predict)


@friendly_errors
def predict(
    run: str = typer.Argument(..., help=RUN_HELP),
    data: str = typer.Option(..., "--data", help="Panel to predict on (CSV/Parquet, 'demo' or 'synthetic')."),
    date: str = typer.Option("latest", "--date", help="A date (YYYY-MM-DD), 'latest' (default) or 'all'."),
    threshold: float = typer.Option(0.5, "--threshold", min=0.0, max=1.0, help="Signal-gating threshold."),
    out: Path = typer.Option(None, "--out", help="Write the predictions to FILE.csv or FILE.parquet."),
    runs_dir: Path | None = runs_dir_option(),
    run_dir: Path | None = run_dir_alias(),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug logging."),
) -> None:
    """What does RUN's model say on DATA (default: for the day after its last date)?"""
    setup_logging(verbose)
    from finmt_core.data.panel import load_panel
    from finmt_core.run import Run

    p = Run.resolve(run, runs_root(runs_dir, run_dir)).predictor()
    df = p.predict(load_panel(data), dates=None if date == "all" else date)
    df = p.gating.gate_if_possible(df, threshold)
    if out is not None:
        write_frame(df, out)
        typer.echo(f"wrote {len(df)} rows to {out}")
    shown = [c for c in df.columns if c in ("date", "ticker", "gate", "confidence") or c.endswith("_pred")]
    typer.echo(df[shown].to_string(index=False, max_rows=60, float_format=lambda v: f"{v:.4f}"))
