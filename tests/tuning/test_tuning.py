"""Optuna search: trials are runs, SQLite studies are shared safely, pruned trials are marked."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import optuna
import pytest

from finmt_core.config import load_preset
from finmt_core.errors import ConfigError
from finmt_core.training.runs import RunDir
from finmt_core.tuning import apply_overrides, load_search_space, run_tuning, study_summary
from finmt_core.tuning.space import SEARCH_DIR, Param
from finmt_core.tuning.study import default_storage

TINY = {
    "data": {"source": "synthetic", "window": 10,
             "synthetic": {"n_stocks": 5, "n_days": 260, "n_sectors": 1, "seed": 3, "signal_strength": 0.5}},
    "train": {"epochs": 2, "batch_size": 128, "max_batches_per_epoch": 3, "device": "cpu"},
}
PRESET = "lstm_transformer"


def _base():  # type: ignore[no-untyped-def]
    return load_preset(PRESET, TINY)


def test_search_space_expands_tasks_and_skips_foreign_model_params() -> None:
    base = _base()
    space = load_search_space(PRESET, base, SEARCH_DIR / "default.yaml")  # the shared space, not the preset's own
    paths = {p.path for p in space.params}
    assert "train.lr" in paths
    assert {f"tasks.{t.name}.weight" for t in base.tasks} <= paths
    assert "model.params.lstm_hidden" in paths  # lstm_transformer has it
    assert "model.params.hidden" not in paths  # tgcn's, not this model's
    values = {"train.lr": 0.005, f"tasks.{base.tasks[0].name}.weight": 1.7, "model.params.dropout": 0.3}
    tuned = apply_overrides(base, values)
    assert tuned.train.lr == 0.005
    assert tuned.tasks[0].weight == 1.7
    assert tuned.model.params["dropout"] == 0.3
    assert base.train.lr != 0.005  # the base is not mutated


def test_bad_search_space_and_override_paths_raise_config_errors(tmp_path: Path) -> None:
    bad = tmp_path / "space.yaml"
    bad.write_text("train.lr: {type: float, low: 1.0, high: 0.1}\n")
    with pytest.raises(ConfigError, match="low"):
        load_search_space(PRESET, _base(), bad)
    with pytest.raises(ConfigError, match="no task named"):
        apply_overrides(_base(), {"tasks.nope.weight": 1.0})


def test_param_range_and_step_grid() -> None:
    p = Param("model.params.hidden", "int", low=8, high=64, step=8)
    assert p.bounds() == (8, 64)
    assert p.contains(16) and p.contains(64)
    assert not p.contains(12) and not p.contains(72) and not p.contains(16.5) and not p.contains(True)
    f = Param("train.lr", "float", low=1e-4, high=1e-2, log=True)
    assert f.contains(5e-3) and not f.contains(0.5) and not f.contains("0.005")
    with pytest.raises(ConfigError, match="needs numeric `low` and `high`"):
        Param("train.lr", "float").contains(0.1)


def test_three_trial_study_completes_with_sqlite(tmp_path: Path) -> None:
    result = run_tuning(_base(), trials=3, runs_root=tmp_path, seed=0,
                        pruner=optuna.pruners.NopPruner())
    assert result.n_trials == 3
    assert result.best_value is not None and np.isfinite(result.best_value)
    assert (tmp_path / "optuna.db").is_file()
    summary = study_summary(default_storage(tmp_path), result.study_name)
    assert list(summary["trials"]["state"]) == ["COMPLETE"] * 3
    runs = set(summary["trials"]["user_attrs_run"])
    assert len(runs) == 3 and all((tmp_path / r / "status.json").is_file() for r in runs)
    assert summary["best_so_far"]["best"].is_monotonic_decreasing
    # the objective is the run's own best monitored value (the negated validation score, which no
    # searched task weight can rescale): nothing read from the test segment
    best = RunDir(tmp_path / result.best_run)
    assert best.status()["best_val_score"] == pytest.approx(-result.best_value)


def test_pruned_trials_are_marked_and_keep_their_run(tmp_path: Path) -> None:
    always = optuna.pruners.ThresholdPruner(upper=-1e9)  # every reported value is above it: pruned
    result = run_tuning(_base(), trials=2, runs_root=tmp_path, seed=0, pruner=always)
    summary = study_summary(default_storage(tmp_path), result.study_name)
    assert list(summary["trials"]["state"]) == ["PRUNED", "PRUNED"]
    assert result.best_run is None
    for run in summary["trials"]["user_attrs_run"]:
        assert "pruned" in RunDir(tmp_path / run).status()["message"]


@pytest.mark.slow
def test_two_processes_share_one_sqlite_study(tmp_path: Path) -> None:
    import yaml

    space = tmp_path / "space.yaml"
    space.write_text(yaml.safe_dump({"train.lr": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True}}))
    tiny = tmp_path / "tiny.yaml"
    tiny.write_text(yaml.safe_dump(TINY))
    args = [sys.executable, "-m", "finmt_core.cli", "tune", "--data", "synthetic", "--preset", PRESET,
            "--trials", "2", "--epochs", "1", "--runs-dir", str(tmp_path / "runs"), "--study", "shared",
            "--search-space", str(space), "--config", str(tiny)]
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    procs = [subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=600)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    summary = study_summary(default_storage(tmp_path / "runs"), "shared")
    assert len(summary["trials"]) == 4
    assert set(summary["trials"]["state"]) <= {"COMPLETE", "PRUNED"}
    assert summary["trials"]["user_attrs_run"].nunique() == 4  # no two trials shared a run dir
