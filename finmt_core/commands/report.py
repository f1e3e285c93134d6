"""``finmt report RUN``: one self-contained HTML report of a run (optionally printed to PDF)."""

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
from finmt_core.commands._output import RUN_HELP


def register(app: typer.Typer) -> None:
    """Attach ``finmt report`` to the ``finmt`` app."""
    app.command("report")(report)


@friendly_errors
def report(
    run: str = typer.Argument(..., help=RUN_HELP),
    out: Path = typer.Option(Path("report.html"), "--out", help="HTML file to write."),
    cost_bps: float = typer.Option(10.0, "--cost-bps", min=0.0, help="Backtest cost, bps per unit of turnover."),
    no_explain: bool = typer.Option(False, "--no-explain", help="Skip attributions (faster)."),
    pdf: bool = typer.Option(False, "--pdf", help="Also print it to a PDF next to --out (needs headless Chromium; "
                                                  "implied by --out FILE.pdf)."),
    runs_dir: Path | None = runs_dir_option(),
    run_dir: Path | None = run_dir_alias(),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug logging."),
) -> None:
    """Write one self-contained HTML report of RUN (opens without a network connection); with
    --pdf also a PDF of it (A4 pages, printed by headless Chromium)."""
    setup_logging(verbose)
    from finmt_core.report import build_report
    from finmt_core.run import Run

    if out.suffix.lower() == ".pdf":  # --out report.pdf: the HTML goes beside it, then it is printed
        pdf, out = True, out.with_suffix(".html")
    if pdf:  # fail before the (long) report is built when no Chromium can print it
        from finmt_core.report_pdf import find_chromium

        find_chromium()
    path = build_report(Run.resolve(run, runs_root(runs_dir, run_dir)), out, cost_bps=cost_bps, explain=not no_explain)
    typer.echo(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    if pdf:
        from finmt_core.report_pdf import html_to_pdf

        printed = html_to_pdf(path, path.with_suffix(".pdf"))
        typer.echo(f"wrote {printed} ({printed.stat().st_size / 1e6:.1f} MB)")
