"""``finmt data``: validate a data file (``validate``) and write a synthetic market (``synth``)."""

from __future__ import annotations

import gzip
import io
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from finmt_core.commands._common import friendly_errors
from finmt_core.data.panel_quality import WARNING
from finmt_core.errors import ConfigError, DataError

if TYPE_CHECKING:
    import pandas as pd

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
        if note.startswith(WARNING):
            lines.append(f"warning:   {note[len(WARNING):]}")
        else:
            lines.append(f"note:      {note}")
    return "\n".join(lines)


@data_app.command("validate")
@friendly_errors
def validate(
    path: str = typer.Argument(..., help="CSV/Parquet file to check, or 'demo' / 'synthetic'."),
    window: int = typer.Option(0, min=0, help="Also check there is enough history for this lookback window."),
    horizon: int = typer.Option(0, min=0, help="... and this label horizon (days)."),
    date_format: str | None = typer.Option(
        None, "--date-format",
        help="How the dates are written when it cannot be detected: a strftime format such as %d/%m/%Y, "
             "or dayfirst / monthfirst.",
    ),
) -> None:
    """Load PATH like training would and print a summary, or the one thing to fix (exit 2).

    The data is usable when at least one preset can be trained on it (enough dates for the
    features' warm-up, the window, the horizon and a train/val/test split; the rule is printed);
    otherwise this is the error.
    """
    from finmt_core.data.panel import check_history, load_panel, panel_summary
    from finmt_core.data.panel_quality import USABILITY_RULE, check_usable, describe_fits

    try:
        panel = load_panel(path, date_format=date_format)
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
    fits = check_usable(panel)
    if window or horizon:
        short = check_history(panel, max(window, 1), horizon)
        if short:
            panel.attrs["notes"].append(f"{len(short)} ticker(s) shorter than window+horizon: {short[:5]}")
    typer.echo(format_summary(panel_summary(panel)))
    typer.echo(f"presets:   {describe_fits(fits)}")
    typer.echo(f"rule:      {USABILITY_RULE}")
    warned = any(str(n).startswith(WARNING) for n in panel.attrs.get("notes", []))
    typer.echo("ok: the data can be used" + (" (read the warnings above first)." if warned else "."))


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
    momentum: float = typer.Option(0.0, help="Time-series momentum strength (0 = off, 1 = strong, max 5)."),
    vol_drift: float = typer.Option(0.0, help="Volatility-scaled per-stock drift strength (0 = off, max 5)."),
    context: float = typer.Option(0.0, help="Macro-context strength; adds a 'macro' column (0 = off, max 5)."),
    oracle: Path | None = typer.Option(
        None, help="Also write the oracle (exact expected forward log returns) here: .csv, .csv.gz or .parquet."
    ),
    horizons: str = typer.Option("1", help="Oracle horizons in days, comma-separated (e.g. 1,5)."),
) -> None:
    """Write a synthetic market (long format: date,ticker,open,high,low,close,volume,sector[,macro])."""
    from finmt_core.data.samples import synthetic_market_with_oracle

    _check_target("--out", out)
    if oracle is not None:
        _check_target("--oracle", oracle)
        if oracle.resolve() == out.resolve():
            raise ConfigError(f"--oracle {oracle}: same file as --out; give the oracle its own file.")
    elif horizons.strip() != "1":
        raise ConfigError("--horizons only applies to the oracle; add --oracle PATH (e.g. oracle.csv).")
    try:
        steps = [int(h) for h in horizons.split(",")]
    except ValueError:
        raise ConfigError(f"--horizons {horizons!r}: give whole days separated by commas, e.g. 1,5.") from None
    panel, expected = synthetic_market_with_oracle(
        n_stocks=n_stocks, n_days=n_days, n_sectors=n_sectors, seed=seed, signal_strength=signal_strength,
        start=start, momentum=momentum, vol_drift=vol_drift, context=context, horizons=steps,
    )
    table = panel.reset_index()
    table["volume"] = table["volume"].astype("int64")  # whole shares; keeps the CSV compact
    _write_table(table, out)
    typer.echo(f"wrote {out}: {panel.attrs['source']}, {len(table)} rows")
    typer.echo(f"planted: {panel.attrs['planted']}")
    if oracle is not None:
        _write_table(expected.reset_index(), oracle)
        typer.echo(f"wrote {oracle}: oracle {', '.join(expected.columns)} (expected forward log return)")


def _check_target(option: str, path: Path) -> None:
    """A :class:`ConfigError` unless ``path`` can take a table (known suffix, not a directory)."""
    if not path.name.lower().endswith(_SYNTH_SUFFIXES):
        raise ConfigError(f"{option} {path}: unknown file type; use a name ending in {', '.join(_SYNTH_SUFFIXES)}.")
    if path.is_dir():
        raise ConfigError(f"{option} {path}: is a directory; give a file name such as {path / 'market.csv'}.")


def _write_table(table: pd.DataFrame, path: Path) -> None:
    """Write ``table`` (no index) as CSV, gzipped CSV or Parquet by ``path``'s suffix, atomically.

    The bytes are built in memory and renamed into place by :func:`atomic_write_bytes`, so a crash
    never leaves a half-written file behind.
    """
    from finmt_core.io_safety import safe_csv_frame
    from finmt_core.training.atomic import atomic_write_bytes

    name = path.name.lower()
    if name.endswith(".parquet"):
        buffer = io.BytesIO()
        table.to_parquet(buffer, index=False)
        data = buffer.getvalue()
    else:
        data = safe_csv_frame(table).to_csv(index=False, float_format="%.8g").encode("utf-8")
        if name.endswith(".gz"):
            data = gzip.compress(data, mtime=0)
    atomic_write_bytes(path, data)
