"""The config's validators: every refusal is a ConfigError naming the key and the fix, at the
boundary (``from_dict`` / ``from_yaml``) and through with_overrides (the one place overrides
are applied). Built directly, a section raises pydantic's ValidationError instead."""

from __future__ import annotations

import pytest
import yaml

from finmt_core.config import (
    ExperimentConfig,
    GatesConfig,
    ModelConfig,
    SplitConfig,
    TrainConfig,
    load_preset,
    with_overrides,
)
from finmt_core.errors import ConfigError

TWO_TASKS = [{"name": "direction", "target": "direction", "horizon": 1},
             {"name": "return", "target": "return", "horizon": 5}]


def test_an_embargo_shorter_than_the_longest_horizon_would_leak_labels() -> None:
    with pytest.raises(ConfigError, match=r"split\.embargo=2 .*longest task horizon \(5\); labels would leak.*>= 5"):
        ExperimentConfig.from_dict({"tasks": TWO_TASKS, "split": {"embargo": 2}})
    ok = ExperimentConfig.from_dict({"tasks": TWO_TASKS, "split": {"embargo": 5}})
    assert ok.embargo == 5
    assert ExperimentConfig.from_dict({"tasks": TWO_TASKS}).embargo == 5  # unset: the longest horizon


def test_task_names_must_be_unique() -> None:
    dup = [{"target": "direction", "horizon": 1, "name": "d"}, {"target": "direction", "horizon": 5, "name": "d"}]
    with pytest.raises(ConfigError, match=r"task names must be unique; duplicated: \['d'\].*name"):
        ExperimentConfig.from_dict({"tasks": dup})
    with pytest.raises(ConfigError, match="at least one task"):
        ExperimentConfig.from_dict({"tasks": []})


def test_split_train_and_val_fractions_must_leave_a_test_segment() -> None:
    with pytest.raises(ConfigError, match=r"train_frac \+ split\.val_frac must be < 1"):
        ExperimentConfig.from_dict({"split": {"train_frac": 0.8, "val_frac": 0.2}})
    assert SplitConfig(train_frac=0.7, val_frac=0.2).val_frac == 0.2


def test_cosine_restarts_must_restart() -> None:
    with pytest.raises(ConfigError, match=r"restart_epochs=6 >= train\.epochs=6.*e\.g\. 2"):
        ExperimentConfig.from_dict({"train": {"epochs": 6, "schedule": "cosine_restarts", "restart_epochs": 6}})
    assert TrainConfig(epochs=6, schedule="cosine_restarts").restart_period == 2


def test_balanced_sampling_must_name_a_classification_task() -> None:
    with pytest.raises(ConfigError, match=r"balanced_sampling='return' .*\['direction'\]"):
        ExperimentConfig.from_dict({"tasks": TWO_TASKS, "train": {"balanced_sampling": "return"}})
    cfg = ExperimentConfig.from_dict({"tasks": TWO_TASKS, "train": {"balanced_sampling": "direction"}})
    assert cfg.train.balanced_sampling == "direction"


def test_gates_per_task_overrides_are_checked() -> None:
    with pytest.raises(ConfigError, match=r"gates\.tasks names \['nope'\]"):
        ExperimentConfig.from_dict({"tasks": TWO_TASKS, "gates": {"tasks": {"nope": {"r2_min": None}}}})
    with pytest.raises(ConfigError, match=r"gates\.tasks\.return"):
        ExperimentConfig.from_dict({"tasks": TWO_TASKS, "gates": {"tasks": {"return": {"no_such_gate": 1}}}})
    gates = GatesConfig(tasks={"return": {"r2_min": None}})
    assert gates.for_task("return").r2_min is None and gates.for_task("direction").r2_min == 0.0


def test_ticker_embedding_is_checked_and_moved_into_params() -> None:
    for bad in (-1, 1.5, True, "8"):
        with pytest.raises(ConfigError, match=r"model\.ticker_embedding must be an integer >= 0"):
            ExperimentConfig.from_dict({"model": {"name": "tgcn", "ticker_embedding": bad}})
    m = ModelConfig(name="tgcn", params={"hidden": 8}, ticker_embedding=4)
    assert m.params == {"hidden": 8, "ticker_embedding": 4} and m.ticker_embedding == 4
    assert ModelConfig(name="tgcn", params={"ticker_embedding": 4}, ticker_embedding=0).params == {}


def test_unknown_keys_are_refused_with_their_place(tmp_path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"train": {"epochz": 3}}))
    with pytest.raises(ConfigError, match=rf"invalid {path}: train\.epochz"):
        ExperimentConfig.from_yaml(path)


def test_with_overrides_merges_validates_and_names_the_source() -> None:
    base = load_preset("lightgbm")
    out = with_overrides(base, {"train": {"epochs": 3}, "data": {"window": 12}}, where="the test")
    assert out.train.epochs == 3 and out.data.window == 12
    assert out.model == base.model and out.tasks == base.tasks  # untouched sections stay as they were
    assert with_overrides(base, None) == base
    with pytest.raises(ConfigError, match=r"invalid the test: train\.epochs"):
        with_overrides(base, {"train": {"epochs": 0}}, where="the test")
    with pytest.raises(ConfigError, match="labels would leak"):  # the model validators run on the result too
        with_overrides({"tasks": TWO_TASKS}, {"split": {"embargo": 1}})
