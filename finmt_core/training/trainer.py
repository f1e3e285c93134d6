"""The model-agnostic training loop.

The trainer knows nothing about any one architecture: it reads ``model.input_kind`` to build
datasets, calls ``model(batch) -> {task: output}``, and hands outputs to
:class:`~finmt_core.losses.MultiTaskLoss`. Everything else (early stopping, checkpoints, the
metrics log, cancellation, progress bars) is a callback.

Performance: losses are accumulated on the device and the host synchronises only at *sync
points* (every ``train.heartbeat_s`` seconds in one process, every ``DIST_SYNC_EVERY`` batches
under torchrun so that all ranks agree when to stop) and at the end of each epoch.
Distributed: samplers, metric reduction and file writes go through :mod:`.distributed`; only
the main process writes the run directory.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn
from torch.optim.lr_scheduler import ReduceLROnPlateau

from finmt_core.config import ExperimentConfig
from finmt_core.losses import MultiTaskLoss, last_shared_parameters
from finmt_core.training import distributed as dist
from finmt_core.training.callbacks import Callback
from finmt_core.training.checkpoint import build_checkpoint, rng_state, set_rng_state
from finmt_core.training.device import resolve_device, seed_everything, to_device
from finmt_core.training.epoch_record import BestEpoch, epoch_record
from finmt_core.training.loaders import epoch_loader
from finmt_core.training.metrics import task_metrics
from finmt_core.training.optim import build_optimizer, build_scheduler, current_lrs, refresh_schedule
from finmt_core.training.predict import outputs_to_numpy
from finmt_core.training.target_stats import balanced_class_weights, target_scales

if TYPE_CHECKING:
    from finmt_core.data.prepare import PreparedData
    from finmt_core.models.base import MultiTaskModel
    from finmt_core.training.runs import RunDir

log = logging.getLogger(__name__)

__all__ = ["Trainer", "resolve_device", "seed_everything", "to_device"]

#: Under torchrun, ranks check stop flags together every this many batches.
DIST_SYNC_EVERY = 16


class Trainer:
    """Train one model on one PreparedData.

    The trainer makes each epoch's metrics line, best epoch included, before any callback sees
    it; callbacks get it read-only in three phases: ``on_epoch_end`` (decide), ``on_checkpoint``
    (persist), ``on_epoch_saved`` (log) (see :mod:`.callbacks`).

    Args:
        config: the experiment config (tasks, loss, train sections are used here).
        prepared: the prepared data (datasets are built from its train/val rows).
        model: an unwrapped ``nn.Module`` with ``input_kind`` (moved to the device here).
        device: where to train.
        callbacks: event handlers (see :mod:`.callbacks`).
        run: the run directory (None on non-main ranks / in tests without a run).
    """

    def __init__(
        self,
        config: ExperimentConfig,
        prepared: PreparedData,
        model: MultiTaskModel,
        device: torch.device,
        callbacks: Sequence[Callback] = (),
        run: RunDir | None = None,
    ) -> None:
        from finmt_core.data.tensors import make_dataset

        self.config = config
        self.cfg = config.train
        self.prepared = prepared
        self.device = device
        self.run = run
        self.callbacks = list(callbacks)
        self.tasks = list(config.tasks)
        self.task_names = [t.name for t in self.tasks]
        self.fixed_weights = torch.tensor([t.weight for t in self.tasks], dtype=torch.float64)
        self.model_name = config.model.name
        self.kind = str(model.input_kind)
        self.model = model.to(device)
        self.loss_fn = MultiTaskLoss(self.tasks, config.loss)
        if config.loss.standardize:
            self.loss_fn.set_target_scales(target_scales(prepared, self.tasks))
        if config.loss.balance_classes:
            self.loss_fn.set_class_balance(balanced_class_weights(prepared, self.tasks))
        self.loss_fn.to(device)
        self.train_set = make_dataset(self.kind, prepared, "train")
        self.val_set = make_dataset(self.kind, prepared, "val")
        self.world_size = dist.world_size()
        self.is_main = dist.is_main_process()
        from finmt_core.data.balanced_sampling import check_balanced_sampling

        check_balanced_sampling(config, self.kind, self.world_size)
        per_rank = math.ceil(len(self.train_set) / self.world_size)
        n_batches = max(1, math.ceil(per_rank / self.cfg.batch_size))
        if self.cfg.max_batches_per_epoch:
            n_batches = min(n_batches, self.cfg.max_batches_per_epoch)
        self.batches_per_epoch = n_batches
        self.optimizer = build_optimizer(self.model, self.loss_fn, self.cfg, device)
        self.scheduler, self.schedule_mode = build_scheduler(self.optimizer, self.cfg, n_batches)
        cuda = device.type == "cuda"
        self.use_amp = bool(self.cfg.amp and cuda)
        self.amp_dtype = torch.bfloat16 if cuda and torch.cuda.is_bf16_supported() else torch.float16
        self.grad_scaler = torch.amp.GradScaler("cuda", enabled=self.use_amp and self.amp_dtype == torch.float16)
        self.non_blocking = cuda
        self.net: nn.Module = self.model
        if dist.is_initialized():
            from torch.nn.parallel import DistributedDataParallel

            self.net = DistributedDataParallel(self.model, device_ids=[device.index] if cuda else None)
        if self.cfg.compile:
            self.net = torch.compile(self.net)  # type: ignore[assignment]
        self.shared_params = last_shared_parameters(self.model) if self.loss_fn.needs_shared_params else []
        self.epochs = self.cfg.epochs
        self.epoch = 0  # last completed epoch
        self.global_step = 0
        self.stop_reason: str | None = None
        self.failed_tasks: list[str] = []
        self.best = BestEpoch()
        self._session_t0 = time.monotonic()
        self._session_p0 = 0.0
        self._progress = 0.0

    # ---- control ----------------------------------------------------------------------------
    def request_stop(self, reason: str) -> None:
        """Ask the loop to stop at the next check (``early_stop`` | ``cancelled`` | ``nonfinite``)."""
        if self.stop_reason is None:
            self.stop_reason = reason

    def eta_s(self) -> float | None:
        done = self._progress - self._session_p0
        if done <= 0:
            return None
        return (time.monotonic() - self._session_t0) / done * max(0.0, 1.0 - self._progress)

    def _emit(self, event: str, *args: Any) -> None:
        for cb in self.callbacks:
            getattr(cb, event)(self, *args)

    # ---- checkpoints ------------------------------------------------------------------------
    def checkpoint(self, full: bool, record: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The checkpoint dict of the current state (``full``: with everything resume needs)."""
        extra: dict[str, Any] = {"global_step": self.global_step}
        if record is not None:
            extra["val_loss"] = record.get("val_loss")
        if full:
            extra.update(
                optimizer=self.optimizer.state_dict(),
                scheduler=self.scheduler.state_dict(),
                loss_state=self.loss_fn.state_dict(),
                grad_scaler=self.grad_scaler.state_dict(),
                rng=rng_state(),
                trainer_state={"callbacks": {cb.name: cb.state_dict() for cb in self.callbacks},
                               "stop_reason": self.stop_reason, "best": self.best.state_dict()},
                record=dict(record) if record is not None else None,
            )
        return build_checkpoint(
            model=self.model, model_name=self.model_name, model_params=self.config.model.params,
            tasks=self.tasks, input_info=self.prepared.info.to_dict(), scaler=self.prepared.scaler.state_dict(),
            config=self.config.model_dump(mode="json"), epoch=self.epoch, **extra,
        )

    def restore(self, ckpt: dict[str, Any]) -> None:
        """Continue from a ``last.pt`` dict (weights, optimizer, schedule, loss weights, RNG, callbacks)."""
        self.model.load_state_dict(ckpt["state_dict"], strict=True)
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.scheduler.load_state_dict(ckpt["scheduler"])
        refresh_schedule(self.scheduler, self.cfg, self.batches_per_epoch)
        self.loss_fn.load_state_dict(ckpt["loss_state"])
        if ckpt.get("grad_scaler"):
            self.grad_scaler.load_state_dict(ckpt["grad_scaler"])
        trainer_state = ckpt.get("trainer_state") or {}
        states = trainer_state.get("callbacks", {})
        for cb in self.callbacks:
            if cb.name in states:
                cb.load_state_dict(states[cb.name])
        if "best" in trainer_state:
            self.best.load_state_dict(trainer_state["best"])
        else:  # a last.pt from before the trainer kept the best epoch
            self.best.load_legacy(states.get("checkpointing", {}))
        set_rng_state(ckpt["rng"])
        self.epoch = int(ckpt["epoch"])
        self.global_step = int(ckpt.get("global_step", 0))
        if trainer_state.get("stop_reason") == "early_stop":
            self.stop_reason = "early_stop"  # it had already finished: nothing left to train
        self._progress = self._session_p0 = self.epoch / self.epochs

    # ---- the loop ---------------------------------------------------------------------------
    def fit(self) -> str:
        """Train from ``self.epoch + 1`` to ``epochs``; returns the final state
        (``done`` | ``cancelled`` | ``failed``); on ``failed`` see :attr:`failure_message`."""
        self._session_t0 = time.monotonic()
        self._emit("on_train_start")
        state = "failed"  # an exception escaping the loop
        try:
            for epoch in range(self.epoch + 1, self.epochs + 1):
                if self.stop_reason or self._sync_flags(torch.zeros(len(self.tasks) + 1, device=self.device)):
                    break
                self._emit("on_epoch_start", epoch)
                train = self._train_epoch(epoch)
                if self.stop_reason:
                    break
                t_val = time.monotonic()
                val = self._validate()
                if self.stop_reason:
                    break
                record = epoch_record(epoch, self.tasks, self.cfg.monitor, self.fixed_weights, train, val,
                                      time.monotonic() - t_val, self.loss_fn.weights(), current_lrs(self.optimizer),
                                      self.global_step)
                record.update(self.best.update(record))
                self.loss_fn.epoch_end({n: (v if v is not None else 0.0) for n, v in record["train"].items()})
                if self.schedule_mode == "epoch" and record["val_loss"] is not None:
                    self.scheduler.step(record["val_loss"])
                self.epoch = epoch
                self._progress = epoch / self.epochs
                line = MappingProxyType(record)  # read-only: callbacks share nothing through it
                for event in ("on_epoch_end", "on_checkpoint", "on_epoch_saved"):  # decide, persist, log
                    self._emit(event, line)
                if self.stop_reason:
                    break
            state = {"cancelled": "cancelled", "nonfinite": "failed"}.get(self.stop_reason or "", "done")
        finally:
            self._emit("on_train_end", state)
        return state

    @property
    def failure_message(self) -> str:
        what = ", ".join(self.failed_tasks) or "the total"
        return (f"the loss became NaN/inf in epoch {self.epoch + 1} (task(s): {what}); lower train.lr, "
                "set train.grad_clip, or check the data of those tasks for extreme values")

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.use_amp:
            return torch.autocast(device_type="cuda", dtype=self.amp_dtype)
        return contextlib.nullcontext()

    def _step(self, batch: dict[str, Any]) -> Any:
        self.optimizer.zero_grad(set_to_none=True)
        with self._autocast():
            outputs = self.net(batch)
        res = self.loss_fn.compute(outputs, batch, model=self.model)

        def backward() -> None:  # the objective's gradients, unscaled (the weighting strategy wraps this)
            self.grad_scaler.scale(res.total).backward()
            if self.grad_scaler.is_enabled() or self.cfg.grad_clip:
                self.grad_scaler.unscale_(self.optimizer)

        self.loss_fn.backward_step(res.task_losses, self.shared_params, backward)
        if self.world_size > 1:  # loss-weight parameters live outside DDP: average their grads
            for p in self.loss_fn.parameters():
                if p.grad is not None:
                    dist.all_reduce_mean(p.grad)
        if self.cfg.grad_clip:
            nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.grad_clip)
        self.grad_scaler.step(self.optimizer)
        self.grad_scaler.update()
        self.loss_fn.after_step()
        if self.schedule_mode == "batch" and not isinstance(self.scheduler, ReduceLROnPlateau):
            self.scheduler.step()
        self.global_step += 1
        return res

    def _sync_due(self, i: int, last_sync: float) -> bool:
        if self.world_size > 1:
            return (i + 1) % DIST_SYNC_EVERY == 0
        return time.monotonic() - last_sync >= self.cfg.heartbeat_s

    def _sync_flags(self, bad: torch.Tensor) -> bool:
        """Host sync: non-finite losses (``bad`` = [K tasks + total]) and cancel requests, agreed
        over ranks. Sets :attr:`stop_reason`; returns True when the loop must stop."""
        cancel = any(cb.stop_requested() for cb in self.callbacks)
        flags = torch.cat([bad.float().reshape(-1), torch.tensor([float(cancel)], device=bad.device)])
        flags = dist.all_reduce_max(flags).cpu()
        nonfinite = flags[:-1] > 0
        if bool(nonfinite.any()):
            names = [*self.task_names, "penalty/total"]
            self.failed_tasks = [n for n, b in zip(names, nonfinite.tolist()) if b]
            self.request_stop("nonfinite")
        elif bool(flags[-1] > 0):
            self.request_stop("cancelled")
        return self.stop_reason in ("nonfinite", "cancelled")

    def _train_epoch(self, epoch: int) -> dict[str, Any]:
        self.net.train()
        self.loss_fn.train()
        k = len(self.tasks)
        loss_sum = torch.zeros(k, device=self.device)
        count_sum = torch.zeros(k, device=self.device)
        obj_sum = torch.zeros((), device=self.device)
        bad = torch.zeros(k + 1, dtype=torch.bool, device=self.device)
        n_batches, rows = self.batches_per_epoch, 0
        t0 = last_sync = time.monotonic()
        done = 0
        for i, batch in enumerate(epoch_loader(self.train_set, self.prepared, self.cfg, self.device, self.world_size, True, epoch)):
            if i >= n_batches:
                break
            rows += int(batch["date_idx"].shape[0])
            res = self._step(to_device(batch, self.device, self.non_blocking))
            done = i + 1
            with torch.no_grad():
                tl = res.task_losses.detach()
                loss_sum += torch.nan_to_num(tl, nan=0.0, posinf=0.0, neginf=0.0) * res.counts
                count_sum += res.counts
                obj_sum += res.total.detach()
                bad |= ~torch.isfinite(torch.cat([tl, res.total.detach().reshape(1)]))
            self._emit("on_batch_end", i, n_batches)
            if self._sync_due(i, last_sync):
                last_sync = time.monotonic()
                if self._sync_flags(bad):
                    break
                self._progress = (epoch - 1 + done / n_batches) / self.epochs
                self._emit("on_heartbeat", {
                    "progress": self._progress, "eta_s": self.eta_s(), "epoch": epoch, "epochs": self.epochs,
                    "train_loss": float(obj_sum) / done, "message": f"epoch {epoch}/{self.epochs}, batch {done}/{n_batches}",
                })
        if not self.stop_reason:
            self._sync_flags(bad)
        elapsed = time.monotonic() - t0
        sums = dist.all_reduce_sum(torch.cat([loss_sum, count_sum, obj_sum.reshape(1),
                                              torch.tensor([float(done), float(rows)], device=self.device)]))
        sums = sums.double().cpu()
        return {"loss_sum": sums[:k], "count": sums[k:2 * k], "objective": float(sums[2 * k]) / max(1.0, float(sums[2 * k + 1])),
                "rows": float(sums[2 * k + 2]), "time": elapsed}

    @torch.no_grad()
    def _validate(self) -> dict[str, Any]:
        self.net.eval()
        self.loss_fn.eval()
        k = len(self.tasks)
        loss_sum = torch.zeros(k, device=self.device)
        count_sum = torch.zeros(k, device=self.device)
        outs: dict[str, list[torch.Tensor]] = {n: [] for n in self.task_names}
        tgts: dict[str, list[torch.Tensor]] = {n: [] for n in self.task_names}
        oks: dict[str, list[torch.Tensor]] = {n: [] for n in self.task_names}
        for batch in epoch_loader(self.val_set, self.prepared, self.cfg, self.device, self.world_size, False, 0):
            batch = to_device(batch, self.device, self.non_blocking)
            with self._autocast():
                outputs = self.net(batch)
            res = self.loss_fn.compute(outputs, batch)
            loss_sum += res.task_losses * res.counts
            count_sum += res.counts
            for n in self.task_names:
                outs[n].append(outputs[n].float())
                tgts[n].append(batch["targets"][n])
                oks[n].append(batch["valid"][n])
        sums = dist.all_reduce_sum(torch.cat([loss_sum, count_sum])).double().cpu()
        metrics: dict[str, dict[str, Any]] = {}
        for t in self.tasks:
            if not outs[t.name]:
                continue
            ok = torch.cat(oks[t.name]).cpu().numpy()
            pred = outputs_to_numpy(t, torch.cat(outs[t.name]))[ok]
            tgt = torch.cat(tgts[t.name]).cpu().numpy()[ok]
            gathered = dist.all_gather_objects((pred, tgt))
            pred = np.concatenate([g[0] for g in gathered])
            tgt = np.concatenate([g[1] for g in gathered])
            metrics[t.name] = task_metrics(t, pred, tgt)
        loss = sums[:k] / sums[k:].clamp_min(1.0)
        if not bool(torch.isfinite(loss).all()):
            self.failed_tasks = [n for n, v in zip(self.task_names, loss.tolist()) if not math.isfinite(v)]
            self.request_stop("nonfinite")
        return {"loss": loss, "count": sums[k:], "metrics": metrics}
