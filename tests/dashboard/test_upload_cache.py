"""The Data page caches an upload by its content hash: a second, different file under the same
name and with the same number of rows shows its own summary, never the first file's."""

from __future__ import annotations

from pathlib import Path

from page_helpers import no_exception
from test_data_upload import prices_csv, upload

from dashboard import cache


def test_upload_key_is_the_content_hash() -> None:
    a, b = prices_csv(tickers=("AAA", "BBB")), prices_csv(tickers=("CCC", "DDD"))
    assert len(a) == len(b)  # same name, same size: only the bytes differ
    assert cache.upload_key(a) == cache.upload_key(bytes(a))
    assert cache.upload_key(a) != cache.upload_key(b)
    assert cache.upload_key(a, "%d/%m/%Y") != cache.upload_key(a)


def test_dataset_key_changes_when_a_file_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "x.parquet"
    path.write_bytes(b"one")
    first = cache.dataset_key(str(path))
    path.write_bytes(b"other bytes")
    assert cache.dataset_key(str(path)) != first
    assert cache.dataset_key("demo") == "builtin:demo"


def test_same_name_same_rows_different_file_shows_its_own_tickers(open_page, empty_root) -> None:
    at = open_page(empty_root, "data")
    upload(at, "prices.csv", prices_csv(tickers=("AAA", "BBB")))
    assert list(at.selectbox(key="ticker").options) == ["AAA", "BBB"]
    upload(at, "prices.csv", prices_csv(tickers=("CCC", "DDD")))
    no_exception(at)
    assert list(at.selectbox(key="ticker").options) == ["CCC", "DDD"]
