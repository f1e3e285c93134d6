"""``finmt compare RUN RUN ...``: config diff, test metrics beside baselines, seed groups."""

from __future__ import annotations

import json
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
    """Attach ``finmt compare`` to the ``finmt`` app."""
    app.command("compare")(compare)


def format_comparison(result: object) -> str:
    """Readable text of a :class:`~finmt_core.evaluation.compare_runs.RunComparison`."""
    import pandas as pd

    from finmt_core.evaluation.compare_runs import RunComparison

    assert isinstance(result, RunComparison)
    with pd.option_context("display.width", 200, "display.max_columns", 50, "display.max_rows", 500):
        parts = ["Test rows", result.test_rows.to_string(), ""]
        parts += ["Config: keys that differ",
                  result.config_diff.to_string() if len(result.config_diff) else "(none: the configs are equal but for the name)", ""]
        parts += ["Test metrics (model beside each baseline on the same rows of each run)",
                  result.metrics.to_string(float_format=lambda v: f"{v:.4f}", na_rep="–") if len(result.metrics)
                  else "(no run is evaluated yet)", ""]
        shown = ["group", "n", *[c for c in result.groups.columns if "/" in c and not c.endswith((" mean", " std", " n"))]]
        parts += ["Groups (runs equal but for the seed): mean ± std over the runs",
                  result.groups[shown].to_string(index=False) if len(result.groups) else "(none)"]
    parts += [f"warning: {w}" for w in result.warnings]
    return "\n".join(parts)


@friendly_errors
def compare(
    runs: list[str] = typer.Argument(..., help="Two or more runs: directory paths or names under --runs-dir."),
    metric: list[str] = typer.Option(None, "--metric", "-m",
                                     help="Metric to show (repeatable; default: n, accuracy, balanced_accuracy, ic, rank_ic, mae, pinball)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
    runs_dir: Path | None = runs_dir_option(),
    run_dir: Path | None = run_dir_alias(),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug logging."),
) -> None:
    """Compare runs: the config keys that differ, test metrics beside baselines per run, and runs
    that differ only by seed grouped as mean ± std (n)."""
    setup_logging(verbose)
    from finmt_core.evaluation.compare_runs import compare_runs
    from finmt_core.run import Run

    result = compare_runs([Run.resolve(r, runs_root(runs_dir, run_dir), last_fold=False) for r in runs], metrics=metric or None)
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2, default=str, allow_nan=False))
    else:
        typer.echo(format_comparison(result))
