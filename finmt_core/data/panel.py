"""``load_panel``: any user table -> a validated Panel; ``check_history``; ``panel_summary``.

A Panel is a long DataFrame indexed by ``(date: datetime64[ns], ticker: str)``, sorted and
unique, with float64 columns from ``open high low close volume`` (only ``close`` required),
an optional ``sector`` (str) column and any extra numeric columns (context features).
``attrs["source"]`` says where it came from, ``attrs["notes"]`` what was adjusted, dropped or
is unavailable. Validation happens once, here; later stages trust the Panel.

Accepted inputs (see :func:`load_panel`): long CSV/Parquet with case-insensitive headers and
common aliases (``Date``, ``Adj Close``, ``symbol``, ``Vol``, ...), a single-ticker table
(no ticker column: the file name becomes the ticker), a wide close-only table (a date column
and one column per ticker), a path, an upload buffer, or a DataFrame. Choices documented here:

* the adjusted close is preferred over the raw close when both exist (open/high/low are
  rescaled by adj_close/close so the four prices stay on one basis); a note says so;
* non-numeric extra columns (other than ``sector``) are dropped with a note; a column whose
  cells are mostly numbers is numeric, and its non-numeric cells are an error;
* exact duplicate rows are dropped with a note; conflicting (date, ticker) rows are an error;
* rows without a close are dropped (they are gaps); nothing is ever forward-filled;
* high/low slightly inside open/close (a common vendor rounding artefact) are widened to
  contain them, with a note; high below low is an error;
* dates follow one convention per file, detected over the whole column or given as
  ``date_format``; UTC offsets are dropped after reading (local calendar dates); intraday rows
  become daily bars with a note (:mod:`finmt_core.data.panel_dates`);
* ticker cells are text (``0005`` stays ``0005``); a wide table may have tickers spelled like
  price columns (``date,PRICE,AAPL,MSFT``);
* possible unadjusted splits and constant prices are warnings (notes starting ``"warning: "``);
  a file where every ticker is constant is an error (:mod:`finmt_core.data.panel_quality`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, TypeAlias

import numpy as np
import pandas as pd

from finmt_core.data.containers import PRICE_COLUMNS
from finmt_core.data.panel_checks import (
    check_duplicates,
    check_jumps,
    check_values,
    interpret_columns,
    normalise,
    note_columns,
    parse_numeric,
    parse_tickers,
)
from finmt_core.data.panel_dates import parse_dates, to_daily
from finmt_core.data.panel_io import RawTable, read_source
from finmt_core.data.panel_quality import WARNING, check_constant, warn_splits
from finmt_core.errors import DataError

log = logging.getLogger(__name__)

PanelSource: TypeAlias = str | Path | IO[Any] | pd.DataFrame
#: string shortcuts accepted by :func:`load_panel` (case-insensitive)
SHORTCUTS: tuple[str, ...] = ("demo", "synthetic")
#: dates a split needs beyond ``window - 1 + horizon`` (a few rows for each of train/val/test)
MIN_SAMPLE_DATES = 30
_NUMERIC_SHARE = 0.5  # an extra column with more than this share of numeric cells is numeric


def load_panel(source: PanelSource, *, name: str | None = None, date_format: str | None = None) -> pd.DataFrame:
    """Load and validate market data into a Panel.

    Args:
        source: ``"demo"`` (bundled real sample), ``"synthetic"`` (default synthetic market), a
            path (``.csv``, ``.csv.gz``, ``.parquet``; the format is recognised by content),
            a file-like upload buffer (bytes or text), or a DataFrame (long, wide, or a Panel).
        name: how to call the input in messages (defaults to the path / buffer name).
        date_format: how the date column is written when it cannot be detected: a strftime
            format (``"%d/%m/%Y"``) or ``"dayfirst"`` / ``"monthfirst"``. None (default) detects
            one convention over the whole column (see :mod:`finmt_core.data.panel_dates`).

    Returns:
        The Panel (see module docstring), ``attrs["source"]`` and ``attrs["notes"]`` set.

    Raises:
        DataError: naming the file, the column and up to three example rows, and saying how
            to fix it.
    """
    if isinstance(source, str) and source.strip().lower() in SHORTCUTS:
        from finmt_core.data import samples

        return samples.demo_panel() if source.strip().lower() == "demo" else samples.synthetic_market()
    raw = read_source(source, name)
    panel = _build_panel(raw, date_format)
    panel.attrs["source"] = name or (str(source) if isinstance(source, str | Path) else raw.label)
    log.info("loaded %s: %d rows, %d tickers, %d notes", raw.label, len(panel),
             len(panel.index.levels[1]), len(panel.attrs["notes"]))
    return panel


def _build_panel(raw: RawTable, date_format: str | None = None) -> pd.DataFrame:
    if raw.frame.shape[1] == 0 or len(raw.frame) == 0:
        raise DataError(f"{raw.label}: has no data rows. Give one row per (date, ticker) with at least a close.")
    raw.frame = raw.frame.reset_index(drop=True)
    raw.frame["_pos"] = np.arange(len(raw.frame))  # source row of each line, for messages
    interp = interpret_columns(raw)
    df, notes = interp.frame, [*raw.notes, *interp.notes]
    # messages read rows through `df` (its `_pos` column) from here on: keeping the source frame
    # (or `interp`) would keep every original column, and later the whole unsorted frame, alive
    # after `df` is replaced by its parsed and sorted versions (1.4 GB at 5,000 stocks)
    raw.frame = raw.frame.iloc[:0]
    del interp
    df["date"] = parse_dates(raw, df, date_format, notes)
    # with integer ticker codes (in sorted ticker order): grouping and sorting on ints, not strings
    df["ticker"], df["_tc"], ticker_names = parse_tickers(raw, df)
    prices = [c for c in PRICE_COLUMNS if c in df.columns]
    for c in prices:
        df[c] = parse_numeric(raw, df, c)
    extras = _numeric_extras(raw, df, notes)
    for c in [c for c in prices if c != "close"] + extras:
        if df[c].isna().all():  # an optional column with no values is simply not there
            df = df.drop(columns=c)
            notes.append(f"column {c!r} has no values: ignored")
    prices = [c for c in PRICE_COLUMNS if c in df.columns]
    extras = [c for c in extras if c in df.columns]
    check_values(raw, df, prices + extras)
    _check_series_present(raw, df)
    no_close = df["close"].isna()
    if no_close.any():
        notes.append(f"{int(no_close.sum())} row(s) without a close dropped (kept as gaps, not filled)")
        df = df.loc[~no_close]
    df = check_duplicates(raw, df, prices + extras, notes)
    df = to_daily(df, prices + extras, notes)  # intraday rows -> daily bars (with a note)
    in_file_order = df["date"].to_numpy()[np.argsort(df["_pos"].to_numpy(), kind="stable")]
    was_sorted = bool((np.diff(in_file_order) >= np.timedelta64(0)).all())
    df = df.sort_values(["_tc", "date"], kind="stable")
    check_jumps(raw, df)
    check_constant(raw, df, notes)
    warn_splits(df, notes)
    _widen_high_low(df, notes)
    if "sector" in df.columns:
        df["sector"] = _sector_labels(df, notes)
    columns = prices + extras + (["sector"] if "sector" in df.columns else [])
    panel = _assemble(df, columns, pd.Index(ticker_names, dtype=str))
    if not was_sorted:
        notes.append("rows were not in date order: sorted by (date, ticker)")
    notes.extend(note_columns(list(panel.columns), _features_needing))
    if len(panel.index.levels[1]) == 1:
        notes.append("one ticker only: cross-sectional features (ranks, breadth) are uninformative")
    panel.attrs["source"] = raw.label
    panel.attrs["notes"] = notes
    return panel


def _assemble(df: pd.DataFrame, columns: list[str], tickers: pd.Index) -> pd.DataFrame:
    """The Panel: rows in (date, ticker) order under a MultiIndex built from integer codes.

    ``tickers`` are the sorted names that ``df["_tc"]`` indexes; dropped rows may leave some
    unused, so the levels are rebuilt from the codes actually present.
    """
    date_codes, dates = pd.factorize(df["date"], sort=True)
    # the tickers in use and each row's rank among them, in O(rows) (np.unique sorted all rows)
    tc = df["_tc"].to_numpy()
    used = np.flatnonzero(np.bincount(tc, minlength=len(tickers)))
    rank = np.zeros(len(tickers), dtype=np.int64)
    rank[used] = np.arange(used.size)
    ticker_codes = rank[tc]
    order = np.lexsort((ticker_codes, date_codes))
    index = pd.MultiIndex(
        levels=[pd.DatetimeIndex(dates).astype("datetime64[ns]"), tickers[used]],
        codes=[date_codes[order], ticker_codes[order]],
        names=["date", "ticker"],
        verify_integrity=False,
    )
    numeric = [c for c in columns if c != "sector"]
    if not all(df[c].dtype == np.float64 for c in numeric):
        return pd.DataFrame({c: df[c].to_numpy()[order] for c in columns}, index=index)
    # the float columns gathered straight into the one 2-D block pandas keeps them in (building
    # the frame from a dict of columns copied them all into it: 0.5 GB more at 5,000 stocks)
    block = np.empty((order.size, len(numeric)), dtype=np.float64)
    for j, c in enumerate(numeric):  # loop over columns, not rows
        np.take(df[c].to_numpy(), order, out=block[:, j], mode="clip")  # indices are valid: no check
    panel = pd.DataFrame(block, index=index, columns=numeric, copy=False)
    if "sector" in columns:  # always last in `columns`
        panel["sector"] = df["sector"].to_numpy()[order]
    return panel


def _numeric_extras(raw: RawTable, df: pd.DataFrame, notes: list[str]) -> list[str]:
    """Parse extra columns: numeric ones are kept (snake_case names), text ones dropped with a note."""
    fixed = {"date", "ticker", "sector", "_pos", "_tc", *PRICE_COLUMNS}
    kept: list[str] = []
    for col in [c for c in df.columns if c not in fixed]:
        s = df[col]
        if not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
            text = s.astype("string").str.strip().replace({"": pd.NA}).dropna()
            share = pd.to_numeric(text, errors="coerce").notna().mean() if len(text) else 0.0
            if share <= _NUMERIC_SHARE or pd.api.types.is_bool_dtype(s):
                notes.append(f"column {col!r} is not numeric: dropped (only numeric extra columns "
                             "are used, as context features)")
                df.drop(columns=col, inplace=True)
                continue
        new = normalise(col) or "extra"
        while (new in df.columns and new != col) or new in fixed:
            new = f"{new}_x"
        df[col] = parse_numeric(raw, df, col)
        if new != col:
            df.rename(columns={col: new}, inplace=True)
        kept.append(new)
    return kept


def _check_series_present(raw: RawTable, df: pd.DataFrame) -> None:
    """A ticker whose close is missing on every row -> DataError."""
    counts = df["close"].notna().groupby(df["_tc"]).sum()
    codes = counts.index[counts.to_numpy() == 0]
    empty = sorted(set(df.loc[df["_tc"].isin(codes), "ticker"]))
    if empty:
        raise DataError(
            f"{raw.label}: column 'close' is empty (all blank/NaN) for {len(empty)} ticker(s), e.g. "
            f"{empty[:3]}. Remove these tickers or fill in their close prices."
        )


def _widen_high_low(df: pd.DataFrame, notes: list[str]) -> None:
    """Make low <= min(open, close) and high >= max(open, close) (in place), noting how many rows moved."""
    if not {"high", "low"} <= set(df.columns):
        return
    body = df[[c for c in ("open", "close") if c in df.columns]]
    top, bottom = body.max(axis=1), body.min(axis=1)
    fix_high = (df["high"] < top).to_numpy()
    fix_low = (df["low"] > bottom).to_numpy()
    if fix_high.any() or fix_low.any():
        df["high"] = np.fmax(df["high"].to_numpy(), top.to_numpy())
        df["low"] = np.fmin(df["low"].to_numpy(), bottom.to_numpy())
        notes.append(f"high/low widened to contain open/close in {int((fix_high | fix_low).sum())} row(s)")


def _sector_labels(df: pd.DataFrame, notes: list[str]) -> pd.Series:
    """Sector as str, constant per ticker (its last given label); blanks -> ``"unknown"``."""
    s = df["sector"].astype("string").str.strip().replace({"": pd.NA})
    last = s.groupby(df["_tc"]).transform("last")
    varying = s.notna() & (s != last)
    if varying.any():
        n = df.loc[varying.to_numpy(), "_tc"].nunique()
        notes.append(f"{n} ticker(s) change sector over time: each uses its most recent sector")
    return last.fillna("unknown").astype(str)


def _feature_specs() -> list[Any] | None:
    """The feature registry when the features module is installed (it is optional here)."""
    try:
        from finmt_core.data.features import list_features
    except ImportError:
        return None
    return list(list_features())


def _features_needing(column: str) -> list[str]:
    specs = _feature_specs() or []
    return [s.name for s in specs if column in s.needs]


def check_history(panel: pd.DataFrame, window: int, horizon: int, *,
                  min_dates: int = MIN_SAMPLE_DATES) -> list[str]:
    """Check there is enough history for a lookback ``window`` and a label ``horizon``.

    Needs at least ``window - 1 + horizon + min_dates`` dates, and at least one ticker with
    that many closes. Returns the tickers that individually have fewer closes than
    ``window + horizon`` (they contribute few or no rows; a caller may warn about them).

    Raises:
        DataError: saying how many dates there are, how many are needed, and what to change.
    """
    dates = panel.index.get_level_values("date")
    n_dates = dates.nunique()
    need = int(window) - 1 + int(horizon) + int(min_dates)
    source = panel.attrs.get("source", "the data")
    if n_dates < need:
        span = f" ({dates.min().date()} to {dates.max().date()})" if n_dates else ""
        raise DataError(
            f"{source}: too little history: {n_dates} dates{span}, but window={window} and "
            f"horizon={horizon} need at least {need} ({window} - 1 + {horizon} + {min_dates} rows to "
            "split into train/val/test). Use a shorter window or horizon, or load more history."
        )
    per_ticker = panel["close"].notna().groupby(level="ticker").sum()
    if int(per_ticker.max()) < need:
        raise DataError(
            f"{source}: too little history per ticker: the longest series has {int(per_ticker.max())} "
            f"prices but window={window} and horizon={horizon} need {need}. Use a shorter window or "
            "horizon, or load longer series."
        )
    short = per_ticker.index[per_ticker.to_numpy() < int(window) + int(horizon)].astype(str).tolist()
    if short:
        log.warning("%d ticker(s) have less than window+horizon=%d prices: %s", len(short),
                    int(window) + int(horizon), short[:5])
    return short


def panel_summary(panel: pd.DataFrame) -> dict[str, Any]:
    """A plain-dict summary of a Panel for the CLI, the dashboard and reports.

    Keys: ``source``, ``tickers``, ``n_tickers``, ``first_date``, ``last_date`` (ISO),
    ``n_dates``, ``rows``, ``columns``, ``price_columns``, ``extra_columns``, ``sectors``
    (sorted labels or []), ``missing_pct`` (percent of the (date x ticker) grid without a
    close), ``per_ticker`` (ticker -> first/last date, rows, missing_pct), ``features_available``
    (names), ``features_skipped`` (name -> reason), ``notes`` (all), ``warnings`` (the notes
    that are warnings: possible splits, constant prices).
    """
    dates = panel.index.get_level_values("date")
    tickers_level = panel.index.get_level_values("ticker")
    tickers = sorted(tickers_level.unique().astype(str).tolist())
    n_dates, n_tickers = int(dates.nunique()), len(tickers)
    present = panel["close"].notna()
    grid = max(n_dates * n_tickers, 1)
    by_ticker = pd.DataFrame({"date": dates, "ticker": tickers_level, "present": present.to_numpy()})
    agg = by_ticker.groupby("ticker").agg(first=("date", "min"), last=("date", "max"), rows=("present", "sum"))
    per_ticker = {
        str(t): {"first_date": r.first.date().isoformat(), "last_date": r.last.date().isoformat(),
                 "rows": int(r.rows), "missing_pct": round(100.0 * (1 - r.rows / max(n_dates, 1)), 2)}
        for t, r in agg.iterrows()  # one line per ticker: formatting only
    }
    columns = [str(c) for c in panel.columns]
    prices = [c for c in PRICE_COLUMNS if c in columns]
    extras = [c for c in columns if c not in PRICE_COLUMNS and c != "sector"]
    sectors = sorted(panel["sector"].astype(str).unique().tolist()) if "sector" in columns else []
    available, skipped = _feature_availability(columns)
    return {
        "source": str(panel.attrs.get("source", "")),
        "tickers": tickers,
        "n_tickers": n_tickers,
        "first_date": dates.min().date().isoformat() if len(dates) else None,
        "last_date": dates.max().date().isoformat() if len(dates) else None,
        "n_dates": n_dates,
        "rows": len(panel),
        "columns": columns,
        "price_columns": prices,
        "extra_columns": extras,
        "sectors": sectors,
        "missing_pct": round(100.0 * (1.0 - int(present.sum()) / grid), 2),
        "per_ticker": per_ticker,
        "features_available": available,
        "features_skipped": skipped,
        "notes": list(panel.attrs.get("notes", [])),
        "warnings": [n for n in panel.attrs.get("notes", []) if str(n).startswith(WARNING)],
    }


def _feature_availability(columns: list[str]) -> tuple[list[str], dict[str, str]]:
    """(available feature names, skipped name -> reason) from the registry, or from columns alone."""
    have = set(columns)
    specs = _feature_specs()
    if specs is not None:
        available = [s.name for s in specs if s.needs <= have]
        skipped = {s.name: f"needs {', '.join(sorted(s.needs - have))}" for s in specs if not s.needs <= have}
        extras = [c for c in columns if c not in PRICE_COLUMNS and c != "sector"]
        return available + [f"extra_{c}" for c in extras], skipped
    rules: list[tuple[str, Callable[[set[str]], bool], str]] = [
        ("trend (returns, moving averages, MACD, RSI)", lambda h: "close" in h, "close"),
        ("volatility from closes (realised vol, Bollinger width)", lambda h: "close" in h, "close"),
        ("ATR, Parkinson volatility", lambda h: {"high", "low"} <= h, "high, low"),
        ("overnight gap", lambda h: "open" in h, "open"),
        ("volume features", lambda h: "volume" in h, "volume"),
        ("market context (market return, breadth, ranks)", lambda h: "close" in h, "close"),
        ("sector-relative features", lambda h: "sector" in h, "sector"),
    ]
    available = [n for n, ok, _ in rules if ok(have)]
    skipped = {n: f"needs {need}" for n, ok, need in rules if not ok(have)}
    return available, skipped
