"""``finmt learning``: train the model zoo on planted markets and a random walk, and report
how much of the oracle's edge each preset recovers (:mod:`finmt_core.evaluation.learning`)."""

from __future__ import annotations

import json
import tempfile
from dataclasses import asdict
from pathlib import Path

import typer

from finmt_core.commands._common import friendly_errors, setup_logging


def _split(values: list[str] | None, default: tuple[str, ...]) -> list[str]:
    if not values:
        return list(default)
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


def register(app: typer.Typer) -> None:
    @app.command()
    @friendly_errors
    def learning(
        presets: list[str] | None = typer.Option(None, "--preset", help="Presets (repeat or comma-separate). Default: the whole zoo."),
        markets: list[str] | None = typer.Option(None, "--market", help="Markets: planted, planted_weak, momentum, vol_drift, context, random_walk. Default: planted + random_walk."),
        seeds: str = typer.Option("1", "--seeds", help="Market seeds, comma-separated (e.g. 1,2,3)."),
        epochs: int = typer.Option(None, "--epochs", min=1, help="Override the presets' epochs (default: each preset's own)."),
        single_task: bool = typer.Option(False, "--single-task", help="Also train each preset's single-task version of its directional task."),
        json_path: Path = typer.Option(None, "--json", help="Write every row (and the summary) as JSON to this file."),
        n_stocks: int = typer.Option(None, "--n-stocks", min=3, help="Stocks per market (default 60)."),
        n_days: int = typer.Option(None, "--n-days", min=200, help="Days per market (default 1,600)."),
        merge: bool = typer.Option(False, "--merge", help="With --json: keep the file's rows that were not re-measured (same preset, market, seed, single-task: replaced)."),
        runs_dir: Path = typer.Option(None, "--runs-dir", help="Keep the runs here (default: a temporary folder, deleted after)."),
        verbose: bool = typer.Option(False, "--verbose", "-v", help="Training logs."),
    ) -> None:
        """Share of the oracle's directional edge and IC / oracle IC per preset and market (test segment)."""
        import logging

        setup_logging(verbose)
        if not verbose:
            logging.getLogger("finmt_core").setLevel(logging.WARNING)
        from finmt_core.errors import ConfigError
        from finmt_core.evaluation.learning import (
            PRESETS,
            format_table,
            learning_report,
            merge_rows,
            summary_table,
        )

        try:
            seed_list = [int(s) for s in seeds.split(",") if s.strip()]
        except ValueError:
            raise ConfigError(f"--seeds must be integers separated by commas, got {seeds!r}") from None
        chosen = _split(presets, PRESETS)
        where = _split(markets, ("planted", "random_walk"))
        with tempfile.TemporaryDirectory(prefix="finmt-learning-") as tmp:
            root = runs_dir if runs_dir is not None else Path(tmp)
            size = {k: v for k, v in (("n_stocks", n_stocks), ("n_days", n_days)) if v is not None}
            if n_stocks is not None:
                size["n_sectors"] = max(1, min(5, n_stocks // 4))
            rows = learning_report(chosen, where, seed_list, root, epochs=epochs, single_task=single_task,
                                   echo=lambda s: typer.echo(s, err=True), size=size)
        if merge and json_path is not None and json_path.is_file():
            try:
                old = json.loads(json_path.read_text()).get("rows", [])
                rows = merge_rows(old, rows)
            except (ValueError, TypeError, KeyError, AttributeError) as exc:
                raise ConfigError(f"--merge: {json_path} is not a learning report ({exc}); "
                                  f"write to a new file or drop --merge") from None
        table = summary_table(rows)
        typer.echo(format_table(table))
        if json_path is not None:
            import datetime
            import os
            import platform

            load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
            payload = {
                "measured": datetime.date.today().isoformat(),
                "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
                           f"load average at the end {load[0]:.2f}",
                "rows": [asdict(r) for r in rows], "summary": json.loads(table.to_json(orient="records")),
            }
            from finmt_core.training.atomic import atomic_write_text

            atomic_write_text(json_path, json.dumps(payload, indent=1))
            typer.echo(f"wrote {json_path}")
