"""The hostile-input corpus: malformed and hostile files, generated here (nothing binary is committed).

Each case gives either a correct read (values asserted) or one :class:`DataError` that names
the file, the problem and the fix -- through ``load_panel`` and through ``finmt data validate``
(exit 2, exactly one ``error:`` line, never a traceback). The test ids read as the corpus table
(``<input>-><outcome>``). The upload-size limit is the Data page's check: see
tests/dashboard/test_data_upload.py.
"""

from __future__ import annotations

import bz2
import gzip
import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from finmt_core.cli import app
from finmt_core.data.panel import load_panel
from finmt_core.errors import DataError

N_DAYS = 260  # enough for the presets' rule (154 dates), so a correct read also validates
TICKERS = ("AAA", "BBB", "CCC")


def base(n_days: int = N_DAYS, tickers: tuple[str, ...] = TICKERS, start: str = "2020-01-02") -> pd.DataFrame:
    """A smooth long OHLCV table (1% daily moves: no jumps), columns date (Timestamp), ticker, ..."""
    rng = np.random.default_rng(7)
    dates = pd.bdate_range(start, periods=n_days)
    frames = []
    for i, t in enumerate(tickers):
        close = (10.0 + 10 * i) * np.exp(np.cumsum(rng.normal(0, 0.01, n_days)))
        close = np.round(close, 4)
        frames.append(pd.DataFrame({"date": dates, "ticker": t, "open": close, "high": np.round(close * 1.01, 4),
                                    "low": np.round(close * 0.99, 4), "close": close,
                                    "volume": rng.integers(100, 1000, n_days).astype(float)}))
    return pd.concat(frames, ignore_index=True)


def csv(df: pd.DataFrame, date_format: str | None = None, **kw: object) -> str:
    out = df.copy()
    if date_format is not None:
        out["date"] = out["date"].dt.strftime(date_format)
    elif pd.api.types.is_datetime64_any_dtype(out["date"]):
        out["date"] = out["date"].dt.strftime("%Y-%m-%d")
    return out.to_csv(index=False, **kw)


def same_closes(expected: pd.DataFrame) -> Callable[[pd.DataFrame], None]:
    """A check: the panel's closes are exactly ``expected``'s, on the same (date, ticker) rows."""
    want = expected.set_index(["date", "ticker"])["close"].sort_index()

    def check(panel: pd.DataFrame) -> None:
        got = panel["close"]
        assert list(got.index) == list(want.index)
        np.testing.assert_allclose(got.to_numpy(), want.to_numpy())

    return check


def tickers_are(*names: str) -> Callable[[pd.DataFrame], None]:
    def check(panel: pd.DataFrame) -> None:
        assert sorted(panel.index.get_level_values("ticker").unique()) == sorted(names)
        assert panel.index.get_level_values("date").nunique() == N_DAYS

    return check


def both(*checks: Callable[[pd.DataFrame], None]) -> Callable[[pd.DataFrame], None]:
    def check(panel: pd.DataFrame) -> None:
        for c in checks:
            c(panel)

    return check


def shape(n_tickers: int, n_dates: int) -> Callable[[pd.DataFrame], None]:
    def check(panel: pd.DataFrame) -> None:
        assert panel.index.get_level_values("ticker").nunique() == n_tickers
        assert panel.index.get_level_values("date").nunique() == n_dates

    return check


def bday(n: int) -> str:
    """ISO date of business day ``n`` (0-based) from 2020-01-02, as the warnings write it."""
    return pd.bdate_range("2020-01-02", periods=n + 1)[-1].date().isoformat()


def noted(*words: str) -> Callable[[pd.DataFrame], None]:
    def check(panel: pd.DataFrame) -> None:
        notes = " | ".join(panel.attrs["notes"])
        for w in words:
            assert w in notes, (w, notes)

    return check


# ---- files whose construction needs more than one line -------------------------------------
def ambiguous_dates() -> pd.DataFrame:
    df = base(700)
    return df[df["date"].dt.day <= 12].reset_index(drop=True)


def dst_offsets() -> str:
    df = base(start="2021-01-04")
    stamps = (df["date"] + pd.Timedelta(hours=16)).dt.tz_localize("America/New_York")
    return csv(df.assign(date=[s.isoformat() for s in stamps]))


def intraday() -> tuple[str, pd.DataFrame]:
    """Four hourly bars per ticker per day whose daily bar is ``base()`` with volume x4."""
    daily = base(tickers=("AAA", "BBB"))
    rows = []
    for hour, (o, h, low, c) in enumerate([("open", "open", "open", "open"), ("open", "high", "open", "open"),
                                           ("open", "open", "low", "open"), ("open", "open", "open", "close")]):
        part = daily.assign(date=daily["date"] + pd.Timedelta(hours=10 + hour), open=daily[o], high=daily[h],
                            low=daily[low], close=daily[c])
        rows.append(part)
    hourly = pd.concat(rows).sort_values(["date", "ticker"])
    text = hourly.assign(date=hourly["date"].dt.strftime("%Y-%m-%d %H:%M:%S")).to_csv(index=False)
    return text, daily.assign(volume=daily["volume"] * 4)


def split_jump(ratio: float, ticker: str, day: int) -> pd.DataFrame:
    df = base()
    after = (df["ticker"] == ticker) & (df.groupby("ticker").cumcount() >= day)
    for c in ("open", "high", "low", "close"):
        df.loc[after, c] = df.loc[after, c] * ratio
    return df


def constant(tickers: tuple[str, ...]) -> pd.DataFrame:
    df = base()
    for c in ("open", "high", "low", "close"):
        df.loc[df["ticker"].isin(tickers), c] = 10.0
    return df


def many_tickers() -> str:
    rng = np.random.default_rng(1)
    dates = pd.bdate_range("2020-01-02", periods=40).strftime("%Y-%m-%d")
    names = [f"T{i:04d}" for i in range(5000)]
    close = 50 * np.exp(np.cumsum(rng.normal(0, 0.01, (40, 5000)), axis=0))
    df = pd.DataFrame({"date": np.repeat(dates, 5000), "ticker": np.tile(names, 40), "close": close.ravel().round(4)})
    return df.to_csv(index=False)


def zipped(name: str, text: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr(name, text)
    return buf.getvalue()


def xlsx_like() -> bytes:
    return zipped("xl/workbook.xml", "<workbook/>")


def parquet_bytes() -> bytes:
    buf = io.BytesIO()
    base().to_parquet(buf, index=False)
    return buf.getvalue()


def hostile_tickers(names: tuple[str, ...]) -> pd.DataFrame:
    df = base()
    return df.assign(ticker=df["ticker"].map(dict(zip(TICKERS, names, strict=True))))


def wide(names: tuple[str, ...]) -> str:
    df = hostile_tickers(names)
    table = df.pivot(index="date", columns="ticker", values="close")[list(names)].reset_index()
    return csv(table)


@dataclass(frozen=True)
class Case:
    """One corpus file: ``make()`` -> its bytes/text; ``read`` checks a correct read, else
    ``refuse`` are words of the DataError; ``cli_refuse``: validate refuses a file that loads."""

    id: str
    make: Callable[[], str | bytes]
    read: Callable[[pd.DataFrame], None] | None = None
    refuse: tuple[str, ...] = ()
    cli_refuse: tuple[str, ...] = ()
    file: str = "input.csv"


_intraday_text, _intraday_daily = intraday()
CASES = [
    Case("utf16->read", lambda: csv(base()).encode("utf-16"), same_closes(base())),
    Case("utf8_bom->read", lambda: b"\xef\xbb\xbf" + csv(base()).encode(), same_closes(base())),
    Case("latin1_ticker->read", lambda: csv(hostile_tickers(("NESTLÉ", "BBB", "CCC"))).encode("latin-1"),
         tickers_are("NESTLÉ", "BBB", "CCC")),
    Case("gzip_named_csv->read", lambda: gzip.compress(csv(base()).encode()), same_closes(base())),
    Case("bz2_named_csv->read", lambda: bz2.compress(csv(base()).encode()), same_closes(base())),
    Case("zip_of_one_csv_named_csv->read", lambda: zipped("prices.csv", csv(base())), same_closes(base())),
    Case("parquet_named_csv->read", parquet_bytes, same_closes(base())),
    Case("xlsx_renamed_csv->refused", xlsx_like, refuse=("Excel", "Save the sheet as CSV")),
    Case("xls_renamed_csv->refused", lambda: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600),
         refuse=("Excel", "Save the sheet as CSV")),
    Case("thousands_separators->refused", lambda: 'date,ticker,close\n2020-01-02,A,"1,234.50"\n2020-01-03,A,"1,240.00"\n',
         refuse=("thousands separators", "line 2", "1234.50")),
    Case("decimal_commas_semicolon->read", lambda: csv(base(), sep=";", decimal=","), same_closes(base())),
    Case("decimal_commas_in_comma_csv->refused", lambda: 'date,ticker,close\n2020-01-02,A,"10,5"\n',
         refuse=("decimal commas", "line 2", "';'")),
    Case("day_first_dates->read", lambda: csv(base(), "%d/%m/%Y"),
         both(same_closes(base()), noted("day-first"))),
    Case("month_first_dates->read", lambda: csv(base(), "%m/%d/%Y"), both(same_closes(base()), noted("month-first"))),
    Case("two_digit_year_day_first->read", lambda: csv(base(), "%d.%m.%y"), same_closes(base())),
    Case("month_names->read", lambda: csv(base(), "%d-%b-%Y"), same_closes(base())),
    Case("ambiguous_dates->refused", lambda: csv(ambiguous_dates(), "%d/%m/%Y"),
         refuse=("ambiguous", "line 2", "--date-format %d/%m/%Y", "%m/%d/%Y")),
    Case("mixed_date_formats->refused",
         lambda: csv(base()).replace("\n2020-01-03,", "\n03/01/2020,"),
         refuse=("mixes date formats", "'03/01/2020'", "'2020-01-02'", "ISO")),
    Case("mixed_day_month_order->refused",
         lambda: csv(base(), "%d/%m/%Y").replace("\n13/01/2020,AAA", "\n01/13/2020,AAA"),
         refuse=("mixes day-first and month-first", "'01/13/2020'")),
    Case("dst_utc_offsets->read", dst_offsets, both(same_closes(base(start="2021-01-04")), noted("UTC offsets"))),
    Case("intraday_hourly->daily_bars", lambda: _intraday_text,
         both(same_closes(_intraday_daily), noted("intraday rows", "aggregated"),
              lambda p: np.testing.assert_allclose(p["volume"].to_numpy(),
                                                   _intraday_daily.sort_values(["date", "ticker"])["volume"]))),
    Case("duplicate_column_names->refused", lambda: "date,ticker,close,close\n2020-01-02,A,1,2\n",
         refuse=("repeat", "'close'", "distinct name")),
    Case("html_js_tickers->read_verbatim",
         lambda: csv(hostile_tickers(("<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "CCC"))),
         tickers_are("<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "CCC")),
    Case("path_like_tickers->read_verbatim", lambda: csv(hostile_tickers(("../../etc/passwd", "..\\..\\x", "/tmp"))),
         tickers_are("../../etc/passwd", "..\\..\\x", "/tmp")),
    Case("formula_tickers->read_verbatim",
         lambda: csv(hostile_tickers(('=HYPERLINK("http://e","x")', "+cmd|' /C calc'!A0", "-2+3"))),
         tickers_are('=HYPERLINK("http://e","x")', "+cmd|' /C calc'!A0", "-2+3")),
    Case("markdown_tickers->read_verbatim", lambda: csv(hostile_tickers(("![x](http://e/x.png)", "[l](http://e)", "@SUM"))),
         tickers_are("![x](http://e/x.png)", "[l](http://e)", "@SUM")),
    Case("leading_zero_tickers->read", lambda: csv(hostile_tickers(("0005", "0700", "0939"))),
         tickers_are("0005", "0700", "0939")),
    Case("wide_with_ticker_PRICE->read_wide", lambda: wide(("PRICE", "AAPL", "MSFT")),
         both(tickers_are("AAPL", "MSFT", "PRICE"), same_closes(hostile_tickers(("PRICE", "AAPL", "MSFT"))[
             ["date", "ticker", "close"]]))),
    Case("wide_or_one_asset_ambiguous->refused", lambda: wide(("Close", "AAPL", "MSFT")),
         refuse=("cannot tell", "wide table", "add a 'ticker' column")),
    Case("single_ticker_no_column->read", lambda: csv(base(tickers=("X",)).drop(columns="ticker")),
         tickers_are("AAA"), file="AAA.csv"),
    Case("single_date->read_but_too_short", lambda: csv(base(1)), same_closes(base(1)),
         cli_refuse=("too little history", "1 date", "at least 154")),
    Case("constant_prices_one_ticker->warning", lambda: csv(constant(("CCC",))), noted("warning: constant prices", "'CCC'")),
    Case("constant_prices_all->refused", lambda: csv(constant(TICKERS)), refuse=("never changes", "nothing to learn")),
    Case("split_2_for_1->warning", lambda: csv(split_jump(0.5, "AAA", 130)),
         noted("warning: possible unadjusted split", f"AAA on {bday(130)}", "2:1 split?")),
    Case("reverse_split_1_30->warning", lambda: csv(split_jump(30.0, "BBB", 100)),
         noted(f"BBB on {bday(100)}", "1:30 reverse split?")),
    Case("jump_100x->refused", lambda: csv(split_jump(100.0, "BBB", 100)), refuse=("50x", "line", "split-adjusted")),
    Case("inf_close->refused", lambda: csv(base().assign(close=lambda d: d["close"].where(d.index != 5, np.inf))),
         refuse=("infinite value", "line 7", "Replace them")),
    Case("year_2320->refused", lambda: csv(base()).replace("\n2020-01-03,", "\n2320-01-03,"),
         refuse=("outside the years 1800-2200", "2320-01-03", "line", "typo")),
    Case("year_1700->refused", lambda: csv(base()).replace("\n2020-01-03,", "\n1700-01-03,"),
         refuse=("outside the years", "1700-01-03")),
    Case("5000_tickers_x_40_days->read_but_too_short", many_tickers, shape(5000, 40),
         cli_refuse=("too little history", "40 date(s)")),
    Case("trailing_junk_lines->refused", lambda: csv(base()) + "Total,,,,,,\nDownloaded from example.com,,,,,,\n",
         refuse=("unparseable date", "'Total'", "remove lines that are not data")),
    Case("empty_file->refused", lambda: b"", refuse=("empty",)),
    Case("header_only->refused", lambda: "date,ticker,close\n", refuse=("no data rows",)),
    Case("binary_junk->refused", lambda: bytes(range(256)) * 16, refuse=("binary",)),
    Case("truncated_gzip->refused", lambda: gzip.compress(csv(base()).encode())[:200],
         refuse=("gzip", "cannot be decompressed")),
    Case("control_chars_in_ticker->refused", lambda: csv(base().assign(ticker=lambda d: d["ticker"].where(
         d.index != 3, "AAA\x1b[31m"))), refuse=("control characters", "line 5")),
]


def _write(tmp_path: Path, case: Case) -> Path:
    content = case.make()
    path = tmp_path / case.file
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def validate(path: Path, *extra: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["data", "validate", str(path), *extra])
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result.exit_code, result.output


def test_corpus_has_at_least_30_files() -> None:
    assert len(CASES) >= 30 and len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_corpus_through_load_panel_and_cli(tmp_path: Path, case: Case) -> None:
    path = _write(tmp_path, case)
    if case.read is None:
        with pytest.raises(DataError) as info:
            load_panel(path)
        message = str(info.value)
        assert case.file in message and "\n" not in message
        for word in case.refuse:
            assert word in message, (word, message)
    else:
        case.read(load_panel(path))
    code, out = validate(path)
    if case.read is None or case.cli_refuse:
        assert code == 2 and out.count("error:") == 1, out
        for word in case.refuse + case.cli_refuse:
            assert word in out, (word, out)
    else:
        assert code == 0 and "ok: the data can be used" in out and "presets:" in out, out
        assert ("warning:" in out) == any(n.startswith("warning: ") for n in load_panel(path).attrs["notes"])
    assert sorted(p.name for p in tmp_path.iterdir()) == [case.file]  # nothing written beside it


def test_ambiguous_dates_read_with_the_given_format(tmp_path: Path) -> None:
    path = tmp_path / "dates.csv"
    path.write_text(csv(ambiguous_dates(), "%d/%m/%Y"))
    for fmt in ("%d/%m/%Y", "dayfirst"):
        same_closes(ambiguous_dates())(load_panel(path, date_format=fmt))
        code, out = validate(path, "--date-format", fmt)
        assert code == 0, out
    month_first = load_panel(path, date_format="monthfirst")  # the other reading: 02/01 is 1 Feb
    first = ambiguous_dates().iloc[0]
    assert first["date"] == pd.Timestamp("2020-01-02") and first["ticker"] == "AAA"
    assert month_first.loc[(pd.Timestamp("2020-02-01"), "AAA"), "close"] == first["close"]
    code, out = validate(path, "--date-format", "%m/%d/%Y")
    assert code == 0 and "dates read with the given format '%m/%d/%Y'" in out
