"""Ensemble members: finished runs, checked to share tasks, data and split, loaded as Predictors.

Members are compared on what decides the rows they predict and what those rows mean:

* tasks: the same names, families, horizons, family parameters and normalisation (the loss,
  the loss weight and ``mask_by`` may differ: they change how a member learned, not what it
  predicts);
* data: the same source, synthetic-market arguments, date format and ticker selection;
* split: the same split settings, and — checked on the data once loaded — the same train,
  validation and test dates (members with different windows can split differently when the
  split is given as fractions).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from finmt_core.config import ExperimentConfig
from finmt_core.errors import ConfigError, RunError
from finmt_core.tasks import Task

if TYPE_CHECKING:
    from finmt_core.data.dense import DensePanel
    from finmt_core.data.prepare import PreparedData
    from finmt_core.inference.predictor import Predictor

log = logging.getLogger(__name__)

#: Task fields that may differ between members (how a head learned, not what it predicts).
TASK_FREE_FIELDS = frozenset({"loss", "weight", "mask_by"})
#: Data fields that must be equal between members (window, features, image size may differ).
DATA_FIELDS = ("source", "synthetic", "date_format", "tickers")


def task_key(task: Task) -> dict[str, Any]:
    """What a task predicts: its fields without :data:`TASK_FREE_FIELDS`."""
    return {k: v for k, v in task.model_dump(mode="json").items() if k not in TASK_FREE_FIELDS}


def check_member_configs(members: Sequence[tuple[str, ExperimentConfig]]) -> None:
    """ConfigError naming the first member whose tasks, data or split differ from the first one's.

    Args:
        members: ``(run name, config)`` pairs, at least two.
    """
    if len(members) < 2:
        raise ConfigError(f"an ensemble needs at least two member runs, got {len(members)}")
    names = [m for m, _ in members]
    if len(set(names)) != len(names):
        raise ConfigError(f"ensemble members must be distinct runs; repeated: {sorted({n for n in names if names.count(n) > 1})}")
    ref_name, ref = members[0]
    ref_tasks = [task_key(t) for t in ref.tasks]
    for name, cfg in members[1:]:
        tasks = [task_key(t) for t in cfg.tasks]
        if tasks != ref_tasks:
            a = ", ".join(f"{t['name']}({t['target']}, h{t['horizon']})" for t in ref_tasks)
            b = ", ".join(f"{t['name']}({t['target']}, h{t['horizon']})" for t in tasks)
            raise ConfigError(f"ensemble members predict different tasks: {ref_name!r} has [{a}] but {name!r} has [{b}]"
                              " (names, families, horizons, parameters and normalize must match). Pick runs trained "
                              "with the same tasks.")
        for field in DATA_FIELDS:
            if getattr(cfg.data, field) != getattr(ref.data, field):
                raise ConfigError(f"ensemble members use different data: data.{field} is "
                                  f"{getattr(ref.data, field)!r} in {ref_name!r} but {getattr(cfg.data, field)!r} in "
                                  f"{name!r}. Pick runs trained on the same data.")
        if cfg.split.model_dump() != ref.split.model_dump():
            diff = sorted(k for k, v in cfg.split.model_dump().items() if ref.split.model_dump()[k] != v)
            raise ConfigError(f"ensemble members use different splits: split.{', split.'.join(diff)} differ between "
                              f"{ref_name!r} and {name!r}. Pick runs trained with the same split.")
        if cfg.embargo != ref.embargo:
            raise ConfigError(f"ensemble members use different embargoes ({ref.embargo} in {ref_name!r}, {cfg.embargo} "
                              f"in {name!r}); pick runs with the same split.embargo")


def check_same_rows(name: str, member_prepared: PreparedData, prepared: PreparedData, *, split: bool) -> None:
    """ConfigError unless ``member_prepared`` lies on the dates and tickers of ``prepared``
    (and, with ``split``, has the same train/val/test dates)."""
    if not member_prepared.dates.equals(prepared.dates) or list(member_prepared.tickers) != list(prepared.tickers):
        raise ConfigError(f"ensemble member {name!r} was trained on other dates or tickers "
                          f"({len(member_prepared.dates)} dates x {len(member_prepared.tickers)} tickers, the ensemble "
                          f"has {len(prepared.dates)} x {len(prepared.tickers)}); pick runs on the same data")
    if not split:
        return
    for seg in ("train", "val", "test"):
        a, b = member_prepared.split.segment(seg), prepared.split.segment(seg)
        if not np.array_equal(a, b):
            where = lambda s: f"{prepared.dates[s[0]].date()}..{prepared.dates[s[-1]].date()}" if len(s) else "empty"  # noqa: E731
            raise ConfigError(
                f"ensemble member {name!r} has another {seg} segment ({where(a)}) than the ensemble ({where(b)}): "
                f"its data.window ({member_prepared.info.window}) moves the split boundaries. Use members with the "
                "same window, or give explicit split.val_start and split.test_start to all of them.")


def load_member(root: Path, name: str) -> tuple[ExperimentConfig, Predictor]:
    """``(config, Predictor)`` of the finished member run ``root/name`` (its :meth:`Run.predictor`,
    whose ``run_data()`` is the member's own PreparedData, built once)."""
    from finmt_core.run import Run

    run = Run.open(root, name)
    state = run.effective_state()
    if state != "done":
        raise RunError(f"ensemble member {name!r} is not finished (state: {state}); train it to the end first")
    if run.config().model.name == "ensemble":
        raise ConfigError(f"ensemble member {name!r} is itself an ensemble; use its member runs instead")
    return run.config(), run.predictor()


def dense_to_panel(dense: DensePanel) -> pd.DataFrame:
    """The Panel (MultiIndex (date, ticker)) a DensePanel was pivoted from: one row per
    (date, ticker) with any finite column, vectorised."""
    names = list(dense.columns)
    stacked = np.stack([dense.columns[c] for c in names], axis=-1)  # [D, N, K]
    keep = np.isfinite(stacked).any(axis=-1)
    d, n = np.nonzero(keep)
    index = pd.MultiIndex.from_arrays([dense.dates[d], pd.Index(np.asarray(dense.tickers, dtype=object)[n])],
                                      names=["date", "ticker"])
    panel = pd.DataFrame(stacked[d, n], index=index, columns=names)
    if dense.sector is not None:
        panel["sector"] = np.asarray(dense.sector, dtype=object)[n]
    return panel
