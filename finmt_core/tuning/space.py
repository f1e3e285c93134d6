"""Search spaces: ``configs/search/<preset>.yaml`` (or ``default.yaml``).

A space maps a dotted config path to a distribution::

    train.lr:              {type: float, low: 1.0e-4, high: 1.0e-2, log: true}
    model.params.hidden:   {type: int, low: 8, high: 64, step: 8}
    loss.weighting:        {type: categorical, choices: [fixed, uncertainty, dwa]}
    tasks.*.weight:        {type: float, low: 0.25, high: 2.0}      # one parameter per task

Paths under ``model.params`` that the preset's model does not have are dropped (with a log
line), so one default space serves every architecture.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from finmt_core.config import PRESET_DIR, ExperimentConfig, load_yaml_mapping, with_overrides
from finmt_core.errors import ConfigError

log = logging.getLogger(__name__)

SEARCH_DIR = PRESET_DIR / "search"
_TYPES = ("float", "int", "categorical")


@dataclass(frozen=True)
class Param:
    """One searched parameter: a dotted config path and its distribution."""

    path: str
    type: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple[Any, ...] = ()

    def bounds(self) -> tuple[float, float]:
        """``(low, high)`` of a float / int parameter (set by the parser for both types)."""
        if self.low is None or self.high is None:
            raise ConfigError(f"search parameter {self.path!r} ({self.type}) needs numeric `low` and `high`")
        return self.low, self.high

    def suggest(self, trial: Any) -> Any:
        """Draw a value from an ``optuna.Trial`` (the parameter is named by its path)."""
        if self.type == "float":
            low, high = self.bounds()
            return trial.suggest_float(self.path, low, high, log=self.log, step=self.step)
        if self.type == "int":
            low, high = self.bounds()
            return trial.suggest_int(self.path, int(low), int(high), step=int(self.step or 1), log=self.log)
        return trial.suggest_categorical(self.path, list(self.choices))

    def contains(self, value: Any) -> bool:
        """Whether ``value`` can be drawn from this distribution (inside the range, on the step
        grid, or one of the choices), so a trial can be enqueued with it."""
        if self.type == "categorical":
            return value in self.choices
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if self.type == "int" and float(value) != int(value):
            return False
        low, high = self.bounds()
        if not (low <= float(value) <= high):
            return False
        step = self.step or (1.0 if self.type == "int" else None)
        if step is None:
            return True
        k = (float(value) - low) / step
        return abs(k - round(k)) < 1e-9


@dataclass(frozen=True)
class SearchSpace:
    params: tuple[Param, ...]
    source: str

    def suggest(self, trial: Any) -> dict[str, Any]:
        """``{dotted path: value}`` for one trial."""
        return {p.path: p.suggest(trial) for p in self.params}


def _parse_param(path: str, spec: Any, where: str) -> Param:
    if not isinstance(spec, dict) or spec.get("type") not in _TYPES:
        raise ConfigError(f"{where}: {path!r} needs a mapping with type one of {_TYPES}")
    kind = spec["type"]
    if kind == "categorical":
        choices = spec.get("choices")
        if not isinstance(choices, list) or not choices:
            raise ConfigError(f"{where}: {path!r} (categorical) needs a non-empty `choices` list")
        return Param(path, kind, choices=tuple(choices))
    try:
        low, high = float(spec["low"]), float(spec["high"])
    except (KeyError, TypeError, ValueError):
        raise ConfigError(f"{where}: {path!r} ({kind}) needs numeric `low` and `high`") from None
    if not low < high:
        raise ConfigError(f"{where}: {path!r} has low={low} >= high={high}")
    step = spec.get("step")
    return Param(path, kind, low=low, high=high, log=bool(spec.get("log", False)),
                 step=float(step) if step is not None else None)


def load_search_space(preset: str, config: ExperimentConfig, path: str | Path | None = None) -> SearchSpace:
    """The search space of ``preset`` (``configs/search/<preset>.yaml``, else ``default.yaml``),
    expanded for ``config``: ``tasks.*`` becomes one parameter per task, and model parameters
    the model does not accept are dropped."""
    file = Path(path) if path is not None else SEARCH_DIR / f"{preset}.yaml"
    if path is None and not file.is_file():
        file = SEARCH_DIR / "default.yaml"
    if not file.is_file():
        raise ConfigError(f"search space not found: {file}")
    raw = load_yaml_mapping(file, "dotted config paths -> distributions")
    accepted = _model_fields(config.model.name)
    params: list[Param] = []
    for key, spec in raw.items():
        key = str(key)
        if key.startswith("tasks.*."):
            attr = key.split(".", 2)[2]
            params += [_parse_param(f"tasks.{t.name}.{attr}", spec, str(file)) for t in config.tasks]
            continue
        if key.startswith("model.params."):
            field = key.split(".", 2)[2]
            if accepted is not None and field not in accepted:
                log.info("search space %s: %s does not apply to model %s; skipped", file.name, key, config.model.name)
                continue
        params.append(_parse_param(key, spec, str(file)))
    if not params:
        raise ConfigError(f"{file}: no parameter applies to preset {preset!r}")
    return SearchSpace(tuple(params), str(file))


def _model_fields(name: str) -> set[str] | None:
    from finmt_core.models import registry

    cls: type  # a neural model's or an estimator's class
    try:
        cls = registry.get_model_class(name)
    except ConfigError:
        try:
            cls = registry.get_estimator_class(name)
        except (ConfigError, AttributeError):
            return None
    cfg_cls = getattr(cls, "config_class", None)
    return {f.name for f in fields(cfg_cls)} if cfg_cls is not None else None


def current_values(space: SearchSpace, config: ExperimentConfig) -> tuple[dict[str, Any], list[str]]:
    """The value ``config`` has now at each searched path (model parameters the preset leaves
    unset: the model's own default), and the paths whose value the distribution cannot draw.

    Used to enqueue the preset's defaults as a trial, so a study scores them on the same rows
    as the searched values. Returns ``(values inside their distribution, paths outside)``.
    """
    data = config.model_dump(mode="json")
    defaults = _model_defaults(config.model.name)
    inside: dict[str, Any] = {}
    outside: list[str] = []
    for p in space.params:
        parts = p.path.split(".")
        if parts[0] == "tasks":
            task = next(t for t in data["tasks"] if t["name"] == parts[1])
            value = task.get(parts[2])
        elif parts[:2] == ["model", "params"]:
            value = data["model"]["params"].get(parts[2], defaults.get(parts[2]))
        else:
            node: Any = data
            for part in parts:
                node = node.get(part) if isinstance(node, dict) else None
            value = node
        if p.contains(value):
            inside[p.path] = value
        else:
            outside.append(f"{p.path}={value!r}")
    return inside, outside


def _model_defaults(name: str) -> dict[str, Any]:
    from dataclasses import MISSING

    from finmt_core.models import registry

    for getter in ("get_model_class", "get_estimator_class"):
        try:
            cls = getattr(registry, getter)(name)
        except (ConfigError, AttributeError):
            continue
        cfg_cls = getattr(cls, "config_class", None)
        if cfg_cls is not None:
            return {f.name: f.default for f in fields(cfg_cls) if f.default is not MISSING}
    return {}


def apply_overrides(config: ExperimentConfig, values: dict[str, Any]) -> ExperimentConfig:
    """A new config with dotted-path ``values`` set (``tasks.<name>.<attr>`` addresses a task).

    The dotted values become one nested override mapping (the tasks list, which a merge
    replaces whole, is given in full with the tuned attributes changed) applied by
    :func:`finmt_core.config.with_overrides`, the one place config overrides are applied.
    """
    return with_overrides(config, _nested_overrides(config, values), where="tuned config")


def _nested_overrides(config: ExperimentConfig, values: dict[str, Any]) -> dict[str, Any]:
    """Dotted ``values`` as a nested mapping for ``with_overrides``; ConfigError naming a path
    that addresses no task or no config section."""
    data = config.model_dump(mode="json")
    tasks: list[dict[str, Any]] | None = None
    nested: dict[str, Any] = {}
    for path, value in values.items():
        parts = path.split(".")
        if parts[0] == "tasks":
            if len(parts) != 3:
                raise ConfigError(f"task parameters are addressed as tasks.<name>.<attr>, not {path!r}")
            tasks = tasks if tasks is not None else [dict(t) for t in data["tasks"]]
            matches = [t for t in tasks if t["name"] == parts[1]]
            if not matches:
                raise ConfigError(f"{path!r}: no task named {parts[1]!r}")
            matches[0][parts[2]] = value
            continue
        node, out = data, nested
        for p in parts[:-1]:
            if not isinstance(node.get(p), dict):
                raise ConfigError(f"{path!r}: {p!r} is not a config section")
            node, out = node[p], out.setdefault(p, {})
        out[parts[-1]] = value
    if tasks is not None:
        nested["tasks"] = tasks
    return nested
