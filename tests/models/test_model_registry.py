"""Registry: names, parameter validation, task/input compatibility errors; presets build."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pytest
from model_inputs import make_info

from finmt_core.config import list_presets, load_preset
from finmt_core.errors import ConfigError
from finmt_core.models import (
    create_estimator,
    create_model,
    get_model_class,
    is_estimator,
    list_estimators,
    list_models,
    register_model,
)
from finmt_core.models.registry import build_config
from finmt_core.tasks import make_task

TASKS = [make_task("direction", 1), make_task("return", 1)]
PRESETS = ("finnex_cnn", "finnex_vit", "tgcn", "cnn_lstm", "dual_tower", "lstm_transformer", "lightgbm", "naive")


def test_registered_names() -> None:
    assert list_models() == sorted(["cnn_lstm", "dual_tower", "finnex_cnn", "finnex_vit", "lstm_transformer", "tgcn"])
    # "ensemble" combines finished runs (finmt_core/models/ensemble.py); the others are baselines
    assert list_estimators() == sorted(["ensemble", "lightgbm", "naive_majority", "naive_momentum", "naive_zero"])
    assert is_estimator("lightgbm") and not is_estimator("tgcn")
    assert get_model_class("tgcn").model_name == "tgcn"


def test_unknown_model_lists_the_choices() -> None:
    with pytest.raises(ConfigError, match=r"unknown model 'resnet'.*cnn_lstm.*tgcn"):
        create_model("resnet", {}, TASKS, make_info())
    with pytest.raises(ConfigError, match="estimator"):
        create_model("lightgbm", {}, TASKS, make_info())
    with pytest.raises(ConfigError, match=r"unknown estimator 'xgboost'.*lightgbm"):
        create_estimator("xgboost", {}, TASKS)


def test_unknown_parameter_names_the_valid_ones() -> None:
    with pytest.raises(ConfigError, match=r"unknown parameter\(s\) \['hiden'\].*hidden"):
        create_model("tgcn", {"hiden": 32}, TASKS, make_info())
    with pytest.raises(ConfigError, match="num_leaves"):
        create_estimator("lightgbm", {"leaves": 3}, TASKS)


def test_parameter_types_are_checked_and_lists_become_tuples() -> None:
    with pytest.raises(ConfigError, match="'hidden' must be an integer"):
        create_model("tgcn", {"hidden": "16"}, TASKS, make_info())
    with pytest.raises(ConfigError, match="'use_gat' must be true or false"):
        create_model("tgcn", {"use_gat": 1}, TASKS, make_info())
    model = create_model("cnn_lstm", {"kernels": [3, 5], "dropout": 0}, TASKS, make_info())
    assert model.cfg.kernels == (3, 5) and isinstance(model.cfg.dropout, float)


def test_task_model_mismatch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_model_class("tgcn"), "supported_tasks", {"signal", "direction"})
    with pytest.raises(ConfigError, match=r"cannot train task\(s\) \['return'\]"):
        create_model("tgcn", {}, TASKS, make_info())
    with pytest.raises(ConfigError, match="at least one task"):
        create_model("cnn_lstm", {}, [], make_info())
    with pytest.raises(ConfigError, match=r"contains '\.'"):
        create_model("cnn_lstm", {}, [make_task("return", 1, name="ret.1")], make_info())


def test_input_mismatches_raise_config_errors() -> None:
    with pytest.raises(ConfigError, match="market-wide context features"):
        create_model("dual_tower", {}, TASKS, make_info(context_idx=[]))
    with pytest.raises(ConfigError, match="image_size=16 must be a multiple of patch_size=5"):
        create_model("finnex_vit", {"patch_size": 5}, TASKS, make_info())
    with pytest.raises(ConfigError, match="image channel"):
        create_model("finnex_cnn", {}, TASKS, make_info(image_groups=[]))
    with pytest.raises(ConfigError, match="divisible"):
        create_model("lstm_transformer", {"d_model": 30, "heads": 4}, TASKS, make_info())
    with pytest.raises(ConfigError, match="odd"):
        create_model("cnn_lstm", {"kernels": [4]}, TASKS, make_info())


def test_registering_a_taken_name_fails() -> None:
    @dataclass
    class Cfg:
        x: int = 1

    with pytest.raises(ValueError, match="already registered"):

        @register_model("tgcn")
        class Other:
            input_kind: ClassVar[str] = "graph"
            config_class: ClassVar[type] = Cfg


def test_build_config_defaults_and_overrides() -> None:
    cfg = build_config(get_model_class("tgcn").config_class, {"hidden": 8}, "test")
    assert cfg.hidden == 8 and cfg.layers == 2


def test_the_presets_exist_load_and_build() -> None:
    assert set(PRESETS) <= set(list_presets())
    for name in PRESETS:
        cfg = load_preset(name)
        assert cfg.name == name and cfg.tasks
        if is_estimator(cfg.model.name):
            est = create_estimator(cfg.model.name, cfg.model.params, cfg.tasks)
            assert not hasattr(est, "models_") and not hasattr(est, "class_freq_")  # params only
            continue
        info = make_info(window=cfg.data.window, image_size=cfg.data.image_size)
        model = create_model(cfg.model.name, cfg.model.params, cfg.tasks, info)
        assert list(model.heads) == [t.name for t in cfg.tasks]


def test_preset_task_recipes_follow_the_seeds() -> None:
    tg = load_preset("tgcn")
    assert [t.name for t in tg.tasks] == ["signal", "direction"] and tg.task("direction").mask_by == "signal"
    dt = load_preset("dual_tower")
    assert {t.name: (t.target, t.horizon, t.weight) for t in dt.tasks} == {
        "relevance_7d": ("relevance", 7, 1.0),
        "relevance_30d": ("relevance", 30, 1.0),
        "direction_7d": ("direction", 7, 0.5),
        "direction_30d": ("direction", 30, 0.5),
    }
    assert load_preset("lstm_transformer").task("direction").loss == "focal"
    assert load_preset("finnex_cnn").loss.weighting == "learnable"
    assert {t.target for t in load_preset("cnn_lstm").tasks} == {"return", "volatility", "regime"}
