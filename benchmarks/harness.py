"""Measurement primitives: results, repeated timing, peak memory, machine description.

The machine these numbers come from is a shared 2-core CPU, so every figure is the median of
several repeats after a warm-up, reported with its min and max; comparisons are ratios of
timings taken in the same process, interleaved, so slow phases hit both sides alike.
"""

from __future__ import annotations

import gc
import math
import os
import platform
import resource
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal

Better = Literal["lower", "higher"]


@dataclass
class Result:
    """One figure of the suite.

    Attributes:
        figure: stable identifier, e.g. ``"data_pipeline_500x2520"``.
        unit: unit of ``samples`` (``"s"``, ``"ms"``, ``"MB"``, ``"samples/s"``, ``"x"``).
        samples: one value per repeat (a throughput figure stores one throughput per repeat).
        target: the target value in ``unit`` or None for an informational figure.
        better: ``"lower"`` (time, memory) or ``"higher"`` (throughput, speed-up ratio).
        benchmark: the suite benchmark that produced it (filled by the runner).
        note: what exactly was measured (sizes, what a sample is, which peer implementation).
        error: set instead of samples when the benchmark failed; the message says why.
    """

    figure: str
    unit: str
    samples: list[float]
    target: float | None = None
    better: Better = "lower"
    benchmark: str = ""
    note: str = ""
    error: str | None = None

    @property
    def median(self) -> float:
        return float(statistics.median(self.samples)) if self.samples else math.nan

    @property
    def status(self) -> str:
        """``pass`` / ``miss`` against the target (on the median), ``info`` without one, ``error``."""
        if self.error is not None or not self.samples:
            return "error"
        if self.target is None:
            return "info"
        ok = self.median <= self.target if self.better == "lower" else self.median >= self.target
        return "pass" if ok else "miss"

    def to_dict(self, machine: dict[str, Any] | None = None) -> dict[str, Any]:
        """JSON record: figure, unit, median, min, max, repeats, target (+ status, note, machine)."""
        finite = bool(self.samples)
        return {
            "figure": self.figure,
            "benchmark": self.benchmark,
            "unit": self.unit,
            "median": self.median if finite else None,
            "min": float(min(self.samples)) if finite else None,
            "max": float(max(self.samples)) if finite else None,
            "repeats": len(self.samples),
            "samples": [float(s) for s in self.samples],
            "target": self.target,
            "target_op": "<=" if self.better == "lower" else ">=",
            "status": self.status,
            "note": self.note,
            "error": self.error,
            "machine": machine or {},
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Result:
        return cls(
            figure=d["figure"],
            unit=d["unit"],
            samples=[float(s) for s in d.get("samples", [])],
            target=d.get("target"),
            better="lower" if d.get("target_op", "<=") == "<=" else "higher",
            benchmark=d.get("benchmark", ""),
            note=d.get("note", ""),
            error=d.get("error"),
        )

    def as_plain(self) -> dict[str, Any]:
        """The dataclass fields only (what a child process sends back to the suite)."""
        return asdict(self)


def time_repeats(fn: Callable[[], Any], repeats: int, warmup: int = 1) -> list[float]:
    """Wall-clock seconds of ``repeats`` calls of ``fn`` after ``warmup`` untimed calls.

    A full garbage collection runs before each timed call (outside the timing) so that a
    collection triggered by the previous call's garbage is not charged to this one.
    """
    for _ in range(warmup):
        fn()
    times: list[float] = []
    for _ in range(repeats):
        gc.collect()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def time_interleaved(
    fns: dict[str, Callable[[], Any]], repeats: int, warmup: int = 1
) -> dict[str, list[float]]:
    """Time several functions alternately (a, b, a, b, ...) so that load from other processes
    on this shared machine falls on all of them alike; returns seconds per call per name."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    out: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            gc.collect()
            t0 = time.perf_counter()
            fn()
            out[name].append(time.perf_counter() - t0)
    return out


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation (numpy's default)."""
    import numpy as np

    return float(np.percentile(np.asarray(values, dtype=float), q))


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB (Linux reports KiB)."""
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib / 1024.0 if sys.platform != "darwin" else kib / (1024.0 * 1024.0)


def current_rss_mb() -> float:
    """Current resident set size in MiB (psutil), the baseline a peak is read against."""
    import psutil

    return psutil.Process().memory_info().rss / (1024.0 * 1024.0)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


@dataclass
class MachineInfo:
    cpu_model: str
    logical_cores: int
    usable_cores: int
    torch_version: str
    torch_threads: int
    device: str
    python: str
    platform: str
    memory_gb: float
    load_avg_1m: float
    omp_wait_policy: str
    allocator: str


def _allocator() -> str:
    """The allocator settings the children run with (they call the same ``tune_allocator``)."""
    from finmt_core.runtime import allocator_state, tune_allocator

    tune_allocator()
    return allocator_state()


def machine_info() -> dict[str, Any]:
    """CPU model, cores, torch version and threads, device, memory and the 1-minute load
    average at the time of measuring (other processes on a shared machine show up there)."""
    import psutil
    import torch

    device = "cpu"
    if torch.cuda.is_available():
        device = f"cuda ({torch.cuda.get_device_name(0)})"
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 1
    info = MachineInfo(
        cpu_model=_cpu_model(),
        logical_cores=os.cpu_count() or 1,
        usable_cores=usable,
        torch_version=torch.__version__,
        torch_threads=torch.get_num_threads(),
        device=device,
        python=platform.python_version(),
        platform=platform.platform(),
        memory_gb=round(psutil.virtual_memory().total / 1024**3, 1),
        load_avg_1m=round(os.getloadavg()[0], 2),
        omp_wait_policy=os.environ.get("OMP_WAIT_POLICY", "(unset)"),
        allocator=_allocator(),
    )
    return asdict(info)
