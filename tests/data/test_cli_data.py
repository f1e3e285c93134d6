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


@pytest.mark.skipif(not FINMT.exists(), reason="console script not installed in this environment")
def test_real_subprocess_validate(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(os.urandom(4096))
    good = tmp_path / "good.csv"
    good.write_text("Date,Symbol,Close\n2020-01-02,A,1\n2020-01-03,A,1.1\n")
    bad = subprocess.run([str(FINMT), "data", "validate", str(garbage)], capture_output=True, text=True,
                         timeout=120)
    assert bad.returncode == 2
    assert "Traceback" not in bad.stdout + bad.stderr
    assert bad.stderr.startswith("error:") and "garbage.bin" in bad.stderr
    ok = subprocess.run([str(FINMT), "data", "validate", str(good)], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert "tickers:   1" in ok.stdout and "no volume" in ok.stdout
