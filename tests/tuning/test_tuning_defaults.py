"""Enqueued defaults: a study scores the preset's own values on the same validation rows."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
import yaml

from finmt_core.config import load_preset
from finmt_core.tuning import load_search_space, run_tuning, study_summary
from finmt_core.tuning.space import Param, current_values
from finmt_core.tuning.study import default_storage, load_study

TINY = {
    "data": {"source": "synthetic", "window": 10,
             "synthetic": {"n_stocks": 5, "n_days": 260, "n_sectors": 1, "seed": 3, "signal_strength": 0.5}},
    "train": {"epochs": 2, "batch_size": 128, "max_batches_per_epoch": 3, "device": "cpu"},
}


def test_contains_checks_range_step_and_choices() -> None:
    drop = Param("model.params.dropout", "float", low=0.0, high=0.3, step=0.05)
    assert drop.contains(0.1) and drop.contains(0.0) and drop.contains(0.3)
    assert not drop.contains(0.12) and not drop.contains(0.35) and not drop.contains("0.1")
    hidden = Param("model.params.hidden", "int", low=8, high=64, step=8)
    assert hidden.contains(16) and not hidden.contains(20) and not hidden.contains(16.5)
    assert not hidden.contains(True)
    assert Param("loss.weighting", "categorical", choices=("fixed", "dwa")).contains("dwa")
    assert not Param("loss.weighting", "categorical", choices=("fixed", "dwa")).contains("uncertainty")


def test_current_values_reads_config_model_defaults_tasks_and_nested_dicts(tmp_path: Path) -> None:
    base = load_preset("dual_tower", TINY)
    space = tmp_path / "space.yaml"
    space.write_text(yaml.safe_dump({
        "train.lr_groups.stock_tower": {"type": "float", "low": 1e-4, "high": 1e-3, "log": True},
        "model.params.head_dropout": {"type": "float", "low": 0.0, "high": 0.5},   # set by the preset
        "model.params.magnitude": {"type": "float", "low": 0.5, "high": 2.0},     # set by the preset
        "tasks.*.weight": {"type": "float", "low": 0.25, "high": 0.75},
        "train.epochs": {"type": "int", "low": 1, "high": 2},
    }))
    values, outside = current_values(load_search_space("dual_tower", base, space), base)
    assert values["train.lr_groups.stock_tower"] == pytest.approx(5e-4)
    assert values["model.params.head_dropout"] == pytest.approx(0.1)
    assert values["train.epochs"] == 2
    # direction tasks weigh 0.5 (inside), relevance tasks 1.0 (outside [0.25, 0.75]): reported
    assert values["tasks.direction_7d.weight"] == 0.5
    assert "tasks.relevance_7d.weight=1.0" in outside


def test_model_params_the_preset_leaves_unset_fall_back_to_the_model_default(tmp_path: Path) -> None:
    base = load_preset("lstm_transformer", TINY)
    space = tmp_path / "space.yaml"
    space.write_text(yaml.safe_dump({"model.params.depth": {"type": "int", "low": 1, "high": 3}}))
    base = base.model_copy(update={"model": base.model.model_copy(update={"params": {}})})
    values, outside = current_values(load_search_space("lstm_transformer", base, space), base)
    assert values == {"model.params.depth": 2} and outside == []


def test_defaults_trial_runs_first_once_and_is_reported(tmp_path: Path) -> None:
    base = load_preset("lstm_transformer", TINY)
    space = tmp_path / "space.yaml"
    space.write_text(yaml.safe_dump({"train.lr": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True},
                                     "model.params.dropout": {"type": "float", "low": 0.0, "high": 0.3}}))
    result = run_tuning(base, trials=1, runs_root=tmp_path, seed=0, search_space=space,
                        pruner=optuna.pruners.NopPruner(), enqueue_defaults=True)
    study = load_study(default_storage(tmp_path), result.study_name)
    first = study.trials[0]
    assert first.user_attrs["defaults"] is True and first.user_attrs["defaults_outside"] == []
    assert first.params == {"train.lr": base.train.lr, "model.params.dropout": base.model.params["dropout"]}
    assert result.defaults_value == pytest.approx(first.value)
    # joining the study again does not enqueue the defaults a second time
    run_tuning(base, trials=1, runs_root=tmp_path, seed=1, search_space=space,
               pruner=optuna.pruners.NopPruner(), enqueue_defaults=True)
    summary = study_summary(default_storage(tmp_path), result.study_name)
    assert len(summary["trials"]) == 2
    assert sum(bool(t.user_attrs.get("defaults")) for t in load_study(default_storage(tmp_path), result.study_name).trials) == 1
    assert summary["defaults_value"] == pytest.approx(first.value)


@pytest.mark.parametrize("preset", ["lightgbm", "lstm_transformer", "cnn_lstm", "dual_tower", "tgcn",
                                    "finnex_cnn", "finnex_vit"])
def test_each_committed_search_space_contains_its_presets_defaults(preset: str) -> None:
    from finmt_core.tuning.space import SEARCH_DIR

    base = load_preset(preset)
    space = load_search_space(preset, base)
    assert space.source == str(SEARCH_DIR / f"{preset}.yaml")
    values, outside = current_values(space, base)
    assert outside == [] and len(values) == len(space.params) >= 4


def test_a_failed_defaults_trial_is_queued_again(tmp_path: Path) -> None:
    """A worker killed while running the defaults leaves that trial FAIL (heartbeat): the next
    ``--enqueue-defaults`` queues the defaults again instead of losing them for the study."""
    from finmt_core.tuning.study import _create_or_join, _enqueue_defaults, defaults_trial

    base = load_preset("lstm_transformer", TINY)
    space_file = tmp_path / "space.yaml"
    space_file.write_text(yaml.safe_dump({"train.lr": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True}}))
    space = load_search_space("lstm_transformer", base, space_file)
    study = _create_or_join("s", default_storage(tmp_path), optuna.samplers.TPESampler(seed=0),
                            optuna.pruners.NopPruner())
    _enqueue_defaults(study, space, base)
    dead = study.ask()  # the queued defaults, now RUNNING in a worker that then dies
    assert dead.user_attrs["defaults"] is True
    _enqueue_defaults(study, space, base)  # still running: not queued twice
    assert sum(t.state == optuna.trial.TrialState.WAITING for t in study.trials) == 0
    study.tell(dead, state=optuna.trial.TrialState.FAIL)  # what the heartbeat does to a dead worker's trial
    assert defaults_trial(study) is None
    _enqueue_defaults(study, space, base)
    again = [t for t in study.trials if t.state == optuna.trial.TrialState.WAITING]
    assert len(again) == 1 and again[0].user_attrs["defaults"] is True
    assert again[0].system_attrs["fixed_params"] == {"train.lr": base.train.lr}  # what a queued trial will run
    assert defaults_trial(study).number == again[0].number


def test_a_resumed_study_with_a_fixed_seed_draws_new_values(tmp_path: Path) -> None:
    base = load_preset("lightgbm", TINY)
    space = tmp_path / "space.yaml"
    space.write_text(yaml.safe_dump({"model.params.learning_rate": {"type": "float", "low": 0.01, "high": 0.2,
                                                                    "log": True}}))
    for _ in range(2):  # the same command twice, as a resumed study is
        result = run_tuning(base, trials=2, runs_root=tmp_path, seed=0, search_space=space,
                            pruner=optuna.pruners.NopPruner())
    trials = load_study(default_storage(tmp_path), result.study_name).trials
    values = [t.params["model.params.learning_rate"] for t in trials]
    assert len(values) == 4 and len(set(values)) == 4, values
