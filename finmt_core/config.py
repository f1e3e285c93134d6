"""Typed experiment configuration (pydantic), loaded from and saved to YAML.

One :class:`ExperimentConfig` holds everything needed to reproduce a run; it is written as
``config.yaml`` into the run directory. Presets are ``configs/<name>.yaml`` of the repository,
installed as ``finmt_core/configs/`` (see setup.py): :data:`PRESET_DIR` is the installed folder,
or the checkout's ``configs/`` when finmt runs from a checkout (``pip install -e .``).
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from finmt_core.errors import ConfigError
from finmt_core.tasks import Task, max_horizon, validate_task_list


def _preset_dir() -> Path:
    """The installed presets (``finmt_core/configs``), else the checkout's ``configs/``."""
    installed = Path(str(resources.files("finmt_core").joinpath("configs")))
    return installed if installed.is_dir() else Path(__file__).resolve().parent.parent / "configs"


#: Presets: one YAML per seed architecture (``search/`` holds the tuning search spaces).
PRESET_DIR = _preset_dir()


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DataConfig(_Strict):
    """Where the panel comes from and how inputs are shaped."""

    source: str = "demo"  # "demo" | "synthetic" | a file path
    # how a file's dates are written when they are ambiguous: a strftime format ("%d/%m/%Y"),
    # "dayfirst" or "monthfirst" (None: detected; an ambiguous file is refused, naming this key)
    date_format: str | None = None
    synthetic: dict[str, Any] = Field(default_factory=dict)  # kwargs of synthetic_market
    window: int = Field(default=20, ge=2, le=512)  # T: trading days per input window
    image_size: int = Field(default=32, ge=8, le=512)  # H = W of feature images
    features: list[str] | None = None  # None = every available feature
    tickers: list[str] | None = None  # None = every ticker
    # where prepare keeps the [D, N, F] feature arrays: "memory", "disk" (memory-mapped scratch
    # files, for universes larger than memory) or "auto" (disk from 1 GiB of features up)
    storage: Literal["memory", "disk", "auto"] = "auto"
    storage_dir: str | None = None  # scratch folder of data.storage disk (None = system temp folder)
    # number type of the scaled model input X: "float16" halves its memory (and its scratch file
    # with disk storage); batches are cast back to float32 before the model sees them, so the
    # only change is rounding the scaled values (|x| <= 5) to 3 significant digits
    storage_dtype: Literal["float32", "float16"] = "float32"


class SplitConfig(_Strict):
    """Date splits: by fraction (default) or explicit dates; purge/embargo between segments."""

    train_frac: float = Field(default=0.7, gt=0.0, lt=1.0)
    val_frac: float = Field(default=0.15, gt=0.0, lt=1.0)
    val_start: str | None = None  # ISO dates; when given they override the fractions
    test_start: str | None = None
    embargo: int | None = None  # trading days; None = longest task horizon (the minimum allowed)
    folds: int = Field(default=1, ge=1, le=20)  # >1 = walk-forward
    walk_forward: Literal["expanding", "rolling"] = "expanding"

    @model_validator(mode="after")
    def _check(self) -> SplitConfig:
        if self.train_frac + self.val_frac >= 1.0:
            raise ConfigError("split.train_frac + split.val_frac must be < 1 to leave a test segment")
        return self


class GraphConfig(_Strict):
    """The stock graph (fitted on train dates only; see :mod:`finmt_core.data.graph`).

    ``leadlag`` is directed (leader -> follower, from ``corr(r_j[t-1], r_i[t])`` of returns
    relative to the date's cross-sectional mean); there ``top_k`` / ``threshold`` count
    leaders per follower. ``sector_weight`` only affects ``hybrid``.
    """

    kind: Literal["correlation", "sector", "hybrid", "leadlag"] = "hybrid"
    top_k: int = Field(default=5, ge=1)  # peers per node (leadlag: leaders per follower)
    threshold: float | None = None  # |corr| threshold instead of top-k
    sector_weight: float = Field(default=0.5, ge=0.0, le=1.0)  # hybrid mix


class ModelConfig(_Strict):
    """``name`` is a registered model; ``params`` go to that model's config dataclass.

    ``ticker_embedding`` (int >= 0, default 0 = off; neural models only): dimension of a
    learnable per-ticker embedding added (through a zero-initialised projection) to every
    model's embedding before the heads. It is accepted here or as
    ``params.ticker_embedding`` and stored in ``params`` (what ``create_model`` and the
    checkpoints read), so ``model_dump`` / ``config.yaml`` show it under ``params``; the
    top-level value wins when both are given. Read it as ``config.model.ticker_embedding``.
    """

    name: str = "lstm_transformer"
    params: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _ticker_embedding_into_params(cls, data: Any) -> Any:
        if not isinstance(data, dict) or "ticker_embedding" not in data:
            return data
        data = dict(data)
        dim = data.pop("ticker_embedding")
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 0:
            raise ConfigError(f"model.ticker_embedding must be an integer >= 0 (0 = off), got {dim!r}")
        params = dict(data.get("params") or {})
        if dim:
            params["ticker_embedding"] = dim
        else:
            params.pop("ticker_embedding", None)
        data["params"] = params
        return data

    @property
    def ticker_embedding(self) -> int:
        """Ticker-embedding dimension (0 = off)."""
        return int(self.params.get("ticker_embedding", 0) or 0)


class LossConfig(_Strict):
    weighting: Literal["fixed", "learnable", "uncertainty", "dwa", "gradnorm"] = "fixed"
    anti_collapse: float = Field(default=0.0, ge=0.0)  # penalty weight on low prediction variance
    focal_gamma: float = Field(default=2.0, ge=0.0)
    class_weights: dict[str, list[float]] = Field(default_factory=dict)  # task -> per-class weight
    # focal loss alpha (Lin et al. 2017): task -> one alpha per class, the loss of a row of class c
    # is alpha_c * (1 - p_c)^gamma * -log p_c; only for tasks with loss: focal
    focal_alpha: dict[str, list[float]] = Field(default_factory=dict)
    dwa_temperature: float = Field(default=2.0, gt=0.0)
    gradnorm_alpha: float = Field(default=1.5, ge=0.0)
    regularization: float = Field(default=0.0, ge=0.0)  # weight of model.regularization() terms
    # regression/quantile losses on targets divided by their train std (outputs stay in units)
    standardize: bool = True
    # classification losses weighted n / (C * n_c) from the train segment (no head wins by
    # predicting the majority class; multiplies class_weights)
    balance_classes: bool = True


class TrainConfig(_Strict):
    epochs: int = Field(default=10, ge=1, le=10_000)
    batch_size: int = Field(default=256, ge=1)
    lr: float = Field(default=1e-3, gt=0.0)
    lr_groups: dict[str, float] = Field(default_factory=dict)  # param-name prefix -> lr
    weight_decay: float = Field(default=1e-4, ge=0.0)
    schedule: Literal["none", "cosine", "cosine_restarts", "plateau"] = "cosine"
    warmup_epochs: int = Field(default=0, ge=0)
    # period of cosine_restarts (epochs); None = a third of the epochs, so it restarts twice
    restart_epochs: int | None = Field(default=None, ge=1)
    plateau_factor: float = Field(default=0.5, gt=0.0, lt=1.0)  # plateau: lr *= factor
    plateau_patience: int = Field(default=2, ge=0)  # plateau: epochs without improvement first
    grad_clip: float | None = 1.0
    patience: int = Field(default=5, ge=1)  # early stopping on the monitored criterion
    # checkpoint choice + early stopping: "score" = mean per-task validation skill (balanced
    # accuracy over chance, IC; see training.metrics.validation_score), "loss" = weighted val loss
    monitor: Literal["score", "loss"] = "score"
    min_delta: float = Field(default=1e-4, ge=0.0)
    keep_best_k: int = Field(default=2, ge=1)
    seed: int = 0
    device: Literal["auto", "cpu", "cuda"] = "auto"
    amp: bool = True  # mixed precision; only ever used on CUDA
    compile: bool = False
    num_workers: int = Field(default=0, ge=0)
    max_batches_per_epoch: int | None = None  # cap for quick demos
    # a classification task's name: training batches are drawn (with replacement, seeded per
    # epoch) so each of its classes is equally likely (train rows only; see data/balanced_sampling.py)
    balanced_sampling: str | None = None
    heartbeat_s: float = Field(default=2.0, gt=0.0)


    @model_validator(mode="after")
    def _check_restarts(self) -> TrainConfig:
        if self.schedule == "cosine_restarts" and self.restart_epochs is not None and self.restart_epochs >= self.epochs:
            raise ConfigError(
                f"train.restart_epochs={self.restart_epochs} >= train.epochs={self.epochs}: cosine_restarts would "
                f"never restart. Use restart_epochs < epochs (e.g. {max(1, self.epochs // 3)}) or leave it unset."
            )
        return self

    @property
    def restart_period(self) -> int:
        """Epochs per cosine_restarts cycle (``restart_epochs`` or a third of ``epochs``)."""
        return self.restart_epochs if self.restart_epochs is not None else max(1, self.epochs // 3)


class GateThresholds(_Strict):
    """Pass/fail thresholds of the validation gates (seed 003's deployment checks); ``None``
    switches a gate off. See :mod:`finmt_core.evaluation.gates` for which task kinds each
    applies to.

    ``pred_var_ratio_min`` is unit-free: the variance of the predictions divided by the
    variance of the target on the same validation rows. The seed's absolute "prediction
    variance > 0.005" would demand a daily-return forecast with a 7 % standard deviation
    (far above the target's own ~2 %), so every honest return model would fail it; scaled to
    the target, 0.005 means "the prediction's std is at least 7 % of the target's", which is
    what the gate is for: catching a head that collapsed to a constant.
    """

    r2_min: float | None = 0.0  # regression / quantile median: R² > r2_min
    pred_var_ratio_min: float | None = Field(default=0.005, ge=0.0)  # var(pred) / var(target) > this
    directional_accuracy_min: float | None = Field(default=0.52, ge=0.0, le=1.0)  # signed targets, direction
    positive_bias_min: float | None = Field(default=0.45, ge=0.0, le=1.0)  # share of "up" calls >= this
    positive_bias_max: float | None = Field(default=0.55, ge=0.0, le=1.0)  # ... and <= this
    max_class_share: float | None = Field(default=0.95, gt=0.0, le=1.0)  # classification: top class share < this
    beat_best_baseline: bool = True  # headline metric better than every baseline's on the same rows


class GatesConfig(GateThresholds):
    """``gates:`` — validation gates judged on the VALIDATION segment (never test) by
    ``finmt evaluate``. ``tasks`` overrides thresholds per task name, e.g.
    ``{"return": {"r2_min": null}}`` (unknown keys or task names are an error)."""

    enabled: bool = True
    tasks: dict[str, dict[str, Any]] = Field(default_factory=dict)

    def for_task(self, name: str) -> GateThresholds:
        """The thresholds of one task: the defaults with the task's overrides on top."""
        base = self.model_dump(exclude={"enabled", "tasks"})
        try:
            return GateThresholds(**{**base, **self.tasks.get(name, {})})
        except ValidationError as exc:
            raise ConfigError(f"gates.tasks.{name}: {exc.errors()[0]['loc']} {exc.errors()[0]['msg']}") from None


class ExperimentConfig(_Strict):
    name: str = "run"
    preset: str | None = None
    data: DataConfig = Field(default_factory=DataConfig)
    split: SplitConfig = Field(default_factory=SplitConfig)
    graph: GraphConfig = Field(default_factory=GraphConfig)
    tasks: list[Task] = Field(default_factory=lambda: [Task(name="direction", target="direction", horizon=1)])
    model: ModelConfig = Field(default_factory=ModelConfig)
    loss: LossConfig = Field(default_factory=LossConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    gates: GatesConfig = Field(default_factory=GatesConfig)

    @model_validator(mode="after")
    def _check(self) -> ExperimentConfig:
        validate_task_list(self.tasks)
        unknown = sorted(set(self.gates.tasks) - {t.name for t in self.tasks})
        if unknown:
            raise ConfigError(f"gates.tasks names {unknown}, which are not tasks of this config "
                              f"({', '.join(t.name for t in self.tasks)}); fix the names or remove them")
        for name in self.gates.tasks:
            self.gates.for_task(name)
        if self.split.embargo is not None and self.split.embargo < self.max_horizon:
            raise ConfigError(
                f"split.embargo={self.split.embargo} is shorter than the longest task horizon "
                f"({self.max_horizon}); labels would leak across segments. Use >= {self.max_horizon}."
            )
        return self

    @model_validator(mode="after")
    def _check_balanced_sampling(self) -> ExperimentConfig:
        name = self.train.balanced_sampling
        if name is not None:
            kinds = {t.name: t.kind for t in self.tasks}
            if kinds.get(name) != "classification":
                choices = [n for n, k in kinds.items() if k == "classification"]
                raise ConfigError(f"train.balanced_sampling={name!r} must name a classification task of this run; "
                                  f"choose one of {choices or '(none: add a classification task)'} or leave it unset")
        return self

    @property
    def max_horizon(self) -> int:
        return max_horizon(self.tasks)

    @property
    def embargo(self) -> int:
        return self.split.embargo if self.split.embargo is not None else self.max_horizon

    def task(self, name: str) -> Task:
        for t in self.tasks:
            if t.name == name:
                return t
        raise KeyError(name)

    # ---- YAML ---------------------------------------------------------------------------
    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "config") -> ExperimentConfig:
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise ConfigError(f"invalid {where}: {_explain(exc)}") from None

    @classmethod
    def from_yaml(cls, path: str | Path) -> ExperimentConfig:
        return cls.from_dict(load_yaml_mapping(path, "data:, model:, tasks: ..."), where=str(path))


def load_yaml_mapping(path: str | Path, expected: str) -> dict[str, Any]:
    """A YAML file holding a mapping, or a ConfigError saying what is wrong with it.

    Args:
        path: the file.
        expected: what the mapping should contain, for the message (e.g. ``"data:, train: ..."``).
    """
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file not found: {p}")
    try:
        data = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{p} must hold a mapping at the top level ({expected})")
    return data


def _explain(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(x) for x in err["loc"]) or "(top level)"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge ``override`` into a copy of ``base`` (lists are replaced, not merged)."""
    out = dict(base)
    for k, v in override.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v)
        else:
            out[k] = v
    return out


def with_overrides(
    base: ExperimentConfig | Mapping[str, Any], overrides: Mapping[str, Any] | None, where: str = "config"
) -> ExperimentConfig:
    """The one place config overrides are applied: ``overrides`` deep-merged over ``base``, validated.

    Presets (:func:`load_preset`), ``finmt train``'s ``--config`` file and flags, and the
    fields a resume may change all go through here, so an override is checked like any config.

    Args:
        base: a config, or a config mapping (a preset's YAML).
        overrides: a nested mapping such as ``{"train": {"epochs": 3}}`` (dicts merge, lists
            and scalars replace; None = none).
        where: what the result is called in a ConfigError ("preset tgcn", a file name ...).

    Raises:
        ConfigError: the merged config is invalid (says which key and why).
    """
    data = base.model_dump(mode="json") if isinstance(base, ExperimentConfig) else dict(base)
    return ExperimentConfig.from_dict(merge(data, dict(overrides or {})), where=where)


def list_presets() -> list[str]:
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


def load_preset(name: str, overrides: dict[str, Any] | None = None) -> ExperimentConfig:
    """Load ``configs/<name>.yaml`` merged with ``overrides``; raises ConfigError naming choices."""
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise ConfigError(f"invalid preset name {name!r}")
    path = PRESET_DIR / f"{name}.yaml"
    if not path.is_file():
        if not list_presets():
            raise ConfigError(f"unknown preset {name!r}: no presets found in {PRESET_DIR} (reinstall finmt)")
        raise ConfigError(f"unknown preset {name!r}; choose one of: {', '.join(list_presets())}")
    data = yaml.safe_load(path.read_text()) or {}
    data.setdefault("preset", name)
    data.setdefault("name", name)
    return with_overrides(data, overrides, where=f"preset {name}")
