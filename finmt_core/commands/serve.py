"""``finmt serve RUN [RUN...]``: trained runs behind an HTTP prediction API (finmt_core/serve/).

Every run is loaded and its data prepared once, before the server accepts requests. The server
binds 127.0.0.1 unless ``--address`` says otherwise; any other address needs ``--insecure``
(the API has no sign-in: put it behind a reverse proxy that authenticates).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import typer

from finmt_core.commands._common import (
    friendly_errors,
    run_dir_alias,
    runs_dir_option,
    runs_root,
    setup_logging,
)
from finmt_core.errors import ConfigError

#: torch intra-op threads of the service: requests are one or a few rows, so a pool of threads
#: only adds hand-offs and, on a busy machine, OpenMP spin-waits (measured: benchmarks/bench_serve.py)
DEFAULT_TORCH_THREADS = 1
INSTALL_HINT = "pip install 'fastapi>=0.100' 'uvicorn>=0.20' (both are dependencies of finmt: reinstall it)"


def check_serve_exposure(address: str, insecure: bool) -> None:
    """Refuse a non-loopback bind without ``--insecure`` (ConfigError naming the options)."""
    from finmt_core.commands.dashboard import is_loopback

    if is_loopback(address) or insecure:
        return
    raise ConfigError(
        f"refusing to serve predictions on {address or 'every interface'!r}: the API has no sign-in, so anyone who "
        "reaches it could query every served model. Choose one:\n"
        "  --address 127.0.0.1  keep it on this machine (e.g. behind a reverse proxy that authenticates)\n"
        "  --insecure           serve it to everyone on that network (a trusted network only)"
    )


def register(app: typer.Typer) -> None:
    @app.command()
    @friendly_errors
    def serve(
        runs: list[str] = typer.Argument(..., help="Runs to serve: names under --runs-dir or run directories."),
        port: int = typer.Option(8000, "--port", min=1, max=65535, help="Port to serve on."),
        address: str = typer.Option("127.0.0.1", "--address", help="Address to bind; anything but loopback needs "
                                    "--insecure."),
        data: str = typer.Option(None, "--data", help="Panel every run predicts on (CSV/Parquet, 'demo', "
                                 "'synthetic'); default: each run's own data."),
        insecure: bool = typer.Option(False, "--insecure", help="Allow a non-loopback --address (no sign-in: "
                                      "anyone who reaches it can query the models)."),
        torch_threads: int = typer.Option(DEFAULT_TORCH_THREADS, "--torch-threads", min=1, help="torch's intra-op "
                                          "threads (requests are small: more rarely helps)."),
        runs_dir: Path | None = runs_dir_option(),
        run_dir: Path | None = run_dir_alias(),
        verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug logging."),
    ) -> None:
        """Serve RUNs over HTTP: POST /predict, POST /whatif, GET /runs, GET /health; OpenAPI page at /docs."""
        setup_logging(verbose)
        check_serve_exposure(address, insecure)
        missing = [m for m in ("fastapi", "uvicorn") if importlib.util.find_spec(m) is None]
        if missing:
            raise ConfigError(f"finmt serve needs {' and '.join(missing)}: {INSTALL_HINT}")
        import torch
        import uvicorn

        from finmt_core.run import Run
        from finmt_core.serve import ModelService, create_app

        panel = None
        if data is not None:
            from finmt_core.data.panel import load_panel

            panel = load_panel(data)
        torch.set_num_threads(torch_threads)
        typer.echo(f"loading {len(runs)} run(s) ...")
        service = ModelService.load([Run.resolve(r, runs_root(runs_dir, run_dir)) for r in runs], panel, data_label=data)
        typer.echo(f"finmt serve on http://{address}:{port}  (runs: {', '.join(service.runs)}; API docs: "
                   f"http://{address}:{port}/docs)")
        uvicorn.run(create_app(service), host=address, port=port, log_level="debug" if verbose else "info",
                    access_log=verbose)
