"""Dates of a raw table: one explicit, detected convention per file; intraday rows to daily bars.

:func:`parse_dates` reads the ``date`` column with *one* convention for the whole column,
never a guess per cell:

* year-first dates (``2020-01-31``, ``2020/01/31``, with or without a time) and compact
  ``20200131`` are unambiguous and read as such (the ISO path stays vectorised and fast);
* numeric day/month dates (``02/01/2020``) are read day-first when some first field is above
  12 (``13/01/2020``), month-first when some second field is (``01/13/2020``); both in one
  column, or neither (every field <= 12), is a :class:`DataError` that asks for
  ``--date-format`` (``date_format=`` in :func:`finmt_core.data.panel.load_panel`);
* dates with month names (``02-Jan-2020``, ``Jan 2, 2020``) are unambiguous;
* two of these families in one column is an error (mixed formats);
* a UTC offset (``-05:00``, ``Z``) is dropped after reading: every timestamp keeps the local
  wall date and time *as written*, which is the exchange's calendar date (offsets that change
  with daylight saving are fine);
* years outside 1800-2200 are an error naming the rows.

:func:`to_daily` turns intraday rows (several timestamps per ticker per day) into daily bars.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from finmt_core.data.panel_checks import examples
from finmt_core.data.panel_io import RawTable
from finmt_core.errors import DataError

#: years a trading date may have; anything else is a typo (2320 for 2020) or a unit error
YEAR_RANGE: tuple[int, int] = (1800, 2200)
#: ``date_format`` shorthands for numeric day/month dates
CONVENTIONS: dict[str, str] = {"dayfirst": "day-first", "monthfirst": "month-first"}
_TIME = r"(?:[T ]\s*\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?)"
#: a timestamp with a UTC offset after its time of day; ``body`` is the local wall time as written
_OFFSET = re.compile(r"^(?P<body>.*?\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?)\s*(?:Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)$",
                     re.IGNORECASE)
_YMD = re.compile(rf"^(?P<y>\d{{4}})(?P<sep>[-/.])(?P<m>\d{{1,2}})(?P=sep)(?P<d>\d{{1,2}})(?P<time>{_TIME})?$")
_DMY = re.compile(rf"^(?P<a>\d{{1,2}})(?P<sep>[-/.])(?P<b>\d{{1,2}})(?P=sep)(?P<y>\d{{4}}|\d{{2}})(?P<time>{_TIME})?$")
_COMPACT = re.compile(r"^\d{8}$")
_MONTH = re.compile(r"(?i)(?<![a-z])(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?(?![a-z])")
_FAMILY_NAMES = {"ymd": "year-month-day", "dmy": "day/month/year or month/day/year",
                 "compact": "YYYYMMDD", "named": "dates with month names", "unknown": "unrecognised"}
_FIX = ("Write the dates as ISO (2020-01-31), or give the format: `--date-format %d/%m/%Y` on "
        "`finmt data validate` / `finmt train` (config key data.date_format), the Data page's 'Date format' "
        "field, or load_panel(..., date_format='%d/%m/%Y'); 'dayfirst' and 'monthfirst' also work")


def parse_dates(raw: RawTable, df: pd.DataFrame, date_format: str | None = None,
                notes: list[str] | None = None) -> pd.Series:
    """``date`` column as datetime64[ns] local wall times (offsets dropped), one convention per file.

    Args:
        raw: the table as read (for its label and row references).
        df: the interpreted frame with ``date`` and ``_pos`` columns.
        date_format: a strftime format (``"%d/%m/%Y"``) or ``"dayfirst"`` / ``"monthfirst"``;
            None detects the convention from the whole column.
        notes: remarks for the Panel (the detected convention, dropped offsets) are appended here.

    Raises:
        DataError: unparseable, ambiguous, mixed or out-of-range dates, naming rows and the fix.
    """
    notes = notes if notes is not None else []
    s = df["date"]
    if date_format is not None and date_format.strip().lower() not in CONVENTIONS and "%" not in date_format:
        raise DataError(f"date format {date_format!r} is not a strftime format: use e.g. %d/%m/%Y, %m/%d/%Y, "
                        "%Y-%m-%d %H:%M, or 'dayfirst' / 'monthfirst'.")
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        out = s.dt.tz_localize(None)  # the wall time in the column's own zone
        notes.append(f"time zone {s.dt.tz} dropped: dates are the local dates in that zone")
    elif pd.api.types.is_datetime64_any_dtype(s):
        out = s
    else:
        text = s.astype("string").str.strip().replace({"": pd.NA})
        codes, uniques = pd.factorize(text)  # parse each distinct string once
        parsed = _parse_unique(raw, df, pd.Series(np.asarray(uniques, dtype=object), dtype=object),
                               codes, date_format, notes)
        values = parsed.to_numpy(dtype="datetime64[us]")
        out = pd.Series(np.where(codes >= 0, values[np.maximum(codes, 0)], np.datetime64("NaT")),
                        index=s.index, dtype="datetime64[us]")
    bad = out.isna().to_numpy()
    if bad.any():
        raise DataError(
            f"{raw.label}: column 'date' has {int(bad.sum())} missing or unparseable date(s), e.g. "
            f"{examples(raw, df, bad, _show(df))}. {_FIX}; remove lines that are not data (totals, footers)."
        )
    years = out.dt.year.to_numpy()
    outside = (years < YEAR_RANGE[0]) | (years > YEAR_RANGE[1])
    if outside.any():
        raise DataError(
            f"{raw.label}: column 'date' has {int(outside.sum())} date(s) outside the years "
            f"{YEAR_RANGE[0]}-{YEAR_RANGE[1]}, e.g. {examples(raw, df, outside, _show(df))}. Check the year "
            "(a typo such as 2320 for 2020?) or remove these rows."
        )
    return out.astype("datetime64[ns]")


def _show(df: pd.DataFrame) -> list[str]:
    return ["date", *[c for c in ("ticker",) if c in df.columns]]


def _parse_unique(raw: RawTable, df: pd.DataFrame, uniq: pd.Series, codes: np.ndarray,
                  date_format: str | None, notes: list[str]) -> pd.Series:
    """Parse the distinct date strings ``uniq`` (positional) into datetimes (NaT = unparseable)."""
    if len(uniq) == 0:
        return pd.Series(pd.NaT, index=uniq.index, dtype="datetime64[us]")
    explicit = date_format is not None and date_format.strip().lower() not in CONVENTIONS
    fast = None if explicit else _iso(uniq)  # the common case: plain ISO dates, one vectorised call
    if fast is not None:
        return fast
    body = uniq.str.replace(_OFFSET, r"\g<body>", regex=True)
    if (body != uniq).any():
        example = uniq[body != uniq].iloc[0]
        notes.append(f"UTC offsets dropped: each timestamp keeps its local date and time as written "
                     f"(e.g. {example!r} -> {body[body != uniq].iloc[0]})")
    if explicit:
        fmt = str(date_format).strip()
        local = re.sub(r"\s*%[zZ]", "", fmt)  # offsets are dropped above: the local wall time counts
        notes.append(f"dates read with the given format {fmt!r}")
        return pd.to_datetime(body, format=local, errors="coerce")
    family = _families(body)
    present = sorted(set(family) - {"unknown"})
    if len(present) > 1:
        firsts = [_first_row(codes, int(np.flatnonzero(family.to_numpy() == f)[0])) for f in present[:2]]
        shown = " and ".join(f"{raw.row_ref(int(df['_pos'].iloc[r]))}: {df['date'].iloc[r]!r} ({_FAMILY_NAMES[f]})"
                             for r, f in zip(firsts, present[:2], strict=True))
        raise DataError(f"{raw.label}: column 'date' mixes date formats, e.g. {shown}. Write every date the "
                        "same way (ISO 2020-01-31 is safest).")
    kind = present[0] if present else "unknown"
    out = pd.Series(pd.NaT, index=uniq.index, dtype="datetime64[us]")
    ok = (family == kind).to_numpy()
    if kind == "ymd":
        parts = body[ok].str.extract(_YMD)
        out[ok] = _assemble(parts["y"], parts["m"], parts["d"], parts["time"])
    elif kind == "compact":
        out[ok] = pd.to_datetime(body[ok], format="%Y%m%d", errors="coerce")
    elif kind == "named":
        out[ok] = pd.to_datetime(body[ok], format="mixed", errors="coerce")
    elif kind == "dmy":
        out[ok] = _day_month(raw, df, body[ok], codes, np.flatnonzero(ok), date_format, notes)
    return out


def _iso(uniq: pd.Series) -> pd.Series | None:
    """All of ``uniq`` parsed as ISO 8601 without offsets, or None when that does not fit every cell."""
    if not uniq.str.match(r"^\d{4}-\d{1,2}-\d{1,2}").all() or uniq.str.match(_OFFSET).any():
        return None
    try:
        out = pd.to_datetime(uniq, format="ISO8601", errors="coerce")
    except (ValueError, TypeError):
        return None
    return None if out.isna().any() else out


def _families(body: pd.Series) -> pd.Series:
    """The format family of each distinct (offset-free) date string."""
    family = pd.Series("unknown", index=body.index, dtype=object)
    family[body.str.contains(_MONTH).fillna(False).to_numpy(bool)] = "named"
    for name, pattern in (("ymd", _YMD), ("dmy", _DMY), ("compact", _COMPACT)):
        family[body.str.match(pattern).fillna(False).to_numpy(bool)] = name
    return family


def _first_row(codes: np.ndarray, unique_index: int) -> int:
    """Position (in the frame) of the first row holding distinct value ``unique_index``."""
    return int(np.flatnonzero(codes == unique_index)[0])


def _assemble(year: pd.Series, month: pd.Series, day: pd.Series, time: pd.Series) -> pd.Series:
    """ISO strings from date parts, parsed at once (invalid dates such as 31/02 become NaT)."""
    iso = (year.astype(str) + "-" + month.str.zfill(2) + "-" + day.str.zfill(2)
           + time.fillna("").str.replace(",", ".", regex=False).str.replace(r"^[T ]\s*", " ", regex=True))
    return pd.to_datetime(iso, format="ISO8601", errors="coerce")


def _day_month(raw: RawTable, df: pd.DataFrame, body: pd.Series, codes: np.ndarray, positions: np.ndarray,
               date_format: str | None, notes: list[str]) -> pd.Series:
    """Numeric ``a/b/y`` dates: one convention for the column, detected or given."""
    parts = body.str.extract(_DMY)
    a, b = parts["a"].astype(int), parts["b"].astype(int)
    year = parts["y"].astype(int)
    year = year.where(parts["y"].str.len() == 4, np.where(year < 69, 2000 + year, 1900 + year))  # strptime's %y
    day_first, month_first = (a > 12).to_numpy(), (b > 12).to_numpy()

    def cite(mask: np.ndarray) -> str:
        row = _first_row(codes, int(positions[np.flatnonzero(mask)[0]]))
        return f"{raw.row_ref(int(df['_pos'].iloc[row]))}: {df['date'].iloc[row]!r}"

    if date_format is not None:
        first = date_format.strip().lower() == "dayfirst"
        notes.append(f"dates read {CONVENTIONS[date_format.strip().lower()]} as given")
    elif day_first.any() and month_first.any():
        raise DataError(
            f"{raw.label}: column 'date' mixes day-first and month-first dates: {cite(day_first)} can only "
            f"be day/month, {cite(month_first)} only month/day. Write every date the same way (ISO 2020-01-31 "
            "is safest)."
        )
    elif day_first.any() or month_first.any():
        first = bool(day_first.any())
        proof = cite(day_first if first else month_first)
        notes.append(f"dates read {'day-first (DD/MM/YYYY)' if first else 'month-first (MM/DD/YYYY)'}, "
                     f"detected over the whole column (e.g. {proof})")
    else:
        example = cite(np.ones(len(body), dtype=bool))
        raise DataError(
            f"{raw.label}: column 'date' is ambiguous: every date (e.g. {example}) reads both day-first and "
            "month-first (no field above 12). Give the convention: `--date-format %d/%m/%Y` (day first) or "
            "`--date-format %m/%d/%Y` (month first) to finmt data validate or finmt train (config key data.date_format), the Data page's 'Date format' field "
            "(its saved upload trains as is) or load_panel(..., date_format=...); or write ISO dates (2020-01-31)."
        )
    day, month = (a, b) if first else (b, a)
    return _assemble(year, month.astype(str), day.astype(str), parts["time"])


def to_daily(df: pd.DataFrame, value_cols: list[str], notes: list[str]) -> pd.DataFrame:
    """Dates with a time of day -> calendar dates; several per (ticker, day) -> one daily bar.

    Bars: open = first, high = max, low = min, close = last, volume = sum, other columns =
    last of the day (``sector`` included). ``df`` needs ``date``, ``ticker``, ``_tc``, ``_pos``;
    exact-timestamp duplicates must already be resolved.
    """
    day = df["date"].dt.normalize()
    timed = (day != df["date"]).to_numpy()
    if not timed.any():
        return df
    df = df.assign(date=day, _time=df["date"])
    if not df.duplicated(["_tc", "date"]).any():
        notes.append("timestamps carry a time of day (one per ticker per day): each row is read as its calendar date")
        return df.drop(columns="_time")
    df = df.sort_values(["_tc", "_time"], kind="stable")
    groups = df.groupby(["_tc", "date"], sort=False)
    how = {"open": "first", "high": "max", "low": "min", "close": "last"}
    cols = {c: getattr(groups[c], how.get(c, "last"))() for c in value_cols if c != "volume"}
    if "volume" in value_cols:
        cols["volume"] = groups["volume"].sum(min_count=1)
    for c in ("ticker", "sector"):
        if c in df.columns:
            cols[c] = groups[c].last()
    cols["_pos"] = groups["_pos"].min()
    out = pd.DataFrame(cols).reset_index()
    notes.append(
        f"intraday rows: {len(df)} timestamped rows aggregated to {len(out)} daily bars (open = first, high = max, "
        "low = min, close = last, volume = sum, other columns = last of the day)"
    )
    return out
