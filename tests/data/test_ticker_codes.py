"""Tickers are parsed once per distinct value: names, codes and errors as a row-by-row parse gives."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from finmt_core.data.panel_checks import parse_tickers
from finmt_core.data.panel_io import RawTable
from finmt_core.errors import DataError


def _raw(tickers: list[object]) -> tuple[RawTable, pd.DataFrame]:
    df = pd.DataFrame({"ticker": tickers, "date": pd.Timestamp("2024-01-02"), "_pos": np.arange(len(tickers))})
    return RawTable(frame=df, label="prices.csv", kind="csv"), df


def test_cleaned_names_sorted_with_row_codes() -> None:
    raw, df = _raw([" BBB", "AAA", "BBB ", 7, "7", "AAA"])
    tickers, codes, names = parse_tickers(raw, df)
    assert list(names) == ["7", "AAA", "BBB"]  # " BBB" / "BBB " and 7 / "7" are one ticker each
    assert list(codes) == [2, 1, 2, 0, 0, 1] and codes.dtype == np.int64
    assert list(tickers) == ["BBB", "AAA", "BBB", "7", "7", "AAA"] and tickers.index.equals(df.index)


def test_float_ids_become_integer_names() -> None:
    raw, df = _raw([10001.0, 10002.0, 10001.0])
    _, codes, names = parse_tickers(raw, df)
    assert list(names) == ["10001", "10002"] and list(codes) == [0, 1, 0]


@pytest.mark.parametrize(("bad", "message"), [(None, "empty in 1 row"), ("  ", "empty in 1 row"),
                                               ("A\nB", "control characters")])
def test_bad_tickers_name_the_rows(bad: object, message: str) -> None:
    raw, df = _raw(["AAA", bad, "BBB"])
    with pytest.raises(DataError, match=message) as err:
        parse_tickers(raw, df)
    assert "prices.csv" in str(err.value)
