"""Torch datasets over :class:`PreparedData`: one vectorised gather per batch, no copies per sample.

``X`` ``[D, N, F]`` is held once as a torch tensor (``torch.from_numpy``: shares memory with
the numpy array). A dataset is a list of rows ``(date_idx, ticker_idx)`` (or of dates for
``graph``); ``__getitems__(indices)`` — which ``DataLoader`` calls with a whole batch of
indices when a dataset defines it — gathers the batch at once:

- windows: ``X[date_idx[:, None] + arange(-T + 1, 1), ticker_idx[:, None]]`` -> ``[B, T, F]``
  (done as one ``index_select`` on the ``[D*N, F]`` view; the window ends at the row's date:
  no day after it is ever read);
- ``image``: :class:`~finmt_core.data.images.ImageBuilder` on the windows;
- ``tower``: a per-date market-context table gathered by date, stock features at t;
- ``graph``: one sample per date, G dates batched as one disjoint graph of G*N nodes.

Batch keys are those of ARCHITECTURE.md. Targets are float32 (class index as float, 0 where
``valid`` is False so losses never see NaN); ``valid`` is bool and False for rows without
features or a full window. ``make_loader`` wraps a dataset in a ``DataLoader`` whose
``collate_fn`` passes the batch dict through unchanged. The torch views (and the stacked
targets) are built once per PreparedData and cached on it (``TensorStore.of``); X is
shared, so editing ``prepared.X`` in place is seen by every dataset.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from finmt_core.data.images import ImageBuilder
from finmt_core.data.prepare import PreparedData
from finmt_core.data.tensor_store import Batch, TensorStore
from finmt_core.errors import ConfigError, DataError

#: Input kinds (``Model.input_kind``) and the dataset class serving each.
KINDS: tuple[str, ...] = ("window", "image", "graph", "tower", "flat")


def _as_index(indices: Sequence[int] | torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(indices, dtype=torch.long)


def _check_rows(date_idx: np.ndarray, ticker_idx: np.ndarray, prepared: PreparedData) -> None:
    d_max, n_max = prepared.X.shape[:2]
    w = prepared.info.window
    if date_idx.shape != ticker_idx.shape or date_idx.ndim != 1:
        raise DataError("date_idx and ticker_idx must be 1-D arrays of the same length")
    if date_idx.size and (date_idx.min() < w - 1 or date_idx.max() >= d_max):
        raise DataError(
            f"rows must have a full {w}-day window: date indices must lie in {w - 1}..{d_max - 1}, "
            f"got {int(date_idx.min())}..{int(date_idx.max())}"
        )
    if ticker_idx.size and (ticker_idx.min() < 0 or ticker_idx.max() >= n_max):
        raise DataError(f"ticker indices must lie in 0..{n_max - 1}")


class RowDataset(Dataset):
    """Per-(date, ticker) samples; kinds ``window`` and ``flat``: ``x`` [B, T, F].

    ``dataset[i]`` is a batch of one (same keys, leading dimension 1).
    """

    kind = "window"
    #: rows (date, ticker) per sample: the trainer counts throughput in rows
    rows_per_sample = 1

    def __init__(self, prepared: PreparedData, date_idx: np.ndarray, ticker_idx: np.ndarray) -> None:
        date_idx = np.asarray(date_idx, dtype=np.int64)
        ticker_idx = np.asarray(ticker_idx, dtype=np.int64)
        _check_rows(date_idx, ticker_idx, prepared)
        self.store = TensorStore.of(prepared)
        self.info = prepared.info
        self.date_idx = torch.from_numpy(date_idx)
        self.ticker_idx = torch.from_numpy(ticker_idx)

    def __len__(self) -> int:
        return int(self.date_idx.shape[0])

    def __getitem__(self, i: int) -> Batch:
        return self.__getitems__([i])

    def __getitems__(self, indices: Sequence[int]) -> Batch:
        idx = _as_index(indices)
        d, n = self.date_idx[idx], self.ticker_idx[idx]
        batch = self.store.common(d, n)
        self._add_inputs(batch, d, n)
        return batch

    def _add_inputs(self, batch: Batch, d: torch.Tensor, n: torch.Tensor) -> None:
        batch["x"] = self.store.windows(d, n)


class FlatDataset(RowDataset):
    """Kind ``flat``: windows ``x`` [B, T, F]; baselines flatten them themselves."""

    kind = "flat"


class ImageDataset(RowDataset):
    """Kind ``image``: ``image`` [B, C, S, S] (C = image groups) and ``x`` [B, T, F]."""

    kind = "image"

    def __init__(self, prepared: PreparedData, date_idx: np.ndarray, ticker_idx: np.ndarray) -> None:
        super().__init__(prepared, date_idx, ticker_idx)
        self.images = ImageBuilder.from_info(self.info)

    def _add_inputs(self, batch: Batch, d: torch.Tensor, n: torch.Tensor) -> None:
        x = self.store.windows(d, n)
        batch["x"] = x
        batch["image"] = self.images(x)


class TowerDataset(RowDataset):
    """Kind ``tower``: ``context`` [B, 2*Fc], ``stock`` [B, Fs] (features at t), ``x`` [B, T, F]."""

    kind = "tower"

    def __init__(self, prepared: PreparedData, date_idx: np.ndarray, ticker_idx: np.ndarray) -> None:
        super().__init__(prepared, date_idx, ticker_idx)
        self.context = self.store.context_table()
        if not self.info.stock_idx:
            raise ConfigError("the dual-tower input needs per-stock features; data.features selects only market ones")
        self.stock_idx = torch.as_tensor(self.info.stock_idx, dtype=torch.long)

    def _add_inputs(self, batch: Batch, d: torch.Tensor, n: torch.Tensor) -> None:
        batch["x"] = self.store.windows(d, n)
        batch["context"] = self.context.index_select(0, d)
        batch["stock"] = self.store.at(d, n).index_select(1, self.stock_idx)


class GraphDataset(Dataset):
    """Kind ``graph``: one sample = one date with all N tickers; a batch of G dates is one graph.

    Batch: ``x`` [G*N, T, F], ``edge_index`` [2, G*E] (graph g's nodes are g*N .. g*N+N-1),
    ``edge_weight`` [G*E], ``n_graphs`` G, ``node_mask`` [G*N] bool (ticker has features and a
    full window), common keys with B = G*N (``valid`` False on masked nodes).
    """

    kind = "graph"

    def __init__(self, prepared: PreparedData, dates: np.ndarray) -> None:
        dates = np.unique(np.asarray(dates, dtype=np.int64))
        n = prepared.X.shape[1]
        _check_rows(dates, np.zeros_like(dates), prepared)
        self.store = TensorStore.of(prepared)
        self.info = prepared.info
        self.n_nodes = n
        self.rows_per_sample = n
        self.dates = torch.from_numpy(dates)
        self.edge_index = torch.from_numpy(np.ascontiguousarray(prepared.graph.edge_index, dtype=np.int64))
        self.edge_weight = torch.from_numpy(np.ascontiguousarray(prepared.graph.edge_weight, dtype=np.float32))
        self.nodes = torch.arange(n, dtype=torch.long)

    def __len__(self) -> int:
        return int(self.dates.shape[0])

    def __getitem__(self, i: int) -> Batch:
        return self.__getitems__([i])

    def __getitems__(self, indices: Sequence[int]) -> Batch:
        dates = self.dates[_as_index(indices)]  # [G]
        g, n, e = dates.shape[0], self.n_nodes, self.edge_index.shape[1]
        store = self.store
        # one gather straight into the [G, N, T, F] layout the model reads (no permute copy)
        x = store.model_input(
            store.window_view().index_select(0, dates - (store.window - 1)).view(g * n, store.window, -1))
        offset = (torch.arange(g, dtype=torch.long) * n).repeat_interleave(e)  # [G*E]
        edge_index = self.edge_index.repeat(1, g) + offset
        d = dates.repeat_interleave(n)
        tk = self.nodes.repeat(g)
        batch = store.common(d, tk)
        batch.update(
            x=x,
            edge_index=edge_index,
            edge_weight=self.edge_weight.repeat(g),
            n_graphs=int(g),
            node_mask=store.has_window.view(-1).index_select(0, store.flat(d, tk)),
        )
        return batch


def make_dataset(
    kind: str,
    prepared: PreparedData,
    segment: str | np.ndarray | None,
    *,
    date_idx: np.ndarray | None = None,
    ticker_idx: np.ndarray | None = None,
) -> RowDataset | GraphDataset:
    """A dataset of ``kind`` over the usable rows of ``segment`` (or over the given rows).

    Args:
        kind: ``window | image | graph | tower | flat`` (the model's ``input_kind``).
        prepared: the output of :func:`~finmt_core.data.prepare.prepare`.
        segment: ``"train" | "val" | "test"``, an array of date indices, or None with explicit rows.
        date_idx, ticker_idx: explicit rows (both ``[n]`` int, e.g. from ``prepared.rows_all()``);
            for ``graph`` only the unique dates of ``date_idx`` matter.

    Returns:
        A map-style dataset with ``__getitems__`` (one gather per batch). For ``graph`` a
        sample is a date (``dataset.rows_per_sample == N``).
    """
    if kind not in KINDS:
        raise ConfigError(f"unknown input kind {kind!r}; choose one of {', '.join(KINDS)}")
    if date_idx is None:
        if segment is None:
            raise ConfigError("make_dataset needs a segment ('train', 'val', 'test') or explicit date_idx/ticker_idx")
        date_idx, ticker_idx = prepared.rows(segment)
    elif ticker_idx is None and kind != "graph":
        raise ConfigError("make_dataset: pass ticker_idx together with date_idx")
    if kind == "graph":
        return GraphDataset(prepared, date_idx)
    assert ticker_idx is not None
    cls = {"window": RowDataset, "flat": FlatDataset, "image": ImageDataset, "tower": TowerDataset}[kind]
    return cls(prepared, date_idx, ticker_idx)


def collate_batch(batch: Batch) -> Batch:
    """``collate_fn`` for datasets with ``__getitems__``: the batch dict is already collated."""
    return batch


class BatchIndexSampler(Sampler[torch.Tensor]):
    """Batches of dataset indices as int64 tensors: one ``randperm`` per epoch, no Python ints.

    The default ``RandomSampler`` + ``BatchSampler`` pair builds a list of Python ints per
    batch; with ``__getitems__`` datasets that bookkeeping costs as much as the gather itself.
    Epoch ``e`` is shuffled with seed ``(seed, e)``: orders differ between epochs and are
    reproducible; the epoch counter advances after each pass or is set with :meth:`set_epoch`
    (as with ``DistributedSampler``, e.g. when resuming).
    """

    def __init__(self, n: int, batch_size: int, shuffle: bool, seed: int, drop_last: bool = False) -> None:
        self.n = int(n)
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        self.drop_last = bool(drop_last)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        if self.drop_last:
            return self.n // self.batch_size
        return -(-self.n // self.batch_size)

    def __iter__(self) -> Iterator[torch.Tensor]:
        if self.shuffle:
            g = torch.Generator()
            g.manual_seed(self.seed * 1_000_003 + self.epoch)
            order = torch.randperm(self.n, generator=g)
        else:
            order = torch.arange(self.n)
        self.epoch += 1
        yield from order.split(self.batch_size)[: len(self)]


def make_loader(
    dataset: Dataset,
    batch_size: int,
    shuffle: bool,
    seed: int,
    sampler: Sampler | None = None,
    *,
    num_workers: int = 0,
    drop_last: bool = False,
    pin_memory: bool = False,
) -> DataLoader:
    """A ``DataLoader`` yielding batch dicts; ``batch_size`` counts samples (dates for ``graph``).

    Without ``sampler``, batches come from a :class:`BatchIndexSampler` (shuffled with
    ``seed`` and the epoch number when ``shuffle``). With ``sampler`` (e.g. a
    ``DistributedSampler`` under torchrun) the sampler decides the order and ``shuffle`` is
    ignored; call ``sampler.set_epoch(epoch)`` each epoch as usual. ``collate_fn`` passes the
    dataset's batch dict through (``DataLoader`` calls ``dataset.__getitems__`` per batch).
    """
    if batch_size < 1:
        raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
    common: dict[str, Any] = {
        "collate_fn": collate_batch,
        "num_workers": num_workers,
        "pin_memory": pin_memory,
        "persistent_workers": num_workers > 0,
    }
    if sampler is None:
        batches = BatchIndexSampler(len(dataset), batch_size, shuffle, seed, drop_last)  # type: ignore[arg-type]
        # DataLoader accepts any iterable of index batches; tensors avoid Python int lists.
        return DataLoader(dataset, batch_sampler=batches, **common)  # type: ignore[arg-type]
    generator = torch.Generator()
    generator.manual_seed(int(seed))  # seeds worker processes only; the sampler owns the order
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, drop_last=drop_last,
                      generator=generator, **common)


def make_inference_batches(
    prepared: PreparedData,
    kind: str,
    date_idx: np.ndarray,
    ticker_idx: np.ndarray,
    batch_size: int,
) -> Iterator[Batch]:
    """Batches over the given rows, in order, without shuffling or a DataLoader.

    ``batch_size`` counts rows; ``graph`` batches hold ``max(1, batch_size // N)`` whole
    dates (the unique dates of ``date_idx``, all N tickers each; pick the requested rows by
    the batch's ``date_idx`` / ``ticker_idx``).
    """
    ds = make_dataset(kind, prepared, None, date_idx=date_idx, ticker_idx=ticker_idx)
    step = max(1, batch_size // prepared.info.n_nodes) if kind == "graph" else max(1, batch_size)
    n = len(ds)
    for start in range(0, n, step):  # loop over batches, not rows
        yield ds.__getitems__(range(start, min(start + step, n)))
