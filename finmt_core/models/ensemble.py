"""The ``ensemble`` estimator: finished runs combined per task with stacking weights.

Members are run directories under ``runs_root`` (same tasks, data and split; see
:mod:`finmt_core.ensemble.members`). ``fit(prepared)`` loads each member read-only
(:class:`~finmt_core.inference.Predictor`), predicts the ensemble's *validation* rows with
every member and learns one non-negative, sum-to-one weight vector per task
(:func:`finmt_core.ensemble.weights.fit_weights`); nothing is fitted on test rows, and the
train rows are never used (members were trained on them). ``predict`` mixes the members'
estimator-format outputs with those weights.

An ensemble preset lists ``member_presets`` instead of ``members``; training it first trains
(or reuses) one run per entry, then fills ``members`` (see :mod:`finmt_core.ensemble.build`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from finmt_core.errors import ConfigError
from finmt_core.models.registry import register_estimator
from finmt_core.tasks import Task

if TYPE_CHECKING:
    from finmt_core.data.prepare import PreparedData
    from finmt_core.inference.predictor import Predictor

log = logging.getLogger(__name__)


@dataclass
class EnsembleConfig:
    """Parameters of :class:`Ensemble` (``model.params`` of an ensemble run).

    Attributes:
        members: run names of the members (folders of ``runs_root``), at least two.
        runs_root: the folder holding the member runs (absolute; written when the ensemble is
            built). Empty = not built yet.
        member_presets: presets only: ``[{preset: NAME, overrides: {...}}, ...]``, the member
            runs to train (or reuse) before the weights are fitted.
        method: ``stack`` (weights learned on validation) or ``equal`` (1/M each).
    """

    members: tuple[str, ...] = ()
    runs_root: str = ""
    member_presets: tuple[dict[str, Any], ...] = ()
    method: str = "stack"


@register_estimator("ensemble")
class Ensemble:
    """Weighted mixture of member runs' predictions (one weight vector per task).

    Attributes (after ``fit``):
        weights: ``{task: TaskWeights}`` (weights ``[M]``, validation losses).
        member_names: the member run names, in weight order.
    """

    config_class: ClassVar[type] = EnsembleConfig
    model_name: ClassVar[str] = "ensemble"
    #: not a baseline: evaluation does not fit it beside other runs
    is_combiner: ClassVar[bool] = True

    def __init__(self, cfg: EnsembleConfig, tasks: list[Task]) -> None:
        from finmt_core.ensemble.weights import METHODS

        if cfg.method not in METHODS:
            raise ConfigError(f"ensemble: method must be one of {', '.join(METHODS)}, got {cfg.method!r}")
        self.cfg = cfg
        self.tasks = list(tasks)
        self.member_names = list(cfg.members)
        self.weights: dict[str, Any] = {}
        self._members: list[Predictor] = []
        self._fit_prepared: PreparedData | None = None
        self._foreign: tuple[int, list[PreparedData]] | None = None  # (id(prepared), member data)

    # ---- fitting -------------------------------------------------------------------------------
    def fit(self, prepared: PreparedData) -> Ensemble:
        """Load the members and learn the weights on ``prepared``'s validation rows."""
        from finmt_core.ensemble.members import check_member_configs, check_same_rows, load_member, task_key
        from finmt_core.ensemble.weights import fit_weights

        if not self.cfg.members:
            raise ConfigError("ensemble: model.params.members is empty; build it with `finmt ensemble RUN1 RUN2 --name "
                              "NAME` or train an ensemble preset (which trains its member_presets first)")
        root = Path(self.cfg.runs_root)
        if not self.cfg.runs_root or not root.is_dir():
            raise ConfigError(f"ensemble: model.params.runs_root {self.cfg.runs_root!r} is not a folder of runs; "
                              "rebuild the ensemble where its member runs are")
        loaded = [load_member(root, name) for name in self.cfg.members]
        check_member_configs([(name, cfg) for name, (cfg, _) in zip(self.cfg.members, loaded, strict=True)])
        mine = {t.name: t for t in self.tasks}
        if [task_key(t) for t in loaded[0][0].tasks] != [task_key(t) for t in self.tasks]:
            raise ConfigError(f"ensemble: its tasks {list(mine)} differ from its members' "
                              f"{[t.name for t in loaded[0][0].tasks]}; an ensemble predicts its members' tasks")
        self._members = [p for _, p in loaded]
        for name, member in zip(self.cfg.members, self._members, strict=True):
            check_same_rows(name, member.run_data(), prepared, split=True)
        self._fit_prepared = prepared
        dv, nv = prepared.rows("val")
        member_preds = [self._member_outputs(i, prepared, dv, nv) for i in range(len(self._members))]
        self.weights = {}
        for t in self.tasks:
            target = np.nan_to_num(prepared.targets.training(t.name)[dv, nv].astype(np.float64))
            valid = prepared.targets.valid[t.name][dv, nv]
            self.weights[t.name] = fit_weights(t, [p[t.name] for p in member_preds], target, valid, self.cfg.method)
            log.info("ensemble %s weights %s (val %s %.5g; equal %.5g)", t.name,
                     np.round(self.weights[t.name].weights, 3).tolist(), self.weights[t.name].metric,
                     self.weights[t.name].loss, self.weights[t.name].equal_loss)
        return self

    def _member_prepared(self, i: int, prepared: PreparedData) -> PreparedData:
        """Member ``i``'s PreparedData on the rows of ``prepared`` (its own scaler and window)."""
        if prepared is self._fit_prepared:
            return self._members[i].run_data()
        if self._foreign is None or self._foreign[0] != id(prepared):
            from finmt_core.ensemble.members import check_same_rows, dense_to_panel

            panel = dense_to_panel(prepared.dense)
            preps = [m.prepare(panel) for m in self._members]
            for name, p in zip(self.member_names, preps, strict=True):
                check_same_rows(name, p, prepared, split=False)
            self._foreign = (id(prepared), preps)
        return self._foreign[1][i]

    def _member_outputs(self, i: int, prepared: PreparedData, d: np.ndarray, n: np.ndarray) -> dict[str, np.ndarray]:
        return self._members[i].predict_rows(self._member_prepared(i, prepared), d, n)

    # ---- prediction ------------------------------------------------------------------------
    def member_predictions(self, prepared: PreparedData, date_idx: np.ndarray, ticker_idx: np.ndarray) -> list[dict[str, np.ndarray]]:
        """Each member's estimator-format outputs on the given rows (member order)."""
        if not self.weights:
            raise ConfigError("ensemble: call fit(prepared) before predict")
        d = np.asarray(date_idx, dtype=np.int64)
        n = np.asarray(ticker_idx, dtype=np.int64)
        return [self._member_outputs(i, prepared, d, n) for i in range(len(self._members))]

    def predict(self, prepared: PreparedData, date_idx: np.ndarray, ticker_idx: np.ndarray) -> dict[str, np.ndarray]:
        """``{task: sum_m w_m * member_m}``: probabilities ``[n, C]``, values ``[n]``, quantiles ``[n, Q]``."""
        from finmt_core.ensemble.weights import combine

        outs = self.member_predictions(prepared, date_idx, ticker_idx)
        return {t.name: combine([o[t.name] for o in outs], self.weights[t.name].weights).astype(np.float32)
                for t in self.tasks}

    def summary(self) -> dict[str, Any]:
        """JSON-ready weights and validation losses per task (written as ``ensemble.json``)."""
        return {"method": self.cfg.method, "members": list(self.member_names), "runs_root": self.cfg.runs_root,
                "fitted_on": "val",
                "tasks": {name: tw.to_dict(self.member_names) for name, tw in self.weights.items()}}
