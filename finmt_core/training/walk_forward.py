"""Walk-forward training: ``split.folds > 1`` trains one model per fold into ONE run directory.

Layout::

    runs/<name>/config.yaml        the walk-forward config (split.folds = K, split.walk_forward)
                status.json        state and progress over all folds (fold, folds)
                panel.parquet      the input panel (file / upload sources)
                folds/fold0 .. fold<K-1>/   one ordinary run directory per fold: its own
                                   config.yaml (explicit split.val_start / split.test_start),
                                   checkpoints, metrics.jsonl, predictions.parquet (the fold's
                                   val + test rows), evaluation.json
                evaluation.json    ``finmt evaluate``: per-fold metrics, their aggregate (mean ± std
                                   over folds, model and baselines) and the last fold's gates

Folds come from :func:`finmt_core.evaluation.walk_forward.fold_configs` (consecutive,
non-overlapping test blocks; expanding or rolling train windows, purged + embargoed; each
fold's panel is cut at its last test date, so nothing after the fold's test block is ever
read). Resuming continues with the first unfinished fold (from its ``last.pt``); finished
folds are left as they are. Analysis pages and ``finmt predict / backtest / report`` use the
last fold (its model and its test segment): :func:`analysis_run`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from finmt_core.config import ExperimentConfig
from finmt_core.errors import ConfigError, DataError, FinmtError, RunError
from finmt_core.training.callbacks import Callback
from finmt_core.training.runs import RunDir, create_run, now_iso, open_run

log = logging.getLogger(__name__)

#: Sub-folder of a walk-forward run that holds the fold runs.
FOLDS_DIR = "folds"


def is_walk_forward(run: RunDir) -> bool:
    """True when ``run`` is a walk-forward run (its config has ``split.folds > 1``)."""
    try:
        return run.exists() and run.config().split.folds > 1
    except FinmtError:  # a damaged config: not ours to judge here
        return False


def fold_run(run: RunDir, k: int) -> RunDir:
    """The directory of fold ``k`` (0-based) of a walk-forward run."""
    return RunDir(run.path / FOLDS_DIR / f"fold{k}")


def fold_runs(run: RunDir) -> list[RunDir]:
    """The fold runs that exist so far, in fold order."""
    folds = run.config().split.folds
    return [f for f in (fold_run(run, k) for k in range(folds)) if f.exists()]


def analysis_run(run: RunDir) -> RunDir:
    """The run whose model and test segment the analysis pages use: for a walk-forward run
    its last fold that has predictions (else the last fold), for any other run ``run`` itself."""
    if not is_walk_forward(run):
        return run
    folds = fold_runs(run)
    ready = [f for f in folds if f.predictions_path.is_file()]
    return (ready or folds or [run])[-1]


def walk_forward_parent(run: RunDir) -> RunDir | None:
    """The walk-forward run that ``run`` is a fold of, or None."""
    if run.path.parent.name != FOLDS_DIR:
        return None
    parent = RunDir(run.path.parent.parent)
    return parent if is_walk_forward(parent) else None


class FoldRelay(Callback):
    """Mirrors a fold's progress into the walk-forward run's status.json (so the run's own
    heartbeat stays fresh and the dashboard shows one progress bar over all folds) and stops
    the fold when the walk-forward run is asked to cancel."""

    name = "fold_relay"

    def __init__(self, parent: RunDir, fold: int, folds: int) -> None:
        self.parent, self.fold, self.folds = parent, fold, folds

    def _progress(self, fold_progress: float) -> float:
        return (self.fold + min(max(fold_progress, 0.0), 1.0)) / self.folds

    def on_train_start(self, trainer: Any) -> None:
        if trainer.is_main:
            self.parent.write_status(heartbeat=now_iso(), fold=self.fold, folds=self.folds,
                                     message=f"fold {self.fold + 1}/{self.folds}: training from epoch {trainer.epoch + 1}")

    def on_heartbeat(self, trainer: Any, info: dict[str, Any]) -> None:
        if trainer.is_main:
            self.parent.write_status(heartbeat=now_iso(), progress=self._progress(float(info.get("progress", 0.0))),
                                     message=f"fold {self.fold + 1}/{self.folds}: {info.get('message', '')}")

    def on_epoch_end(self, trainer: Any, record: Mapping[str, Any]) -> None:
        if trainer.is_main:
            self.parent.write_status(heartbeat=now_iso(), progress=self._progress(record["epoch"] / trainer.epochs),
                                     message=f"fold {self.fold + 1}/{self.folds}: epoch {record['epoch']}/{trainer.epochs}")

    def stop_requested(self) -> bool:
        return self.parent.cancel_requested()


def _check(config: ExperimentConfig) -> int:
    folds = int(config.split.folds)
    if folds < 2:
        raise ConfigError(f"walk-forward training needs split.folds >= 2, got {folds}")
    return folds


def train_walk_forward(config: ExperimentConfig | None, runs_root: str | Path, name: str | None = None,
                       resume: bool = False, panel: pd.DataFrame | None = None,
                       callbacks: Sequence[Callback] = ()) -> RunDir:
    """Train one model per walk-forward fold into one run directory (see the module doc).

    Args:
        config: the experiment (``split.folds >= 2``); with ``resume`` it may be None (the run's
            config.yaml) or differ only in the resumable ``train`` fields.
        runs_root: folder of run directories.
        name: run name (default ``<preset>-<timestamp>``); required with ``resume``.
        resume: continue the run ``name`` with its first unfinished fold.
        panel: an already loaded panel (an upload); copied into the run as panel.parquet.
        callbacks: extra callbacks for every fold's trainer (progress bar, printing).

    Returns:
        The walk-forward run (state ``done``, or ``cancelled`` when a fold was cancelled).

    Raises:
        ConfigError / DataError: bad config, or data too short for the folds (fresh runs: before
            anything is written).
        RunError: a fold failed (the run's status.json says which and why).
    """
    from finmt_core.evaluation.walk_forward import fold_configs
    from finmt_core.training.pipeline import resumable_overrides, resumed_config
    from finmt_core.training.run_data import is_shortcut, load_source_panel, panel_copy, run_panel

    root = Path(runs_root)
    if resume:
        if not name:
            raise RunError("resume needs the name of the walk-forward run to continue")
        run = open_run(root, name)
        stored = run.config()
        overrides = resumable_overrides(stored, config, repr(name)) if config is not None else None
        config = resumed_config(stored, overrides, repr(name))
        _check(config)
        panel = panel if panel is not None and not run.panel_path.is_file() else run_panel(run, config)
    else:
        assert config is not None
        _check(config)
        keep_panel = panel is not None or not is_shortcut(config.data.source)  # runs are self-contained
        panel = panel if panel is not None else load_source_panel(config)
        fold_configs(config, panel, config.split.folds, "probe")  # too-short data fails before any file
        run = create_run(root, name, config)
        if keep_panel:
            run.write_panel(panel_copy(panel))
    try:
        with run.training_lock():
            return _train_folds(run, config, panel, list(callbacks), fold_configs)
    except (ConfigError, DataError):
        if not resume and not fold_runs(run):  # refused before any fold existed: leave nothing behind
            shutil.rmtree(run.path, ignore_errors=True)
        raise


def _train_folds(run: RunDir, config: ExperimentConfig, panel: pd.DataFrame, callbacks: list[Callback],
                 fold_configs: Any) -> RunDir:
    from finmt_core.training.pipeline import train_run

    folds = _check(config)
    run.write_config(config)  # a resume may change the resumable train fields (epochs, device ...)
    run.clear_cancel()
    run.write_status(state="running", pid=os.getpid(), host=socket.gethostname(), started=now_iso(), finished=None,
                     error=None, heartbeat=now_iso(), folds=folds, walk_forward=config.split.walk_forward,
                     message="preparing the folds")
    k = 0
    try:
        plans = fold_configs(config, panel, folds, run.name)
        (run.path / FOLDS_DIR).mkdir(exist_ok=True)
        for k, (cfg, cut) in enumerate(plans):  # a handful of folds, each a whole training
            fold = fold_run(run, k)
            if fold.exists() and fold.status().get("state") == "done":
                continue
            if run.cancel_requested():
                return _cancelled(run, k, folds)
            relay = [FoldRelay(run, k, folds), *callbacks]
            if fold.exists():
                log.info("walk-forward %s: resuming fold %d/%d", run.name, k + 1, folds)
                train_run(cfg, fold.path.parent, name=fold.name, resume=True, panel=cut, callbacks=relay)
            else:
                if fold.path.is_dir():  # a fold killed between mkdir and its config: nothing in it to keep
                    shutil.rmtree(fold.path)
                log.info("walk-forward %s: fold %d/%d, val from %s, test from %s", run.name, k + 1, folds,
                         cfg.split.val_start, cfg.split.test_start)
                train_run(cfg, fold.path.parent, name=fold.name, panel=cut, callbacks=relay)
            state = fold.status().get("state")
            if state == "cancelled":
                return _cancelled(run, k, folds)
            run.write_status(progress=(k + 1) / folds, heartbeat=now_iso(), fold=k,
                             message=f"fold {k + 1}/{folds} done")
        run.write_status(state="done", finished=now_iso(), progress=1.0, eta_s=0.0, heartbeat=now_iso(),
                         message=f"done: {folds} walk-forward folds ({config.split.walk_forward})",
                         **_best_of_last_fold(fold_run(run, folds - 1)))
        return run
    except (Exception, KeyboardInterrupt) as exc:
        with contextlib.suppress(OSError):
            run.write_status(state="failed" if not isinstance(exc, KeyboardInterrupt) else "cancelled",
                             finished=now_iso(), error=str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__,
                             fold=k, message=f"stopped in fold {k + 1}/{folds}")
        raise


def _best_of_last_fold(fold: RunDir) -> dict[str, Any]:
    st = fold.status()
    return {k: st.get(k) for k in ("best_epoch", "best_val_loss", "best_val_score", "epoch", "epochs", "device")}


def _cancelled(run: RunDir, k: int, folds: int) -> RunDir:
    run.write_status(state="cancelled", finished=now_iso(), fold=k,
                     message=f"cancelled in fold {k + 1}/{folds}; continue with --resume {run.name}")
    return run
