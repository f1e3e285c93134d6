"""Task specs and the task catalogue.

A :class:`Task` is declarative: it says what a head predicts, how its target is built from
prices (``target`` family + ``horizon`` + ``params``) and which loss trains it. Models build
one head per task, so one backbone serves any mix of tasks.

Convention (tested): a row at date ``t`` holds features known at the close of ``t`` and a
target about the move from close ``t`` to close ``t + horizon``. Targets whose window runs
past the data are missing (masked), never zero-filled.

Target families (``Task.target``):

==============  ==============  ==========================================================
family          kind            target at (t, ticker)
==============  ==============  ==========================================================
``action``      classification  Sell/Hold/Buy (0/1/2): forward log return vs ``±k·σ·√h``
                                (σ = rolling daily vol up to t) or fixed ``±threshold``
``direction``   classification  Down/Up (0/1): sign of the forward log return
``return``      regression      forward log return ``log(C[t+h] / C[t])``
``volatility``  regression      forward realised vol: std of daily log returns t+1..t+h
``regime``      classification  Bear/Sideways/Bull/Volatile over the forward window: Volatile
                                if fwd realised vol > vol_mult·σ, else Bull/Bear by ±k·σ·√h
``signal``      classification  Noise/Signal (0/1): ``|fwd return| > k·σ·√h``
``relevance``   regression      ``tanh(fwd return / (σ·√h))`` in [-1, 1]
``quantiles``   quantile        forward log return; the head predicts its Q10/Q50/Q90
==============  ==============  ==========================================================
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from finmt_core.errors import ConfigError

TaskKind = Literal["classification", "regression", "quantile"]
LossName = Literal["ce", "focal", "mse", "huber", "pinball"]
#: Cross-sectional normalisation of a task's *training* target (per date, across tickers).
Normalize = Literal["none", "demean", "zscore", "rank"]

#: families whose target is built from the forward return (the ones ``normalize`` applies to)
#: -> the normalisations each accepts. Classification labels are cut from the normalised
#: forward return, so only the centring ones make sense there ("rank" = median-centred).
NORMALIZABLE: dict[str, tuple[str, ...]] = {
    "return": ("none", "demean", "zscore", "rank"),
    "relevance": ("none", "demean"),
    "quantiles": ("none", "demean"),
    "direction": ("none", "demean", "rank"),
    "action": ("none", "demean"),
    "signal": ("none", "demean"),
    "regime": ("none", "demean"),
}

#: family -> (kind, classes, default loss, default params)
CATALOGUE: dict[str, tuple[TaskKind, tuple[str, ...], LossName, dict[str, Any]]] = {
    "action": ("classification", ("Sell", "Hold", "Buy"), "ce", {"k": 0.5, "vol_window": 30, "threshold": None}),
    "direction": ("classification", ("Down", "Up"), "ce", {}),
    "return": ("regression", (), "huber", {}),
    "volatility": ("regression", (), "huber", {}),
    "regime": (
        "classification",
        ("Bear", "Sideways", "Bull", "Volatile"),
        "ce",
        {"k": 0.5, "vol_window": 60, "vol_mult": 1.5},
    ),
    "signal": ("classification", ("Noise", "Signal"), "ce", {"k": 0.5, "vol_window": 30}),
    "relevance": ("regression", (), "mse", {"vol_window": 30}),
    "quantiles": ("quantile", (), "pinball", {"quantiles": (0.1, 0.5, 0.9)}),
}


class Task(BaseModel):
    """One prediction head's specification.

    Attributes:
        name: unique key of the task in a run (``"direction"``, ``"relevance_7d"``); used as
            the dict key of model outputs, loss parts, targets and prediction columns.
        target: the label family from :data:`CATALOGUE`.
        kind: classification | regression | quantile (set from the family).
        horizon: forward window in trading days (>= 1).
        classes: class names for classification, in target-index order.
        loss: per-task loss (ce, focal, mse, huber, pinball).
        mask_by: name of another task in the same run; rows count for this task only where
            that task's target == 1 (e.g. ``direction`` trained only on ``signal`` rows).
        weight: fixed loss weight (the starting weight for adaptive strategies).
        params: family parameters (``k``, ``vol_window``, ``threshold``, ``quantiles`` ...).
        normalize: cross-sectional normalisation of the *training* target per date (qlib's
            CSZScoreNorm / CSRankNorm): ``demean`` subtracts the date's mean forward return
            (classification labels are then cut from the demeaned return), ``zscore`` also
            divides by the date's std, ``rank`` maps ranks to a unit-variance uniform score
            (classification: median-centred). The common market move is what makes daily
            labels noisy and what no stock-level feature predicts; removing it lets a model
            learn the cross-sectional structure. Evaluation always scores against the raw
            outcome (``prediction vs the un-normalised target``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    target: str
    kind: TaskKind = "regression"
    horizon: int = Field(default=1, ge=1, le=260)
    classes: tuple[str, ...] = ()
    loss: LossName = "mse"
    mask_by: str | None = None
    weight: float = Field(default=1.0, ge=0.0)
    params: dict[str, Any] = Field(default_factory=dict)
    normalize: Normalize = "none"

    @model_validator(mode="before")
    @classmethod
    def _fill_from_catalogue(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        family = data.get("target") or data.get("name")
        if family not in CATALOGUE:
            raise ConfigError(
                f"unknown task target {family!r}; choose one of {', '.join(sorted(CATALOGUE))}"
            )
        kind, classes, loss, params = CATALOGUE[family]
        data["target"] = family
        data.setdefault("name", family)
        data["kind"] = kind
        data["classes"] = tuple(classes)
        data.setdefault("loss", loss)
        merged = dict(params)
        merged.update(data.get("params") or {})
        if "quantiles" in merged:
            merged["quantiles"] = tuple(float(q) for q in merged["quantiles"])
        data["params"] = merged
        return data

    @model_validator(mode="after")
    def _check(self) -> Task:
        if self.kind == "classification" and self.loss not in ("ce", "focal"):
            raise ConfigError(f"task {self.name!r} is a classification task; use loss 'ce' or 'focal'")
        if self.kind == "regression" and self.loss not in ("mse", "huber"):
            raise ConfigError(f"task {self.name!r} is a regression task; use loss 'mse' or 'huber'")
        if self.kind == "quantile" and self.loss != "pinball":
            raise ConfigError(f"task {self.name!r} is a quantile task; use loss 'pinball'")
        allowed = NORMALIZABLE.get(self.target, ("none",))
        if self.normalize not in allowed:
            raise ConfigError(
                f"task {self.name!r} ({self.target}): normalize {self.normalize!r} is not available for this "
                f"family; choose one of {', '.join(allowed)}"
            )
        return self

    @property
    def n_outputs(self) -> int:
        """Width of the head's output: classes, quantiles, or 1 for regression."""
        if self.kind == "classification":
            return len(self.classes)
        if self.kind == "quantile":
            return len(self.params["quantiles"])
        return 1

    @property
    def quantiles(self) -> tuple[float, ...]:
        return tuple(self.params.get("quantiles", ()))

    @property
    def bounded(self) -> bool:
        """Regression targets in [-1, 1] (relevance): heads apply ``tanh``."""
        return self.target == "relevance"


def make_task(target: str, horizon: int = 1, name: str | None = None, **kwargs: Any) -> Task:
    """Build a task of a catalogue family: ``make_task("relevance", 7, name="relevance_7d")``."""
    return Task(target=target, horizon=horizon, name=name or target, **kwargs)


def validate_task_list(tasks: list[Task]) -> list[Task]:
    """Check names are unique and every ``mask_by`` names a binary task of the same list."""
    names = [t.name for t in tasks]
    if not tasks:
        raise ConfigError("a run needs at least one task; add e.g. {target: direction, horizon: 1}")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"task names must be unique; duplicated: {dupes}. Give each a `name`.")
    by_name = {t.name: t for t in tasks}
    for t in tasks:
        if t.mask_by is not None:
            m = by_name.get(t.mask_by)
            if m is None:
                raise ConfigError(f"task {t.name!r} has mask_by={t.mask_by!r}, which is not a task of this run")
            if m.kind != "classification" or len(m.classes) != 2:
                raise ConfigError(f"task {t.name!r}: mask_by must name a binary classification task")
    return tasks


def max_horizon(tasks: list[Task]) -> int:
    return max(t.horizon for t in tasks)
