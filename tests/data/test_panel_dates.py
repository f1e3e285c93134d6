"""Dates at the boundary: one detected convention per file, date_format, UTC offsets, intraday
rows to daily bars, impossible years (finmt_core/data/panel_dates.py)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from finmt_core.data.panel import load_panel
from finmt_core.errors import DataError


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def load_text(tmp_path: Path, text: str, name: str = "prices.csv") -> pd.DataFrame:
    return load_panel(write(tmp_path, name, text))


def error_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(DataError) as info:
        load_text(tmp_path, text, "bad.csv")
    return str(info.value)


def test_iso_dates_keep_the_fast_path_without_notes(tmp_path: Path) -> None:
    p = load_text(tmp_path, "date,ticker,close\n2020-01-02,A,1\n2020-01-03,A,1.1\n2020-01-06 00:00:00,A,1.2\n")
    assert list(p["close"]) == [1.0, 1.1, 1.2]
    assert not any("dates read" in n or "offset" in n for n in p.attrs["notes"])


@pytest.mark.parametrize(
    ("cells", "first", "note"),
    [
        (("02/01/2020", "13/01/2020"), "2020-01-02", "day-first"),
        (("01/02/2020", "01/13/2020"), "2020-01-02", "month-first"),
        (("2020/01/02", "2020/01/13"), "2020-01-02", None),
        (("20200102", "20200113"), "2020-01-02", None),
        (("2 Jan 2020", "13 January 2020"), "2020-01-02", None),
    ],
)
def test_one_date_convention_per_file(tmp_path: Path, cells: tuple[str, str], first: str, note: str | None) -> None:
    p = load_text(tmp_path, f"date,ticker,close\n{cells[0]},A,1\n{cells[1]},A,1.1\n")
    assert list(p.index.get_level_values("date")) == [pd.Timestamp(first), pd.Timestamp("2020-01-13")]
    assert note is None or any(note in n for n in p.attrs["notes"])


@pytest.mark.parametrize(
    ("date_format", "first"), [("%d/%m/%Y", "2020-01-02"), ("dayfirst", "2020-01-02"), ("monthfirst", "2020-02-01"),
                               ("%m/%d/%Y", "2020-02-01")],
)
def test_date_format_decides_ambiguous_dates(tmp_path: Path, date_format: str, first: str) -> None:
    path = write(tmp_path, "p.csv", "date,ticker,close\n02/01/2020,A,1\n03/01/2020,A,1.1\n")
    with pytest.raises(DataError, match=r"ambiguous.*line 2: '02/01/2020'.*--date-format %d/%m/%Y"):
        load_panel(path)
    p = load_panel(path, date_format=date_format)
    assert p.index.get_level_values("date")[0] == pd.Timestamp(first)


def test_date_format_that_does_not_fit_names_rows(tmp_path: Path) -> None:
    path = write(tmp_path, "p.csv", "date,ticker,close\n2020-01-02,A,1\n")
    with pytest.raises(DataError, match=r"unparseable.*line 2"):
        load_panel(path, date_format="%d/%m/%Y")
    with pytest.raises(DataError, match="not a strftime format"):
        load_panel(path, date_format="european")


def test_utc_offsets_changing_with_daylight_saving_keep_the_local_date(tmp_path: Path) -> None:
    text = ("date,ticker,close\n2021-03-12T16:00:00-05:00,A,1\n2021-03-15T16:00:00-04:00,A,1.1\n"
            "2021-03-16 20:30:00+00:00,A,1.2\n2021-03-17T23:00:00Z,A,1.3\n")
    p = load_text(tmp_path, text)
    assert [d.date().isoformat() for d in p.index.get_level_values("date")] == [
        "2021-03-12", "2021-03-15", "2021-03-16", "2021-03-17"]
    assert any("UTC offsets dropped" in n for n in p.attrs["notes"])


def test_time_zone_aware_dataframe_keeps_its_local_dates() -> None:
    dates = pd.DatetimeIndex(["2021-03-12 16:00", "2021-03-15 16:00"]).tz_localize("America/New_York")
    p = load_panel(pd.DataFrame({"date": dates, "ticker": "A", "close": [1.0, 1.1]}))
    assert list(p.index.get_level_values("date")) == [pd.Timestamp("2021-03-12"), pd.Timestamp("2021-03-15")]


def test_intraday_rows_become_daily_bars(tmp_path: Path) -> None:
    text = ("date,ticker,open,high,low,close,volume,sector\n"
            "2021-01-04 10:00:00,A,10,11,9.5,10.5,100,Tech\n2021-01-04 11:00:00,A,10.5,12,10,11,50,Tech\n"
            "2021-01-04 15:00:00,A,11,11.5,8,9,25,Software\n2021-01-05 10:00:00,A,9,9.5,8.5,9.2,10,Software\n"
            "2021-01-04 10:00:00,B,20,21,19,20.5,5,Tech\n")
    p = load_text(tmp_path, text)
    bar = p.loc[(pd.Timestamp("2021-01-04"), "A")]
    assert (bar["open"], bar["high"], bar["low"], bar["close"], bar["volume"]) == (10.0, 12.0, 8.0, 9.0, 175.0)
    assert p.index.get_level_values("date").nunique() == 2 and len(p) == 3
    assert set(p["sector"]) == {"Software", "Tech"}
    assert any("intraday rows: 5 timestamped rows aggregated to 3 daily bars" in n for n in p.attrs["notes"])


def test_conflicting_intraday_duplicates_are_still_an_error(tmp_path: Path) -> None:
    message = error_of(tmp_path, "date,ticker,close\n2021-01-04 10:00,A,1\n2021-01-04 10:00,A,2\n")
    assert "(date, ticker)" in message and "line 2" in message


@pytest.mark.parametrize("year", ["2320", "1700"])
def test_far_years_are_an_error_naming_rows(tmp_path: Path, year: str) -> None:
    message = error_of(tmp_path, f"date,ticker,close\n2020-01-02,A,1\n{year}-01-03,A,2\n")
    assert "outside the years 1800-2200" in message and f"line 3 (date='{year}-01-03'" in message




def test_explicit_format_with_offsets_keeps_the_local_date(tmp_path: Path) -> None:
    path = write(tmp_path, "p.csv", "date,ticker,close\n12/03/2021 16:00 -0500,A,1\n15/03/2021 23:30 -0400,A,1.1\n")
    p = load_panel(path, date_format="%d/%m/%Y %H:%M %z")
    assert list(p.index.get_level_values("date")) == [pd.Timestamp("2021-03-12"), pd.Timestamp("2021-03-15")]
