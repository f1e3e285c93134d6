"""``finmt dashboard``: start the Streamlit app (dashboard/app.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def dashboard(
        port: int = typer.Option(8501, help="Port to serve on (bound to 127.0.0.1 by default)."),
        address: str = typer.Option("127.0.0.1", help="Address to bind; use 0.0.0.0 to share on a network."),
        runs_dir: Path = typer.Option(Path("runs"), help="Run directory the app reads and writes."),
        headless: bool = typer.Option(True, help="Do not try to open a browser window."),
    ) -> None:
        """Start the dashboard. On first start with no runs it trains a small demo set in the background."""
        import dashboard as dashboard_pkg

        app_file = Path(dashboard_pkg.__file__).resolve().parent / "app.py"
        env = dict(os.environ, FINMT_RUNS_DIR=str(runs_dir.resolve()))
        cmd = [
            sys.executable, "-m", "streamlit", "run", str(app_file),
            "--server.port", str(port), "--server.address", address,
            "--server.headless", str(headless).lower(), "--browser.gatherUsageStats", "false",
        ]
        typer.echo(f"finmt dashboard on http://{address}:{port}  (runs: {runs_dir.resolve()})")
        raise typer.Exit(subprocess.call(cmd, env=env, cwd=str(app_file.parent.parent)))
