"""The Data page's upload: the size limit, the date-format field, usability, plain-text names,
and saved uploads that never overwrite each other (the corpus through the page)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
from page_helpers import no_exception, texts

import dashboard.widgets as widgets


def prices_csv(n_days: int = 260, tickers: tuple[str, ...] = ("AAA", "BBB"), seed: int = 0,
               date_format: str = "%Y-%m-%d", split: str | None = None) -> bytes:
    """A smooth long CSV; ``split`` halves that ticker's prices from day 130 on (an unadjusted 2:1 split)."""
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2020-01-01", periods=n_days)
    rows = []
    for t in tickers:
        close = 10 * np.exp(np.cumsum(rng.normal(0, 0.01, n_days)))
        if t == split:
            close[130:] /= 2
        rows.append(pd.DataFrame({"date": dates.strftime(date_format), "ticker": t, "close": close.round(4)}))
    return pd.concat(rows).to_csv(index=False).encode()


def upload(at: object, name: str, data: bytes) -> None:
    at.file_uploader(key="upload").set_value((name, data, "text/csv")).run()  # type: ignore[attr-defined]
    no_exception(at)


def errors(at: object) -> str:
    return "\n".join(e.value for e in at.error)  # type: ignore[attr-defined]


def test_upload_limit_is_read_from_the_streamlit_config() -> None:
    assert widgets.upload_limit_mb() == 200.0  # .streamlit/config.toml: maxUploadSize = 200


def test_save_upload_never_overwrites_another_upload(tmp_path: Path) -> None:
    from finmt_core.data.panel import load_panel
    from finmt_core.data.uploads import save_upload

    first, other = prices_csv(seed=1), prices_csv(seed=2)
    panel = load_panel(io.BytesIO(first), name="prices.csv")
    stems = [save_upload(tmp_path, "prices.csv", first, panel),
             save_upload(tmp_path, "prices.2024.csv", other, panel),
             save_upload(tmp_path, "prices.csv", other, panel),
             save_upload(tmp_path, "prices.csv", first, panel)]  # the same bytes again: same file
    assert stems[:2] == ["prices", "prices.2024"] and stems[2].startswith("prices-") and stems[3] == "prices"
    saved = sorted(p.name for p in (tmp_path / ".uploads").iterdir())
    assert saved == sorted({f"{s}.parquet" for s in stems})  # three files, no temp file left
    again = load_panel(tmp_path / ".uploads" / "prices.parquet")
    pd.testing.assert_series_equal(again["close"], panel["close"])


def test_upload_over_the_limit_is_refused_with_the_fix(open_page, empty_root, monkeypatch) -> None:
    monkeypatch.setattr(widgets, "upload_limit_mb", lambda: 0.001)  # ~1 KB instead of 200 MB
    at = open_page(empty_root, "data")
    upload(at, "big.csv", prices_csv())
    message = errors(at)
    assert "over the upload limit of 0.001 MB" in message and "maxUploadSize" in message
    assert "finmt train --data PATH" in message
    assert not at.success and not any(b.key == "save_upload" for b in at.button)


def test_ambiguous_dates_ask_for_the_format_and_short_files_are_refused(open_page, empty_root) -> None:
    at = open_page(empty_root, "data")
    days = pd.bdate_range("2020-01-01", "2022-12-31")
    rows = "".join(f"{d:%d/%m/%Y},A,{10 + i / 100:.2f}\n" for i, d in enumerate(days) if d.day <= 12)
    upload(at, "dmy.csv", ("date,ticker,close\n" + rows).encode())
    assert "ambiguous" in errors(at) and "%d/%m/%Y" in errors(at)
    at.text_input(key="date_format").input("%d/%m/%Y").run()
    no_exception(at)
    assert not at.error and "is valid" in at.success[0].value and "presets fit" in at.success[0].value
    assert {m.label: m.value for m in at.metric}["From"] == "2020-01-01"
    at.text_input(key="date_format").set_value("")  # the next file has ISO dates
    upload(at, "one_day.csv", prices_csv(n_days=1))
    assert "too little history for any preset" in errors(at) and "needs 154" in errors(at)
    assert not any(b.key == "save_upload" for b in at.button)


def test_hostile_names_render_as_plain_text_and_uploads_keep_their_own_files(open_page, empty_root) -> None:
    at = open_page(empty_root, "data")
    evil = "![x](http://e/x.png)"
    upload(at, "[a](b).csv", prices_csv(tickers=(evil, "BBB"), split=evil))
    shown = texts(at)
    assert "\\!\\[x\\]\\(http\\://e/x.png\\)" in shown  # the split warning names it, escaped
    assert "![x](http" not in shown and "[a](b)" not in shown and "\\[a\\]\\(b\\)" in shown
    assert any("possible unadjusted split" in w.value for w in at.warning)
    at.button(key="save_upload").click().run()
    upload(at, "prices.2024.csv", prices_csv(seed=5))
    at.button(key="save_upload").click().run()
    saved = sorted(p.name for p in (empty_root / ".uploads").iterdir())
    assert saved == ["a--b.parquet", "prices.2024.parquet"]


def test_a_failed_save_leaves_no_file(tmp_path: Path, monkeypatch) -> None:
    import errno

    import pytest

    from finmt_core.data.panel import load_panel
    from finmt_core.data.uploads import list_uploads, save_upload, upload_path
    from finmt_core.errors import DataError
    from finmt_core.training import atomic
    from finmt_core.training.atomic import DiskFullError

    data = prices_csv(seed=3)
    panel = load_panel(io.BytesIO(data), name="prices.csv")

    def full_disk(fd: int, payload: bytes) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic, "_write_fd", full_disk)
    with pytest.raises(DiskFullError, match="no space left"):
        save_upload(tmp_path, "prices.csv", data, panel)
    assert list((tmp_path / ".uploads").iterdir()) == []  # neither the parquet nor a temp file
    monkeypatch.undo()
    assert save_upload(tmp_path, "prices.csv", data, panel) == "prices" and list_uploads(tmp_path) == ["prices"]
    assert upload_path(tmp_path, "prices") == tmp_path / ".uploads" / "prices.parquet"
    with pytest.raises(DataError, match="not the name of a saved upload"):
        upload_path(tmp_path, "../runs/x")
