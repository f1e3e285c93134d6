"""Run an Optuna study whose trials are ordinary finmt runs.

Objective (minimised): the trial run's best *monitored* value — with ``train.monitor: score``
(the default) the negated validation score, the unweighted mean of per-task skills over
chance (:func:`finmt_core.training.metrics.validation_score`). Unlike the weighted validation
loss, a trial cannot "improve" it by shrinking a searched task weight or rescaling a target.
The test segment is never read while tuning; evaluate the chosen trial afterwards with
:func:`evaluate_best`. Pruning: the trainer reports each epoch's monitored value to the trial; a pruned trial stops like an early
stop, keeps its run directory, and is marked PRUNED in the study.

Distributed search is Optuna's own: several processes or machines running
``finmt tune --storage <same RDB URL> --study <same name>`` share the study. The default
storage is ``$FINMT_OPTUNA_STORAGE``, else a local SQLite file ``<runs>/optuna.db``
(:mod:`finmt_core.tuning.storage`; PostgreSQL through psycopg 3).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from finmt_core.config import ExperimentConfig
from finmt_core.errors import ConfigError, RunError
from finmt_core.training.callbacks import Callback
from finmt_core.tuning.space import SearchSpace, apply_overrides, current_values, load_search_space
from finmt_core.tuning.storage import (  # noqa: F401 (re-exported: older imports)
    SQLITE_TIMEOUT_S,
    default_storage,
    display_url,
    storage_error,
    study_storage,
)
from finmt_core.tuning.storage import open_storage as _storage

log = logging.getLogger(__name__)

#: Fewer complete trials than this and parameter importances are flagged as unreliable.
MIN_TRIALS_FOR_IMPORTANCE = 20


def _create_or_join(name: str, url: str, sampler: Any, pruner: Any, attempts: int = 8) -> Any:
    """Create the study, or join it when another process already did.

    Two processes starting on a fresh database race to create Optuna's tables and the study
    row; the loser sees an OperationalError / IntegrityError. Retrying with a short, jittered
    back-off joins the study the winner created.
    """
    import random
    import time

    import optuna
    from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

    # ProgrammingError: PostgreSQL's "relation already exists" when two processes create the tables
    transient = (OperationalError, IntegrityError, ProgrammingError, optuna.exceptions.StorageInternalError)
    for attempt in range(attempts):
        try:
            return optuna.create_study(study_name=name, storage=_storage(url), direction="minimize",
                                       load_if_exists=True, sampler=sampler, pruner=pruner)
        except transient as exc:
            if attempt == attempts - 1:
                raise storage_error(url, exc) from None
            log.info("study storage busy (%s); retrying", type(exc).__name__)
            time.sleep(0.2 + random.random() * 0.5 * (attempt + 1))
    raise AssertionError("unreachable")


class OptunaPruning(Callback):
    """Report each epoch's monitored value (negated score or loss) to the trial; stop the run
    when Optuna prunes it."""

    def __init__(self, trial: Any) -> None:
        self.trial = trial
        self.pruned_at: int | None = None

    def on_epoch_end(self, trainer: Any, record: Mapping[str, Any]) -> None:
        val = record.get("monitor", record.get("val_loss"))
        if val is None:
            return
        self.trial.report(float(val), int(record["epoch"]))
        if self.trial.should_prune():
            self.pruned_at = int(record["epoch"])
            trainer.request_stop("early_stop")


@dataclass
class TuneResult:
    study_name: str
    storage: str
    n_trials: int
    best_value: float | None
    best_params: dict[str, Any]
    best_run: str | None
    defaults_value: float | None = None  # the defaults trial's value (when enqueued and complete)


def _best_monitor(run: Any) -> float:
    """The run's best monitored value: its metrics log's ``monitor`` column (negated validation
    score or validation loss) at its minimum; estimator runs (one line) fall back to the loss."""
    metrics = run.metrics()
    for col in ("monitor", "val_loss"):
        if col in metrics and metrics[col].notna().any():
            return float(metrics[col].min())
    status = run.status()
    if status.get("best_val_loss") is not None:
        return float(status["best_val_loss"])
    raise RunError(f"run {run.name!r} recorded no validation score or loss; cannot score the trial")


def _earlier_defaults_trial(trial: Any) -> int | None:
    """The number of an earlier defaults trial when ``trial`` is one too, else None.

    Workers started together on a shared database can each see no defaults trial and each
    enqueue one (Optuna has no compare-and-set); the lowest-numbered one is the real one."""
    if not trial.user_attrs.get("defaults"):
        return None
    earlier = [t.number for t in _live_defaults(trial.study.get_trials(deepcopy=False)) if t.number < trial.number]
    return min(earlier) if earlier else None


def _objective(trial: Any, base: ExperimentConfig, space: SearchSpace, runs_root: Path,
               study_name: str, panel: pd.DataFrame | None) -> float:
    import optuna

    from finmt_core.training.pipeline import train_run

    twin = _earlier_defaults_trial(trial)
    if twin is not None:  # two workers enqueued the defaults at once: run them once
        raise optuna.TrialPruned(f"duplicate of the defaults trial {twin}; not run again")
    values = space.suggest(trial)
    name = f"{study_name}-t{trial.number:04d}"
    config = apply_overrides(base, values).model_copy(update={"name": name})
    trial.set_user_attr("run", name)
    pruning = OptunaPruning(trial)
    try:
        run = train_run(config, runs_root, name=name, panel=panel, callbacks=[pruning])
    except RunError as exc:  # e.g. NaN loss with an aggressive learning rate: a failed trial
        log.warning("trial %d failed: %s", trial.number, exc)
        raise optuna.TrialPruned(f"run failed: {exc}") from None
    if run.status().get("state") == "cancelled":  # SIGTERM or a cancel file: end the study, not only this trial
        trial.study.stop()
        raise optuna.TrialPruned(f"run {name} was cancelled; study stopped")
    if pruning.pruned_at is not None:
        run.write_status(message=f"pruned by Optuna after epoch {pruning.pruned_at} (study {study_name})")
        raise optuna.TrialPruned(f"pruned after epoch {pruning.pruned_at}")
    try:
        return _best_monitor(run)
    except RunError as exc:  # e.g. stopped (signal) before its first validation: a failed trial
        log.warning("trial %d has no score: %s", trial.number, exc)
        raise optuna.TrialPruned(f"no validation score: {exc}") from None


def run_tuning(
    base: ExperimentConfig,
    trials: int,
    runs_root: str | Path = "runs",
    storage: str | None = None,
    study_name: str | None = None,
    search_space: str | Path | None = None,
    seed: int | None = None,
    pruner: Any = None,
    enqueue_defaults: bool = False,
    timeout_s: float | None = None,
) -> TuneResult:
    """Run ``trials`` trials of the study (created, or joined if it exists) and return its best.

    Args:
        base: the preset's config (data, tasks, epochs); searched values override it.
        trials: trials this process runs (other processes on the same study add theirs).
        runs_root: where trial runs are written (``<study>-tNNNN``).
        storage: Optuna RDB URL (``sqlite:///...``, ``postgresql://...``); default
            ``sqlite:///<runs_root>/optuna.db``.
        study_name: default ``tune-<preset>``.
        search_space: a YAML file overriding ``configs/search/<preset>.yaml``.
        seed: sampler seed (None = random, recommended when several processes share a study).
        pruner: an Optuna pruner (default: median pruner after 2 trials and 1 epoch).
        enqueue_defaults: run the preset's own values of the searched parameters as the
            study's first trial (user attribute ``defaults``), so the defaults are scored on
            the same validation rows as every searched trial. Not enqueued again when the
            study already has such a trial. Values the space cannot draw are sampled instead
            and listed in the trial's ``defaults_outside`` attribute (then it is not the defaults).
        timeout_s: CPU/wall budget in seconds: no new trial starts after it (the running one
            finishes); None = run all ``trials``.
    """
    import optuna

    if trials < 1:
        raise ConfigError("--trials must be >= 1")
    preset = base.preset or base.model.name
    root = Path(runs_root)
    root.mkdir(parents=True, exist_ok=True)
    url = storage or study_storage(root)
    name = study_name or f"tune-{preset}"
    space = load_search_space(preset, base, search_space)
    study = _create_or_join(
        name, url,
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=pruner or optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1),
    )
    if seed is not None and study.trials:
        # A fixed seed replayed on a resumed study would draw the same start-up values again (copies
        # of earlier trials): offset it by the trials already there, still reproducible for a history.
        study.sampler = optuna.samplers.TPESampler(seed=seed + len(study.trials))
    study.set_user_attr("preset", preset)
    study.set_user_attr("data", base.data.source)
    study.set_user_attr("space", space.source)
    if enqueue_defaults:
        _enqueue_defaults(study, space, base)
    panel = None
    if base.data.source.strip().lower() not in ("demo", "synthetic"):
        from finmt_core.training.pipeline import load_source_panel

        panel = load_source_panel(base)  # validated once per process, copied into each trial run
    if timeout_s is not None and timeout_s <= 0:
        raise ConfigError(f"--timeout must be > 0 seconds, got {timeout_s}")
    study.optimize(lambda t: _objective(t, base, space, root, name, panel), n_trials=trials,
                   timeout=timeout_s, catch=(), gc_after_trial=True)
    return _result(study, url)


def _live_defaults(trials: list[Any]) -> list[Any]:
    """The defaults trials of ``trials`` that count: queued, running, complete or pruned. A FAIL one
    (its worker died; on a heartbeat storage Optuna marks a dead worker's trial FAIL) does not, so
    the defaults are queued again instead of being lost for the study's lifetime."""
    import optuna

    return [t for t in trials if t.user_attrs.get("defaults") and t.state != optuna.trial.TrialState.FAIL]


def _enqueue_defaults(study: Any, space: SearchSpace, base: ExperimentConfig) -> None:
    import optuna

    optuna.storages.fail_stale_trials(study)  # a killed worker's RUNNING defaults trial -> FAIL
    if _live_defaults(study.trials):
        log.info("study %s already has the defaults trial; not enqueued again", study.study_name)
        return
    if any(t.user_attrs.get("defaults") for t in study.trials):
        log.warning("study %s: the earlier defaults trial failed (its worker stopped); queued again",
                    study.study_name)
    values, outside = current_values(space, base)
    if outside:
        log.warning("defaults outside the search space are sampled instead: %s", ", ".join(outside))
    study.enqueue_trial(values, user_attrs={"defaults": True, "defaults_outside": outside})


def defaults_trial(study: Any) -> Any | None:
    """The study's trial of the preset's defaults (enqueued with ``enqueue_defaults``; the first
    that did not fail), or None."""
    return next(iter(_live_defaults(study.trials)), None)


def _result(study: Any, url: str) -> TuneResult:
    import optuna

    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    best = min(complete, key=lambda t: t.value) if complete else None
    dflt = defaults_trial(study)
    return TuneResult(
        study_name=study.study_name,
        storage=url,
        n_trials=len(study.trials),
        best_value=float(best.value) if best else None,
        best_params=dict(best.params) if best else {},
        best_run=best.user_attrs.get("run") if best else None,
        defaults_value=float(dflt.value) if dflt is not None and dflt.value is not None else None,
    )


def load_study(storage: str, study_name: str) -> Any:
    import optuna
    from sqlalchemy.exc import OperationalError

    try:
        return optuna.load_study(study_name=study_name, storage=_storage(storage))
    except KeyError:
        names = list_studies(storage)
        raise ConfigError(f"no study {study_name!r} in {display_url(storage)}; studies there: {names or 'none'}") from None
    except OperationalError as exc:  # server down, wrong port or credentials
        raise storage_error(storage, exc) from None


def list_studies(storage: str) -> list[str]:
    import optuna
    from sqlalchemy.exc import OperationalError

    try:
        return sorted(s.study_name for s in optuna.get_all_study_summaries(_storage(storage)))
    except OperationalError as exc:
        raise storage_error(storage, exc) from None


def study_summary(storage: str, study_name: str) -> dict[str, Any]:
    """Trials table, best value over trial number, parameter importances (Optuna's; empty
    with fewer than two complete trials) and the best trial's run name."""
    import optuna

    study = load_study(storage, study_name)
    trials = study.trials_dataframe(attrs=("number", "value", "state", "params", "user_attrs", "duration"))
    done = trials[trials["state"] == "COMPLETE"] if len(trials) else trials
    best_so_far = done[["number", "value"]].copy() if len(done) else pd.DataFrame(columns=["number", "value"])
    if len(best_so_far):
        best_so_far["best"] = best_so_far["value"].cummin()
    importances: dict[str, float] = {}
    importance_note = None
    if 2 <= len(done) < MIN_TRIALS_FOR_IMPORTANCE:
        importance_note = (f"Importances rest on {len(done)} complete trials; with fewer than "
                           f"{MIN_TRIALS_FOR_IMPORTANCE} they mostly reflect noise. Run more trials before trusting them.")
    if len(done) >= 2:
        try:
            importances = {k: float(v) for k, v in optuna.importance.get_param_importances(study).items()}
        except (RuntimeError, ValueError) as exc:  # e.g. a parameter never varied
            log.info("parameter importances unavailable: %s", exc)
    result = _result(study, storage)
    return {"study": study_name, "trials": trials, "best_so_far": best_so_far,
            "importances": importances, "importance_note": importance_note, "best_run": result.best_run, "best_value": result.best_value,
            "best_params": result.best_params, "attrs": dict(study.user_attrs),
            "defaults_value": result.defaults_value}


def evaluate_best(storage: str, study_name: str, runs_root: str | Path) -> dict[str, Any]:
    """Evaluate the best trial's run on its test segment (the first time the test rows are read)."""
    from finmt_core.evaluation.evaluate import evaluate_run

    summary = study_summary(storage, study_name)
    if not summary["best_run"]:
        raise RunError(f"study {study_name!r} has no completed trial yet")
    return evaluate_run(Path(runs_root) / summary["best_run"])
