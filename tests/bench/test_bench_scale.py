"""The long scale benchmark: opt-in only, tgcn batches bounded in nodes, growth figures."""

from __future__ import annotations

from benchmarks import bench_scale
from benchmarks.harness import Result
from benchmarks.suite import BENCHMARKS, select


def test_scale_is_long_and_runs_only_when_named() -> None:
    scale = next(b for b in BENCHMARKS if b.name == "scale")
    assert scale.long
    assert "scale" not in [b.name for b in select(None)]
    assert [b.name for b in select(["scale"])] == ["scale"]
    full = scale.cases["full"][0]
    assert full["n_stocks"] == [250, 1000, 2500, 5000] and full["n_days"] == 2520


def test_one_case_per_size_and_preset() -> None:
    cases = bench_scale.expand({"n_stocks": [250, 5000], "n_days": 2520, "presets": None})
    assert [(c["n_stocks"], c["presets"]) for c in cases] == [
        ([250], ["tgcn"]), ([250], ["lstm_transformer"]), ([5000], ["tgcn"]), ([5000], ["lstm_transformer"])]


def test_graph_batches_bounded_in_nodes() -> None:
    assert bench_scale.graph_batch_size(32, 250, 16_000) == 32  # the preset's own below 500 stocks
    assert bench_scale.graph_batch_size(32, 500, 16_000) == 32
    assert bench_scale.graph_batch_size(32, 1000, 16_000) == 16
    assert bench_scale.graph_batch_size(32, 5000, 16_000) == 3
    assert bench_scale.graph_batch_size(32, 50_000, 16_000) == 1


def test_growth_is_relative_to_linear() -> None:
    rs = [Result("scale_prepare_tgcn_250x2520", "s", [2.0]), Result("scale_prepare_tgcn_5000x2520", "s", [40.0]),
          Result("scale_peak_mem_tgcn_250x2520", "MB", [500.0]), Result("scale_peak_mem_tgcn_5000x2520", "MB", [5000.0])]
    got = {r.figure: r.median for r in bench_scale.derive(rs)}
    assert got == {"scale_prepare_growth_tgcn_5000_vs_250": 1.0, "scale_peak_mem_growth_tgcn_5000_vs_250": 0.5}


def test_float16_figures_are_their_own_series() -> None:
    scale = next(b for b in BENCHMARKS if b.name == "scale")
    assert any(c.get("storage_dtype") == "float16" and c["n_stocks"] == [5000] for c in scale.cases["full"])
    rs = [Result("scale_peak_mem_tgcn_250x2520", "MB", [500.0]), Result("scale_peak_mem_tgcn_5000x2520", "MB", [5000.0]),
          Result("scale_peak_mem_tgcn_5000x2520_f16", "MB", [3000.0])]
    got = {r.figure: r.median for r in bench_scale.derive(rs)}
    assert got == {"scale_peak_mem_growth_tgcn_5000_vs_250": 0.5}  # the float32 curve, not the f16 point
