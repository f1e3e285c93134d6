"""``finmt bench``: the performance suite (``benchmarks/`` at the repository root, installed as
``finmt_app/benchmarks``: importable as ``benchmarks`` once the app root is on sys.path)."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from finmt_core.commands._common import friendly_errors
from finmt_core.errors import ConfigError


def register(app: typer.Typer) -> None:
    @app.command()
    @friendly_errors
    def bench(
        quick: bool = typer.Option(False, "--quick", help="Small sizes and few repeats: a smoke check in < 2 min."),
        json_path: Path | None = typer.Option(None, "--json", help="Also write the results as JSON to this file."),
        only: list[str] | None = typer.Option(
            None, "--only", help="Run only these benchmarks (repeat the flag or separate with commas)."
        ),
        tiny: bool = typer.Option(
            False, "--tiny", help="Smallest sizes, one repeat: checks the harness end to end (used by the tests)."
        ),
        list_only: bool = typer.Option(False, "--list", help="List the benchmarks and exit."),
        readme: Path | None = typer.Option(
            None, "--readme", help="Regenerate the performance table between the bench-table markers of this "
            "README from this run (needs --json)."
        ),
    ) -> None:
        """Measure finmt against its performance targets and print a table (median of repeats)."""
        from finmt_core.commands.dashboard import app_root

        root = str(app_root())  # the checkout, or finmt_app/ of an installation (setup.py)
        if root not in sys.path:
            sys.path.insert(0, root)
        try:
            from benchmarks import suite
            from benchmarks.report import format_table, write_json
        except ModuleNotFoundError as exc:
            raise ConfigError(
                f"the benchmark suite (benchmarks/ in {root}) is not importable ({exc}); reinstall finmt "
                "(pip install finmt, or pip install -e . in a checkout)"
            ) from exc

        if list_only:
            for b in suite.BENCHMARKS:
                typer.echo(f"{b.name:10s} {b.description}")
            return
        if readme is not None and json_path is None:
            raise ConfigError("--readme regenerates the table from this run's JSON: give --json FILE too")
        if readme is not None and not readme.is_file():
            raise ConfigError(f"--readme {readme}: no such file")
        profile = "tiny" if tiny else "quick" if quick else "full"
        try:
            suite.select(only)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        typer.echo(f"finmt bench: {profile} profile", err=True)
        results, machine, wall = suite.run_suite(profile, only, echo=lambda s: typer.echo(s, err=True))
        typer.echo(format_table(results, machine))
        typer.echo(f"\nsuite wall time: {wall:.1f} s")
        if json_path is not None:
            write_json(json_path, results, machine, profile, wall)
            typer.echo(f"wrote {json_path}")
        if readme is not None and json_path is not None:
            from benchmarks.readme_table import update_readme

            try:
                update_readme(json_path, readme)
            except ValueError as exc:
                raise ConfigError(str(exc)) from None
            typer.echo(f"regenerated the performance table in {readme}")
        if any(r.status == "error" for r in results):
            raise typer.Exit(code=1)
