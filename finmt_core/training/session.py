"""One training session of a run directory: prepare the data and the model, fit (the trainer
for nets, ``fit`` for estimators), record every state in status.json, write the predictions.

:mod:`finmt_core.training.pipeline` decides *which* run, config, panel and checkpoint a
session gets (a new run, a queued one, a resumed one); everything after that is here and is
the same for all three.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch

from finmt_core.config import ExperimentConfig
from finmt_core.errors import FinmtError, RunError
from finmt_core.training import distributed as dist
from finmt_core.training.atomic import is_disk_full
from finmt_core.training.callbacks import Callback, default_callbacks
from finmt_core.training.checkpoint import load_checkpoint, model_from_checkpoint
from finmt_core.training.device import resolve_device, seed_everything
from finmt_core.training.optim import build_param_groups
from finmt_core.training.predict import predict_rows, segment_predictions
from finmt_core.training.run_data import panel_copy
from finmt_core.training.runs import RunDir, now_iso
from finmt_core.training.trainer import Trainer

if TYPE_CHECKING:
    from finmt_core.data.prepare import PreparedData
    from finmt_core.models.base import MultiTaskModel

log = logging.getLogger(__name__)


@dataclass
class Setup:
    """What a session trains: the prepared data, the net (None for an estimator run) and where."""

    prepared: PreparedData
    model: MultiTaskModel | None
    device: torch.device


def prepare_setup(config: ExperimentConfig, panel: pd.DataFrame, scaler_state: dict[str, Any] | None) -> Setup:
    """Prepare the data and build the model; everything that can fail fast fails here (before a
    new run's directory exists). ``scaler_state``: the checkpoint's scaler when resuming."""
    from finmt_core.data.prepare import prepare
    from finmt_core.models import create_model, is_estimator

    device = resolve_device(config.train.device)
    seed_everything(config.train.seed)
    prepared = prepare(panel, config, scaler_state=scaler_state)
    model = None
    if not is_estimator(config.model.name):
        model = create_model(config.model.name, config.model.params, config.tasks, prepared.info)
        build_param_groups(model, None, config.train)  # a bad train.lr_groups fails before any file is written
        from finmt_core.data.balanced_sampling import check_balanced_sampling

        check_balanced_sampling(config, str(model.input_kind), dist.world_size())
    return Setup(prepared, model, device)


def run_session(run: RunDir, config: ExperimentConfig, setup: Setup, panel: pd.DataFrame, copy_panel: bool,
                ckpt: dict[str, Any] | None, callbacks: Sequence[Callback]) -> RunDir:
    """Train ``run`` (its directory exists, its lock is held by the caller on the main process).

    Args:
        run: the run directory.
        config: its config (as written to config.yaml).
        setup: from :func:`prepare_setup`.
        panel: the panel ``setup`` was prepared from.
        copy_panel: write ``panel`` into the run as panel.parquet (runs are self-contained).
        ckpt: a ``last.pt`` dict to continue from (None: from epoch 1).
        callbacks: extra callbacks after the default ones.

    Raises:
        RunError: the run failed (NaN loss, a full disk); status.json says why.
    """
    main = dist.is_main_process()
    if main:
        if copy_panel:
            run.write_panel(panel_copy(panel))
        run.clear_cancel()  # a cancel file from an earlier stop must not stop this session
        run.write_status(state="running", pid=os.getpid(), host=socket.gethostname(), device=str(setup.device),
                         started=now_iso(), finished=None, error=None, heartbeat=now_iso(),
                         message="preparing", epochs=config.train.epochs)
    try:
        if setup.model is None:
            return _fit_estimator(run, config, setup, main)
        return _fit_model(run, config, setup, ckpt, list(callbacks), main)
    except KeyboardInterrupt:
        if main:
            run.write_status(state="cancelled", finished=now_iso(), message="interrupted")
        raise
    except OSError as exc:
        if not is_disk_full(exc):
            if main:
                mark_failed(run, exc)
            raise
        raise disk_full_error(run, exc) from None
    except RunError:
        raise
    except Exception as exc:
        if main:
            mark_failed(run, exc)
        raise


def _fit_estimator(run: RunDir, config: ExperimentConfig, setup: Setup, main: bool) -> RunDir:
    if main:
        from finmt_core.training.fit_estimator import fit_estimator_run

        record = fit_estimator_run(config, setup.prepared, run)
        run.write_status(state="done", finished=now_iso(), progress=1.0, epoch=1, epochs=1,
                         message="fitted", heartbeat=now_iso(), best_epoch=1,
                         best_val_loss=record["val_loss"], best_val_score=record.get("val_score"))
    dist.barrier()
    return run


def _fit_model(run: RunDir, config: ExperimentConfig, setup: Setup, ckpt: dict[str, Any] | None,
               callbacks: list[Callback], main: bool) -> RunDir:
    assert setup.model is not None
    cbs = default_callbacks(run if main else None, config.train) + callbacks
    trainer = Trainer(config, setup.prepared, setup.model, setup.device, cbs, run=run if main else None)
    if ckpt is not None:
        trainer.restore(ckpt)
        if main:
            heal_metrics(run, ckpt)
    state = trainer.fit()
    if dist.world_size() > 1:
        _record_rank_sync(run, trainer.model, main)
    if state == "failed":
        msg = trainer.failure_message
        if main:
            run.write_status(state="failed", error=msg, finished=now_iso(), message="failed")
        raise RunError(f"run {run.name!r} failed: {msg}")
    if state == "cancelled":
        if main:
            run.write_status(state="cancelled", finished=now_iso(),
                             message=f"cancelled after epoch {trainer.epoch}; continue with --resume {run.name}")
        return run
    if main:
        run.write_status(message="predicting validation and test rows", heartbeat=now_iso())
        write_predictions(run, setup.prepared, trainer.model, setup.device)
        run.write_status(state="done", finished=now_iso(), progress=1.0, eta_s=0.0, heartbeat=now_iso(),
                         message=f"done after {trainer.epoch} epoch(s)")
    dist.barrier()
    return run


def mark_failed(run: RunDir, exc: BaseException) -> None:
    """Record ``exc`` as the run's failure (when the disk still takes it)."""
    text = str(exc) if isinstance(exc, FinmtError) else f"{type(exc).__name__}: {exc}"
    try:
        run.write_status(state="failed", error=text, finished=now_iso(), message="failed")
    except OSError as write_exc:  # e.g. the disk is full: the original error is the one to report
        log.warning("could not record the failure of run %s: %s", run.name, write_exc)


def disk_full_error(run: RunDir | None, exc: OSError) -> RunError:
    """The one-line error of a full disk; the run (if any) is marked failed when that still fits."""
    where = exc.filename or "a run file"
    if run is None:
        return RunError(f"no space left on device while writing {where}; free some space and train again")
    msg = (f"no space left on device while writing {where}; the files of run {run.name!r} are intact. Free some "
           f"space, then continue from its last checkpoint: finmt train --resume {run.name} --runs-dir {run.path.parent}")
    if dist.is_main_process():
        with contextlib.suppress(OSError):
            run.write_status(state="failed", error=msg, finished=now_iso(), message="failed: disk full")
    return RunError(msg)


def forget_earlier_training(run: RunDir) -> None:
    """A run started without ``last.pt`` trains from epoch 1: the metrics log and per-epoch
    checkpoints of an earlier training (whose last.pt was deleted) would duplicate epochs."""
    if not run.metric_records():
        return
    log.warning("run %s has no checkpoints/last.pt: training starts again from epoch 1 and its metrics log "
                "is restarted", run.name)
    run.truncate_metrics(0)
    for old in run.checkpoints_dir.glob("epoch-*.pt"):
        with contextlib.suppress(FileNotFoundError):
            old.unlink()


def heal_metrics(run: RunDir, ckpt: dict[str, Any]) -> None:
    """metrics.jsonl = lines up to the checkpoint's epoch, the checkpoint's own line restored
    if a crash came between writing last.pt and appending it."""
    epoch = int(ckpt["epoch"])
    run.truncate_metrics(epoch)
    record = ckpt.get("record")
    if record is not None and epoch > 0 and not any(int(r.get("epoch", -1)) == epoch for r in run.metric_records()):
        run.append_metrics(record)


def weights_fingerprint(model: torch.nn.Module) -> list[float]:
    """Two float64 sums per parameter (plain and position-weighted): equal lists mean equal
    weights up to float noise, cheap enough to all-gather after DDP training."""
    out: list[float] = []
    for p in model.parameters():
        flat = p.detach().double().flatten().cpu()
        out += [float(flat.sum()), float((flat * torch.arange(1, flat.numel() + 1, dtype=torch.float64)).sum())]
    return out


def _record_rank_sync(run: RunDir, model: torch.nn.Module, main: bool) -> None:
    """DDP self-check: every rank must end with the same weights; rank 0 records the verdict."""
    prints = dist.all_gather_objects(weights_fingerprint(model))
    ref = torch.tensor(prints[0])
    in_sync = all(torch.allclose(torch.tensor(p), ref, rtol=1e-5, atol=1e-6) for p in prints[1:])
    if main:
        # one checksum per rank (sum of its fingerprint): comparable with the saved checkpoint's weights
        run.write_status(ddp={"world_size": len(prints), "weights_in_sync": in_sync},
                         ddp_rank_checksums=[float(sum(p)) for p in prints])
        if not in_sync:
            log.warning("DDP ranks ended with different weights: results are not reproducible across ranks")


def write_predictions(run: RunDir, prepared: PreparedData, model: MultiTaskModel, device: torch.device) -> None:
    """predictions.parquet from the best checkpoint's weights (the current ones if none)."""
    if run.best_checkpoint.is_file():
        model = model_from_checkpoint(load_checkpoint(run.best_checkpoint), device=device)
    model.eval()

    def predict(d: np.ndarray, n: np.ndarray) -> dict[str, Any]:
        return predict_rows(model, prepared, d, n, device)

    run.write_predictions(segment_predictions(predict, prepared))
