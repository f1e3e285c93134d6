"""Process-level settings that make finmt's CPU work faster: glibc's ``malloc`` thresholds.

Why: a batched forward pass allocates tensors of 5-15 MB (e.g. a tgcn batch of 8 dates x 500
stocks x 20 days x 48 features). glibc serves blocks that large with ``mmap`` and hands them
back to the kernel on ``free``, and it trims the top of its heap once more than ~2x that
threshold is free. So every batch maps fresh pages and pays a page fault per 4 KiB on first
touch: on the 2-core benchmark machine a plain float add over a ``[4000, 20, 48]`` tensor took
18 ms, most of it faults, and the signal-gated tgcn inference ran ~35 % slower than with the
freed memory kept (measured with ``benchmarks/bench_inference.py``; see docs/PERFORMANCE.md).

:func:`tune_allocator` raises the ``mmap`` threshold to :data:`MMAP_THRESHOLD` and the trim
threshold to :data:`TRIM_THRESHOLD`, the remedy PyTorch's CPU tuning guide reaches with
jemalloc/tcmalloc, without a preload. The cost: up to :data:`TRIM_THRESHOLD` of freed heap
stays mapped to the process (peak memory is unchanged). finmt's entry points (``finmt``
commands, the dashboard, the benchmark children) call it; a notebook can too. Set
``FINMT_MALLOC_TUNING=0`` to leave the allocator alone. Not glibc (macOS, musl): a no-op.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import sys

logger = logging.getLogger(__name__)

#: glibc ``mallopt`` parameter numbers (malloc.h).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
#: Blocks up to this size come from the heap (reused) instead of fresh ``mmap`` pages.
MMAP_THRESHOLD = 64 * 1024 * 1024
#: Free memory at the heap's top kept before it is returned to the kernel.
TRIM_THRESHOLD = 512 * 1024 * 1024

_state: dict[str, bool] = {}


def tune_allocator() -> bool:
    """Apply the malloc thresholds once per process; True when they are in effect.

    Idempotent and safe anywhere: returns False (changing nothing) off Linux/glibc, when
    ``FINMT_MALLOC_TUNING=0``, or when glibc refuses a value.
    """
    if "tuned" in _state:
        return _state["tuned"]
    _state["tuned"] = _apply()
    return _state["tuned"]


def _apply() -> bool:
    if os.environ.get("FINMT_MALLOC_TUNING", "1").strip() == "0":
        logger.debug("malloc tuning off (FINMT_MALLOC_TUNING=0)")
        return False
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    # older glibc caps the mmap threshold at 32 MiB on 64-bit: try ours, then the cap
    if mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) != 1 and mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024) != 1:
        return False
    ok = mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
    logger.debug("malloc tuning: mmap threshold raised, trim threshold %s", "raised" if ok else "unchanged")
    return ok


def allocator_state() -> str:
    """One line for benchmark records: whether the thresholds are tuned in this process."""
    if _state.get("tuned"):
        return f"glibc malloc tuned (mmap threshold {MMAP_THRESHOLD >> 20} MiB, trim {TRIM_THRESHOLD >> 20} MiB)"
    return "default allocator settings"
