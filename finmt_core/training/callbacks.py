"""Trainer callbacks, keyed by event (nanoGPT/Lightning style) instead of flags in the loop.

Events, in the order the trainer raises them::

    on_train_start(trainer)
      on_epoch_start(trainer, epoch)
        on_batch_end(trainer, batch, n_batches)      every batch: must not synchronise the GPU
        on_heartbeat(trainer, info)                  at sync points (every heartbeat_s)
      on_epoch_end(trainer, record)                  record = the metrics.jsonl line (read-only)
      on_checkpoint(trainer, record)                 after every on_epoch_end
      on_epoch_saved(trainer, record)                after every on_checkpoint
    on_train_end(trainer, state)

The record is complete when the callbacks see it (the trainer adds the best epoch so far) and
read-only, so no callback depends on another running first; the three epoch events are phases
instead of an order among callbacks: decisions (early stopping, pruning) in ``on_epoch_end``;
checkpoints in ``on_checkpoint``, when the state to persist (every callback's state, the stop
decision) is final; the metrics log and status in ``on_epoch_saved``, so metrics.jsonl never
runs ahead of ``last.pt``.
``stop_requested()`` is polled at sync points (cancellation). A callback's ``state_dict()``
goes into ``last.pt`` so that early stopping and best-k bookkeeping survive a resume.
Callbacks that write files do so only on the main process (``trainer.is_main``).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import signal
import socket
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from finmt_core.training.checkpoint import save_checkpoint
from finmt_core.training.epoch_record import monitored
from finmt_core.training.runs import RunDir, now_iso

if TYPE_CHECKING:
    from finmt_core.config import TrainConfig
    from finmt_core.training.trainer import Trainer

log = logging.getLogger(__name__)


class Callback:
    """Base class: every hook is a no-op."""

    #: key of this callback's state in last.pt
    name: str = "callback"

    def on_train_start(self, trainer: Trainer) -> None: ...
    def on_epoch_start(self, trainer: Trainer, epoch: int) -> None: ...
    def on_batch_end(self, trainer: Trainer, batch: int, n_batches: int) -> None: ...
    def on_heartbeat(self, trainer: Trainer, info: dict[str, Any]) -> None: ...
    def on_epoch_end(self, trainer: Trainer, record: Mapping[str, Any]) -> None: ...
    def on_checkpoint(self, trainer: Trainer, record: Mapping[str, Any]) -> None: ...
    def on_epoch_saved(self, trainer: Trainer, record: Mapping[str, Any]) -> None: ...
    def on_train_end(self, trainer: Trainer, state: str) -> None: ...

    def stop_requested(self) -> bool:
        return False

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


class EarlyStopping(Callback):
    """Stop when the monitored criterion (``train.monitor``: validation score or loss) has not
    improved by ``min_delta`` for ``patience`` epochs."""

    name = "early_stopping"

    def __init__(self, patience: int, min_delta: float) -> None:
        self.patience = int(patience)
        self.min_delta = float(min_delta)
        self.best = math.inf
        self.best_epoch = 0
        self.bad_epochs = 0

    def on_epoch_end(self, trainer: Trainer, record: Mapping[str, Any]) -> None:
        val = monitored(record)
        if val is not None and val < self.best - self.min_delta:
            self.best, self.best_epoch, self.bad_epochs = float(val), int(record["epoch"]), 0
        else:
            self.bad_epochs += 1
        if self.bad_epochs >= self.patience:
            log.info("early stopping after epoch %d: no validation improvement for %d epochs (best %.5g at %d)",
                     record["epoch"], self.bad_epochs, self.best, self.best_epoch)
            trainer.request_stop("early_stop")

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_epoch": self.best_epoch, "bad_epochs": self.bad_epochs}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = float(state["best"])
        self.best_epoch = int(state["best_epoch"])
        self.bad_epochs = int(state["bad_epochs"])


class Checkpointing(Callback):
    """Best-k checkpoints by the monitored criterion (``epoch-NNNN.pt``, the best copied to
    ``best.pt``), then ``last.pt`` with the full training state after every epoch (at
    ``on_checkpoint``, so it holds every callback's decision about the epoch)."""

    name = "checkpointing"

    def __init__(self, run: RunDir | None, keep_best_k: int) -> None:
        self.run = run
        self.k = int(keep_best_k)
        self.top: list[list[float]] = []  # [[monitor, epoch, val_loss, val_score], ...] ascending

    @property
    def best(self) -> tuple[float, int] | None:
        return (self.top[0][0], int(self.top[0][1])) if self.top else None

    def _epoch_path(self, epoch: int) -> Path:
        assert self.run is not None
        return self.run.checkpoints_dir / f"epoch-{epoch:04d}.pt"

    def on_checkpoint(self, trainer: Trainer, record: Mapping[str, Any]) -> None:
        val, epoch = monitored(record), int(record["epoch"])
        enters = val is not None and (len(self.top) < self.k or val < self.top[-1][0])
        if val is not None and enters:
            loss, score = record.get("val_loss"), record.get("val_score")
            self.top.append([float(val), epoch, math.nan if loss is None else float(loss),
                             math.nan if score is None else float(score)])
            self.top.sort(key=lambda x: (x[0], x[1]))
            dropped = self.top[self.k:]
            self.top = self.top[: self.k]
        if trainer.is_main and self.run is not None and enters:
            ckpt = trainer.checkpoint(full=False)
            save_checkpoint(self._epoch_path(epoch), ckpt)
            if int(self.top[0][1]) == epoch:
                save_checkpoint(self.run.best_checkpoint, ckpt)
            for entry in dropped:
                with contextlib.suppress(FileNotFoundError):
                    self._epoch_path(int(entry[1])).unlink()
        if trainer.is_main and self.run is not None:
            # last.pt carries this epoch's metrics line: a crash before the line is appended is
            # healed on resume (the line is restored from the checkpoint).
            save_checkpoint(self.run.last_checkpoint, trainer.checkpoint(full=True, record=record))

    def state_dict(self) -> dict[str, Any]:
        return {"top": [list(x) for x in self.top]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.top = [[float(x) for x in entry] for entry in state["top"]]


class MetricsLogger(Callback):
    """metrics.jsonl (one line per epoch, at ``on_epoch_saved``: after the epoch's last.pt) and
    status.json (heartbeat, progress, ETA)."""

    name = "metrics_logger"

    def __init__(self, run: RunDir | None) -> None:
        self.run = run

    def on_train_start(self, trainer: Trainer) -> None:
        if trainer.is_main and self.run is not None:
            self.run.write_status(
                state="running", pid=os.getpid(), host=socket.gethostname(), device=str(trainer.device),
                heartbeat=now_iso(), epochs=trainer.epochs, epoch=trainer.epoch, error=None,
                message=f"training {trainer.model_name} from epoch {trainer.epoch + 1}",
                world_size=trainer.world_size,
            )

    def on_heartbeat(self, trainer: Trainer, info: dict[str, Any]) -> None:
        if trainer.is_main and self.run is not None:
            self.run.write_status(heartbeat=now_iso(), **info)

    def on_epoch_saved(self, trainer: Trainer, record: Mapping[str, Any]) -> None:
        if trainer.is_main and self.run is not None:
            self.run.append_metrics(dict(record))
            fields: dict[str, Any] = {
                "heartbeat": now_iso(), "epoch": record["epoch"], "epochs": trainer.epochs,
                "progress": record["epoch"] / trainer.epochs, "eta_s": trainer.eta_s(),
                "message": f"epoch {record['epoch']}/{trainer.epochs}: val loss {_fmt(record['val_loss'])}",
            }
            if "best_epoch" in record:
                fields.update(best_epoch=record["best_epoch"], best_val_loss=record["best_val_loss"],
                              best_val_score=record.get("best_val_score"))
            self.run.write_status(**fields)


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.5g}"


class CancelWatcher(Callback):
    """Stop on a ``cancel`` file in the run directory or on SIGTERM (finish the current batch;
    the last completed epoch's ``last.pt`` stays on disk for ``--resume``)."""

    name = "cancel_watcher"

    def __init__(self, run: RunDir | None, handle_sigterm: bool = True) -> None:
        self.run = run
        self.handle_sigterm = handle_sigterm
        self._signalled = False
        self._previous: Any = None

    def _on_sigterm(self, signum: int, frame: Any) -> None:
        log.warning("SIGTERM received: stopping after the current batch")
        self._signalled = True

    def on_train_start(self, trainer: Trainer) -> None:
        if self.handle_sigterm and threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGTERM, self._on_sigterm)

    def on_train_end(self, trainer: Trainer, state: str) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)
            self._previous = None

    def stop_requested(self) -> bool:
        return self._signalled or (self.run is not None and self.run.cancel_requested())


class ProgressBar(Callback):
    """A tqdm bar on stderr over all batches of the run (silent when stderr is not a terminal
    unless ``force``)."""

    name = "progress_bar"

    def __init__(self, force: bool = False) -> None:
        self.force = force
        self.bar: Any = None

    def on_epoch_start(self, trainer: Trainer, epoch: int) -> None:
        if not trainer.is_main:
            return
        from tqdm.auto import tqdm

        if self.bar is not None:
            self.bar.close()
        self.bar = tqdm(
            total=trainer.batches_per_epoch, desc=f"epoch {epoch}/{trainer.epochs}", unit="batch",
            file=sys.stderr, leave=False, disable=None if not self.force else False, dynamic_ncols=True,
        )

    def on_batch_end(self, trainer: Trainer, batch: int, n_batches: int) -> None:
        if self.bar is not None:
            self.bar.update(1)

    def on_heartbeat(self, trainer: Trainer, info: dict[str, Any]) -> None:
        if self.bar is not None and info.get("train_loss") is not None:
            self.bar.set_postfix(loss=f"{info['train_loss']:.4g}", refresh=False)

    def on_train_end(self, trainer: Trainer, state: str) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def default_callbacks(run: RunDir | None, train_cfg: TrainConfig) -> list[Callback]:
    """The standard set (their order does not matter: see the module doc)."""
    return [
        EarlyStopping(train_cfg.patience, train_cfg.min_delta),
        Checkpointing(run, train_cfg.keep_best_k),
        MetricsLogger(run),
        CancelWatcher(run),
    ]
