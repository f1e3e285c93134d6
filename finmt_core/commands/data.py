"""``finmt data``: validate a data file (``validate``) and write a synthetic market (``synth``)."""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import typer

from finmt_core.commands._common import friendly_errors
from finmt_core.errors import ConfigError, DataError

log = logging.getLogger(__name__)

data_app = typer.Typer(
    help="Check market data files and generate synthetic markets.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

_SYNTH_SUFFIXES = (".csv", ".csv.gz", ".parquet")


def register(app: typer.Typer) -> None:
    """Attach the ``data`` group to the ``finmt`` app."""
    app.add_typer(data_app, name="data")


def format_summary(summary: dict[str, Any], max_items: int = 12) -> str:
    """A readable multi-line text of :func:`finmt_core.data.panel.panel_summary`'s dict."""

    def listing(items: list[str]) -> str:
        more = f" ... (+{len(items) - max_items} more)" if len(items) > max_items else ""
        return ", ".join(items[:max_items]) + more if items else "-"

    lines = [
        f"source:    {summary['source']}",
        f"tickers:   {summary['n_tickers']}  ({listing(summary['tickers'])})",
        f"dates:     {summary['first_date']} to {summary['last_date']}  ({summary['n_dates']} dates)",
        f"rows:      {summary['rows']}",
        f"columns:   {listing(summary['columns'])}",
        f"missing:   {summary['missing_pct']:.2f}% of the (date x ticker) grid",
    ]
    if summary["sectors"]:
        lines.append(f"sectors:   {len(summary['sectors'])}  ({listing(summary['sectors'])})")
    lines.append(f"features:  {len(summary['features_available'])} available: "
                 f"{listing(summary['features_available'])}")
    if summary["features_skipped"]:
        skipped = [f"{k} ({v})" for k, v in summary["features_skipped"].items()]
        lines.append(f"skipped:   {len(skipped)}: {listing(skipped)}")
    for note in summary["notes"]:
        lines.append(f"note:      {note}")
    return "\n".join(lines)


@data_app.command("validate")
@friendly_errors
def validate(
    path: str = typer.Argument(..., help="CSV/Parquet file to check, or 'demo' / 'synthetic'."),
    window: int = typer.Option(0, min=0, help="Also check there is enough history for this lookback window."),
    horizon: int = typer.Option(0, min=0, help="... and this label horizon (days)."),
) -> None:
    """Load PATH like training would and print a summary, or the one thing to fix (exit 2)."""
    from finmt_core.data.panel import check_history, load_panel, panel_summary

    try:
        panel = load_panel(path)
    except (DataError, ConfigError):
        raise
    except Exception as exc:
        # load_panel turns every bad input it knows into a DataError; anything else is a case it
        # does not know yet. Validation must still answer in one line (the traceback goes to the log).
        log.debug("unexpected error validating %s", path, exc_info=True)
        raise DataError(
            f"{path}: could not be read as market data ({type(exc).__name__}: {exc}). Check that it is "
            "a CSV or Parquet table with a date and a close column."
        ) from None
    if window or horizon:
        short = check_history(panel, max(window, 1), horizon)
        if short:
            panel.attrs["notes"].append(f"{len(short)} ticker(s) shorter than window+horizon: {short[:5]}")
    typer.echo(format_summary(panel_summary(panel)))
    typer.echo("ok: the data can be used.")


@data_app.command("synth")
@friendly_errors
def synth(
    out: Path = typer.Option(..., "--out", "-o", help="File to write: .csv, .csv.gz or .parquet."),
    n_stocks: int = typer.Option(50, help="Number of stocks."),
    n_days: int = typer.Option(1000, help="Number of business days."),
    n_sectors: int = typer.Option(5, help="Number of sectors."),
    seed: int = typer.Option(0, help="Random seed (same seed -> same market)."),
    signal_strength: float = typer.Option(0.5, help="Planted predictability: 0 = pure random walk, 1 = strong."),
    start: str = typer.Option("2015-01-02", help="First business day."),
) -> None:
    """Write a synthetic market (long format: date,ticker,open,high,low,close,volume,sector)."""
    from finmt_core.data.samples import synthetic_market

    name = out.name.lower()
    if not name.endswith(_SYNTH_SUFFIXES):
        raise ConfigError(f"--out {out}: unknown file type; use a name ending in {', '.join(_SYNTH_SUFFIXES)}.")
    if out.is_dir():
        raise ConfigError(f"--out {out}: is a directory; give a file name such as {out / 'market.csv'}.")
    panel = synthetic_market(n_stocks=n_stocks, n_days=n_days, n_sectors=n_sectors, seed=seed,
                             signal_strength=signal_strength, start=start)
    table = panel.reset_index()
    table["volume"] = table["volume"].astype("int64")  # whole shares; keeps the CSV compact
    out.parent.mkdir(parents=True, exist_ok=True)
    # write next to the target, then rename: a crash never leaves a half-written file behind
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    os.close(fd)
    try:
        if name.endswith(".parquet"):
            table.to_parquet(tmp, index=False)
        else:
            table.to_csv(tmp, index=False, float_format="%.8g",
                         compression="gzip" if name.endswith(".gz") else None)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    typer.echo(f"wrote {out}: {panel.attrs['source']}, {len(table)} rows")
    typer.echo(f"planted: {panel.attrs['planted']}")
