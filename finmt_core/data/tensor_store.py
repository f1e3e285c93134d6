"""Torch views of a PreparedData shared by every dataset over it (see :mod:`finmt_core.data.tensors`).

Everything is gathered with ``index_select`` on row-major ``[D*N, ...]`` views (row
``d * N + n``): on CPU that is several times faster than 2-D fancy indexing of ``[D, N, ...]``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch

from finmt_core.data.disk_arrays import release
from finmt_core.data.prepare import PreparedData
from finmt_core.errors import ConfigError, DataError

#: Days averaged into the dual-tower context's "recent" half.
CONTEXT_MEAN_DAYS = 5
#: Dates per block when the context table is built (~10 MB of X at 5,000 stocks x 52 features).
CONTEXT_BLOCK_DATES = 64

Batch = dict[str, Any]


class TensorStore:
    """Torch views of a :class:`PreparedData`, built once and shared by every dataset over it.

    Attributes:
        X: ``[D, N, F]`` float32 or float16 (shares memory with ``prepared.X``; every batch
            gathered from it is float32, see :meth:`model_input`).
        X_rows: ``[D*N, F]`` view of X (row ``d * N + n``).
        targets: ``[D*N, K]`` float32 training targets (normalised where the task says so), NaN -> 0;
            K = tasks in head order.
        valid: ``[D*N, K]`` bool: target valid and the row has features + a full window.
        has_window: ``[D, N]`` bool.
        task_names: the K task names.
    """

    def __init__(self, prepared: PreparedData) -> None:
        x = prepared.X
        if x.dtype not in (np.float32, np.float16) or not x.flags.c_contiguous:
            raise DataError("PreparedData.X must be a C-contiguous float32 or float16 array (use prepare())")
        self.X = torch.from_numpy(x)
        self._x_np = x  # the array itself (a memory-mapped file with data.storage disk)
        d_count, self.n_tickers, n_feat = x.shape
        # Row-major [D*N, F] view: index_select on it is far faster on CPU than 2-D fancy indexing.
        self.X_rows = self.X.view(d_count * self.n_tickers, n_feat)
        names = [t.name for t in prepared.targets.tasks]
        has_window = prepared.has_window()
        k = len(names)
        # built in place in one [D, N, K] array: the expression form made three more of them
        tv = np.empty((*has_window.shape, k), dtype=np.float32)
        ok = np.empty((*has_window.shape, k), dtype=bool)
        for j, name in enumerate(names):  # loop over the K tasks, not rows
            tv[..., j] = prepared.targets.training(name)
            np.logical_and(prepared.targets.valid[name], has_window, out=ok[..., j])
        np.nan_to_num(tv, copy=False, nan=0.0)
        tv[~ok] = 0.0
        self.targets = torch.from_numpy(tv).view(-1, k)
        self.valid = torch.from_numpy(np.ascontiguousarray(ok)).view(-1, k)  # [D*N, K]
        self.has_window = torch.from_numpy(np.ascontiguousarray(has_window))
        self.task_names = names
        self.window = prepared.info.window
        self.offsets = torch.arange(-self.window + 1, 1, dtype=torch.long)  # [T]: t-T+1 .. t
        self._context: torch.Tensor | None = None
        self._prepared_info = prepared.info
        self._mask = prepared.frame.mask

    @classmethod
    def of(cls, prepared: PreparedData) -> TensorStore:
        """The store cached on ``prepared`` (created on first use)."""
        store = prepared._cache.get("tensor_store")
        if store is None:
            store = cls(prepared)
            prepared._cache["tensor_store"] = store
        return store

    def flat(self, d: torch.Tensor, n: torch.Tensor) -> torch.Tensor:
        """Row numbers ``d * N + n`` into the ``[D*N, ...]`` views."""
        return d * self.n_tickers + n

    @staticmethod
    def model_input(x: torch.Tensor) -> torch.Tensor:
        """``x`` as float32: a batch gathered from a float16 ``X`` (``data.storage_dtype``) is
        cast after the gather, so only the batch, never the whole array, is widened."""
        return x if x.dtype == torch.float32 else x.float()

    def windows(self, d: torch.Tensor, n: torch.Tensor) -> torch.Tensor:
        """``[B, T, F]`` float32: rows ``X[d - T + 1 .. d, n]`` for each (d, n)."""
        rows = self.flat(d[:, None] + self.offsets, n[:, None]).reshape(-1)  # [B*T]
        return self.model_input(self.X_rows.index_select(0, rows).view(d.shape[0], self.window, -1))

    def window_view(self) -> torch.Tensor:
        """``[D - T + 1, N, T, F]`` strided view of X (no copy): entry ``[s, n, t]`` is
        ``X[s + t, n]``, so row ``d - T + 1`` holds every ticker's window ending at ``d``."""
        d_count, n_tk, n_feat = self.X.shape
        t = self.window
        return self.X.as_strided((max(d_count - t + 1, 0), n_tk, t, n_feat), (n_tk * n_feat, n_feat, n_tk * n_feat, 1))

    def at(self, d: torch.Tensor, n: torch.Tensor) -> torch.Tensor:
        """``[B, F]`` float32: features at the row date."""
        return self.model_input(self.X_rows.index_select(0, self.flat(d, n)))

    def context_table(self) -> torch.Tensor:
        """``[D, 2 * Fc]``: market features at each date and their mean over the last 5 dates.

        Market features are equal across tickers, so each date's value is the mean over the
        tickers that have features that day (robust to any one ticker missing).
        """
        if self._context is None:
            cidx = self._prepared_info.context_idx
            if not cidx:
                raise ConfigError(
                    "the dual-tower input needs market-wide (context) features, but data.features "
                    "selects none. Add market features (e.g. market return / volatility) or use all features."
                )
            x = self._x_np
            now = np.empty((x.shape[0], len(cidx)), dtype=np.float32)
            # a block of dates at a time: X may be a memory-mapped file larger than memory, and the
            # whole-array expression made three [D, N, Fc] temporaries
            for d0 in range(0, x.shape[0], CONTEXT_BLOCK_DATES):
                d1 = min(d0 + CONTEXT_BLOCK_DATES, x.shape[0])
                vals = x[d0:d1][:, :, cidx].astype(np.float32, copy=False)  # [b, N, Fc]
                w = self._mask[d0:d1].astype(np.float32)[..., None]
                count = w.sum(axis=1)
                with np.errstate(invalid="ignore", divide="ignore"):
                    now[d0:d1] = (vals * w).sum(axis=1) / count  # NaN on dates without any ticker
                release(x, d0, d1)
            recent = pd.DataFrame(now).rolling(CONTEXT_MEAN_DAYS, min_periods=1).mean().to_numpy()
            table = np.nan_to_num(np.concatenate([now, recent], axis=1), nan=0.0).astype(np.float32)
            self._context = torch.from_numpy(table)
        return self._context

    def common(self, d: torch.Tensor, n: torch.Tensor) -> Batch:
        """Common keys: ``targets`` / ``valid`` {task: [B]}, ``date_idx``, ``ticker_idx`` [B] int64."""
        rows = self.flat(d, n)
        tv = self.targets.index_select(0, rows).T.contiguous()  # [K, B]
        ok = self.valid.index_select(0, rows).T.contiguous()
        return {
            "targets": {name: tv[k] for k, name in enumerate(self.task_names)},
            "valid": {name: ok[k] for k, name in enumerate(self.task_names)},
            "date_idx": d,
            "ticker_idx": n,
        }
