"""``finmt data validate`` / ``finmt data synth``: summaries, exit codes, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from finmt_core.cli import app
from finmt_core.config import list_presets
from finmt_core.data.panel import load_panel

runner = CliRunner()
FINMT = Path(sys.executable).with_name("finmt")


def invoke(*args: str):
    result = runner.invoke(app, list(args))
    output = result.output  # click >= 8.2: stdout and stderr as the user would see them
    assert "Traceback" not in output, output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result.exit_code, output


def test_validate_demo_prints_summary() -> None:
    code, out = invoke("data", "validate", "demo")
    assert code == 0, out
    for word in ("tickers:", "AAPL", "MSFT", "2000-03-01", "rows:", "missing:", "features:", "ok:"):
        assert word in out


def test_validate_synthetic_and_history_check() -> None:
    code, out = invoke("data", "validate", "synthetic", "--window", "60", "--horizon", "20")
    assert code == 0 and "sectors:" in out
    code, out = invoke("data", "validate", "synthetic", "--window", "990", "--horizon", "20")
    assert code == 2 and "too little history" in out


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"date,ticker,close\n",
        bytes(range(256)) * 8,
        b"date,ticker,close\n2020-01-02,A,abc\n",
        b"date;ticker,close\n2020-01-02,A;1\n",
        b"\x1f\x8b\x08\x00broken",
        b"PAR1broken",
        b"date,ticker,close\n2020-01-02,A,1\n2020-01-02,A,3\n",
    ],
)
def test_validate_bad_files_exit_2_with_one_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "input.csv"
    path.write_bytes(content)
    code, out = invoke("data", "validate", str(path))
    assert code == 2
    assert out.count("error:") == 1 and "input.csv" in out


def test_validate_directory_and_missing_file(tmp_path: Path) -> None:
    for target in (str(tmp_path), str(tmp_path / "missing.csv")):
        code, out = invoke("data", "validate", target)
        assert code == 2 and "error:" in out


def test_synth_writes_csv_and_parquet_atomically(tmp_path: Path) -> None:
    for name in ("m.csv", "m.csv.gz", "sub/m.parquet"):
        out_file = tmp_path / name
        code, out = invoke("data", "synth", "--out", str(out_file), "--n-stocks", "4", "--n-days", "30",
                           "--n-sectors", "2", "--seed", "3", "--signal-strength", "0")
        assert code == 0, out
        panel = load_panel(out_file)
        assert panel.index.get_level_values("ticker").nunique() == 4
        assert panel["sector"].nunique() == 2 and len(panel) == 120
        leftovers = [p.name for p in out_file.parent.iterdir() if p.name.endswith(".tmp")]
        assert leftovers == []
    a = pd.read_csv(tmp_path / "m.csv")
    b = pd.read_csv(tmp_path / "m.csv.gz")
    pd.testing.assert_frame_equal(a, b)


def test_synth_rejects_bad_arguments(tmp_path: Path) -> None:
    code, out = invoke("data", "synth", "--out", str(tmp_path / "m.xlsx"))
    assert code == 2 and ".parquet" in out
    code, out = invoke("data", "synth", "--out", str(tmp_path / "m.csv"), "--n-stocks", "0")
    assert code == 2 and "n_stocks" in out
    assert not (tmp_path / "m.csv").exists()


SMALL = ("--n-stocks", "4", "--n-days", "30", "--n-sectors", "2", "--seed", "3")


@pytest.mark.parametrize("oracle_name", ["oracle.csv", "sub/oracle.parquet"])
def test_synth_writes_oracle(tmp_path: Path, oracle_name: str) -> None:
    from finmt_core.data.samples import synthetic_market_with_oracle

    market, oracle_file = tmp_path / "m.csv", tmp_path / oracle_name
    code, out = invoke("data", "synth", "--out", str(market), *SMALL, "--momentum", "1", "--vol-drift", "0.5",
                       "--context", "2", "--oracle", str(oracle_file), "--horizons", "1,5")
    assert code == 0, out
    assert f"wrote {oracle_file}" in out and "h1, h5" in out and "momentum" in out
    panel = load_panel(market)
    assert "macro" in panel.columns
    table = pd.read_parquet(oracle_file) if oracle_name.endswith(".parquet") else pd.read_csv(oracle_file)
    assert list(table.columns) == ["date", "ticker", "h1", "h5"] and len(table) == 4 * 30
    _, expected = synthetic_market_with_oracle(4, 30, 2, 3, 0.5, momentum=1.0, vol_drift=0.5, context=2.0,
                                               horizons=(1, 5))
    for h in ("h1", "h5"):
        np.testing.assert_allclose(table[h].to_numpy(), expected[h].to_numpy(), rtol=1e-7, equal_nan=True)
    assert table["h5"].isna().sum() == 4 * 5 and table["h1"].isna().sum() == 4
    dates = pd.to_datetime(table["date"]).to_numpy().astype("datetime64[ns]")
    assert (dates == expected.index.get_level_values("date").to_numpy()).all()
    assert table["ticker"].tolist() == expected.index.get_level_values("ticker").tolist()
    leftovers = [p.name for p in oracle_file.parent.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--oracle", "{tmp}/o.xlsx"), ".parquet"),
        (("--oracle", "{tmp}/m.csv"), "same file"),
        (("--oracle", "{tmp}/o.csv", "--horizons", "1,x"), "--horizons"),
        (("--oracle", "{tmp}/o.csv", "--horizons", "0"), "horizons"),
        (("--oracle", "{tmp}/o.csv", "--horizons", "30"), "horizons"),
        (("--horizons", "5"), "--oracle"),
        (("--momentum", "9"), "momentum"),
        (("--vol-drift", "-1"), "vol_drift"),
        (("--context", "nan"), "context"),
    ],
)
def test_synth_oracle_bad_arguments(tmp_path: Path, extra: tuple[str, ...], message: str) -> None:
    args = [a.format(tmp=tmp_path) for a in extra]
    code, out = invoke("data", "synth", "--out", str(tmp_path / "m.csv"), *SMALL, *args)
    assert code == 2 and out.count("error:") == 1 and message in out, out
    assert list(tmp_path.iterdir()) == []  # nothing written


def one_ticker_csv(n_days: int) -> str:
    """``Date,Symbol,Close`` rows of one smooth series over ``n_days`` business days."""
    dates = pd.bdate_range("2020-01-02", periods=n_days).strftime("%Y-%m-%d")
    close = 10 * np.exp(np.cumsum(np.random.default_rng(0).normal(0, 0.01, n_days)))
    return "Date,Symbol,Close\n" + "".join(f"{d},A,{c:.4f}\n" for d, c in zip(dates, close, strict=True))


def test_validate_says_which_presets_the_data_can_feed(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text(one_ticker_csv(300))
    code, out = invoke("data", "validate", str(path))
    assert code == 0, out
    n = len(list_presets())  # every preset but the dual tower (window 315) fits 300 dates
    assert f"presets:   {n - 1} of {n} presets fit:" in out and "too short for: dual_tower (needs 376 dates)" in out
    assert "rule:      a preset needs 60 dates of feature warm-up + window - 1 + its longest horizon" in out
    code, out = invoke("data", "validate", "synthetic")  # 1000 dates: every preset
    assert code == 0 and f"{n} of {n} presets fit" in out


@pytest.mark.parametrize("n_days", [1, 2, 153])
def test_validate_too_little_history_is_an_error(tmp_path: Path, n_days: int) -> None:
    path = tmp_path / "short.csv"
    path.write_text(one_ticker_csv(n_days))
    code, out = invoke("data", "validate", str(path))
    assert code == 2 and out.count("error:") == 1, out
    assert f"has {n_days} date(s)" in out and "needs 154" in out and "Load a longer history" in out
    assert "ok:" not in out and "48 features" not in out


def test_validate_date_format_option(tmp_path: Path) -> None:
    path = tmp_path / "dmy.csv"
    rows = [(d.strftime("%d/%m/%Y"), 10 + i * 0.01) for i, d in enumerate(pd.bdate_range("2020-01-01", "2022-12-31"))
            if d.day <= 12]
    path.write_text("date,ticker,close\n" + "".join(f"{d},A,{c:.2f}\n" for d, c in rows))
    code, out = invoke("data", "validate", str(path))
    assert code == 2 and out.count("error:") == 1 and "ambiguous" in out and "--date-format %d/%m/%Y" in out
    code, out = invoke("data", "validate", str(path), "--date-format", "%d/%m/%Y")
    assert code == 0, out
    assert "2020-01-01 to 2022-12-12" in out and "dates read with the given format '%d/%m/%Y'" in out
    code, out = invoke("data", "validate", str(path), "--date-format", "day first")
    assert code == 2 and "not a strftime format" in out


@pytest.mark.skipif(not FINMT.exists(), reason="console script not installed in this environment")
def test_real_subprocess_validate(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(os.urandom(4096))
    good = tmp_path / "good.csv"
    good.write_text(one_ticker_csv(260))
    bad = subprocess.run([str(FINMT), "data", "validate", str(garbage)], capture_output=True, text=True,
                         timeout=120)
    assert bad.returncode == 2
    assert "Traceback" not in bad.stdout + bad.stderr
    assert bad.stderr.startswith("error:") and "garbage.bin" in bad.stderr
    ok = subprocess.run([str(FINMT), "data", "validate", str(good)], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert "tickers:   1" in ok.stdout and "no volume" in ok.stdout
    short = tmp_path / "short.csv"
    short.write_text("Date,Symbol,Close\n2020-01-02,A,1\n2020-01-03,A,1.1\n")
    bad = subprocess.run([str(FINMT), "data", "validate", str(short)], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.startswith("error:") and bad.stderr.count("\n") == 1 and "too little history" in bad.stderr
