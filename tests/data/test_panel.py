"""load_panel: accepted layouts, every rejected input with its hint, check_history, panel_summary."""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from finmt_core.data.dense import to_dense
from finmt_core.data.panel import check_history, load_panel, panel_summary
from finmt_core.errors import DataError

LONG = (
    "date,ticker,open,high,low,close,volume\n"
    "2020-01-02,AAA,10,11,9,10.5,100\n"
    "2020-01-02,BBB,20,21,19,20.5,200\n"
    "2020-01-03,AAA,10.5,11.5,10,11,150\n"
    "2020-01-03,BBB,20.5,21,20,20.8,210\n"
)


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def load_text(tmp_path: Path, text: str | bytes, name: str = "prices.csv") -> pd.DataFrame:
    return load_panel(write(tmp_path, name, text))


def error_of(tmp_path: Path, text: str | bytes, name: str = "bad.csv") -> str:
    with pytest.raises(DataError) as info:
        load_text(tmp_path, text, name)
    return str(info.value)


# --- accepted inputs -----------------------------------------------------------------------

def test_long_csv_is_a_valid_panel(tmp_path: Path) -> None:
    p = load_text(tmp_path, LONG)
    assert list(p.index.names) == ["date", "ticker"]
    assert p.index.get_level_values("date").dtype == np.dtype("datetime64[ns]")
    assert p.index.is_monotonic_increasing and p.index.is_unique
    assert list(p.columns) == ["open", "high", "low", "close", "volume"]
    assert all(p[c].dtype == np.float64 for c in p.columns)
    assert p.loc[(pd.Timestamp("2020-01-03"), "AAA"), "close"] == 11.0
    assert str(tmp_path / "prices.csv") in p.attrs["source"]
    assert any("no sector" in n for n in p.attrs["notes"])


def test_aliases_and_adjusted_close_preferred(tmp_path: Path) -> None:
    text = (
        "Date,Symbol,Open,High,Low,Close,Adj Close,Vol\n"
        "2020-01-02, AAA ,10,11,9,10,5,100\n"
        "2020-01-03,AAA,10,11,9,10.5,5.25,100\n"
    )
    p = load_text(tmp_path, text)
    assert p.index.get_level_values("ticker").unique().tolist() == ["AAA"]  # whitespace stripped
    assert p["close"].tolist() == [5.0, 5.25]  # adjusted close wins
    assert p["high"].tolist() == [5.5, 5.5]  # open/high/low rescaled to the adjusted basis
    assert p["volume"].tolist() == [100.0, 100.0]
    assert any("adjusted close" in n for n in p.attrs["notes"])


@pytest.mark.parametrize("header", ["adj_close", "adjclose", "AdjClose", "Adj. Close"])
def test_adjusted_close_spellings(tmp_path: Path, header: str) -> None:
    p = load_text(tmp_path, f"date,ticker,{header}\n2020-01-02,A,1\n2020-01-03,A,2\n")
    assert p["close"].tolist() == [1.0, 2.0]


def test_single_ticker_file_named_after_file(tmp_path: Path) -> None:
    text = "Date,Open,High,Low,Close,Volume\n2020-01-02,1,2,0.5,1.5,10\n2020-01-03,1.5,2,1,1.8,12\n"
    p = load_text(tmp_path, text, name="MSFT.csv")
    assert p.index.get_level_values("ticker").unique().tolist() == ["MSFT"]
    assert any("no ticker column" in n for n in p.attrs["notes"])


def test_wide_close_only_table(tmp_path: Path) -> None:
    p = load_text(tmp_path, "date,AAA,BBB\n2020-01-02,1,2\n2020-01-03,,2.1\n2020-01-06,1.1,2.2\n")
    assert list(p.columns) == ["close"]
    assert len(p) == 5  # the blank cell is a gap, not a row
    dense = to_dense(p)
    assert dense.tickers == ["AAA", "BBB"]
    assert np.isnan(dense.close[1, 0])  # kept missing, never forward-filled
    notes = " ".join(p.attrs["notes"])
    assert "wide" in notes and "no high/low" in notes and "no volume" in notes


def test_wide_dataframe_with_date_index() -> None:
    idx = pd.DatetimeIndex(["2020-01-02", "2020-01-03"], name="Date")
    p = load_panel(pd.DataFrame({"X": [1.0, 2.0], "Y": [3.0, 4.0]}, index=idx))
    assert p.index.get_level_values("ticker").unique().tolist() == ["X", "Y"]
    assert p.attrs["source"] == "DataFrame"


def test_unsorted_input_is_sorted_and_gaps_kept(tmp_path: Path) -> None:
    text = (
        "date,ticker,close\n"
        "2020-01-06,BBB,3\n2020-01-02,BBB,2\n2020-01-06,AAA,1.2\n2020-01-02,AAA,1\n2020-01-03,BBB,2.5\n"
    )
    p = load_text(tmp_path, text)
    assert p.index.is_monotonic_increasing
    assert any("sorted" in n for n in p.attrs["notes"])
    dense = to_dense(p)
    assert list(dense.dates.strftime("%m-%d")) == ["01-02", "01-03", "01-06"]
    assert np.isnan(dense.close[1, 0]) and dense.close[1, 1] == 2.5  # AAA's gap stays NaN


@pytest.mark.parametrize(
    ("text", "note"),
    [
        ("date;ticker;close\n2020-01-02;A;1,5\n2020-01-03;A;1,6\n", "semicolon"),
        ("date\tticker\tclose\n2020-01-02\tA\t1.5\n2020-01-03\tA\t1.6\n", "tab"),
        ("date|ticker|close\n2020-01-02|A|1.5\n2020-01-03|A|1.6\n", "pipe"),
    ],
)
def test_other_delimiters_detected(tmp_path: Path, text: str, note: str) -> None:
    p = load_text(tmp_path, text)
    assert p["close"].tolist() == [1.5, 1.6]
    assert any(note in n for n in p.attrs["notes"])


def test_gzip_parquet_and_buffers(tmp_path: Path) -> None:
    expected = load_text(tmp_path, LONG)
    gz = write(tmp_path, "p.csv.gz", gzip.compress(LONG.encode()))
    pd.testing.assert_frame_equal(load_panel(gz), expected)
    pq = tmp_path / "p.parquet"
    expected.reset_index().to_parquet(pq)
    pd.testing.assert_frame_equal(load_panel(pq), expected)
    pd.testing.assert_frame_equal(load_panel(io.BytesIO(LONG.encode()), name="up.csv"), expected)
    pd.testing.assert_frame_equal(load_panel(io.StringIO(LONG)), expected)
    pd.testing.assert_frame_equal(load_panel(io.BytesIO(LONG.encode("utf-16"))), expected)
    pd.testing.assert_frame_equal(load_panel(expected), expected)  # a Panel round-trips


def test_non_utf8_file_read_as_cp1252(tmp_path: Path) -> None:
    p = load_text(tmp_path, "date,ticker,close\n2020-01-02,NESTLÉ,1\n".encode("cp1252"))
    assert p.index.get_level_values("ticker").tolist() == ["NESTLÉ"]


def test_upload_name_used_in_messages() -> None:
    class Upload(io.BytesIO):  # shaped like streamlit's UploadedFile: bytes + .name
        name = "my_upload.csv"

    with pytest.raises(DataError, match=r"my_upload\.csv"):
        load_panel(Upload(b"date,ticker,close\n2020-01-02,A,oops\n"))


def test_extra_columns(tmp_path: Path) -> None:
    text = "date,ticker,close,P/E Ratio,exchange\n2020-01-02,A,1,5,NYSE\n2020-01-03,A,1.1,6.5,NYSE\n"
    p = load_text(tmp_path, text)
    assert list(p.columns) == ["close", "p_e_ratio"]
    assert p["p_e_ratio"].dtype == np.float64
    assert any("'exchange' is not numeric: dropped" in n for n in p.attrs["notes"])


def test_sector_column(tmp_path: Path) -> None:
    text = ("date,ticker,close,sector\n2020-01-02,A,1,Tech\n2020-01-03,A,1.1,Software\n"
            "2020-01-02,B,2,\n2020-01-03,B,2.1,\n")
    p = load_text(tmp_path, text)
    sectors = p["sector"].groupby(level="ticker").unique()
    assert list(sectors["A"]) == ["Software"] and list(sectors["B"]) == ["unknown"]
    assert any("change sector" in n for n in p.attrs["notes"])


def test_exact_duplicates_dropped_with_note(tmp_path: Path) -> None:
    p = load_text(tmp_path, "date,ticker,close\n2020-01-02,A,1\n2020-01-02,A,1\n2020-01-03,A,2\n")
    assert len(p) == 2
    assert any("duplicate" in n for n in p.attrs["notes"])


def test_inconsistent_high_low_widened(tmp_path: Path) -> None:
    p = load_text(tmp_path, "date,ticker,open,high,low,close\n2020-01-02,A,1,1.9,0.9,2\n2020-01-03,A,2,2.1,1.9,2\n")
    assert p["high"].iloc[0] == 2.0
    assert any("widened" in n for n in p.attrs["notes"])


def test_integer_dates_and_tickers_are_data_not_paths(tmp_path: Path) -> None:
    text = "date,ticker,close\n20200102,../../etc/passwd,1\n20200103,../../etc/passwd,2\n20200103,10001,3\n"
    p = load_text(tmp_path, text)
    assert set(p.index.get_level_values("ticker")) == {"../../etc/passwd", "10001"}
    assert p.index.get_level_values("date")[0] == pd.Timestamp("2020-01-02")
    assert [f.name for f in tmp_path.rglob("*")] == ["prices.csv"]  # nothing created from a ticker


def test_shortcuts() -> None:
    synthetic = load_panel("synthetic")
    assert synthetic.attrs["source"].startswith("synthetic")
    assert "sector" in synthetic.columns
    assert load_panel(" Demo ").attrs["source"] == "demo"


# --- rejected inputs: each names the file, the problem, and how to fix it ---------------------

@pytest.mark.parametrize(
    ("text", "words"),
    [
        (b"", ["bad.csv", "empty"]),
        (b"   \n\n", ["empty"]),
        ("date,ticker,close\n", ["header", "no data rows"]),
        (bytes(range(256)) * 20, ["binary"]),
        (b"PK\x03\x04" + bytes(200), ["Excel", "CSV"]),
        (b"\x1f\x8b\x08garbage", ["gzip"]),
        (b"PAR1" + bytes(50), ["Parquet"]),
        ("foo,bar\n1,2\n", ["no date column", "'date'"]),
        ("date,ticker,volume\n2020-01-02,A,1\n", ["no close", "'close'"]),
        ("date,ticker,close\n2020-01-02,A,1\n2020-01-03,A,abc\n", ["'close'", "non-numeric", "line 3", "'abc'"]),
        ("date,ticker,close\n2020-13-45,A,1\n", ["'date'", "unparseable", "line 2", "2020-13-45", "ISO"]),
        ("date,ticker,close\n2020-01-02,A,1\n2020-01-03,A,-2\n", ["'close'", "negative", "line 3", "positive"]),
        ("date,ticker,close\n2020-01-02,A,0\n", ["zero or negative"]),
        ("date,ticker,close,volume\n2020-01-02,A,1,-5\n", ["'volume'", "negative"]),
        ("date,ticker,close\n2020-01-02,A,inf\n", ["infinite", "'close'"]),
        ("date,ticker,close\n2020-01-02,A,1\n2020-01-03,A,120\n", ["50x", "line 3", "A", "split"]),
        ("date,ticker,close\n2020-01-02,A,5e12\n", ["absurd", "units"]),
        ("date,ticker,open,high,low,close\n2020-01-02,A,1,1,2,1.5\n", ["high below low", "swapped"]),
        ("date,ticker,close\n2020-01-02,A,1\n2020-01-02,A,2\n", ["(date, ticker)", "line 2", "line 3", "one row"]),
        ("date,ticker,close\n2020-01-02,A,\n2020-01-03,A,\n2020-01-02,B,1\n", ["all blank", "'A'"]),
        ("date,AAA,BBB\n2020-01-02,,1\n2020-01-03,,2\n", ["AAA", "no prices"]),
        ("date,AAA\n2020-01-02,x\n", ["ticker column 'AAA'", "non-numeric"]),
        ("date,ticker,close\n2020-01-02, ,1\n", ["'ticker'", "empty", "line 2"]),
        ("date,ticker,close\n2020-01-02;A;1\n2020-01-03;A;2\n", ["mixed delimiters", "semicolon"]),
        ("date ticker close\n2020-01-02 A 1\n", ["one column", "delimiter"]),
        ("date,ticker,close\n2020-01-02,A,1,7\n2020-01-03,A,2\n", ["line 2", "fields", "header"]),
        ("date,ticker,close,pe\n2020-01-02,A,1,5\n2020-01-03,A,2,7\n2020-01-06,A,2,n.a.\n", ["'pe'", "line 4"]),
        ("date,ticker,close,close\n2020-01-02,A,1,2\n", ["repeat", "'close'"]),
        ("date,date_x,ticker,close\n2020-01-02,x,A,1\n", []),  # unknown text column -> dropped, loads
    ],
)
def test_bad_inputs_raise_helpful_errors(tmp_path: Path, text: str | bytes, words: list[str]) -> None:
    if not words:
        assert len(load_text(tmp_path, text)) == 1
        return
    message = error_of(tmp_path, text)
    assert "bad.csv" in message or "bad" in message
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found"):
        load_panel(tmp_path / "nope.csv")
    with pytest.raises(DataError, match="directory"):
        load_panel(tmp_path)
    with pytest.raises(DataError, match="DataFrame"):
        load_panel(42)  # type: ignore[arg-type]


def test_error_examples_capped_at_three(tmp_path: Path) -> None:
    rows = "".join(f"2020-01-{d:02d},A,bad\n" for d in range(2, 12))
    message = error_of(tmp_path, "date,ticker,close\n" + rows)
    assert "10 non-numeric" in message and message.count("line ") == 3


# --- check_history and panel_summary --------------------------------------------------------

def test_check_history(tiny_panel: pd.DataFrame) -> None:
    assert check_history(tiny_panel, window=20, horizon=5) == []
    with pytest.raises(DataError, match=r"too little history.*window=250.*horizon=30"):
        check_history(tiny_panel, window=250, horizon=30)


def test_check_history_reports_short_tickers() -> None:
    idx = pd.bdate_range("2020-01-01", periods=120)
    wide = pd.DataFrame({"LONG": np.linspace(1, 2, 120), "SHORT": [np.nan] * 110 + [1.0] * 10}, index=idx)
    wide.index.name = "date"
    panel = load_panel(wide)
    assert check_history(panel, window=20, horizon=5) == ["SHORT"]


def test_panel_summary(tmp_path: Path) -> None:
    p = load_text(tmp_path, "date,AAA,BBB\n2020-01-02,1,2\n2020-01-03,,2.1\n2020-01-06,1.1,2.2\n")
    s = panel_summary(p)
    assert s["tickers"] == ["AAA", "BBB"] and s["n_tickers"] == 2
    assert (s["first_date"], s["last_date"], s["n_dates"], s["rows"]) == ("2020-01-02", "2020-01-06", 3, 5)
    assert s["columns"] == ["close"]
    assert s["missing_pct"] == pytest.approx(100 / 6, abs=0.01)
    assert s["per_ticker"]["AAA"]["rows"] == 2
    assert s["features_available"] and s["features_skipped"]
    assert not any("volume" in name for name in s["features_available"])
    assert all("needs" in why for why in s["features_skipped"].values())


def test_panel_summary_full_panel(tiny_panel: pd.DataFrame) -> None:
    s = panel_summary(tiny_panel)
    assert s["n_tickers"] == 8 and s["missing_pct"] == 0.0
    assert len(s["sectors"]) == 2
    assert s["features_skipped"] == {}


def test_wide_tickers_spelled_like_aliases(tmp_path: Path) -> None:
    # C (Citigroup), V (Visa), DT (Dynatrace), DAY (Dayforce) are tickers, not close/volume/date
    p = load_text(tmp_path, "Date,C,V,DT,DAY\n2020-01-02,1,2,3,4\n2020-01-03,1.1,2.1,3.1,4.1\n")
    assert p.index.get_level_values("ticker").unique().tolist() == ["C", "DAY", "DT", "V"]
    assert list(p.columns) == ["close"]


def test_competing_aliases_use_the_standard_one(tmp_path: Path) -> None:
    p = load_text(tmp_path, "date,Name,Symbol,Close,Price\n2020-01-02,Apple Inc,AAPL,1,9\n")
    assert p.index.get_level_values("ticker").tolist() == ["AAPL"]
    assert p["close"].tolist() == [1.0]
    notes = " ".join(p.attrs["notes"])
    assert "['Name'] ignored" in notes and "['Price'] ignored" in notes


# --- ticker cells and wide tables with tickers spelled like price columns -------------------

def test_tickers_keep_leading_zeros(tmp_path: Path) -> None:
    p = load_text(tmp_path, "date,Symbol,close\n2020-01-02,0005,1\n2020-01-02,700,2\n2020-01-03,0005,1.1\n")
    assert sorted(p.index.get_level_values("ticker").unique()) == ["0005", "700"]


def test_wide_table_with_a_ticker_named_like_a_price_column(tmp_path: Path) -> None:
    p = load_text(tmp_path, "Date,PRICE,LAST,AAPL\n2020-01-02,1,2,3\n2020-01-03,1.1,2.1,3.1\n")
    assert p.index.get_level_values("ticker").unique().tolist() == ["AAPL", "LAST", "PRICE"]
    assert p.loc[(pd.Timestamp("2020-01-03"), "PRICE"), "close"] == 1.1
    message = error_of(tmp_path, "date,close,AAPL,MSFT\n2020-01-02,1,2,3\n")
    assert "cannot tell" in message and "add a 'ticker' column" in message and "rename 'close'" in message
    one_asset = load_text(tmp_path, "date,close,pe_ratio,macro\n2020-01-02,1,2,3\n", name="XYZ.csv")
    assert list(one_asset.columns) == ["close", "pe_ratio", "macro"]
