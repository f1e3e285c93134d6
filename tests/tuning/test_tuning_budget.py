"""Tuning budgets: a time-boxed study stops starting trials; a trial without a score is pruned;
a cancelled trial ends the study."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from finmt_core.config import load_preset
from finmt_core.errors import ConfigError
from finmt_core.tuning import run_tuning, study_summary
from finmt_core.tuning.study import default_storage

TINY = {
    "data": {"source": "synthetic", "window": 10,
             "synthetic": {"n_stocks": 5, "n_days": 260, "n_sectors": 1, "seed": 3, "signal_strength": 0.5}},
    "train": {"epochs": 1, "batch_size": 128, "max_batches_per_epoch": 2, "device": "cpu"},
}


def test_timeout_stops_the_study_after_the_running_trial(tmp_path: Path) -> None:
    base = load_preset("lstm_transformer", TINY)
    result = run_tuning(base, trials=50, runs_root=tmp_path, seed=0, pruner=optuna.pruners.NopPruner(),
                        timeout_s=1e-3)
    assert result.n_trials == 1 and result.best_value is not None
    with pytest.raises(ConfigError, match="timeout"):
        run_tuning(base, trials=1, runs_root=tmp_path, timeout_s=0)


def test_a_run_that_recorded_no_score_is_a_pruned_trial_not_a_crash(tmp_path: Path, monkeypatch) -> None:
    import finmt_core.training.pipeline as pipeline
    from finmt_core.training.runs import RunDir

    def no_validation(config, runs_root, name, panel=None, callbacks=()):  # type: ignore[no-untyped-def]
        run = RunDir(Path(runs_root) / name)
        run.path.mkdir(parents=True, exist_ok=True)
        return run  # stopped before its first validation: no metrics, no best score

    monkeypatch.setattr(pipeline, "train_run", no_validation)
    result = run_tuning(load_preset("lightgbm", TINY), trials=2, runs_root=tmp_path, seed=0,
                        pruner=optuna.pruners.NopPruner())
    summary = study_summary(default_storage(tmp_path), result.study_name)
    assert list(summary["trials"]["state"]) == ["PRUNED", "PRUNED"] and result.best_run is None


def test_a_cancelled_trial_run_stops_the_whole_study(tmp_path: Path, monkeypatch) -> None:
    import finmt_core.training.pipeline as pipeline
    from finmt_core.training.runs import RunDir

    def cancelled(config, runs_root, name, panel=None, callbacks=()):  # type: ignore[no-untyped-def]
        run = RunDir(Path(runs_root) / name)
        run.path.mkdir(parents=True, exist_ok=True)
        run.write_status(state="cancelled", message="SIGTERM")
        return run

    monkeypatch.setattr(pipeline, "train_run", cancelled)
    result = run_tuning(load_preset("lightgbm", TINY), trials=5, runs_root=tmp_path, seed=0,
                        pruner=optuna.pruners.NopPruner())
    assert result.n_trials == 1  # Ctrl-C / SIGTERM during `finmt tune` does not start the next trial
