"""The metrics.jsonl line of one epoch (:func:`epoch_record`) and the best epoch so far
(:class:`BestEpoch`), both made by the trainer *before* any callback sees the line.

Callbacks receive the finished line read-only, so none depends on another having written into
it first (the best epoch used to be added by the checkpointing callback for the metrics logger).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch

from finmt_core.tasks import Task
from finmt_core.training.metrics import validation_score
from finmt_core.training.runs import now_iso

#: record keys the trainer adds for the best epoch so far (metrics.jsonl and status.json)
BEST_KEYS = ("best_epoch", "best_val_loss", "best_val_score")


def none_if_nan(x: float) -> float | None:
    """``x`` as a float, or None when it is NaN/inf (JSON has no NaN)."""
    return float(x) if math.isfinite(x) else None


def monitored(record: Mapping[str, Any]) -> float | None:
    """The value early stopping and checkpointing minimise (``record["monitor"]``: the negated
    validation score or the validation loss; records without it fall back to ``val_loss``)."""
    return record.get("monitor", record.get("val_loss"))


def weighted_loss(fixed_weights: torch.Tensor, losses: torch.Tensor, counts: torch.Tensor) -> float | None:
    """Fixed-weight sum of ``[K]`` per-task mean losses over tasks that had rows (comparable
    across epochs and weighting strategies: the loss monitor)."""
    has = counts > 0
    if not bool(has.any()):
        return None
    return none_if_nan(float((fixed_weights[has] * losses[has]).sum()))


def epoch_record(epoch: int, tasks: list[Task], monitor: str, fixed_weights: torch.Tensor, train: dict[str, Any],
                 val: dict[str, Any], val_time: float, weights: dict[str, float], lrs: dict[str, float],
                 global_step: int) -> dict[str, Any]:
    """One epoch's metrics.jsonl line (without the best-epoch keys; see :class:`BestEpoch`).

    Args:
        epoch: the epoch (1-based).
        tasks: the run's tasks.
        monitor: ``train.monitor`` (``score`` | ``loss``).
        fixed_weights: ``[K]`` float64 ``task.weight``.
        train: ``{"loss_sum" [K], "count" [K], "objective", "rows", "time" (s)}`` of the epoch.
        val: ``{"loss" [K] means, "count" [K], "metrics" {task: {metric: v}}}``.
        val_time: seconds the validation took.
        weights: the weighting strategy's current task weights.
        lrs: learning rate per parameter group.
        global_step: optimizer steps so far.
    """
    names = [t.name for t in tasks]
    tl = train["loss_sum"] / train["count"].clamp_min(1.0)
    val_loss = weighted_loss(fixed_weights, val["loss"], val["count"])
    val_score = validation_score(tasks, val["metrics"])
    if monitor == "score":
        value = None if val_score is None else -val_score
    else:
        value = val_loss
    return {
        "epoch": epoch,
        "time": now_iso(),
        "train_loss": weighted_loss(fixed_weights, tl, train["count"]),
        "val_loss": val_loss,
        "val_score": val_score,
        # what early stopping and checkpoint choice minimise (the negated score or the loss)
        "monitor": value,
        "train_objective": none_if_nan(train["objective"]),
        "train": {n: (none_if_nan(float(v)) if c > 0 else None)
                  for n, v, c in zip(names, tl.tolist(), train["count"].tolist())},
        "val": {n: (none_if_nan(float(v)) if c > 0 else None)
                for n, v, c in zip(names, val["loss"].tolist(), val["count"].tolist())},
        "val_metrics": val["metrics"],
        "weights": weights,
        "lr": lrs,
        "samples_per_s": train["rows"] / train["time"] if train["time"] > 0 else None,
        "epoch_time_s": train["time"] + val_time,
        "train_time_s": train["time"],
        "global_step": global_step,
    }


class BestEpoch:
    """The best epoch so far: the lowest monitored value (ties: the earliest epoch)."""

    def __init__(self) -> None:
        self.monitor: float | None = None
        self.epoch: int | None = None
        self.val_loss: float | None = None
        self.val_score: float | None = None

    def update(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """Take in one epoch's record; returns the :data:`BEST_KEYS` fields to add to it (none
        while no epoch had a monitored value)."""
        value = monitored(record)
        if value is not None and math.isfinite(value) and (self.monitor is None or value < self.monitor):
            self.monitor, self.epoch = float(value), int(record["epoch"])
            self.val_loss, self.val_score = record.get("val_loss"), record.get("val_score")
        if self.epoch is None:
            return {}
        return {"best_epoch": self.epoch, "best_val_loss": self.val_loss, "best_val_score": self.val_score}

    def state_dict(self) -> dict[str, Any]:
        return {"monitor": self.monitor, "epoch": self.epoch, "val_loss": self.val_loss, "val_score": self.val_score}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.monitor, self.epoch = state.get("monitor"), state.get("epoch")
        self.val_loss, self.val_score = state.get("val_loss"), state.get("val_score")

    def load_legacy(self, checkpointing: Mapping[str, Any]) -> None:
        """From a ``last.pt`` written before the trainer kept the best epoch: the checkpointing
        callback's best-k list (``[[monitor, epoch, val_loss, val_score], ...]`` ascending, or
        the oldest ``[[val_loss, epoch], ...]``)."""
        top = checkpointing.get("top") or []
        if not top:
            return
        value, epoch, *rest = (float(x) for x in top[0])
        loss = rest[0] if rest else value
        score = rest[1] if len(rest) > 1 else math.nan
        self.monitor, self.epoch = value, int(epoch)
        self.val_loss = None if math.isnan(loss) else loss
        self.val_score = None if math.isnan(score) else score
