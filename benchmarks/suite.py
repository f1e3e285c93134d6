"""The benchmark registry and the runner behind ``finmt bench``.

Three profiles: ``full`` (the sizes of the performance targets, < 20 min on the 2-core CPU),
``quick`` (a smoke check in < 2 min: smaller sizes, fewer repeats, no demo start) and
``tiny`` (the harness test: the smallest inputs that still go through every code path).
Each case runs in its own child process (``benchmarks.child``); a case that fails or times
out becomes an ``error`` row with the reason instead of stopping the suite.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.harness import Result, machine_info

PROFILES = ("tiny", "quick", "full")
#: the quick profile's presets: the graph model and a sequence model
QUICK_PRESETS = ("tgcn", "lstm_transformer")
REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Benchmark:
    """A named benchmark: ``module.run(**case, workdir=...)`` once per case of a profile.

    Attributes:
        name: what ``--only`` selects.
        module: module of this package holding ``run``.
        description: one line for ``finmt bench --help`` and the docs.
        cases: profile -> list of parameter dicts (an empty list skips it in that profile).
        timeout_s: profile -> seconds allowed per case (the child is killed after that).
    """

    name: str
    module: str
    description: str
    cases: dict[str, list[dict[str, Any]]]
    timeout_s: dict[str, int] = field(default_factory=lambda: {"tiny": 300, "quick": 300, "full": 900})
    #: long benchmarks run only when named in ``--only`` (never in a plain ``finmt bench``)
    long: bool = False


BENCHMARKS: tuple[Benchmark, ...] = (
    Benchmark(
        "data", "bench_data",
        "data pipeline: load -> all features -> all task labels -> tensors (time, peak memory)",
        {
            "tiny": [{"n_stocks": 12, "n_days": 300, "repeats": 1}],
            "quick": [{"n_stocks": 500, "n_days": 2520, "repeats": 1, "warmup": 0, "stages": False}],
            "full": [{"n_stocks": 500, "n_days": 2520, "repeats": 3},
                     # scaling: the warm-up and stage pass matter little at this size and cost minutes
                     {"n_stocks": 2000, "n_days": 2520, "repeats": 2, "warmup": 0, "stages": False}],
        },
    ),
    Benchmark(
        "features", "bench_features",
        "features vs TA-Lib per ticker (the 27 shared features; all features within 2x of TA-Lib)",
        {
            "tiny": [{"n_stocks": 12, "n_days": 300, "repeats": 1}],
            "quick": [{"n_stocks": 500, "n_days": 2520, "repeats": 2}],
            "full": [{"n_stocks": 500, "n_days": 2520, "repeats": 5}],
        },
    ),
    Benchmark(
        "startup", "bench_startup",
        "start-up CPU of fresh finmt processes (--help, runs, train --help, lightgbm training imports)",
        {
            "tiny": [{"repeats": 1}],
            "quick": [{"repeats": 2}],
            "full": [{"repeats": 5}],
        },
    ),
    Benchmark(
        "train", "bench_train",
        "training throughput per preset (forward + backward + optimizer step), peak memory",
        {
            "tiny": [{"n_stocks": 12, "n_days": 300, "batches": 2, "repeats": 1, "presets": ["tgcn", "lstm_transformer"]}],
            "quick": [{"n_stocks": 100, "n_days": 600, "batches": 3, "repeats": 1, "isolate": False,
                       "presets": list(QUICK_PRESETS)}],
            "full": [{"n_stocks": 200, "n_days": 1260, "batches": 20, "repeats": 3, "presets": None}],
        },
    ),
    Benchmark(
        "train_profile", "profile_epoch",
        "share of a training epoch that is forward + backward + optimizer step, per preset (probed epoch)",
        {
            "tiny": [{"n_stocks": 12, "n_days": 300, "batches": 2, "presets": ["lstm_transformer"]}],
            "quick": [{"n_stocks": 50, "n_days": 500, "batches": 5, "presets": list(QUICK_PRESETS)}],
            "full": [{"n_stocks": 50, "n_days": 1000, "batches": 20, "presets": None}],
        },
    ),
    Benchmark(
        "tgcn_peer", "bench_tgcn_peer",
        "tgcn backbone vs the TGCN cell of PyTorch Geometric Temporal (N=500, T=20, F=30, hidden 16)",
        {
            "tiny": [{"n_nodes": 20, "window": 5, "n_features": 6, "hidden": 8, "repeats": 2, "install": False}],
            "quick": [{"n_nodes": 500, "window": 20, "n_features": 30, "hidden": 16, "repeats": 2, "install": True}],
            "full": [{"n_nodes": 500, "window": 20, "n_features": 30, "hidden": 16, "repeats": 10, "install": True}],
        },
    ),
    Benchmark(
        "inference", "bench_inference",
        "inference throughput: signal-gated tgcn and every other preset (predictions/s)",
        {
            "tiny": [{"n_stocks": 12, "n_days": 300, "n_dates": 20, "repeats": 1, "presets": ["tgcn", "lstm_transformer"]}],
            "quick": [{"n_stocks": 200, "n_days": 600, "n_dates": 60, "repeats": 2, "isolate": False,
                       "presets": list(QUICK_PRESETS)}],
            "full": [{"n_stocks": 500, "n_days": 1260, "n_dates": 60, "repeats": 3, "presets": None}],
        },
    ),
    Benchmark(
        "whatif", "bench_whatif",
        "what-if latency: one stock's inputs shocked, features and every head recomputed (p50, p95)",
        {
            "tiny": [{"n_stocks": 8, "n_days": 300, "rounds": 2, "calls": 3, "presets": ["tgcn"]}],
            "quick": [{"n_stocks": 50, "n_days": 600, "rounds": 2, "calls": 20, "presets": ["tgcn"]}],
            "full": [{"n_stocks": 100, "n_days": 1260, "rounds": 5, "calls": 40, "presets": ["tgcn", "lstm_transformer"]},
                     {"n_stocks": 500, "n_days": 1260, "rounds": 3, "calls": 40, "presets": ["tgcn"]}],
        },
    ),
    Benchmark(
        "serve", "bench_serve",
        "prediction service: POST /predict for one ticker through finmt serve's HTTP stack (p50, p95)",
        {
            "tiny": [{"n_stocks": 8, "n_days": 300, "rounds": 1, "calls": 4, "presets": ["tgcn"]}],
            "quick": [{"n_stocks": 50, "n_days": 600, "rounds": 2, "calls": 40, "presets": ["tgcn"]}],
            "full": [{"n_stocks": 100, "n_days": 1260, "rounds": 5, "calls": 60, "presets": ["tgcn", "lstm_transformer"]},
                     {"n_stocks": 500, "n_days": 1260, "rounds": 3, "calls": 60, "presets": ["tgcn"]}],
        },
    ),
    Benchmark(
        "backtest", "bench_backtest",
        "backtest 500 x 2,520 with costs and sizing",
        {
            "tiny": [{"n_stocks": 20, "n_days": 300, "repeats": 2}],
            "quick": [{"n_stocks": 500, "n_days": 2520, "repeats": 5}],
            "full": [{"n_stocks": 500, "n_days": 2520, "repeats": 15}],
        },
    ),
    Benchmark(
        "dashboard", "bench_dashboard",
        "dashboard page render time (AppTest, finished run) and a what-if slider interaction",
        {
            "tiny": [{"n_stocks": 8, "n_days": 300, "repeats": 1, "pages": ["home"]}],
            "quick": [{"n_stocks": 50, "n_days": 600, "repeats": 1, "pages": ["home", "signals", "whatif"]}],
            "full": [{"n_stocks": 100, "n_days": 1260, "repeats": 3, "pages": None}],
        },
    ),
    Benchmark(
        "omp", "bench_omp",
        "environment: OpenMP's default wait policy vs PASSIVE on one torch workload (why finmt leaves the default)",
        {
            "tiny": [{"rounds": 1, "calls": 1}],
            "quick": [],
            "full": [{"rounds": 3, "calls": 5}],
        },
    ),
    Benchmark(
        "demo", "bench_demo",
        "demo start: empty runs directory -> every demo run finished",
        {"tiny": [], "quick": [], "full": [{}]},
        timeout_s={"tiny": 300, "quick": 300, "full": 600},
    ),
    Benchmark(
        "scale", "bench_scale",
        "long, opt-in: 250 -> 5,000 stocks x 2,520 days, load + prepare + one tgcn / lstm_transformer epoch "
        "(time, peak memory; data.storage auto), and 5,000 stocks with data.storage_dtype float16",
        {
            "tiny": [{"n_stocks": [12], "n_days": 300, "presets": None, "batches": {"tgcn": 1}}],
            "quick": [{"n_stocks": [250], "n_days": 2520, "presets": None, "batches": {"tgcn": 2}}],
            "full": [{"n_stocks": [250, 1000, 2500, 5000], "n_days": 2520, "presets": None, "batches": {"tgcn": 4}},
                     # data.storage_dtype float16: half the X (figures suffixed _f16)
                     {"n_stocks": [5000], "n_days": 2520, "presets": None, "batches": {"tgcn": 4},
                      "storage_dtype": "float16"}],
        },
        timeout_s={"tiny": 300, "quick": 900, "full": 3600},
        long=True,
    ),
)


def benchmark_names() -> list[str]:
    return [b.name for b in BENCHMARKS]


def select(only: list[str] | None) -> list[Benchmark]:
    """The benchmarks named in ``only`` (comma-separated values allowed), all when empty."""
    if not only:
        return [b for b in BENCHMARKS if not b.long]
    wanted = [w.strip() for item in only for w in item.split(",") if w.strip()]
    unknown = sorted(set(wanted) - set(benchmark_names()))
    if unknown:
        raise ValueError(f"unknown benchmark(s) {unknown}; choose from {', '.join(benchmark_names())}")
    return [b for b in BENCHMARKS if b.name in wanted]


def run_case(bench: Benchmark, params: dict[str, Any], timeout_s: int, tmp: Path) -> list[Result]:
    """Run one case in a fresh ``python -m benchmarks.child``; failures become an error Result."""
    out = tmp / f"{bench.name}-{time.monotonic_ns()}.json"
    cmd = [sys.executable, "-m", "benchmarks.child", bench.module, json.dumps(params), str(out)]
    try:
        proc = subprocess.run(cmd, cwd=str(REPO_ROOT), capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return [Result(f"{bench.name}", "-", [], benchmark=bench.name, error=f"timed out after {timeout_s} s")]
    if proc.returncode != 0 or not out.is_file():
        tail = (proc.stderr or proc.stdout or "").strip().splitlines()[-6:]
        msg = f"child exited {proc.returncode}: " + " | ".join(tail)
        return [Result(f"{bench.name}", "-", [], benchmark=bench.name, error=msg[-900:])]
    results = [Result(**d) for d in json.loads(out.read_text(encoding="utf-8"))]
    for r in results:
        r.benchmark = bench.name
    return results


def expanded(bench: Benchmark, cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Cases after the module's optional ``expand(case) -> list[case]`` (e.g. one case, and so one
    child process and one peak-memory figure, per preset)."""
    module = importlib.import_module(f"benchmarks.{bench.module}")
    expand = getattr(module, "expand", None)
    if expand is None:
        return cases
    return [c for case in cases for c in expand(case)]


def derived(bench: Benchmark, results: list[Result]) -> list[Result]:
    """Figures computed from several cases of one benchmark (the module's optional ``derive``),
    e.g. a scaling ratio between two sizes measured in this same suite run."""
    module = importlib.import_module(f"benchmarks.{bench.module}")
    derive = getattr(module, "derive", None)
    if derive is None:
        return []
    out = list(derive(results))
    for r in out:
        r.benchmark = bench.name
    return out


def run_suite(
    profile: str,
    only: list[str] | None = None,
    echo: Callable[[str], None] = lambda _s: None,
) -> tuple[list[Result], dict[str, Any], float]:
    """Run the selected benchmarks at ``profile`` sizes; returns (results, machine, wall seconds).

    A scratch directory (synthetic panels, finished runs shared by later cases) is created
    for the suite and removed at the end.
    """
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose one of {PROFILES}")
    selected = select(only)
    machine = machine_info()
    t0 = time.perf_counter()
    results: list[Result] = []
    tmp = Path(tempfile.mkdtemp(prefix="finmt-bench-"))
    try:
        for bench in selected:
            cases = bench.cases.get(profile, [])
            if not cases:
                echo(f"[{bench.name}] skipped in the {profile} profile")
                continue
            got_all: list[Result] = []
            for case in expanded(bench, cases):
                params = dict(case, workdir=str(tmp))
                t_case = time.perf_counter()
                got = run_case(bench, params, bench.timeout_s[profile], tmp)
                got_all.extend(got)
                status = ", ".join(f"{r.figure}={r.status}" for r in got)
                echo(f"[{bench.name}] {time.perf_counter() - t_case:.1f} s: {status}")
            results.extend(got_all)
            results.extend(derived(bench, got_all))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    # other processes' load changes the figures: record it at the end as well as at the start
    machine["load_avg_1m_end"] = round(os.getloadavg()[0], 2)
    return results, machine, time.perf_counter() - t0
