"""Name -> class registries for neural models and fit/predict estimators (timm-style).

A neural model registers with ``@register_model("name")`` and is built with
``create_model(name, params, tasks, info)``: ``params`` (a plain dict, e.g. ``model.params``
of an :class:`~finmt_core.config.ExperimentConfig`) fills the model's ``config_class``
dataclass, so an unknown or mistyped key is a :class:`ConfigError` naming the valid keys.
Estimators (LightGBM, naive rules) register with ``@register_estimator("name")`` and are
built with ``create_estimator(name, params, tasks)``.

One key of ``params`` is common to every neural model and not part of its dataclass:
``ticker_embedding`` (int, 0 = off; :data:`TICKER_EMBEDDING`), the dimension of an optional
learnable per-ticker embedding (:meth:`~finmt_core.models.base.MultiTaskModel.add_ticker_embedding`).
``ModelConfig.ticker_embedding`` is stored there, so every ``create_model(..., config.model.params,
...)`` call and every checkpoint's ``model_params`` carry it.

The registries are filled when the model modules are imported. The built-in models are
also listed by name in :data:`BUILTIN_MODELS` / :data:`BUILTIN_ESTIMATORS` (name -> module), so
a lookup imports only the module it needs: ``finmt train --preset lightgbm`` never imports
``torch_geometric`` (3 s of start-up here) and ``list_models()`` imports no model at all.
"""

from __future__ import annotations

import dataclasses
import importlib
import types
import typing
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, Self, TypeVar

from finmt_core.errors import ConfigError
from finmt_core.tasks import Task

if TYPE_CHECKING:
    import numpy as np

    from finmt_core.data.prepare import InputInfo, PreparedData
    from finmt_core.models.base import MultiTaskModel


class Estimator(Protocol):
    """What a registered estimator (LightGBM, the naive baselines, the ensemble) is: parameters
    in the constructor, fitted state from :meth:`fit` (scikit-learn style)."""

    config_class: ClassVar[type]
    model_name: ClassVar[str]
    tasks: list[Task]

    def __init__(self, cfg: Any, tasks: list[Task]) -> None:
        """Store the parameters (an instance of ``config_class``) and the tasks; nothing fitted."""
        ...

    def fit(self, prepared: PreparedData) -> Self:
        """Fit on ``prepared``'s train rows (early stopping / weights on its validation rows)."""
        ...

    def predict(self, prepared: PreparedData, date_idx: np.ndarray, ticker_idx: np.ndarray) -> dict[str, np.ndarray]:
        """``{task: probabilities [n, C] | values [n] | quantiles [n, Q]}`` for the given rows."""
        ...


_MODELS: dict[str, type[MultiTaskModel]] = {}
_ESTIMATORS: dict[str, type[Estimator]] = {}

#: Built-in neural models: registry name -> module that registers it (imported on first lookup).
BUILTIN_MODELS: dict[str, str] = {
    "cnn_lstm": "finmt_core.models.cnn_lstm",
    "dual_tower": "finmt_core.models.dual_tower",
    "finnex_cnn": "finmt_core.models.finnex_cnn",
    "finnex_vit": "finmt_core.models.finnex_vit",
    "lstm_transformer": "finmt_core.models.lstm_transformer",
    "tgcn": "finmt_core.models.tgcn",
}
#: Built-in estimators: registry name -> module that registers it (imported on first lookup).
BUILTIN_ESTIMATORS: dict[str, str] = {
    "lightgbm": "finmt_core.models.gbm",
    "naive_majority": "finmt_core.models.baselines",
    "naive_momentum": "finmt_core.models.baselines",
    "naive_zero": "finmt_core.models.baselines",
    "ensemble": "finmt_core.models.ensemble",
}


def _load_builtin(name: str, table: dict[str, str], registry: dict[str, Any]) -> None:
    """Import the module that registers the built-in ``name`` (no-op when already registered)."""
    if name not in registry and name in table:
        importlib.import_module(table[name])

M = TypeVar("M", bound="type[MultiTaskModel]")
E = TypeVar("E", bound="type[Estimator]")

#: The input kinds a model may declare (see data/tensors.py for the batch keys of each).
INPUT_KINDS: tuple[str, ...] = ("window", "image", "graph", "tower", "flat")
#: The ``params`` key common to every neural model: learnable ticker-embedding dimension (0 = off).
TICKER_EMBEDDING = "ticker_embedding"


def register_model(name: str) -> Callable[[M], M]:
    """Class decorator: register a neural model class under ``name``.

    The class must define ``input_kind`` (one of :data:`INPUT_KINDS`) and ``config_class``
    (a dataclass of hyper-parameters with defaults for every field).
    """

    def wrap(cls: M) -> M:
        if name in _MODELS and _MODELS[name] is not cls:
            raise ValueError(f"model name {name!r} is already registered by {_MODELS[name].__qualname__}")
        kind = getattr(cls, "input_kind", None)
        if kind not in INPUT_KINDS:
            raise ValueError(f"model {name!r}: input_kind must be one of {INPUT_KINDS}, got {kind!r}")
        if not dataclasses.is_dataclass(getattr(cls, "config_class", None)):
            raise ValueError(f"model {name!r}: config_class must be a dataclass")
        cls.model_name = name
        _MODELS[name] = cls
        return cls

    return wrap


def register_estimator(name: str) -> Callable[[E], E]:
    """Class decorator: register an :class:`Estimator` (``fit(prepared)`` / ``predict(...)``) under ``name``."""

    def wrap(cls: E) -> E:
        if name in _ESTIMATORS and _ESTIMATORS[name] is not cls:
            raise ValueError(f"estimator name {name!r} is already registered")
        if not dataclasses.is_dataclass(getattr(cls, "config_class", None)):
            raise ValueError(f"estimator {name!r}: config_class must be a dataclass")
        cls.model_name = name
        _ESTIMATORS[name] = cls
        return cls

    return wrap


def list_models() -> list[str]:
    """Registered neural model names (built-in ones included, imported or not), sorted."""
    return sorted(set(_MODELS) | set(BUILTIN_MODELS))


def list_estimators() -> list[str]:
    """Registered estimator (baseline) names (built-in ones included, imported or not), sorted."""
    return sorted(set(_ESTIMATORS) | set(BUILTIN_ESTIMATORS))


def get_model_class(name: str) -> type[MultiTaskModel]:
    """The class registered as ``name`` (importing its module if built in); ConfigError listing
    the choices otherwise."""
    _load_builtin(name, BUILTIN_MODELS, _MODELS)
    try:
        return _MODELS[name]
    except KeyError:
        hint = " (it is an estimator: use create_estimator)" if is_estimator(name) else ""
        raise ConfigError(
            f"unknown model {name!r}{hint}; registered models: {', '.join(list_models())}"
        ) from None


def get_estimator_class(name: str) -> type[Estimator]:
    """The estimator class registered as ``name`` (importing its module if built in);
    ConfigError listing the choices otherwise."""
    _load_builtin(name, BUILTIN_ESTIMATORS, _ESTIMATORS)
    try:
        return _ESTIMATORS[name]
    except KeyError:
        raise ConfigError(
            f"unknown estimator {name!r}; registered estimators: {', '.join(list_estimators())}"
        ) from None


def is_estimator(name: str) -> bool:
    """True when ``name`` is a registered estimator (a baseline trained by ``fit``, not by the trainer)."""
    return name in _ESTIMATORS or name in BUILTIN_ESTIMATORS


def build_config(config_class: type, params: dict[str, Any] | None, where: str) -> Any:
    """Fill the dataclass ``config_class`` from ``params``.

    Unknown keys raise ConfigError naming the valid ones; lists are turned into tuples where
    the field is a tuple (YAML has no tuples); a value of the wrong basic type (e.g. a string
    for an int) raises ConfigError.
    """
    params = dict(params or {})
    fields = {f.name: f for f in dataclasses.fields(config_class)}
    unknown = sorted(set(params) - set(fields))
    if unknown:
        raise ConfigError(
            f"{where}: unknown parameter(s) {unknown}; valid parameters: {', '.join(sorted(fields))}"
        )
    hints = typing.get_type_hints(config_class)
    for key, value in list(params.items()):
        params[key] = _coerce(value, hints.get(key), f"{where}: parameter {key!r}")
    return config_class(**params)


def _coerce(value: Any, hint: Any, where: str) -> Any:
    """Light type check/coercion of one config value (YAML gives lists, ints for floats)."""
    if hint is None:
        return value
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        non_none = [a for a in args if a is not type(None)]
        return _coerce(value, non_none[0], where) if len(non_none) == 1 else value
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where} must be a list, got {value!r}")
        inner = args[0] if args else None
        return tuple(_coerce(v, inner, where) for v in value)
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where} must be an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where} must be a number, got {value!r}")
        return float(value)
    if hint is str and not isinstance(value, str):
        raise ConfigError(f"{where} must be a string, got {value!r}")
    return value


def _check_tasks(name: str, cls: type, tasks: Sequence[Task]) -> None:
    if not tasks:
        raise ConfigError(f"model {name!r} needs at least one task")
    supported = getattr(cls, "supported_tasks", None)
    if supported is not None:
        bad = [t.name for t in tasks if t.target not in supported]
        if bad:
            raise ConfigError(
                f"model {name!r} cannot train task(s) {bad}; it supports the target families "
                f"{sorted(supported)}. Remove those tasks or pick another model."
            )
    for t in tasks:
        if "." in t.name:
            raise ConfigError(f"task name {t.name!r} contains '.', which cannot name a model head; rename it")


def create_model(name: str, params: dict[str, Any] | None, tasks: Sequence[Task], info: InputInfo) -> MultiTaskModel:
    """Build the registered model ``name``.

    Args:
        name: a name from :func:`list_models`.
        params: hyper-parameters (keys of the model's ``config_class``); missing keys keep
            their defaults.
        tasks: the task list; one head per task.
        info: an ``InputInfo`` (feature count, window, groups, image size, ...).

    Raises:
        ConfigError: unknown model, unknown/mistyped parameter, a task the model cannot
            train, or inputs the model cannot use (the model's ``check_compatible``).
    """
    cls = get_model_class(name)
    params, ticker_dim = _pop_ticker_embedding(params, f"model {name!r}")
    cfg = build_config(cls.config_class, params, f"model {name!r}")
    tasks = list(tasks)
    _check_tasks(name, cls, tasks)
    check = getattr(cls, "check_compatible", None)
    if check is not None:
        check(cfg, tasks, info)
    model = cls(cfg, tasks, info)
    if ticker_dim:
        add = getattr(model, "add_ticker_embedding", None)
        if add is None:
            raise ConfigError(f"model {name!r} does not support {TICKER_EMBEDDING}; set it to 0")
        add(ticker_dim)
    return model


def _pop_ticker_embedding(params: dict[str, Any] | None, where: str) -> tuple[dict[str, Any], int]:
    """``params`` without the common ``ticker_embedding`` key, and its value (0 when absent)."""
    params = dict(params or {})
    dim = _coerce(params.pop(TICKER_EMBEDDING, 0), int, f"{where}: parameter {TICKER_EMBEDDING!r}")
    if dim < 0:
        raise ConfigError(f"{where}: {TICKER_EMBEDDING} must be >= 0 (0 = off), got {dim}")
    return params, dim


def create_estimator(name: str, params: dict[str, Any] | None, tasks: Sequence[Task]) -> Estimator:
    """Build the registered estimator ``name`` (parameters only; fitted state comes from ``fit``)."""
    cls = get_estimator_class(name)
    params, ticker_dim = _pop_ticker_embedding(params, f"estimator {name!r}")
    if ticker_dim:
        raise ConfigError(f"{TICKER_EMBEDDING} is for neural models; estimator {name!r} has none. Set it to 0.")
    cfg = build_config(cls.config_class, params, f"estimator {name!r}")
    tasks = list(tasks)
    _check_tasks(name, cls, tasks)
    return cls(cfg, tasks)
