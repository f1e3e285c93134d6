"""The Train page's form pieces: a task table and a model hyper-parameter editor.

Both turn widget values into the plain dicts that :func:`finmt_core.config.load_preset`
merges into a preset, so the form can only produce what the config schema accepts (and a
ConfigError names the field when it does not).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pandas as pd
import streamlit as st

from finmt_core.config import ExperimentConfig
from finmt_core.tasks import CATALOGUE, Task


def task_table(config: ExperimentConfig) -> pd.DataFrame:
    """One row per task of the preset (enabled) and per other catalogue family (disabled)."""
    rows = [
        {"use": True, "task": t.name, "family": t.target, "kind": t.kind, "horizon": t.horizon,
         "weight": t.weight, "masked by": t.mask_by or ""}
        for t in config.tasks
    ]
    present = {t.target for t in config.tasks}
    for family, (kind, *_rest) in CATALOGUE.items():
        if family not in present:
            rows.append({"use": False, "task": family, "family": family, "kind": kind, "horizon": 1,
                         "weight": 1.0, "masked by": ""})
    return pd.DataFrame(rows)


def edit_tasks(config: ExperimentConfig, key: str) -> pd.DataFrame:
    """An editable task table (tick, horizon, weight); returns the edited frame."""
    return st.data_editor(
        task_table(config),
        key=key,
        hide_index=True,
        disabled=["task", "family", "kind", "masked by"],
        column_config={
            "use": st.column_config.CheckboxColumn("use", help="Train a head for this task"),
            "horizon": st.column_config.NumberColumn("horizon (days)", min_value=1, max_value=260, step=1),
            "weight": st.column_config.NumberColumn("loss weight", min_value=0.0, step=0.1, format="%.2f"),
        },
    )


def tasks_from_table(config: ExperimentConfig, table: pd.DataFrame) -> list[dict[str, Any]]:
    """The ticked rows as task dicts: preset tasks keep their params, new ones take the
    catalogue defaults; a ``mask_by`` pointing at an unticked task is dropped."""
    by_name = {t.name: t for t in config.tasks}
    chosen = table[table["use"].astype(bool)]
    names = set(chosen["task"])
    out: list[dict[str, Any]] = []
    for row in chosen.to_dict("records"):
        base: Task | None = by_name.get(row["task"])
        spec = base.model_dump() if base is not None else {"name": row["task"], "target": row["family"]}
        spec["horizon"] = int(row["horizon"])
        spec["weight"] = float(row["weight"])
        if spec.get("mask_by") and spec["mask_by"] not in names:
            spec["mask_by"] = None
        for key in ("kind", "classes"):  # filled from the catalogue again on validation
            spec.pop(key, None)
        out.append(spec)
    return out


def _config_class(model_name: str) -> type | None:
    from finmt_core import models  # noqa: F401  (fills the registries)
    from finmt_core.models.registry import get_estimator_class, get_model_class, is_estimator

    try:
        return get_estimator_class(model_name) if is_estimator(model_name) else get_model_class(model_name)
    except Exception:
        return None


def is_estimator(model_name: str) -> bool:
    from finmt_core import models  # noqa: F401
    from finmt_core.models.registry import is_estimator as check

    return check(model_name)


def edit_params(config: ExperimentConfig, key: str, columns: int = 4) -> dict[str, Any]:
    """Number / checkbox inputs for the model's scalar hyper-parameters (defaults: the model's
    config dataclass, overridden by the preset). Returns only values that differ from the
    preset, so the preset stays the source of everything else."""
    cls = _config_class(config.model.name)
    cfg_cls = getattr(cls, "config_class", None)
    if cfg_cls is None:
        return {}
    preset = dict(config.model.params)
    changed: dict[str, Any] = {}
    fields = [f for f in dataclasses.fields(cfg_cls) if f.default is not dataclasses.MISSING]
    scalar = [f for f in fields if isinstance(preset.get(f.name, f.default), bool | int | float)]
    cols = st.columns(columns)
    for i, f in enumerate(scalar):
        value = preset.get(f.name, f.default)
        col = cols[i % columns]
        label = f.name.replace("_", " ")
        if isinstance(value, bool):
            new = col.checkbox(label, value=value, key=f"{key}.{f.name}")
        elif isinstance(value, int):
            new = col.number_input(label, value=int(value), step=1, key=f"{key}.{f.name}")
        else:
            new = col.number_input(label, value=float(value), format="%g", key=f"{key}.{f.name}")
        if new != value:
            changed[f.name] = new
    return changed


def form_overrides(base: ExperimentConfig, *, source: str, tasks: list[dict[str, Any]], weighting: str, folds: int,
                   scheme: str, params: dict[str, Any], epochs: int, batch_size: int, device: str, lr: float,
                   head_lr: float, schedule: str, warmup_epochs: int) -> dict[str, Any]:
    """The Train form's values as overrides of the preset ``base`` (for
    :func:`finmt_core.config.load_preset`). ``head_lr`` 0 means "the heads use the base
    learning rate" (the preset's ``heads`` learning-rate group is dropped)."""
    lr_groups = dict(base.train.lr_groups)
    if head_lr > 0:
        lr_groups["heads"] = float(head_lr)
    else:
        lr_groups.pop("heads", None)
    return {
        "data": {"source": source},
        "tasks": tasks,
        "loss": {"weighting": weighting},
        "split": {"folds": int(folds), "walk_forward": scheme},
        "model": {"params": params},
        "train": {"epochs": int(epochs), "batch_size": int(batch_size), "device": device, "lr": float(lr),
                  "lr_groups": lr_groups, "schedule": schedule, "warmup_epochs": int(warmup_epochs)},
    }
