"""The batches of one epoch: plain shuffled, class-balanced over one task, or one rank's share
under DDP. Every loader is seeded by the epoch, so epoch e yields the same order with or
without a resume."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch.utils.data import DataLoader, DistributedSampler

from finmt_core.config import TrainConfig
from finmt_core.training import distributed as dist

if TYPE_CHECKING:
    from finmt_core.data.prepare import PreparedData


def epoch_loader(dataset: Any, prepared: PreparedData, cfg: TrainConfig, device: torch.device, world_size: int,
                 shuffle: bool, epoch: int) -> DataLoader:
    """A DataLoader over ``dataset`` for ``epoch`` (batches of ``cfg.batch_size`` rows).

    Training batches (``shuffle``) are class-balanced over ``cfg.balanced_sampling``'s task when
    set (train rows only; ``prepared`` holds its labels); with ``world_size > 1`` each rank reads
    its DistributedSampler share."""
    from finmt_core.data.tensors import make_loader

    pin = device.type == "cuda"
    if shuffle and cfg.balanced_sampling is not None:
        from finmt_core.data.balanced_sampling import balanced_loader

        return balanced_loader(dataset, prepared, cfg.balanced_sampling, cfg.batch_size, cfg.seed, epoch,
                               num_workers=cfg.num_workers, pin_memory=pin)
    sampler: DistributedSampler | None = None
    if world_size > 1:
        sampler = DistributedSampler(dataset, num_replicas=world_size, rank=dist.rank(), shuffle=shuffle,
                                     seed=cfg.seed)
        sampler.set_epoch(epoch)
    return make_loader(dataset, cfg.batch_size, shuffle, cfg.seed + epoch, sampler,
                       num_workers=cfg.num_workers, pin_memory=pin)
