"""Balanced sampling for a classification task: training batches in which each of its classes
is equally likely (seed 000's "balanced datasets"; ``train.balanced_sampling: TASK``).

Row weights are ``1 / (C * n_c)`` for a row of class ``c`` (``n_c`` = train rows of that
class with a known target, ``C`` = classes present), so every present class carries the same
total weight; rows whose target is unknown (or masked) keep their natural share ``1 / n``.
An epoch draws ``len(dataset)`` rows with replacement, seeded by ``(seed, epoch)`` (resumes
repeat the same order). Only the *training* loader uses it, built from the train rows'
labels; validation and test rows are never resampled.

Per-row datasets only: a graph sample is a whole date (every ticker), which cannot be
balanced by one row's class (:func:`check_balanced_sampling` refuses it).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Sampler

from finmt_core.errors import ConfigError

if TYPE_CHECKING:
    from finmt_core.data.prepare import PreparedData


def check_balanced_sampling(config: Any, input_kind: str, world_size: int = 1) -> None:
    """ConfigError when ``train.balanced_sampling`` cannot be honoured for this model/launch."""
    if config.train.balanced_sampling is None:
        return
    if input_kind == "graph":
        raise ConfigError(f"train.balanced_sampling needs per-row samples; model {config.model.name!r} trains on whole "
                          "dates (graph). Leave it unset, or use loss.balance_classes / loss.class_weights instead")
    if world_size > 1:
        raise ConfigError("train.balanced_sampling is not available with several processes (DDP); train on one "
                          "process or use loss.balance_classes instead")


def balanced_row_weights(labels: np.ndarray, valid: np.ndarray, n_classes: int) -> np.ndarray:
    """Sampling weight per row ``[n]`` float64 (sums to 1).

    Args:
        labels: ``[n]`` class index as float (anything where not ``valid``).
        valid: ``[n]`` bool, the target is known.
        n_classes: C of the task.
    """
    labels = np.asarray(labels)
    valid = np.asarray(valid, dtype=bool)
    n = len(labels)
    w = np.full(n, 1.0 / max(n, 1))
    if valid.any():
        idx = labels[valid].astype(np.int64)
        counts = np.bincount(idx, minlength=n_classes).astype(np.float64)
        present = counts > 0
        share_valid = valid.sum() / n  # the known-target rows keep their total share, split evenly by class
        w[valid] = share_valid / (present.sum() * counts[idx])
    return w / w.sum()


class BalancedBatchSampler(Sampler[torch.Tensor]):
    """Index batches (int64 tensors) drawn with replacement by ``weights``; epoch ``e`` uses
    the generator seed ``(seed, e)``."""

    def __init__(self, weights: np.ndarray, batch_size: int, seed: int, epoch: int = 0) -> None:
        self.weights = torch.as_tensor(np.asarray(weights, dtype=np.float64))
        self.n = int(self.weights.shape[0])
        self.batch_size = int(batch_size)
        self.seed = int(seed)
        self.epoch = int(epoch)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return -(-self.n // self.batch_size)

    def __iter__(self) -> Iterator[torch.Tensor]:
        g = torch.Generator()
        g.manual_seed(self.seed * 1_000_003 + self.epoch)
        draws = torch.multinomial(self.weights, self.n, replacement=True, generator=g)
        self.epoch += 1
        yield from draws.split(self.batch_size)


def balanced_loader(dataset: Any, prepared: PreparedData, task_name: str, batch_size: int, seed: int, epoch: int, *,
                    num_workers: int = 0, pin_memory: bool = False) -> DataLoader:
    """The training DataLoader of ``dataset`` (a per-row dataset of train rows) with batches
    balanced over the classes of ``task_name``."""
    from finmt_core.data.tensors import collate_batch

    task = next(t for t in prepared.targets.tasks if t.name == task_name)
    d, n = dataset.date_idx.numpy(), dataset.ticker_idx.numpy()
    labels = prepared.targets.training(task_name)[d, n]
    valid = prepared.targets.valid[task_name][d, n]
    weights = balanced_row_weights(labels, valid, len(task.classes))
    sampler = BalancedBatchSampler(weights, batch_size, seed, epoch)
    # torch's stub types batch_sampler as Sampler[list[int]]; int64 index tensors serve the
    # dataset's __getitems__ just as well (one vectorised gather, no list of Python ints)
    return DataLoader(dataset, batch_sampler=sampler, collate_fn=collate_batch, num_workers=num_workers,  # type: ignore[arg-type]
                      pin_memory=pin_memory, persistent_workers=num_workers > 0)
