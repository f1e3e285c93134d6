"""LightGBM baseline: one booster per task on the features at t (plus a few lags).

The estimator contract (shared with the naive rules in baselines.py)::

    est = create_estimator("lightgbm", params, tasks)   # stores parameters only
    est.fit(prepared)                                   # train rows; early stopping on val rows
    est.predict(prepared, date_idx, ticker_idx)         # {task: probs [n, C] | values [n] | quantiles [n, Q]}

Inputs of a row (d, n): ``X[d, n, :]`` and ``X[d - lag, n, :]`` for each lag (scaled
features known at t, so nothing after t is read). Classification tasks get a binary or
multiclass booster (classes unseen in training get probability 0), regression tasks an L2
booster, quantile tasks one ``objective="quantile"`` booster per level, sorted per row so the
quantiles never cross. Training is deterministic (``deterministic=True``, fixed seed,
row-wise histograms).

The training matrix is binned once for all boosters: one ``lgb.Dataset`` over the train rows
any task uses (and one over the validation rows, binned with the train bins), then per task
a ``subset`` of the rows it can use (shared bins, no re-binning; the whole set itself when
they are the same rows, as in the preset) with that task's labels. The boosters equal what
LightGBM's scikit-learn wrappers fitted on each task's own matrix (tested), except that a
task with fewer rows than the union gets the union's bin edges.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import lightgbm as lgb
import numpy as np

from finmt_core.errors import ConfigError, DataError
from finmt_core.models.registry import register_estimator
from finmt_core.tasks import Task

if TYPE_CHECKING:
    from finmt_core.data.prepare import PreparedData

log = logging.getLogger(__name__)



@dataclass
class LightGBMConfig:
    """Hyper-parameters of :class:`LightGBMBaseline` (small and fast by default).

    Attributes:
        n_estimators: maximum boosting rounds per booster.
        learning_rate: shrinkage.
        num_leaves: leaves per tree.
        min_child_samples: minimum rows per leaf (large: daily returns are noisy).
        colsample_bytree: fraction of features per tree.
        reg_lambda: L2 regularisation of leaf values.
        lags: extra copies of the features at ``t - lag`` (days); () = features at t only.
        early_stopping_rounds: stop when the validation loss has not improved for this many
            rounds (0 = no early stopping; also off when the split has no validation rows).
        n_jobs: threads per booster. 1 by default: on a 2-core machine shared with other
            processes LightGBM's OpenMP threads wait on each other and a fit ran 10-20x slower
            with 2 threads than with 1 (measured on this project's CI-sized CPU); the data
            sets here are small enough that one thread takes a second or two.
        seed: random seed.
    """

    n_estimators: int = 200
    learning_rate: float = 0.05
    num_leaves: int = 15
    min_child_samples: int = 50
    colsample_bytree: float = 0.8
    reg_lambda: float = 1.0
    lags: tuple[int, ...] = (1, 5)
    early_stopping_rounds: int = 20
    n_jobs: int = 1
    seed: int = 0


def lagged_features(X: np.ndarray, date_idx: np.ndarray, ticker_idx: np.ndarray, lags: tuple[int, ...]) -> np.ndarray:
    """``[n, F * (1 + len(lags))]``: features at t, then at t - lag for each lag.

    Lags reaching before the first date repeat the first date (rows of PreparedData start at
    ``window - 1``, so with ``lag < window`` this never happens).
    """
    parts = [X[date_idx, ticker_idx]]
    for lag in lags:
        parts.append(X[np.maximum(date_idx - lag, 0), ticker_idx])
    return np.ascontiguousarray(np.concatenate(parts, axis=1), dtype=np.float32)


def labelled_rows(prepared: PreparedData, task: Task, segment: str, training: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Usable rows of ``segment`` where ``task``'s target is valid: ``(date_idx, ticker_idx, y)``
    (the labelled training/validation rows of a PreparedData; not to be confused with
    :func:`finmt_core.evaluation.frames.task_rows`, a task's scored rows of a predictions frame).

    ``training=True``: ``y`` is the target models train on (cross-sectionally normalised where
    the task says so); default the raw target.
    """
    d, n = prepared.rows(segment)
    ok = prepared.targets.valid[task.name][d, n]
    d, n = d[ok], n[ok]
    values = prepared.targets.training(task.name) if training else prepared.targets.values[task.name]
    return d, n, values[d, n].astype(np.float64)


class _SharedRows:
    """The rows of one segment that any task uses, as one matrix, binned once.

    Train (``reference=None``): one ``lgb.Dataset`` binned here; a task gets the whole set or
    a ``subset`` of it (same bins, no re-binning) with its labels. Validation: the matrix is
    kept; a task gets one ``Dataset`` binned with the bins of the train set it trains on (made
    once and relabelled when it is the whole train set and every validation row).

    Args:
        X: ``[D, N, F]`` scaled features.
        rows_by_task: task name -> ``(date_idx, ticker_idx, y)`` of the segment (:func:`labelled_rows`).
        lags: feature lags (days).
        params: LightGBM parameters (binning parameters among them).
        train: the train rows a validation set is binned with (None for the train set itself).
    """

    def __init__(self, X: np.ndarray, rows_by_task: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
                 lags: tuple[int, ...], params: dict[str, Any], train: _SharedRows | None = None) -> None:
        keys = {name: d.astype(np.int64) * X.shape[1] + n for name, (d, n, _) in rows_by_task.items()}
        union = np.unique(np.concatenate(list(keys.values())))
        d, n = np.divmod(union, X.shape[1])
        self.positions = {name: np.searchsorted(union, k) for name, k in keys.items()}
        self.n_rows = union.size
        self.params = params
        self.train = train
        # [rows, features] float: kept for validation sets (binned with the train set's bins), freed once binned
        self.matrix: np.ndarray | None = lagged_features(X, d, n, lags)
        self._subsets: dict[tuple[str, int], Any] = {}
        self.dataset: Any = None
        if train is None:
            self.dataset = lgb.Dataset(self.matrix, label=np.zeros(union.size), params=params).construct()
            self.matrix = None  # binned: the raw copy is not needed any more

    def labelled(self, task: str, y: np.ndarray, keep: np.ndarray | None = None, on: Any = None) -> Any:
        """A ``Dataset`` of ``task``'s rows (``keep``: a mask over them) labelled ``y`` (float64).

        ``on``: for a validation set, the train ``Dataset`` the booster trains on (its bins).
        """
        pos = self.positions[task] if keep is None else self.positions[task][keep]
        order = np.argsort(pos, kind="stable")
        if (order != np.arange(order.size)).any():  # LightGBM subsets take rows in ascending order
            pos, y = pos[order], y[order]
        if self.train is not None:  # validation rows, binned with the train set's bins
            assert self.matrix is not None  # only a train set frees its raw copy
            if pos.size == self.n_rows and on is self.train.dataset:
                if self.dataset is None:
                    self.dataset = lgb.Dataset(self.matrix, label=y, reference=on, params=self.params,
                                               free_raw_data=False).construct()
                self.dataset.set_label(y)
                return self.dataset
            return lgb.Dataset(self.matrix[pos], label=y, reference=on, params=self.params).construct()
        if pos.size == self.n_rows:  # the task uses every row: the whole set, relabelled
            ds = self.dataset
        else:
            key = (task, pos.size)
            if key not in self._subsets:
                self._subsets[key] = self.dataset.subset(pos.astype(np.int32)).construct()
            ds = self._subsets[key]
        ds.set_label(y)
        return ds


@register_estimator("lightgbm")
class LightGBMBaseline:
    """One LightGBM model per task (see module docstring).

    Args:
        cfg: :class:`LightGBMConfig`.
        tasks: the tasks to predict.

    Attributes (after ``fit``):
        models_: task name -> fitted booster(s) (a list of one per level for quantile tasks).
        classes_: task name -> class indices seen in training (classification).
        feature_names_: names of the input columns (``<feature>`` and ``<feature>_lag<k>``).
        best_iterations_: task name -> boosting rounds kept after early stopping.
    """

    config_class: ClassVar[type] = LightGBMConfig
    model_name: ClassVar[str] = "lightgbm"

    def __init__(self, cfg: LightGBMConfig, tasks: list[Task]) -> None:
        if any(lag < 1 for lag in cfg.lags):
            raise ConfigError(f"lightgbm: lags must be >= 1 day, got {list(cfg.lags)}")
        self.cfg = cfg
        self.tasks = list(tasks)

    # ---- fitting ---------------------------------------------------------------------------
    def _params(self) -> dict[str, Any]:
        """LightGBM core parameters (the scikit-learn wrappers' defaults spelled out, so the
        boosters equal what ``LGBMRegressor``/``LGBMClassifier`` fitted before)."""
        c = self.cfg
        return {
            "boosting_type": "gbdt",
            "learning_rate": c.learning_rate,
            "num_leaves": c.num_leaves,
            "max_depth": -1,
            "min_child_samples": c.min_child_samples,
            "min_child_weight": 1e-3,
            "min_split_gain": 0.0,
            "subsample": 1.0,
            "subsample_freq": 0,
            "colsample_bytree": c.colsample_bytree,
            "reg_alpha": 0.0,
            "reg_lambda": c.reg_lambda,
            "subsample_for_bin": 200000,
            "n_jobs": c.n_jobs,
            "seed": c.seed,
            "deterministic": True,
            "force_row_wise": True,
            "verbose": -1,
        }

    def _train(self, objective: dict[str, Any], train: Any, valid: Any | None) -> Any:
        """One booster on the (already binned) ``train`` set; early stopping on ``valid``."""
        params = {**self._params(), **objective}
        kwargs: dict[str, Any] = {}
        if valid is not None and self.cfg.early_stopping_rounds > 0:
            kwargs = {"valid_sets": [valid], "valid_names": ["valid_0"],
                      "callbacks": [lgb.early_stopping(self.cfg.early_stopping_rounds, verbose=False)]}
        return lgb.train(params, train, num_boost_round=self.cfg.n_estimators, **kwargs)

    def fit(self, prepared: PreparedData) -> LightGBMBaseline:
        """Fit every task's booster(s) on the train rows, early-stopping on the val rows."""
        names = list(prepared.info.feature_names)
        self.feature_names_ = names + [f"{n}_lag{lag}" for lag in self.cfg.lags for n in names]
        self.models_: dict[str, Any] = {}
        self.classes_: dict[str, np.ndarray] = {}
        self.best_iterations_: dict[str, list[int]] = {}
        rows = {seg: {t.name: labelled_rows(prepared, t, seg, training=True) for t in self.tasks} for seg in ("train", "val")}
        for task in self.tasks:
            if rows["train"][task.name][2].size == 0:
                raise DataError(f"lightgbm: task {task.name!r} has no valid target in the train segment")
        train = _SharedRows(prepared.X, rows["train"], self.cfg.lags, self._params())
        has_val = self.cfg.early_stopping_rounds > 0 and any(r[2].size for r in rows["val"].values())
        valid = _SharedRows(prepared.X, rows["val"], self.cfg.lags, self._params(), train) if has_val else None
        for task in self.tasks:
            y = rows["train"][task.name][2]
            yv = rows["val"][task.name][2]
            if task.kind == "classification":
                self._fit_classifier(task, train, valid, y.astype(np.int64), yv.astype(np.int64))
            elif task.kind == "regression":
                tset = train.labelled(task.name, y)
                model = self._train({"objective": "regression"}, tset,
                                    valid.labelled(task.name, yv, on=tset) if valid is not None and yv.size else None)
                self.models_[task.name] = model
                self.best_iterations_[task.name] = [int(model.best_iteration or self.cfg.n_estimators)]
            else:
                models = []
                for q in task.quantiles:  # the same binned rows and labels for every level
                    tset = train.labelled(task.name, y)
                    vset = valid.labelled(task.name, yv, on=tset) if valid is not None and yv.size else None
                    models.append(self._train({"objective": "quantile", "alpha": q}, tset, vset))
                self.models_[task.name] = models
                self.best_iterations_[task.name] = [int(m.best_iteration or self.cfg.n_estimators) for m in models]
            log.info("lightgbm %s: %d train rows, rounds %s", task.name, y.size, self.best_iterations_[task.name])
        return self

    def _fit_classifier(self, task: Task, train: _SharedRows, valid: _SharedRows | None, y: np.ndarray,
                        yv: np.ndarray) -> None:
        seen = np.unique(y)
        self.classes_[task.name] = seen
        if seen.size < 2:
            # a single class in training: the booster cannot fit; predict it with certainty
            self.models_[task.name] = None
            self.best_iterations_[task.name] = [0]
            return
        objective = ({"objective": "binary"} if seen.size == 2
                     else {"objective": "multiclass", "num_class": int(seen.size)})
        in_train = np.isin(yv, seen)  # validation rows of unseen classes break the eval metric
        tset = train.labelled(task.name, np.searchsorted(seen, y).astype(np.float64))
        vset = None
        if valid is not None and in_train.any():
            vset = valid.labelled(task.name, np.searchsorted(seen, yv[in_train]).astype(np.float64), keep=in_train,
                                  on=tset)
        model = self._train(objective, tset, vset)
        self.models_[task.name] = model
        self.best_iterations_[task.name] = [int(model.best_iteration or self.cfg.n_estimators)]

    # ---- prediction ------------------------------------------------------------------------
    def predict(self, prepared: PreparedData, date_idx: np.ndarray, ticker_idx: np.ndarray) -> dict[str, np.ndarray]:
        """Predictions for rows ``(date_idx, ticker_idx)`` ``[n]``.

        Returns:
            task name -> classification probabilities ``[n, C]`` (rows sum to 1), regression
            values ``[n]`` or ascending quantiles ``[n, Q]``.
        """
        if not hasattr(self, "models_"):
            raise ConfigError("lightgbm: call fit(prepared) before predict")
        date_idx = np.asarray(date_idx, dtype=np.int64)
        ticker_idx = np.asarray(ticker_idx, dtype=np.int64)
        x = lagged_features(prepared.X, date_idx, ticker_idx, self.cfg.lags)
        out: dict[str, np.ndarray] = {}
        for task in self.tasks:
            model = self.models_[task.name]
            if task.kind == "classification":
                probs = np.zeros((len(x), len(task.classes)), dtype=np.float64)
                seen = self.classes_[task.name]
                if model is None:
                    probs[:, seen[0]] = 1.0
                else:
                    p = np.asarray(model.predict(x), dtype=np.float64)
                    probs[:, seen] = np.stack([1.0 - p, p], axis=1) if p.ndim == 1 else p
                out[task.name] = probs
            elif task.kind == "regression":
                out[task.name] = model.predict(x).astype(np.float64)
            else:
                q = np.stack([m.predict(x) for m in model], axis=1)
                out[task.name] = np.sort(q, axis=1)
        return out
