"""Figure 1 — the data pipeline: load -> all features -> all task labels -> tensors.

One timed call is ``load_panel(parquet)`` -> ``prepare(panel, config with every task family)``
(dense grid, all features, all labels, split, train-only graph and scaler) -> the tensor store
and a ``window`` and a ``graph`` dataset with one batch gathered from each. Targets at 500
stocks x 2,520 days: <= 5 s and <= 2 GB peak memory (the child process's peak RSS, imports
included), and <= 10x its memory-traffic floor (:mod:`benchmarks.memory_floor`). Stage times
(load, features, labels, tensors) are reported alongside, and :func:`derive` turns the 2,000-stock case into a scaling ratio (4.0 = linear).
"""

from __future__ import annotations

import time
from typing import Any

from benchmarks.fixtures import all_tasks_config, synthetic_parquet
from benchmarks.harness import Result, current_rss_mb, peak_rss_mb, time_repeats
from benchmarks.memory_floor import bandwidths, floor_seconds, touched_bytes

TARGET_S = 5.0
TARGET_MB = 2048.0
#: the pipeline within this many times its memory-traffic floor (issue 17)
TARGET_FLOOR_X = 10.0
TARGET_SIZE = (500, 2520)
BATCH_ROWS = 256


def run(workdir: str, n_stocks: int, n_days: int, repeats: int, warmup: int = 1, stages: bool = True) -> list[Result]:
    import torch  # noqa: F401  (imported before the baseline so the peak is read against it)

    from finmt_core.data.dense import to_dense
    from finmt_core.data.features import compute_features
    from finmt_core.data.labels import build_targets
    from finmt_core.data.panel import load_panel
    from finmt_core.data.prepare import prepare
    from finmt_core.data.tensors import TensorStore, make_dataset

    path = synthetic_parquet(workdir, n_stocks, n_days)
    config = all_tasks_config()
    baseline_mb = current_rss_mb()
    shape: dict[str, Any] = {}

    def tensors(prepared: Any) -> None:
        TensorStore.of(prepared)
        rows = make_dataset("window", prepared, "train")
        rows.__getitems__(list(range(min(BATCH_ROWS, len(rows)))))
        graph = make_dataset("graph", prepared, "train")
        graph.__getitems__([0])

    def pipeline() -> None:
        panel = load_panel(path)
        prepared = prepare(panel, config)
        tensors(prepared)
        shape["X"] = prepared.X.shape
        shape["touched"] = touched_bytes(panel, prepared)

    times = time_repeats(pipeline, repeats=repeats, warmup=warmup)
    peak_mb = peak_rss_mb()
    bw = bandwidths()
    floor_s = floor_seconds(shape["touched"], bw)

    # stage breakdown: one pass through the stages prepare() chains, each timed on its own
    took: dict[str, float] = {}
    if stages:
        t0 = time.perf_counter()
        panel = load_panel(path)
        took["load"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        dense = to_dense(panel)
        compute_features(dense)
        took["features"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        build_targets(dense, config.tasks)
        took["labels"] = time.perf_counter() - t0
        prepared = prepare(panel, config)
        t0 = time.perf_counter()
        tensors(prepared)
        took["tensors"] = time.perf_counter() - t0

    size = f"{n_stocks}x{n_days}"
    is_target_size = (n_stocks, n_days) == TARGET_SIZE
    d, n, f = shape["X"]
    note = (f"{n} stocks x {d} days, {f} features, {len(config.tasks)} tasks (every family); "
            "load_panel(parquet) + prepare (features, labels, split, graph, scaler) + tensors"
            + ("" if warmup else "; no warm-up call (quick profile)"))
    out = [
        Result(f"data_pipeline_{size}", "s", times, TARGET_S if is_target_size else None, "lower", note=note),
        Result(f"data_pipeline_{size}_peak_mem", "MB", [peak_mb], TARGET_MB if is_target_size else None, "lower",
               note=f"peak RSS of the benchmark process (baseline after imports {baseline_mb:.0f} MB)"),
    ]
    touched = shape["touched"]
    out.append(Result(
        f"data_pipeline_{size}_vs_floor", "x", [t / floor_s for t in times], TARGET_FLOOR_X if is_target_size else None,
        "lower", note=(f"pipeline time / memory-traffic floor {floor_s * 1e3:.0f} ms (read {touched['read'] / 2**20:.0f} MiB "
                       f"at {bw['read'] / 2**30:.1f} GiB/s, write {touched['written'] / 2**20:.0f} MiB of fresh memory "
                       f"at {bw['write_fresh'] / 2**30:.1f} GiB/s; benchmarks/memory_floor.py)")))
    out += [Result(f"data_{stage}_{size}", "s", [sec], None, "lower", note="stage, one pass")
            for stage, sec in took.items()]
    return out


def derive(results: list[Result]) -> list[Result]:
    """Scaling: median time at 2,000 stocks / median at 500 (same days); ~4.0 means linear."""
    by_fig = {r.figure: r for r in results if r.samples}
    small, big = by_fig.get("data_pipeline_500x2520"), by_fig.get("data_pipeline_2000x2520")
    if small is None or big is None:
        return []
    ratio = big.median / small.median
    return [Result("data_pipeline_scaling_2000_vs_500", "x", [ratio], None, "lower",
                   note="time(2000 stocks) / time(500 stocks); 4.0 = linear in stocks")]
