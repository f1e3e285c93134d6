"""The README's performance table is generated from a suite run's JSON, between two markers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from benchmarks.harness import Result
from benchmarks.readme_table import END, START, main, markdown_table, replace_section
from benchmarks.report import write_json

MACHINE = {"cpu_model": "Test CPU", "usable_cores": 2, "memory_gb": 8, "torch_version": "2.x", "torch_threads": 2,
           "device": "cpu", "load_avg_1m": 0.4, "load_avg_1m_end": 0.9}


def _payload(tmp_path: Path) -> Path:
    results = [
        Result("data_pipeline_500x2520", "s", [2.0, 2.5, 3.0], 5.0, "lower", benchmark="data"),
        Result("features_talib_over_all", "x", [2.4], 2.0, "lower", benchmark="features"),
        Result("train_rows_per_s_tgcn", "rows/s", [25_000.0, 26_000.0], None, "higher", benchmark="train"),
        Result("broken", "s", [], 1.0, error="child crashed"),
    ]
    path = tmp_path / "bench.json"
    write_json(path, results, MACHINE, "full", 321.0)
    return path


def test_table_lists_every_figure_with_its_goal_and_load(tmp_path: Path) -> None:
    block = markdown_table(json.loads(_payload(tmp_path).read_text()))
    assert "load average 0.4 at the start, 0.9 at the end" in block and "full profile, 321 s" in block
    assert "**1 of 3 goals met.**" in block
    assert "| `data_pipeline_500x2520` | s | **2.50** | 2.00–3.00 | <= 5.00 | pass |" in block
    assert "| `features_talib_over_all` | x | **2.40** | 1 run | <= 2.00 | **miss** |" in block
    assert "error: child crashed" in block
    info = block.split("<details>")[1]
    assert "`train_rows_per_s_tgcn`" in info and "**25,500**" in info  # info figures collapsed, median shown


def test_readme_section_replaced_between_markers_only(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\nbefore\n{START}\nold table\n{END}\nafter\n")
    assert main([str(_payload(tmp_path)), str(readme)]) == 0
    text = readme.read_text()
    assert text.startswith("# Title\nbefore\n") and text.endswith(f"{END}\nafter\n")
    assert "old table" not in text and "`data_pipeline_500x2520`" in text
    main([str(_payload(tmp_path)), str(readme)])  # idempotent: regenerating gives the same file
    assert readme.read_text() == text


def test_missing_markers_leave_the_file_untouched(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="bench-table"):
        replace_section("no markers here", "x")
    readme = tmp_path / "README.md"
    readme.write_text("plain\n")
    assert main([str(_payload(tmp_path)), str(readme)]) == 1
    assert readme.read_text() == "plain\n" and not list(tmp_path.glob("*.tmp"))


def test_cli_readme_option_needs_json(tmp_path: Path) -> None:
    from finmt_core.cli import app

    readme = tmp_path / "README.md"
    readme.write_text(f"{START}\n{END}\n")
    out = CliRunner().invoke(app, ["bench", "--tiny", "--only", "backtest", "--readme", str(readme)])
    assert out.exit_code != 0 and "--json" in out.output
