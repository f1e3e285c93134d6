"""``finmt ensemble RUN1 RUN2 [...] --name NAME``: combine finished runs into an ensemble run.

Ensemble presets (``finmt train --preset cnn_lstm_ensemble``) go through ``finmt train``:
their member runs are trained (or reused) first.
"""

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


def register(app: typer.Typer) -> None:
    @app.command()
    @friendly_errors
    def ensemble(
        members: list[str] = typer.Argument(..., help="Names of finished runs (same tasks, data and split)."),
        name: str = typer.Option(None, "--name", help="Name of the ensemble run (default: ensemble-TIMESTAMP)."),
        method: str = typer.Option("stack", "--method", help="stack (weights learned on validation) | equal."),
        runs_dir: Path | None = runs_dir_option("Folder of run directories: members and ensemble (default: $FINMT_RUNS_DIR, else ./runs)."),
        run_dir: Path | None = run_dir_alias(),
        evaluate: bool = typer.Option(True, "--evaluate/--no-evaluate",
                                      help="Write evaluation.json (ensemble beside its members and the baselines)."),
        verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug logging."),
    ) -> None:
        """Fit an ensemble of finished runs: per-task weights (>= 0, sum 1) learned on validation."""
        setup_logging(verbose)
        from finmt_core.ensemble.build import build_ensemble, read_summary, weights_frame

        run = build_ensemble(runs_root(runs_dir, run_dir), members, name=name, method=method, evaluate=evaluate)
        summary = read_summary(run.path) or {}
        typer.echo(f"ensemble {run.name} ({summary.get('method')}) -> {run.path}")
        table = weights_frame(summary)
        typer.echo(table.to_string(index=False, float_format=lambda x: f"{x:.4g}"))
        if evaluate:
            typer.echo(f"evaluation: {run.evaluation_path} (members, equal weights and baselines on the same test rows)")
