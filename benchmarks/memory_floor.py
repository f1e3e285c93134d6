"""The data pipeline's memory-traffic floor: the bytes it must touch over this machine's bandwidth.

``prepare`` cannot be faster than reading its input once and writing each array it returns
once. :func:`touched_bytes` counts those bytes (the loaded panel read; the dense grid, raw
features, mask, scaled ``X``, targets and the tensor store's targets written), and
:func:`floor_seconds` divides them by bandwidths measured here and now (in the same process,
right after the pipeline's timings, so under the same load):

- read: a warm ``float64`` sum over a 256 MiB array (``np.add.reduce`` streams it once);
- write: first touch of fresh memory (``np.empty`` + ``fill`` of 256 MiB, then freed): the
  arrays the pipeline returns are new, so their pages are faulted in once at least.

The ratio pipeline time / floor says how far the pipeline is from doing nothing but moving
its data; the feature kernels' arithmetic (51 features, several passes each) is above it.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import numpy as np

_PROBE_BYTES = 256 << 20


def _nbytes(obj: Any) -> int:
    if isinstance(obj, np.ndarray):
        return int(obj.nbytes)
    if isinstance(obj, dict):
        return sum(_nbytes(v) for v in obj.values())
    return 0


def touched_bytes(panel: Any, prepared: Any) -> dict[str, int]:
    """``{"read": bytes, "written": bytes}`` of one ``prepare`` (+ tensor store) over ``panel``.

    Args:
        panel: the loaded Panel (a DataFrame).
        prepared: the PreparedData made from it (its tensor store built).
    """
    read = int(panel.memory_usage(index=True, deep=False).sum())
    written = (_nbytes(prepared.dense.columns) + _nbytes(prepared.frame.values) + _nbytes(prepared.frame.mask)
               + _nbytes(prepared.X) + _nbytes(prepared.targets.values) + _nbytes(prepared.targets.valid)
               + _nbytes(prepared.targets.train_values))
    store = prepared._cache.get("tensor_store")
    if store is not None:
        written += int(store.targets.numel() * store.targets.element_size() + store.valid.numel())
    return {"read": read, "written": written}


def bandwidths(repeats: int = 5) -> dict[str, float]:
    """``{"read": bytes/s, "write_fresh": bytes/s}``, medians of ``repeats`` probes of 256 MiB."""
    warm = np.ones(_PROBE_BYTES // 8, dtype=np.float64)
    reads, writes = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        np.add.reduce(warm)
        reads.append(_PROBE_BYTES / (time.perf_counter() - t0))
        t0 = time.perf_counter()
        fresh = np.empty(_PROBE_BYTES, dtype=np.uint8)
        fresh.fill(1)
        writes.append(_PROBE_BYTES / (time.perf_counter() - t0))
        del fresh
    return {"read": statistics.median(reads), "write_fresh": statistics.median(writes)}


def floor_seconds(touched: dict[str, int], bw: dict[str, float]) -> float:
    """Seconds to read the input once and write every output once at the measured bandwidths."""
    return touched["read"] / bw["read"] + touched["written"] / bw["write_fresh"]
