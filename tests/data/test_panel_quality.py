"""Suspicious data (possible splits, constant prices) and whether the data can feed the presets
(finmt_core/data/panel_quality.py)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from finmt_core.data.panel import load_panel, panel_summary
from finmt_core.errors import DataError


def load_text(tmp_path: Path, text: str, name: str = "prices.csv") -> pd.DataFrame:
    path = tmp_path / name
    path.write_text(text)
    return load_panel(path)


def error_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(DataError) as info:
        load_text(tmp_path, text, "bad.csv")
    return str(info.value)


def _series(closes: list[float], ticker: str = "A") -> str:
    dates = pd.bdate_range("2020-01-02", periods=len(closes)).strftime("%Y-%m-%d")
    return "".join(f"{d},{ticker},{c}\n" for d, c in zip(dates, closes, strict=True))


def test_split_warning_names_ticker_and_date_and_spikes_are_not_splits(tmp_path: Path) -> None:
    text = "date,ticker,close\n" + _series([10, 10.1, 10.2, 5.1, 5.0]) + _series([20, 20.2, 41, 20.3, 20.1], "B")
    p = load_text(tmp_path, text)
    warnings = [n for n in p.attrs["notes"] if n.startswith("warning: ")]
    assert len(warnings) == 1 and "A on 2020-01-07" in warnings[0] and "2:1 split?" in warnings[0]
    assert "B on" not in warnings[0]  # 20.2 -> 41 -> 20.3 reverts: a bad tick, not a split
    assert panel_summary(p)["warnings"] == warnings


def test_constant_prices_warn_and_all_constant_is_refused(tmp_path: Path) -> None:
    varying = _series([10, 10.1, 10.2, 10.1, 10.3], "A")
    p = load_text(tmp_path, "date,ticker,close\n" + varying + _series([5.0] * 5, "FLAT"))
    assert any(n.startswith("warning: constant prices") and "'FLAT'" in n for n in p.attrs["notes"])
    message = error_of(tmp_path, "date,ticker,close\n" + _series([5.0] * 5, "FLAT") + _series([7.0] * 5, "B"))
    assert "nothing to learn" in message
    assert len(load_text(tmp_path, "date,ticker,close\n" + _series([5.0, 5.0]))) == 2  # two equal closes: a flat day


def test_dates_needed_rule() -> None:
    from finmt_core.data.panel_quality import dates_needed

    assert dates_needed(20, 1, 1, 0.7, 0.15) == 60 + 19 + 1 + 74  # val: (10 + 1) / 0.15 = 73.3
    assert dates_needed(20, 30, 30, 0.7, 0.15) == 60 + 19 + 30 + 267  # (10 + 30) / 0.15 = 266.7
    assert dates_needed(60, 5, 5, 0.6, 0.2, folds=3) == 60 + 59 + 5 + 150  # test: 10 * 3 / 0.2


def test_preset_fits_and_check_usable(tiny_panel: pd.DataFrame) -> None:
    from finmt_core.data.panel_quality import check_usable, preset_fits

    fits = {f.name: f for f in preset_fits(tiny_panel)}
    assert fits["tgcn"].ok and fits["tgcn"].need == 154 and fits["tgcn"].have == 300
    assert not fits["dual_tower"].ok and fits["dual_tower"].need == 376
    assert check_usable(tiny_panel)
    one_date = tiny_panel.loc[[tiny_panel.index.get_level_values("date")[0]]]
    with pytest.raises(DataError, match=r"too little history for any preset.*1 date\(s\).*needs 154"):
        check_usable(one_date)
