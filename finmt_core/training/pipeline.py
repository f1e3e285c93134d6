"""Public entry points: :func:`train_run` (config -> finished run directory) and
:func:`load_run_data` (run directory -> the exact data it was trained on).

A fresh run validates everything that can fail fast (data, horizon vs history, model/task
compatibility) *before* its directory is created, so a bad command leaves nothing behind.
A run the dashboard created (state "queued", no checkpoint) or one that was cancelled/killed
is continued with ``resume=True``.

One trainer per run: the training holds the run's lock (:meth:`RunDir.training_lock`) from
before it reads the run until it returns, so a second ``--resume`` of the same run refuses
instead of training beside the first. A full disk ends the training with one
:class:`RunError` line; everything on disk stays whole and ``--resume`` continues once there
is space again.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from finmt_core.config import ExperimentConfig
from finmt_core.errors import ConfigError, FinmtError, RunError
from finmt_core.training import distributed as dist
from finmt_core.training.atomic import is_disk_full
from finmt_core.training.callbacks import Callback, default_callbacks
from finmt_core.training.checkpoint import load_checkpoint, model_from_checkpoint
from finmt_core.training.device import resolve_device, seed_everything
from finmt_core.training.optim import build_param_groups
from finmt_core.training.predict import predict_rows, segment_predictions
from finmt_core.training.runs import RunDir, create_run, effective_state, now_iso, open_run
from finmt_core.training.trainer import Trainer

log = logging.getLogger(__name__)

SHORTCUTS = ("demo", "synthetic")
#: Config fields a resume may change (they do not alter what is learned, or extend it).
RESUMABLE_FIELDS = ("epochs", "device", "num_workers", "heartbeat_s", "compile", "amp", "patience")


def _is_shortcut(source: str) -> bool:
    return source.strip().lower() in SHORTCUTS


def load_source_panel(config: ExperimentConfig) -> pd.DataFrame:
    """The panel named by ``config.data.source`` (synthetic uses ``data.synthetic`` kwargs)."""
    from finmt_core.data.panel import load_panel

    src = config.data.source
    if src.strip().lower() == "synthetic":
        from finmt_core.data.samples import synthetic_market

        return synthetic_market(**config.data.synthetic)
    return load_panel(src, date_format=config.data.date_format)


def _run_panel(run: RunDir, config: ExperimentConfig) -> pd.DataFrame:
    if run.panel_path.is_file():
        from finmt_core.data.panel import load_panel

        return load_panel(run.panel_path, name=f"{run.name}/panel.parquet")
    if not _is_shortcut(config.data.source) and not Path(config.data.source).exists():
        raise RunError(f"run {run.name!r} has no panel.parquet and its data source {config.data.source!r} is gone")
    return load_source_panel(config)


def load_run_data(run_dir: str | Path | RunDir) -> tuple[pd.DataFrame, Any]:
    """Rebuild ``(panel, PreparedData)`` exactly as the run saw them.

    Demo/synthetic data is regenerated deterministically from the config; file and upload runs
    read their copy ``panel.parquet``. The feature scaler comes from ``best.pt`` when there is
    one (identical to refitting on the train segment, but immune to later code changes).
    """
    from finmt_core.data.prepare import prepare

    run = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
    config = run.config()
    panel = _run_panel(run, config)
    scaler = None
    for path in (run.best_checkpoint, run.last_checkpoint):
        if path.is_file():
            scaler = load_checkpoint(path).get("scaler")
            break
    return panel, prepare(panel, config, scaler_state=scaler)


def _panel_copy(panel: pd.DataFrame) -> pd.DataFrame:
    out = panel.copy()
    out.attrs = {"source": str(panel.attrs.get("source", ""))}  # attrs must be JSON for parquet
    return out


def _resume_config(stored: ExperimentConfig, given: ExperimentConfig | None) -> ExperimentConfig:
    if given is None:
        return stored
    a, b = stored.model_dump(mode="json"), given.model_dump(mode="json")
    for f in RESUMABLE_FIELDS:
        a["train"][f] = b["train"][f]
    a["name"], a["preset"] = b["name"], b["preset"]
    if a != b:
        diff = sorted(k for k in a if a[k] != b[k])
        raise RunError(
            f"cannot resume with a different configuration (sections {diff} differ); only "
            f"train.{', train.'.join(RESUMABLE_FIELDS)} may change on --resume. Start a new run instead."
        )
    return stored.model_copy(update={"train": given.train})


def _device_type(config: ExperimentConfig) -> str:
    return "cuda" if config.train.device != "cpu" and torch.cuda.is_available() else "cpu"


def train_run(
    config: ExperimentConfig | None,
    runs_root: str | Path,
    name: str | None = None,
    resume: bool = False,
    panel: pd.DataFrame | None = None,
    callbacks: Sequence[Callback] = (),
) -> RunDir:
    """Train (or fit) ``config`` into a run directory under ``runs_root`` and return it.

    Args:
        config: the experiment; with ``resume`` it may be None (use the run's config.yaml) or
            differ from it only in :data:`RESUMABLE_FIELDS` of ``train``.
        runs_root: folder of run directories.
        name: run name (default ``<preset>-<timestamp>``); required with ``resume``.
        resume: continue the run ``name`` from ``checkpoints/last.pt`` (or start a queued run).
        panel: an already loaded panel (an upload); it is copied into the run as panel.parquet.
        callbacks: extra callbacks (progress bar, printing) after the default ones.

    Raises:
        ConfigError / DataError: bad config or data (fresh runs: before anything is written).
        RunError: resume problems, or the run failed (NaN loss); status.json says why.
    """
    probe = config if config is not None else (open_run(runs_root, name).config() if name else None)
    if probe is None:
        raise RunError("resume needs the name of the run to continue")
    if probe.split.folds > 1:  # never train one split and silently ignore the folds
        raise ConfigError(
            f"split.folds = {probe.split.folds} asks for walk-forward training, and train_run trains one split. "
            "Train it with `finmt train` (or finmt_core.training.walk_forward.train_walk_forward), or set split.folds: 1"
        )
    owns_group = dist.setup(_device_type(probe))
    held: list[RunDir] = []  # the run, once known (for the disk-full message)
    try:
        with contextlib.ExitStack() as locks:
            return _train_run(config, Path(runs_root), name, resume, panel, list(callbacks), locks, held)
    except OSError as exc:
        if not is_disk_full(exc):
            raise
        raise _disk_full(held[0] if held else None, exc) from None
    finally:
        if owns_group:
            dist.cleanup()


def _disk_full(run: RunDir | None, exc: OSError) -> RunError:
    """The one-line error of a full disk; the run (if any) is marked failed when that still fits."""
    where = exc.filename or "a run file"
    if run is None:
        return RunError(f"no space left on device while writing {where}; free some space and train again")
    msg = (f"no space left on device while writing {where}; the files of run {run.name!r} are intact. Free some "
           f"space, then continue from its last checkpoint: finmt train --resume {run.name} --run-dir {run.path.parent}")
    if dist.is_main_process():
        with contextlib.suppress(OSError):
            run.write_status(state="failed", error=msg, finished=now_iso(), message="failed: disk full")
    return RunError(msg)


def _train_run(config: ExperimentConfig | None, root: Path, name: str | None, resume: bool,
               panel: pd.DataFrame | None, callbacks: list[Callback], locks: contextlib.ExitStack,
               held: list[RunDir]) -> RunDir:
    main = dist.is_main_process()
    ckpt = None
    panel_given = panel is not None
    if resume:
        if not name:
            raise RunError("resume needs the name of the run to continue")
        run = open_run(root, name)
        if main:  # before anything is read: a second trainer of this run stops here, touching nothing
            locks.enter_context(run.training_lock())
            held.append(run)
        state = run.effective_state()
        # only rank 0 judges: under torchrun the other ranks may read rank 0's "running" status
        if main and state == "running" and run.status().get("pid") != os.getpid():
            raise RunError(f"run {name!r} is still running (pid {run.status().get('pid')}); cancel it first")
        config = _resume_config(run.config(), config)
        if run.last_checkpoint.is_file():
            ckpt = load_checkpoint(run.last_checkpoint)
        elif main:
            _forget_earlier_training(run)
        if main:
            run.clean_temp_files()
        panel = panel if panel is not None and not run.panel_path.is_file() else _run_panel(run, config)
    else:
        assert config is not None
        panel = panel if panel is not None else load_source_panel(config)
        run = None  # type: ignore[assignment]
    assert config is not None
    if config.model.name == "ensemble" and main:  # members first: train (or reuse) them, name them in the config
        from finmt_core.ensemble.build import resolve_ensemble

        config = resolve_ensemble(config, root, callbacks)
    from finmt_core.data.prepare import prepare  # after the lock: a refused trainer stops at once
    from finmt_core.models import create_model, is_estimator

    try:
        device = resolve_device(config.train.device)
        seed_everything(config.train.seed)
        prepared = prepare(panel, config, scaler_state=ckpt["scaler"] if ckpt else None)
        estimator = is_estimator(config.model.name)
        model = None if estimator else create_model(config.model.name, config.model.params, config.tasks, prepared.info)
        if model is not None:
            build_param_groups(model, None, config.train)  # a bad train.lr_groups fails before any file is written
            from finmt_core.data.balanced_sampling import check_balanced_sampling

            check_balanced_sampling(config, model.input_kind, dist.world_size())
    except Exception as exc:
        if run is not None and main:  # a queued/resumed run must not stay "queued" when its data fails
            _mark_failed(run, exc)
        raise

    if run is None:  # fresh: everything validated, now create the directory (main process only)
        outcome: tuple[str, str] = ("", "")
        if main:
            try:
                outcome = ("ok", create_run(root, name, config).name)
            except RunError as exc:
                outcome = ("error", str(exc))
        # every rank learns the name, or the error (a rank must never wait for a failed main)
        kind, value = dist.broadcast_object(outcome)
        if kind == "error":
            raise RunError(value)
        run = RunDir(root / value)
        if main:
            locks.enter_context(run.training_lock())
            held.append(run)
    elif main:
        run.write_config(config)
    # Runs are self-contained: anything not regenerable from the config is copied in.
    copy_panel = not run.panel_path.is_file() and (panel_given or not _is_shortcut(config.data.source))
    if main:
        if copy_panel:
            run.write_panel(_panel_copy(panel))
        run.clear_cancel()  # a cancel file from an earlier stop must not stop this session
        run.write_status(state="running", pid=os.getpid(), host=socket.gethostname(), device=str(device),
                         started=now_iso(), finished=None, error=None, heartbeat=now_iso(),
                         message="preparing", epochs=config.train.epochs)
    try:
        if estimator:
            if main:
                from finmt_core.training.fit_estimator import fit_estimator_run

                record = fit_estimator_run(config, prepared, run)
                run.write_status(state="done", finished=now_iso(), progress=1.0, epoch=1, epochs=1,
                                 message="fitted", heartbeat=now_iso(), best_epoch=1,
                                 best_val_loss=record["val_loss"], best_val_score=record.get("val_score"))
            dist.barrier()
            return run
        assert model is not None
        cbs = default_callbacks(run if main else None, config.train) + callbacks
        trainer = Trainer(config, prepared, model, device, cbs, run=run if main else None)
        if ckpt is not None:
            trainer.restore(ckpt)
            if main:
                _heal_metrics(run, ckpt)
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
            write_predictions(run, prepared, trainer.model, device)
            run.write_status(state="done", finished=now_iso(), progress=1.0, eta_s=0.0, heartbeat=now_iso(),
                             message=f"done after {trainer.epoch} epoch(s)")
        dist.barrier()
        return run
    except KeyboardInterrupt:
        if main:
            run.write_status(state="cancelled", finished=now_iso(), message="interrupted")
        raise
    except OSError as exc:
        if not is_disk_full(exc):
            if main:
                _mark_failed(run, exc)
            raise
        raise _disk_full(run, exc) from None
    except RunError:
        raise
    except Exception as exc:
        if main:
            _mark_failed(run, exc)
        raise


def _mark_failed(run: RunDir, exc: BaseException) -> None:
    text = str(exc) if isinstance(exc, FinmtError) else f"{type(exc).__name__}: {exc}"
    try:
        run.write_status(state="failed", error=text, finished=now_iso(), message="failed")
    except OSError as write_exc:  # e.g. the disk is full: the original error is the one to report
        log.warning("could not record the failure of run %s: %s", run.name, write_exc)


def _forget_earlier_training(run: RunDir) -> None:
    """A run resumed without ``last.pt`` trains from epoch 1: the metrics log and per-epoch
    checkpoints of an earlier training (whose last.pt was deleted) would duplicate epochs."""
    if not run.metric_records():
        return
    log.warning("run %s has no checkpoints/last.pt: training starts again from epoch 1 and its metrics log "
                "is restarted", run.name)
    run.truncate_metrics(0)
    for old in run.checkpoints_dir.glob("epoch-*.pt"):
        with contextlib.suppress(FileNotFoundError):
            old.unlink()


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


def _heal_metrics(run: RunDir, ckpt: dict[str, Any]) -> None:
    """metrics.jsonl = lines up to the checkpoint's epoch, the checkpoint's own line restored
    if a crash came between writing last.pt and appending it."""
    epoch = int(ckpt["epoch"])
    run.truncate_metrics(epoch)
    record = ckpt.get("record")
    if record is not None and epoch > 0 and not any(int(r.get("epoch", -1)) == epoch for r in run.metric_records()):
        run.append_metrics(record)


def write_predictions(run: RunDir, prepared: Any, model: torch.nn.Module, device: torch.device) -> None:
    """predictions.parquet from the best checkpoint's weights (the current ones if none)."""
    if run.best_checkpoint.is_file():
        model = model_from_checkpoint(load_checkpoint(run.best_checkpoint), device=device)
    model.eval()

    def predict(d: Any, n: Any) -> dict[str, Any]:
        return predict_rows(model, prepared, d, n, device)

    run.write_predictions(segment_predictions(predict, prepared))


__all__ = ["effective_state", "load_run_data", "load_source_panel", "train_run", "write_predictions"]
