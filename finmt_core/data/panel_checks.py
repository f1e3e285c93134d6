"""What the columns of a raw table mean, and whether their values can be used.

:func:`interpret_columns` maps headers (case-insensitive, with aliases) to the Panel's names
and reshapes wide tables to long; the ``check_*`` / ``parse_*`` functions validate values,
vectorised over the whole column, and raise :class:`DataError` with up to three example rows.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import pandas as pd

from finmt_core.data.containers import PRICE_COLUMNS
from finmt_core.data.panel_io import RawTable
from finmt_core.errors import DataError

#: canonical column -> accepted spellings after normalisation (lower case, non-alphanumerics -> "_").
#: No one-letter spellings: C, V, F, T, O, L ... are tickers, and a wide table must stay wide.
ALIASES: dict[str, tuple[str, ...]] = {
    "date": ("date", "datetime", "timestamp", "time", "day", "trade_date", "tradedate", "dt", "caldt"),
    "ticker": ("ticker", "symbol", "name", "tic", "stock", "asset", "instrument", "security", "code"),
    "open": ("open", "open_price", "opening_price", "px_open"),
    "high": ("high", "high_price", "px_high"),
    "low": ("low", "low_price", "px_low"),
    "close": ("close", "close_price", "closing_price", "price", "last", "px_last", "prc"),
    "adj_close": ("adj_close", "adjclose", "adjusted_close", "adj_close_price", "close_adj", "adj_price"),
    "volume": ("volume", "vol", "volume_traded", "shares_traded", "px_volume"),
    "sector": ("sector", "gics_sector", "industry", "industry_group"),
}
_LOOKUP = {alias: canon for canon, names in ALIASES.items() for alias in names}
#: prices beyond this are not plausible in any currency unit finmt expects
MAX_PRICE = 1e9
MAX_VOLUME = 1e15
#: a day-over-day close ratio above this (or below its inverse) is a unit/decimal error
MAX_DAILY_RATIO = 50.0
_EXAMPLES = 3
#: a header that reads as a ticker symbol in a wide table (upper case, digits, . - ^ = /)
_TICKERISH = re.compile(r"[A-Z0-9][A-Z0-9.\-^=/]{0,14}")


@dataclass
class Interpreted:
    """A raw table mapped to Panel names: long rows with ``date``, ``ticker`` and value columns."""

    frame: pd.DataFrame
    layout: str  # "long", "single" (one ticker, no ticker column) or "wide"
    notes: list[str] = field(default_factory=list)


def normalise(header: object) -> str:
    """``"Adj. Close "`` -> ``"adj_close"``: lower case, runs of non-alphanumerics -> one ``_``."""
    return re.sub(r"[^0-9a-z]+", "_", str(header).strip().lower()).strip("_")


def examples(raw: RawTable, frame: pd.DataFrame, bad: np.ndarray | pd.Series, show: list[str]) -> str:
    """``'line 5 (date='2020-01-03', ticker='AAA', close='abc'); ...'`` for up to 3 bad rows.

    ``frame`` must carry the source position of each row in a ``_pos`` column.
    """
    rows = frame.loc[np.asarray(bad, dtype=bool)].head(_EXAMPLES)
    parts = []
    for _, row in rows.iterrows():  # at most three rows: formatting, not computation
        cells = ", ".join(f"{c}={_cell(row[c])}" for c in show if c in row.index)
        parts.append(f"{raw.row_ref(int(row['_pos']))} ({cells})")
    return "; ".join(parts)


def _cell(value: object) -> str:
    """A cell as a person would write it: dates as ISO, blanks as 'blank', text quoted."""
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat() if value == value.normalize() else value.isoformat()
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "blank"
    if isinstance(value, float | np.floating):
        return f"{float(value):.10g}"
    return repr(value) if isinstance(value, str) else str(value)


def interpret_columns(raw: RawTable) -> Interpreted:
    """Map headers to Panel names and bring wide / single-ticker tables to long form.

    Raises:
        DataError: no date column, no close column, or two columns claiming the same meaning.
    """
    df = raw.frame
    df.columns = [str(c) for c in df.columns]
    if df.columns.duplicated().any():
        dup = sorted(set(df.columns[df.columns.duplicated()]))
        raise DataError(f"{raw.label}: column names repeat: {dup}. Give every column a distinct name.")
    notes: list[str] = []
    claims: dict[str, list[str]] = {}
    for col in df.columns:
        key = _LOOKUP.get(normalise(col))
        if key is not None:
            claims.setdefault(key, []).append(col)
    # several columns could mean the same thing (e.g. Symbol and Name): the most standard
    # spelling wins; the others are ignored with a note (or, in a wide table, stay tickers)
    ranked = {k: sorted(cols, key=partial(_alias_rank, k)) for k, cols in claims.items()}
    canon = {cols[0]: key for key, cols in ranked.items()}  # original header -> canonical name
    if "date" not in canon.values():
        unnamed = [c for c in df.columns if normalise(c) in ("", "unnamed_0", "index")]
        if not unnamed:
            raise DataError(
                f"{raw.label}: no date column among {[c for c in df.columns if c != '_pos'][:12]}. Name the "
                "column with the trading dates 'date' (also accepted: Date, datetime, timestamp, time, day)."
            )
        canon[unnamed[0]] = "date"
    prices = {"open", "high", "low", "close", "adj_close", "volume"}
    if "ticker" not in canon.values() and _wide_with_price_names(raw, df, canon):
        notes.append("read as a wide table (one close column per ticker): the columns "
                     f"{[c for c in df.columns if _LOOKUP.get(normalise(c)) in prices]} are tickers spelled like "
                     "price columns; a long table needs a 'ticker' column")
        canon = {c: k for c, k in canon.items() if k == "date"}
    if "ticker" not in canon.values() and not prices & set(canon.values()):
        # wide: every column but the date is a ticker, even one spelled like an alias (DT, DAY, TIME)
        date_col = next(c for c, k in canon.items() if k == "date")
        return _wide_to_long(raw, df, {date_col: "date"}, notes)
    for key, cols in ranked.items():
        if len(cols) > 1:
            df = df.drop(columns=cols[1:])
            notes.append(f"column(s) {cols[1:]} ignored: {cols[0]!r} is used as {key}")
    renamed = df.rename(columns=canon)
    if "ticker" not in renamed.columns:
        ticker = _ticker_from_label(raw.label)
        renamed.insert(1, "ticker", ticker)
        notes.append(f"no ticker column: all rows are one asset, named {ticker!r} after the file")
        layout = "single"
    else:
        layout = "long"
    renamed = _choose_close(raw, renamed, notes)
    return Interpreted(frame=renamed, layout=layout, notes=notes)


def _wide_with_price_names(raw: RawTable, df: pd.DataFrame, canon: dict[str, str]) -> bool:
    """True for a wide table whose tickers include close-like names (``date,PRICE,AAPL,MSFT``).

    Wide when, besides the date, there is no ticker column, only close-like headers among the
    known names, and the other columns are numeric with ticker-like upper-case headers, the
    close-like headers upper case as well, three columns or more in all. With a lower-case
    ``Close`` beside two such columns one cannot tell a wide table from one asset with context
    columns: DataError.
    """
    others = [c for c in df.columns if c != "_pos" and canon.get(c) != "date"]
    keys = {c: _LOOKUP.get(normalise(c)) for c in others}
    price_like = [c for c in others if keys[c] in ("close", "adj_close")]
    rest = [c for c in others if keys[c] is None]
    if not price_like or not rest or len(rest) + len(price_like) != len(others):
        return False
    if not all(_TICKERISH.fullmatch(c) and _mostly_numeric(df[c]) for c in rest):
        return False
    if all(c.isupper() for c in price_like) and len(others) >= 3:
        return True
    if len(rest) < 2:
        return False
    raise DataError(
        f"{raw.label}: cannot tell whether this is a wide table (one close column per ticker) or one asset "
        f"({price_like[0]!r}) with context columns {rest[:5]}. For one asset, add a 'ticker' column; for a "
        f"wide table, every column but the date must be a ticker: rename {price_like[0]!r} to its symbol."
    )


def _mostly_numeric(s: pd.Series) -> bool:
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        return True
    text = s.astype("string").str.strip().replace({"": pd.NA}).dropna()
    return bool(len(text)) and float(pd.to_numeric(text, errors="coerce").notna().mean()) > 0.5


def _alias_rank(key: str, header: str) -> int:
    """Position of ``header``'s spelling in ``ALIASES[key]`` (lower = more standard)."""
    return ALIASES[key].index(normalise(header))


def _ticker_from_label(label: str) -> str:
    """``'/data/AAPL.csv.gz'`` -> ``'AAPL'``; the name is data only and never used as a path."""
    stem = re.split(r"[\\/]", label)[-1].split(".")[0].strip()
    return stem if re.fullmatch(r"[A-Za-z0-9_\-^=]{1,20}", stem) else "ASSET"


def _choose_close(raw: RawTable, df: pd.DataFrame, notes: list[str]) -> pd.DataFrame:
    """Prefer the adjusted close; rescale open/high/low by the same factor when possible."""
    if "adj_close" not in df.columns:
        if "close" not in df.columns:
            raise DataError(
                f"{raw.label}: no close price column among {[c for c in df.columns if c != '_pos'][:12]}. "
                "Name the closing price column 'close' (also accepted: Close, Adj Close, adj_close, "
                "price, last)."
            )
        return df
    if "close" in df.columns:
        raw_close = parse_numeric(raw, df, "close")
        adj = parse_numeric(raw, df, "adj_close")
        factor = adj / raw_close.where(raw_close != 0)
        ohl = [c for c in ("open", "high", "low") if c in df.columns]
        for c in ohl:
            df[c] = parse_numeric(raw, df, c) * factor
        scaled = f"; {'/'.join(ohl)} scaled by adj_close/close to match" if ohl else ""
        notes.append(f"used the adjusted close (adj_close) as close{scaled}; the raw close was dropped")
        df = df.drop(columns=["close"])
    else:
        ohl = [c for c in ("open", "high", "low") if c in df.columns]
        if ohl:
            df = df.drop(columns=ohl)
            notes.append(f"used the adjusted close as close; {'/'.join(ohl)} dropped (no raw close to "
                         "adjust them by)")
        else:
            notes.append("used the adjusted close (adj_close) as close")
    return df.rename(columns={"adj_close": "close"})


def _wide_to_long(raw: RawTable, df: pd.DataFrame, canon: dict[str, str], notes: list[str]) -> Interpreted:
    """A date column + one close column per ticker -> long (date, ticker, close) rows."""
    date_col = next(c for c, k in canon.items() if k == "date")
    tickers = [c for c in df.columns if c != date_col and c != "_pos"]
    if not tickers:
        raise DataError(f"{raw.label}: only a date column. Add a close column (long format) or one "
                        "column of closes per ticker (wide format).")
    wide = df[[date_col, "_pos", *tickers]].rename(columns={date_col: "date"})
    for t in tickers:  # one vectorised parse per ticker column, for messages that name the ticker
        wide[t] = parse_numeric(raw, wide, t, what=f"ticker column {t!r}")
    long = wide.melt(id_vars=["date", "_pos"], var_name="ticker", value_name="close")
    long = long.dropna(subset=["close"])  # blank cell = that ticker has no price that day (a gap)
    notes.append(f"wide table: {len(tickers)} ticker columns read as close prices (no open/high/low/volume)")
    empty = sorted(set(tickers) - set(long["ticker"].unique()))
    if empty:
        raise DataError(f"{raw.label}: ticker columns {empty[:5]} have no prices at all (all blank or NaN). "
                        "Remove these columns or fill in their prices.")
    return Interpreted(frame=long, layout="wide", notes=notes)


def parse_numeric(raw: RawTable, df: pd.DataFrame, col: str, what: str | None = None) -> pd.Series:
    """Column as float64; blank cells become NaN, anything else non-numeric is an error."""
    s = df[col]
    if pd.api.types.is_bool_dtype(s):
        raise DataError(f"{raw.label}: column {col!r} holds true/false values, not numbers.")
    if pd.api.types.is_numeric_dtype(s):
        return s.astype(np.float64)
    text = s.astype("string").str.strip()
    text = text.str.replace(r"^[$€£]", "", regex=True).replace({"": pd.NA})  # "$12.5" -> 12.5
    num = pd.to_numeric(text, errors="coerce")
    bad = (num.isna() & text.notna()).to_numpy()
    if bad.any():
        label = what or f"column {col!r}"
        show = [c for c in ("date", "ticker") if c in df.columns and c != col] + [col]
        raise DataError(
            f"{raw.label}: {label} has {int(bad.sum())} non-numeric value(s), e.g. "
            f"{examples(raw, df, bad, show)}. {_number_hint(text[bad])}"
        )
    return num.astype(np.float64)


def _number_hint(cells: pd.Series) -> str:
    """How to fix non-numeric cells; recognises thousands separators and decimal commas."""
    if cells.str.fullmatch(r"-?\d{1,3}([,.' ]\d{3})+([.,]\d+)?").fillna(False).all():
        return ("These look like numbers with thousands separators (1,234.50): save the file without "
                "them (1234.50).")
    if cells.str.fullmatch(r"-?\d+,\d+").fillna(False).all():
        return ("These look like decimal commas (1,5) in a comma-separated file: save it with decimal "
                "points, or separated by ';' (then decimal commas are read).")
    return "Fix these cells or leave them blank (blank = missing)."


def parse_tickers(raw: RawTable, df: pd.DataFrame) -> tuple[pd.Series, np.ndarray, np.ndarray]:
    """Tickers as stripped strings; empty tickers are an error. Tickers are never used as paths.

    Each distinct value is parsed once (a panel has thousands of tickers over millions of rows):
    the rows are factorised, the distinct values cleaned and checked, and the rows take their
    cleaned name by code.

    Returns:
        ``(tickers, codes, names)``: the rows' tickers (a str Series on ``df``'s index), each
        row's int64 code into ``names``, and ``names``, the sorted distinct tickers (object array).
    """
    s = df["ticker"]
    raw_codes, uniques = pd.factorize(s)  # -1 = a missing cell
    u = pd.Series(uniques)
    text = u.astype("string").str.strip()
    if pd.api.types.is_float_dtype(s) and (u == np.round(u)).all():
        text = u.astype("Int64").astype("string")  # 10001.0 -> "10001" (numeric ids read as floats)
    known = raw_codes >= 0
    at = np.where(known, raw_codes, 0)  # a safe index for the missing rows (masked out below)
    empty = (text.isna() | (text == "")).to_numpy(dtype=bool)
    bad = ~known | (empty[at] if empty.size else False)
    if bad.any():
        raise DataError(
            f"{raw.label}: column 'ticker' is empty in {int(bad.sum())} row(s), e.g. "
            f"{examples(raw, df, bad, ['date', 'ticker'])}. Give every row a ticker symbol."
        )
    control_u = text.str.contains(r"[\x00-\x1f\x7f]", regex=True).to_numpy(dtype=bool)
    control = control_u[at]
    if control.any():  # line breaks, escape sequences: they would garble every message and table
        raise DataError(
            f"{raw.label}: column 'ticker' has control characters (line breaks, tabs, escape codes) in "
            f"{int(control.sum())} row(s), e.g. {examples(raw, df, control, ['date', 'ticker'])}. "
            "Give plain ticker symbols."
        )
    # values that differ only before cleaning (" AAA" and "AAA", 7 and "7") become one ticker
    clean_codes, names = pd.factorize(text.astype(str).to_numpy(dtype=object), sort=True)
    codes = clean_codes[raw_codes].astype(np.int64)
    names = np.asarray(names, dtype=object)
    return pd.Series(names[codes], index=df.index, dtype=object), codes, names


def check_values(raw: RawTable, df: pd.DataFrame, numeric: list[str]) -> None:
    """Infinite, negative/zero or absurd prices and volumes -> DataError (vectorised)."""
    show_base = ["date", "ticker"]
    for col in numeric:
        v = df[col].to_numpy()
        if np.isinf(v).any():
            _fail(raw, df, np.isinf(v), col, "infinite value(s)", "Replace them with real numbers or blanks.")
        if col in ("open", "high", "low", "close"):
            _fail_if(raw, df, v <= 0, col, "zero or negative price(s)",
                     "Prices must be positive; blank the cells or fix the values.")
            _fail_if(raw, df, v > MAX_PRICE, col, f"absurd price(s) above {MAX_PRICE:.0e}",
                     "Check the units (e.g. prices in cents or a misplaced decimal point).")
        elif col == "volume":
            _fail_if(raw, df, v < 0, col, "negative volume(s)", "Volume must be >= 0.")
            _fail_if(raw, df, v > MAX_VOLUME, col, f"absurd volume(s) above {MAX_VOLUME:.0e}",
                     "Check the units of the volume column.")
    if {"high", "low"} <= set(numeric):
        _fail_if(raw, df, (df["high"] < df["low"]).to_numpy(), "high", "high below low",
                 "Check that the high and low columns are not swapped.", show=[*show_base, "high", "low"])


def check_jumps(raw: RawTable, df: pd.DataFrame) -> None:
    """A close that moves more than 50x from one row of a ticker to its next -> DataError.

    ``df`` must be sorted by (ticker, date).
    """
    prev = df.groupby("_tc" if "_tc" in df.columns else "ticker", sort=False)["close"].shift(1)
    ratio = (df["close"] / prev).to_numpy()
    bad = (ratio > MAX_DAILY_RATIO) | (ratio < 1.0 / MAX_DAILY_RATIO)
    if bad.any():
        shown = df.assign(previous_close=prev)
        _fail(raw, shown, bad, "close", f"day-over-day jump(s) larger than {MAX_DAILY_RATIO:.0f}x",
              "This is usually a unit or decimal error or a missing split adjustment: fix the value, "
              "or use split-adjusted prices.", show=["date", "ticker", "previous_close", "close"])


def _fail_if(raw: RawTable, df: pd.DataFrame, bad: np.ndarray, col: str, what: str, fix: str,
             show: list[str] | None = None) -> None:
    if np.any(bad):
        _fail(raw, df, bad, col, what, fix, show)


def _fail(raw: RawTable, df: pd.DataFrame, bad: np.ndarray, col: str, what: str, fix: str,
          show: list[str] | None = None) -> None:
    cols = show or ["date", "ticker", col]
    raise DataError(f"{raw.label}: column {col!r} has {int(np.sum(bad))} {what}, e.g. "
                    f"{examples(raw, df, bad, cols)}. {fix}")


def check_duplicates(raw: RawTable, df: pd.DataFrame, value_cols: list[str], notes: list[str]) -> pd.DataFrame:
    """Identical repeated rows are dropped (with a note); conflicting (date, ticker) rows -> DataError."""
    key = ["date", "_tc" if "_tc" in df.columns else "ticker"]
    key_dup = df.duplicated(key, keep=False).to_numpy()
    if not key_dup.any():
        return df
    exact = df.duplicated([*key, *value_cols], keep="first")
    df = df.loc[~exact]
    if exact.any():
        notes.append(f"{int(exact.sum())} exact duplicate row(s) dropped")
    conflict = df.duplicated(key, keep=False).to_numpy()
    if conflict.any():
        raise DataError(
            f"{raw.label}: {int(conflict.sum())} rows repeat a (date, ticker) pair with different values, "
            f"e.g. {examples(raw, df, conflict, ['date', 'ticker', 'close'])}. Keep one row per ticker "
            "per date (e.g. remove the duplicates, or check that two tickers were not given one name)."
        )
    return df


def note_columns(columns: list[str], feature_needs: Callable[[str], list[str]]) -> list[str]:
    """Notes about unavailable optional columns: which features are skipped because of them."""
    notes = []
    missing = [c for c in PRICE_COLUMNS if c not in columns]
    if "high" in missing or "low" in missing:
        names = feature_needs("high") or ["ATR", "Parkinson volatility"]
        notes.append(f"no high/low: {', '.join(names)} skipped")
    if "open" in missing:
        names = feature_needs("open") or ["overnight gap"]
        notes.append(f"no open: {', '.join(names)} skipped")
    if "volume" in missing:
        names = feature_needs("volume") or ["volume features"]
        notes.append(f"no volume: {', '.join(names)} skipped")
    if "sector" not in columns:
        names = feature_needs("sector") or ["sector graph", "sector-relative features"]
        notes.append(f"no sector: {', '.join(names)} skipped")
    return notes
