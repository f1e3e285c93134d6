"""Where ``prepare`` keeps the ``[D, N, F]`` feature arrays: in memory or on disk (``data.storage``).

A 5,000-stock x 2,520-day panel with ~50 features makes two float32 ``[D, N, F]`` arrays of
2.6 GB each (the raw features and the scaled ``X``); with the panel, its dense grid and the
targets that does not fit a small machine. With ``storage="disk"`` both arrays are scratch
files mapped into memory (:mod:`finmt_core.data.disk_arrays`), written a block at a time:

- features: a block of tickers at a time (``compute_features(allocate=..., release=...)``),
  the block's pages dropped from the process after it is written;
- scaler fit: the sampled train rows are gathered, then the pages dropped;
- ``X``: the scaler's transform a block of :data:`SCALE_BLOCK_DATES` dates at a time, the
  block's raw and scaled pages dropped after each.

Training then reads ``X`` through the mapping (``torch.from_numpy`` shares it, a batch is one
``index_select``): only the pages a batch touches are read in. The values are the same as in
memory, bit for bit (the transform is element-wise; a test checks both paths on one panel).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from finmt_core.data import disk_arrays
from finmt_core.data.features import FeatureScaler

log = logging.getLogger(__name__)

#: Dates per block of the on-disk transform (~66 MB of float32 at 5,000 stocks x 52 features).
SCALE_BLOCK_DATES = 64


@dataclass
class FeatureStorage:
    """``kind`` ``"memory"`` or ``"disk"``; ``folder`` holds the scratch files of ``"disk"``."""

    kind: str
    folder: Path | None = None

    @classmethod
    def choose(cls, choice: str, storage_dir: str | None, shape: tuple[int, int, int]) -> FeatureStorage:
        """The storage for ``data.storage`` = ``choice`` and a ``[D, N, F]`` float32 features array."""
        d, n, f = shape
        kind = disk_arrays.storage_for(choice, d * n * f * 4)
        folder = disk_arrays.resolve_dir(storage_dir) if kind == "disk" else None
        if kind == "disk":
            log.info("features on disk (data.storage=%s): 2 x %.2f GiB memory-mapped under %s",
                     choice, d * n * f * 4 / 2**30, folder)
        return cls(kind, folder)

    @property
    def on_disk(self) -> bool:
        return self.kind == "disk"

    def allocate(self, shape: tuple[int, ...], dtype: np.dtype, name: str = "features") -> np.ndarray:
        """An uninitialised (memory) or zero-filled (disk) C-contiguous array."""
        if not self.on_disk:
            return np.empty(shape, dtype=dtype)
        assert self.folder is not None
        return disk_arrays.disk_array(self.folder, name, shape, dtype)

    def release(self, arr: np.ndarray, *_block: int) -> None:
        """Drop a disk array's pages from this process (its data stays in the file)."""
        if self.on_disk:
            disk_arrays.release(arr)

    def fit_scaler(self, values: np.ndarray, mask: np.ndarray, train: np.ndarray) -> FeatureScaler:
        """A :class:`FeatureScaler` fitted on the train rows of ``values`` (pages released after)."""
        scaler = FeatureScaler().fit(values, mask, train)
        self.release(values)
        return scaler

    def scale(self, scaler: FeatureScaler, values: np.ndarray, dtype: str = "float32") -> np.ndarray:
        """``X`` = ``scaler.transform(values)``, C-contiguous ``[D, N, F]`` of ``dtype``.

        ``dtype`` (``data.storage_dtype``): ``"float32"`` or ``"float16"`` (the scaled values lie
        in ±clip, so float16 rounds each to within 2**-11 of its size and never overflows).
        In memory: the transform a block of dates at a time when ``dtype`` is float16 (no
        float32 copy of the whole array), else one call. On disk: blocks of
        :data:`SCALE_BLOCK_DATES` dates written into a new on-disk array, each block's pages of
        both arrays released after it is written.
        """
        out_dtype = np.dtype(dtype)
        if out_dtype not in (np.dtype(np.float32), np.dtype(np.float16)):
            raise ValueError(f"data.storage_dtype must be float32 or float16, got {dtype!r}")
        if not self.on_disk and out_dtype == np.float32:
            return np.ascontiguousarray(scaler.transform(values), dtype=np.float32)
        x = self.allocate(values.shape, out_dtype, name="X")
        for d0 in range(0, values.shape[0], SCALE_BLOCK_DATES):
            d1 = min(d0 + SCALE_BLOCK_DATES, values.shape[0])
            x[d0:d1] = scaler.transform(values[d0:d1])
            disk_arrays.release(values, d0, d1)
            disk_arrays.release(x, d0, d1)
        return x
