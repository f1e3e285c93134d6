"""LightGBM baseline: one booster per task on the features at t (plus a few lags).

The estimator contract (shared with the naive rules in baselines.py)::

    est = create_estimator("lightgbm", params, tasks)   # stores parameters only
    est.fit(prepared)                                   # train rows; early stopping on val rows
    est.predict(prepared, date_idx, ticker_idx)         # {task: probs [n, C] | values [n] | quantiles [n, Q]}

Inputs of a row (d, n): ``X[d, n, :]`` and ``X[d - lag, n, :]`` for each lag (scaled
features known at t, so nothing after t is read). Classification tasks use LGBMClassifier
(classes unseen in training get probability 0), regression tasks LGBMRegressor (L2),
quantile tasks one ``objective="quantile"`` booster per level, sorted per row so the
quantiles never cross. Training is deterministic (``deterministic=True``, fixed seed,
row-wise histograms).
"""

from __future__ import annotations

import inspect
import logging
from dataclasses import dataclass
from typing import Any, ClassVar

import lightgbm as lgb
import numpy as np

from finmt_core.errors import ConfigError, DataError
from finmt_core.models.registry import register_estimator
from finmt_core.tasks import Task

log = logging.getLogger(__name__)

# lightgbm >= 4.6 takes eval_X/eval_y and deprecates eval_set; older releases only know eval_set
_EVAL_XY = "eval_X" in inspect.signature(lgb.LGBMModel.fit).parameters


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


def task_rows(prepared: Any, task: Task, segment: str, training: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Usable rows of ``segment`` where ``task``'s target is valid: ``(date_idx, ticker_idx, y)``.

    ``training=True``: ``y`` is the target models train on (cross-sectionally normalised where
    the task says so); default the raw target.
    """
    d, n = prepared.rows(segment)
    ok = prepared.targets.valid[task.name][d, n]
    d, n = d[ok], n[ok]
    values = prepared.targets.training(task.name) if training else prepared.targets.values[task.name]
    return d, n, values[d, n].astype(np.float64)


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
        c = self.cfg
        return {
            "n_estimators": c.n_estimators,
            "learning_rate": c.learning_rate,
            "num_leaves": c.num_leaves,
            "min_child_samples": c.min_child_samples,
            "colsample_bytree": c.colsample_bytree,
            "reg_lambda": c.reg_lambda,
            "n_jobs": c.n_jobs,
            "random_state": c.seed,
            "deterministic": True,
            "force_row_wise": True,
            "verbose": -1,
        }

    def _fit_one(self, model: Any, xtr: np.ndarray, ytr: np.ndarray, xva: np.ndarray, yva: np.ndarray) -> Any:
        # no feature_name: predict() gets plain arrays, and names on the booster would make
        # scikit-learn warn on every call; the names live in ``feature_names_``
        kwargs: dict[str, Any] = {}
        if self.cfg.early_stopping_rounds > 0 and len(yva) > 0:
            if _EVAL_XY:
                kwargs.update(eval_X=(xva,), eval_y=(yva,))
            else:
                kwargs["eval_set"] = [(xva, yva)]
            kwargs["callbacks"] = [lgb.early_stopping(self.cfg.early_stopping_rounds, verbose=False)]
        return model.fit(xtr, ytr, **kwargs)

    def fit(self, prepared: Any) -> LightGBMBaseline:
        """Fit every task's booster(s) on the train rows, early-stopping on the val rows."""
        X = prepared.X
        names = list(prepared.info.feature_names)
        self.feature_names_ = names + [f"{n}_lag{lag}" for lag in self.cfg.lags for n in names]
        self.models_: dict[str, Any] = {}
        self.classes_: dict[str, np.ndarray] = {}
        self.best_iterations_: dict[str, list[int]] = {}
        for task in self.tasks:
            d, n, y = task_rows(prepared, task, "train", training=True)
            if y.size == 0:
                raise DataError(f"lightgbm: task {task.name!r} has no valid target in the train segment")
            dv, nv, yv = task_rows(prepared, task, "val", training=True)
            xtr = lagged_features(X, d, n, self.cfg.lags)
            xva = lagged_features(X, dv, nv, self.cfg.lags)
            if task.kind == "classification":
                self._fit_classifier(task, xtr, y.astype(np.int64), xva, yv.astype(np.int64))
            elif task.kind == "regression":
                model = self._fit_one(lgb.LGBMRegressor(objective="regression", **self._params()), xtr, y, xva, yv)
                self.models_[task.name] = model
                self.best_iterations_[task.name] = [int(model.best_iteration_ or model.n_estimators)]
            else:
                models = [
                    self._fit_one(
                        lgb.LGBMRegressor(objective="quantile", alpha=q, **self._params()), xtr, y, xva, yv
                    )
                    for q in task.quantiles
                ]
                self.models_[task.name] = models
                self.best_iterations_[task.name] = [int(m.best_iteration_ or m.n_estimators) for m in models]
            log.info("lightgbm %s: %d train rows, rounds %s", task.name, y.size, self.best_iterations_[task.name])
        return self

    def _fit_classifier(self, task: Task, xtr: np.ndarray, y: np.ndarray, xva: np.ndarray, yv: np.ndarray) -> None:
        seen = np.unique(y)
        self.classes_[task.name] = seen
        if seen.size < 2:
            # a single class in training: the booster cannot fit; predict it with certainty
            self.models_[task.name] = None
            self.best_iterations_[task.name] = [0]
            return
        in_train = np.isin(yv, seen)  # validation rows of unseen classes break the eval metric
        model = lgb.LGBMClassifier(**self._params())
        self.models_[task.name] = self._fit_one(model, xtr, y, xva[in_train], yv[in_train])
        self.best_iterations_[task.name] = [int(model.best_iteration_ or model.n_estimators)]

    # ---- prediction ------------------------------------------------------------------------
    def predict(self, prepared: Any, date_idx: np.ndarray, ticker_idx: np.ndarray) -> dict[str, np.ndarray]:
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
                    probs[:, seen] = model.predict_proba(x)
                out[task.name] = probs
            elif task.kind == "regression":
                out[task.name] = model.predict(x).astype(np.float64)
            else:
                q = np.stack([m.predict(x) for m in model], axis=1)
                out[task.name] = np.sort(q, axis=1)
        return out
