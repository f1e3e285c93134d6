"""The benchmark harness stays runnable: the real ``finmt bench`` entry point on tiny sizes.

No timing assertions (speed targets are the suite's business, not the tests'): these check the
JSON structure, that every figure has a positive finite median, and the harness helpers.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from benchmarks.harness import Result, percentile, time_interleaved, time_repeats
from benchmarks.report import format_table
from benchmarks.suite import BENCHMARKS, PROFILES, select
from finmt_core.cli import app

RECORD_KEYS = {"figure", "unit", "median", "min", "max", "repeats", "target", "machine", "status"}
MACHINE_KEYS = {"cpu_model", "logical_cores", "usable_cores", "torch_version", "device"}


def _bench(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["bench", *args])
    return result.exit_code, result.output


def _check_payload(path: Path, profile: str) -> list[dict]:
    payload = json.loads(path.read_text())
    assert payload["profile"] == profile
    assert set(payload["machine"]) >= MACHINE_KEYS
    records = payload["results"]
    assert records, "the suite produced no figures"
    for rec in records:
        assert set(rec) >= RECORD_KEYS, rec
        assert rec["status"] != "error", f"{rec['figure']}: {rec.get('error')}"
        assert rec["repeats"] >= 1
        assert math.isfinite(rec["median"]) and rec["median"] > 0, rec
        assert rec["min"] <= rec["median"] <= rec["max"]
        assert set(rec["machine"]) >= MACHINE_KEYS
    return records


def test_backtest_figure_through_the_cli(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- bench-table:start -->\n<!-- bench-table:end -->\n")
    code, output = _bench(["--tiny", "--only", "backtest", "--json", str(out), "--readme", str(readme)])
    assert code == 0, output
    records = _check_payload(out, "tiny")
    assert [r["figure"] for r in records] == ["backtest_20x300", "backtest_frame_20x300"]
    assert records[0]["unit"] == "ms"
    assert "backtest_20x300" in output and "target" in output  # the printed table
    assert "| `backtest_20x300` | ms |" in readme.read_text()  # the README table from this very run


def test_unknown_benchmark_is_a_clear_error() -> None:
    code, output = _bench(["--tiny", "--only", "nope"])
    assert code == 2
    assert "unknown benchmark" in output and "backtest" in output


def test_list_names_every_benchmark() -> None:
    code, output = _bench(["--list"])
    assert code == 0
    for b in BENCHMARKS:
        assert b.name in output


@pytest.mark.slow
@pytest.mark.timeout(1800)  # every case has its own 300 s limit; the sum may pass 600 s on a busy machine
def test_whole_tiny_suite_through_the_cli(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    code, output = _bench(["--tiny", "--json", str(out)])
    assert code == 0, output
    records = _check_payload(out, "tiny")
    produced = {r["benchmark"] for r in records}
    expected = {b.name for b in BENCHMARKS if b.cases["tiny"] and not b.long}  # long ones: --only
    assert produced == expected
    ratio = [r for r in records if r["figure"].startswith("tgcn_vs_peer_fwd_bwd")]
    assert ratio and all(r["unit"] == "x" and r["target_op"] == ">=" for r in ratio)


def test_profiles_define_every_benchmark() -> None:
    for b in BENCHMARKS:
        assert set(PROFILES) <= set(b.cases), b.name
        assert set(PROFILES) <= set(b.timeout_s), b.name
    assert [b.name for b in select(["data,backtest"])] == ["data", "backtest"]
    with pytest.raises(ValueError, match="unknown benchmark"):
        select(["data", "bogus"])


def test_result_status_against_target() -> None:
    assert Result("t", "s", [1.0, 2.0, 3.0], target=2.5).status == "pass"
    assert Result("t", "s", [3.0, 4.0, 5.0], target=2.5).status == "miss"
    assert Result("t", "x", [3.0], target=2.0, better="higher").status == "pass"
    assert Result("t", "x", [1.0], target=2.0, better="higher").status == "miss"
    assert Result("t", "s", [1.0]).status == "info"
    assert Result("t", "s", [], error="boom").status == "error"
    d = Result("t", "s", [1.0, 3.0, 2.0], target=2.5).to_dict({"cpu_model": "x"})
    assert (d["median"], d["min"], d["max"], d["repeats"], d["target_op"]) == (2.0, 1.0, 3.0, 3, "<=")
    assert Result.from_dict(d).samples == [1.0, 3.0, 2.0]


def test_timing_helpers_count_calls() -> None:
    calls: list[str] = []
    times = time_repeats(lambda: calls.append("a"), repeats=3, warmup=2)
    assert len(times) == 3 and len(calls) == 5 and all(t >= 0 for t in times)
    calls.clear()
    out = time_interleaved({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, repeats=2, warmup=1)
    assert calls == ["a", "b"] * 3
    assert {k: len(v) for k, v in out.items()} == {"a": 2, "b": 2}
    assert percentile([1.0, 2.0, 3.0, 4.0, 5.0], 50) == 3.0


def test_table_marks_misses_and_errors() -> None:
    table = format_table(
        [Result("fast", "ms", [10.0], target=100.0), Result("slow", "ms", [200.0], target=100.0),
         Result("broken", "-", [], error="child exited 1")],
        {"cpu_model": "cpu", "usable_cores": 2},
    )
    lines = {line.split()[0]: line for line in table.splitlines() if line and line.split()[0] in {"fast", "slow", "broken"}}
    assert lines["fast"].rstrip().endswith("pass")
    assert lines["slow"].rstrip().endswith("MISS")
    assert lines["broken"].rstrip().endswith("ERROR")
    assert "child exited 1" in table
