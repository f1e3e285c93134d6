"""Training start-up: which run, which config, which panel and which checkpoint a session gets.

Three ways in, one per situation:

- :func:`start` (``finmt train --preset ...``): a new run from a config. Everything that can
  fail fast (data, horizon vs history, model/task compatibility) is checked *before* the run's
  directory is created, so a bad command leaves nothing behind.
- :func:`start_queued`: a run whose directory was written ahead ("queued": the dashboard and
  the demo write config.yaml first) and that never completed an epoch: trains from epoch 1.
- :func:`resume` (``finmt train --resume NAME``): continue a stopped run exactly from its
  ``checkpoints/last.pt``.

:func:`continue_run` is ``finmt train --resume NAME``'s choice between the last two, and
:func:`train_run` the older single entry point (kept; it calls these). A run's config.yaml
is read once per start; the fields a resume may change (:data:`RESUMABLE_FIELDS`) are
applied by :func:`finmt_core.config.with_overrides`, like every other override.
Walk-forward configs (``split.folds > 1``) go to :mod:`.walk_forward` from :func:`start`,
:func:`start_queued`, :func:`resume` and :func:`continue_run`; :func:`train_run` refuses them.

One trainer per run: the training holds the run's lock (:meth:`RunDir.training_lock`) from
before it reads the run's state until it returns, so a second trainer of the same run refuses
instead of training beside the first. A full disk ends the training with one
:class:`RunError` line; everything on disk stays whole and ``--resume`` continues once there
is space again.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from finmt_core.config import ExperimentConfig, with_overrides
from finmt_core.errors import ConfigError, RunError
from finmt_core.training import distributed as dist
from finmt_core.training.atomic import is_disk_full
from finmt_core.training.callbacks import Callback
from finmt_core.training.checkpoint import load_checkpoint
from finmt_core.training.run_data import is_shortcut, load_run_data, load_source_panel, run_panel
from finmt_core.training.runs import RunDir, create_run, effective_state, open_run
from finmt_core.training.session import (
    disk_full_error,
    forget_earlier_training,
    mark_failed,
    prepare_setup,
    run_session,
    weights_fingerprint,
    write_predictions,
)

#: Config fields a resume may change (they do not alter what is learned, or extend it).
RESUMABLE_FIELDS = ("epochs", "device", "num_workers", "heartbeat_s", "compile", "amp", "patience")

_Body = Callable[[contextlib.ExitStack, list[RunDir]], RunDir]


# ---- the entry points ---------------------------------------------------------------------
def start(config: ExperimentConfig, root: str | Path, *, name: str | None = None, panel: pd.DataFrame | None = None,
          callbacks: Sequence[Callback] = ()) -> RunDir:
    """Train ``config`` into a new run directory under ``root`` and return it.

    Args:
        config: the experiment.
        root: folder of run directories.
        name: run name (default ``<preset>-<timestamp>``; a taken name is a RunError).
        panel: an already loaded panel (an upload); it is copied into the run as panel.parquet.
        callbacks: extra callbacks (progress bar, printing) after the default ones.

    Raises:
        ConfigError / DataError: bad config or data, before anything is written.
        RunError: the run failed (NaN loss, full disk); its status.json says why.
    """
    if config.split.folds > 1:
        from finmt_core.training.walk_forward import train_walk_forward

        return train_walk_forward(config, root, name=name, panel=panel, callbacks=callbacks)
    return _guarded(config, lambda locks, held: _start_new(config, Path(root), name, panel, list(callbacks), locks, held))


def start_queued(name: str, root: str | Path, *, overrides: Mapping[str, Any] | None = None,
                 panel: pd.DataFrame | None = None, callbacks: Sequence[Callback] = ()) -> RunDir:
    """Train the queued run ``name`` (config.yaml written ahead, no ``last.pt``) from epoch 1.

    ``overrides``: only :data:`RESUMABLE_FIELDS` of ``train`` (e.g. ``{"train": {"epochs": 3}}``).
    Raises RunError when the run has a ``last.pt`` (use :func:`resume`) or is training.
    """
    run, config = _open(name, root, overrides)
    if run.last_checkpoint.is_file():
        raise RunError(f"run {name!r} has trained before (checkpoints/last.pt): resume it instead "
                       f"(finmt train --resume {name})")
    return _existing(run, config, False, panel, callbacks)


def resume(name: str, root: str | Path, *, overrides: Mapping[str, Any] | None = None,
           panel: pd.DataFrame | None = None, callbacks: Sequence[Callback] = ()) -> RunDir:
    """Continue the run ``name`` exactly from its ``checkpoints/last.pt``.

    Args:
        name: the run (under ``root``).
        root: folder of run directories.
        overrides: only :data:`RESUMABLE_FIELDS` of ``train``, e.g. ``{"train": {"epochs": 20}}``.
        panel: the panel of an upload run without panel.parquet (otherwise its own is used).
        callbacks: extra callbacks after the default ones.

    Raises:
        RunError: no such run, no ``last.pt`` (start it with :func:`start_queued`), the run is
            training in another process, an override outside the resumable fields, or the
            run failed.
    """
    run, config = _open(name, root, overrides)
    if config.split.folds <= 1 and not run.last_checkpoint.is_file():
        raise RunError(f"run {name!r} has no checkpoints/last.pt to continue from (it never completed an epoch); "
                       "start it from epoch 1 instead (start_queued, or finmt train --resume NAME)")
    return _existing(run, config, True, panel, callbacks)


def continue_run(name: str, root: str | Path, *, overrides: Mapping[str, Any] | None = None,
                 panel: pd.DataFrame | None = None, callbacks: Sequence[Callback] = ()) -> RunDir:
    """``finmt train --resume NAME``: :func:`resume` a run that has ``last.pt``, else
    :func:`start_queued` it (a run the dashboard queued, or one stopped before its first epoch)."""
    run, config = _open(name, root, overrides)
    return _existing(run, config, run.last_checkpoint.is_file(), panel, callbacks)


def train_run(config: ExperimentConfig | None, runs_root: str | Path, name: str | None = None, resume: bool = False,
              panel: pd.DataFrame | None = None, callbacks: Sequence[Callback] = ()) -> RunDir:
    """The older single entry point: :func:`start` (``resume=False``) or :func:`continue_run`.

    With ``resume``, ``config`` may be None (the run's config.yaml) or differ from it only in
    :data:`RESUMABLE_FIELDS` of ``train``. Refuses ``split.folds > 1`` (ConfigError): train those
    with :func:`start` / ``finmt train``.
    """
    if not resume:
        if config is None:
            raise ConfigError("train_run needs a config to start a new run")
        _refuse_folds(config)
        return start(config, runs_root, name=name, panel=panel, callbacks=callbacks)
    if not name:
        raise RunError("resume needs the name of the run to continue")
    run = open_run(runs_root, name)
    stored = run.config()
    overrides = resumable_overrides(stored, config, name) if config is not None else None
    resumed = resumed_config(stored, overrides, name)
    _refuse_folds(resumed)
    return _existing(run, resumed, run.last_checkpoint.is_file(), panel, callbacks)


# ---- the config of a resumed run ----------------------------------------------------------
def resumable_overrides(stored: ExperimentConfig, given: ExperimentConfig, name: str = "the run") -> dict[str, Any]:
    """The overrides that turn ``stored`` into ``given`` (``name`` and ``preset`` aside).

    Raises RunError when they reach beyond :data:`RESUMABLE_FIELDS` of ``train``."""
    a, b = stored.model_dump(mode="json"), given.model_dump(mode="json")
    a["name"], a["preset"] = b["name"], b["preset"]
    a_train, b_train = a.pop("train"), b.pop("train")
    other = sorted([k for k in a if a[k] != b[k]] + [f"train.{k}" for k in a_train
                                                      if k not in RESUMABLE_FIELDS and a_train[k] != b_train[k]])
    if other:
        raise RunError(f"cannot resume {name} with a different configuration ({other} differ); only "
                       f"train.{', train.'.join(RESUMABLE_FIELDS)} may change on --resume. Start a new run instead.")
    changed = {k: b_train[k] for k in RESUMABLE_FIELDS if a_train[k] != b_train[k]}
    return {"train": changed} if changed else {}


def resumed_config(stored: ExperimentConfig, overrides: Mapping[str, Any] | None, name: str = "the run") -> ExperimentConfig:
    """``stored`` with ``overrides`` applied, which may touch only :data:`RESUMABLE_FIELDS` of ``train``."""
    if not overrides:
        return stored
    extra = sorted({*overrides} - {"train"}) + [f"train.{k}" for k in (overrides.get("train") or {})
                                                if k not in RESUMABLE_FIELDS]
    if extra:
        raise RunError(f"cannot resume {name} with {extra} changed; only train.{', train.'.join(RESUMABLE_FIELDS)} "
                       "may change on --resume. Start a new run instead.")
    return with_overrides(stored, overrides, where=f"the resumed config of {name}")


# ---- the sessions -------------------------------------------------------------------------
def _open(name: str, root: str | Path, overrides: Mapping[str, Any] | None) -> tuple[RunDir, ExperimentConfig]:
    """The run and its config (config.yaml read once) with the resume overrides applied."""
    run = open_run(root, name)
    return run, resumed_config(run.config(), overrides, repr(name))


def _refuse_folds(config: ExperimentConfig) -> None:
    if config.split.folds > 1:  # never train one split and silently ignore the folds
        raise ConfigError(
            f"split.folds = {config.split.folds} asks for walk-forward training, and train_run trains one split. "
            "Train it with `finmt train` (or finmt_core.training.pipeline.start), or set split.folds: 1"
        )


def _device_type(config: ExperimentConfig) -> str:
    return "cuda" if config.train.device != "cpu" and torch.cuda.is_available() else "cpu"


def _guarded(config: ExperimentConfig, body: _Body) -> RunDir:
    """Run ``body(locks, held)`` inside the process group, its locks released and a full disk
    turned into one RunError (naming the run once ``held`` knows it)."""
    owns_group = dist.setup(_device_type(config))
    held: list[RunDir] = []
    try:
        with contextlib.ExitStack() as locks:
            return body(locks, held)
    except OSError as exc:
        if not is_disk_full(exc):
            raise
        raise disk_full_error(held[0] if held else None, exc) from None
    finally:
        if owns_group:
            dist.cleanup()


def _with_members(config: ExperimentConfig, root: Path, callbacks: list[Callback]) -> ExperimentConfig:
    """An ensemble's members first: train (or reuse) them and name them in the config."""
    if config.model.name == "ensemble" and dist.is_main_process():
        from finmt_core.ensemble.build import resolve_ensemble

        return resolve_ensemble(config, root, callbacks)
    return config


def _start_new(config: ExperimentConfig, root: Path, name: str | None, panel: pd.DataFrame | None,
               callbacks: list[Callback], locks: contextlib.ExitStack, held: list[RunDir]) -> RunDir:
    main = dist.is_main_process()
    panel_given = panel is not None
    panel = panel if panel is not None else load_source_panel(config)
    config = _with_members(config, root, callbacks)
    setup = prepare_setup(config, panel, None)  # everything validated: now create the directory
    outcome: tuple[str, str] = ("", "")
    if main:
        try:
            outcome = ("ok", create_run(root, name, config).name)
        except RunError as exc:
            outcome = ("error", str(exc))
    kind, value = dist.broadcast_object(outcome)  # every rank learns the name, or the error
    if kind == "error":
        raise RunError(value)
    run = RunDir(root / value)
    if main:
        locks.enter_context(run.training_lock())
        held.append(run)
    copy_panel = panel_given or not is_shortcut(config.data.source)  # runs are self-contained
    return run_session(run, config, setup, panel, copy_panel, None, callbacks)


def _existing(run: RunDir, config: ExperimentConfig, from_checkpoint: bool, panel: pd.DataFrame | None,
              callbacks: Sequence[Callback]) -> RunDir:
    """Start (``from_checkpoint=False``) or resume a run whose directory exists."""
    if config.split.folds > 1:
        from finmt_core.training.walk_forward import train_walk_forward

        return train_walk_forward(config, run.path.parent, name=run.name, resume=True, panel=panel, callbacks=callbacks)
    return _guarded(config, lambda locks, held: _train_existing(run, config, from_checkpoint, panel, list(callbacks),
                                                                locks, held))


def _train_existing(run: RunDir, config: ExperimentConfig, from_checkpoint: bool, panel: pd.DataFrame | None,
                    callbacks: list[Callback], locks: contextlib.ExitStack, held: list[RunDir]) -> RunDir:
    main = dist.is_main_process()
    if main:  # before the run's state is read: a second trainer of this run stops here, touching nothing
        locks.enter_context(run.training_lock())
        held.append(run)
    # only rank 0 judges: under torchrun the other ranks may read rank 0's "running" status
    if main and run.effective_state() == "running" and run.status().get("pid") != os.getpid():
        raise RunError(f"run {run.name!r} is still running (pid {run.status().get('pid')}); cancel it first")
    ckpt = load_checkpoint(run.last_checkpoint) if from_checkpoint else None
    if main:
        if ckpt is None:
            forget_earlier_training(run)
        run.clean_temp_files()
    panel_given = panel is not None
    panel = panel if panel is not None and not run.panel_path.is_file() else run_panel(run, config)
    config = _with_members(config, run.path.parent, callbacks)
    try:
        setup = prepare_setup(config, panel, ckpt["scaler"] if ckpt else None)
    except Exception as exc:
        if main:  # a queued/resumed run must not stay "queued" when its data fails
            mark_failed(run, exc)
        raise
    if main:
        run.write_config(config)
    copy_panel = not run.panel_path.is_file() and (panel_given or not is_shortcut(config.data.source))
    return run_session(run, config, setup, panel, copy_panel, ckpt, callbacks)


__all__ = ["RESUMABLE_FIELDS", "continue_run", "effective_state", "load_run_data", "load_source_panel",
           "resumable_overrides", "resume", "resumed_config", "start", "start_queued", "train_run",
           "weights_fingerprint", "write_predictions"]
