"""The batches of one epoch: plain shuffled, class-balanced over one task, or one rank's share
under DDP. Every loader is seeded by the epoch, so epoch e yields the same order with or
without a resume.

Under DDP the ranks split the *single-process* batches: rank r of W reads the r-th slice of
each global batch of ``W x batch_size`` rows, drawn from the very permutation one process with
``batch_size x W`` would draw (:class:`GlobalBatchShare`). A run on W ranks therefore sees the
same global batches in the same order as a one-process run with W times the batch, whatever
W is (a ``DistributedSampler`` would draw another permutation per world size).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import torch
from torch.utils.data import DataLoader, Sampler

from finmt_core.config import TrainConfig
from finmt_core.training import distributed as dist

if TYPE_CHECKING:
    from finmt_core.data.prepare import PreparedData

class GlobalBatchShare(Sampler[torch.Tensor]):
    """Rank ``rank``'s slice of each global batch (int64 index tensors, one per batch).

    Global batches: ``BatchIndexSampler(n, world * batch_size, shuffle, seed)`` — the order and
    batches of a single process with ``world * batch_size`` rows per batch. Each global batch is
    cut into ``world`` contiguous slices of (almost) equal size (``torch.tensor_split``); a final
    batch with fewer rows than ranks lends its rows again to the empty slices (as
    ``DistributedSampler`` pads), so every rank yields the same number of non-empty batches — DDP
    needs that to stay in step.

    Args:
        n: dataset size (rows; dates for ``graph`` datasets).
        batch_size: rows per rank and batch (the global batch is ``world * batch_size``).
        world, rank: number of ranks and this rank (0-based).
        shuffle, seed: as ``BatchIndexSampler`` (epoch ``e`` of a run uses ``seed = cfg.seed + e``).
    """

    def __init__(self, n: int, batch_size: int, world: int, rank: int, shuffle: bool, seed: int) -> None:
        from finmt_core.data.tensors import BatchIndexSampler

        if not 0 <= rank < world:
            raise ValueError(f"rank {rank} outside 0..{world - 1}")
        self.world, self.rank = int(world), int(rank)
        self.global_batches = BatchIndexSampler(n, batch_size * world, shuffle, seed)

    def set_epoch(self, epoch: int) -> None:
        self.global_batches.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.global_batches)

    def __iter__(self) -> Iterator[torch.Tensor]:
        for batch in self.global_batches:
            part = torch.tensor_split(batch, self.world)[self.rank]
            yield part if len(part) else batch[self.rank % len(batch):][:1]


def epoch_loader(dataset: Any, prepared: PreparedData, cfg: TrainConfig, device: torch.device, world_size: int,
                 shuffle: bool, epoch: int) -> DataLoader:
    """A DataLoader over ``dataset`` for ``epoch`` (batches of ``cfg.batch_size`` rows per rank).

    Training batches (``shuffle``) are class-balanced over ``cfg.balanced_sampling``'s task when
    set (train rows only; ``prepared`` holds its labels); with ``world_size > 1`` each rank reads
    its :class:`GlobalBatchShare` of the global batches."""
    from finmt_core.data.tensors import collate_batch, make_loader

    pin = device.type == "cuda"
    if shuffle and cfg.balanced_sampling is not None:
        from finmt_core.data.balanced_sampling import balanced_loader

        return balanced_loader(dataset, prepared, cfg.balanced_sampling, cfg.batch_size, cfg.seed, epoch,
                               num_workers=cfg.num_workers, pin_memory=pin)
    if world_size > 1:
        share = GlobalBatchShare(len(dataset), cfg.batch_size, world_size, dist.rank(), shuffle, cfg.seed + epoch)
        # index tensors as batches and the dataset's own batch dicts: like make_loader's BatchIndexSampler
        return DataLoader(dataset, batch_sampler=share, collate_fn=collate_batch,  # type: ignore[arg-type]
                          num_workers=cfg.num_workers, pin_memory=pin, persistent_workers=cfg.num_workers > 0)
    return make_loader(dataset, cfg.batch_size, shuffle, cfg.seed + epoch,
                       num_workers=cfg.num_workers, pin_memory=pin)
