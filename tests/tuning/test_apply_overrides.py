"""apply_overrides: dotted tuned values become one nested override applied by config.with_overrides."""

from __future__ import annotations

from unittest import mock

import pytest

from finmt_core import config as config_mod
from finmt_core.config import load_preset
from finmt_core.errors import ConfigError
from finmt_core.tuning import space
from finmt_core.tuning.space import apply_overrides

TINY = {"data": {"source": "synthetic"}, "train": {"epochs": 1}}


def test_dotted_values_become_one_nested_override_through_with_overrides() -> None:
    base = load_preset("lstm_transformer", TINY)
    first = base.tasks[0].name
    values = {"train.lr": 0.004, f"tasks.{first}.weight": 2.5, "model.params.dropout": 0.25}
    with mock.patch.object(space, "with_overrides", wraps=config_mod.with_overrides) as spy:
        tuned = apply_overrides(base, values)
    assert spy.call_count == 1
    nested = spy.call_args.args[1]
    assert nested["train"] == {"lr": 0.004}
    assert nested["model"] == {"params": {"dropout": 0.25}}
    assert [t["name"] for t in nested["tasks"]] == [t.name for t in base.tasks]  # the list is given whole
    assert tuned.train.lr == 0.004 and tuned.tasks[0].weight == 2.5 and tuned.model.params["dropout"] == 0.25
    assert [t.weight for t in tuned.tasks[1:]] == [t.weight for t in base.tasks[1:]]
    assert tuned.train.epochs == base.train.epochs  # untouched siblings survive the merge
    assert base.tasks[0].weight != 2.5  # the base is not mutated


@pytest.mark.parametrize(("values", "match"), [
    ({"tasks.nope.weight": 1.0}, "no task named"),
    ({"tasks.weight": 1.0}, "tasks.<name>.<attr>"),
    ({"train.lr.x": 1.0}, "is not a config section"),
    ({"train.lr": "fast"}, "lr"),
])
def test_bad_paths_and_values_raise_config_errors(values: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        apply_overrides(load_preset("lstm_transformer", TINY), values)
