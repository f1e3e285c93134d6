"""Naive baselines with the estimator contract (``fit(prepared)`` / ``predict(prepared, d, n)``).

* ``naive_majority`` — the base rate: training class frequencies for classification (argmax =
  the majority class), the training mean for regression, the training quantiles for quantile
  tasks.
* ``naive_zero`` — "nothing is predictable": uniform class probabilities, zero return and
  relevance, the training mean for volatility (a zero volatility forecast is meaningless),
  and for quantile tasks the training quantiles shifted to a zero median.
* ``naive_momentum`` — "the recent trend continues": a random walk whose daily drift is the
  mean log return of the last ``lookback`` days, ``mu = log(C_t / C_{t-L}) / L``, and whose
  daily volatility ``sigma`` is the std of the last ``vol_window`` daily log returns (the
  task's own ``vol_window`` where it has one). Over a horizon h the forward log return is
  taken as ``N(f, s^2)`` with ``f = mu h``, ``s = sigma sqrt(h)``, and every family follows:
  return ``f``; quantiles ``f + s z_q``; direction ``P(Up) = Phi(f/s)`` (argmax = sign of the
  past return); signal ``P(|r| > k sigma sqrt(h))``; action Sell/Hold/Buy by the same
  thresholds; regime Bear/Sideways/Bull from the thresholds with ``P(Volatile)`` = its
  training frequency; volatility ``sigma``; relevance ``tanh(f / s)``. Rows without enough
  history get ``f = 0`` and the training median of ``sigma``.

Everything is computed from prices known at t (closes up to and including t).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Self

import numpy as np
import pandas as pd
from scipy.stats import norm

from finmt_core.errors import ConfigError, DataError
from finmt_core.models.gbm import labelled_rows
from finmt_core.models.registry import register_estimator
from finmt_core.tasks import Task

if TYPE_CHECKING:
    from finmt_core.data.prepare import PreparedData

_MIN_SIGMA = 1e-8


@dataclass
class NaiveConfig:
    """``naive_majority`` and ``naive_zero`` have no parameters."""


@dataclass
class MomentumConfig:
    """Parameters of ``naive_momentum``.

    Attributes:
        lookback: days L of the past return that sets the drift.
        vol_window: days of the rolling daily volatility for tasks without their own
            ``vol_window`` parameter (return, direction, volatility, quantiles).
    """

    lookback: int = 20
    vol_window: int = 30


class _NaiveEstimator(abc.ABC):
    """Shared fitting: per-task training statistics of the target."""

    config_class: ClassVar[type] = NaiveConfig
    model_name: ClassVar[str] = ""

    def __init__(self, cfg: Any, tasks: list[Task]) -> None:
        self.cfg = cfg
        self.tasks = list(tasks)

    def fit(self, prepared: PreparedData) -> Self:
        """Store each task's training class frequencies / mean / quantiles / median."""
        self.class_freq_: dict[str, np.ndarray] = {}
        self.mean_: dict[str, float] = {}
        self.quantiles_: dict[str, np.ndarray] = {}
        self.median_: dict[str, float] = {}
        for task in self.tasks:
            _, _, y = labelled_rows(prepared, task, "train")
            if y.size == 0:
                raise DataError(f"{self.model_name}: task {task.name!r} has no valid target in the train segment")
            if task.kind == "classification":
                counts = np.bincount(y.astype(np.int64), minlength=len(task.classes)).astype(np.float64)
                self.class_freq_[task.name] = counts / counts.sum()
            else:
                self.mean_[task.name] = float(y.mean())
                self.median_[task.name] = float(np.median(y))
                if task.kind == "quantile":
                    self.quantiles_[task.name] = np.quantile(y, task.quantiles)
        self._fit_extra(prepared)
        return self

    def _fit_extra(self, prepared: PreparedData) -> None:  # noqa: B027  (an optional hook, not abstract)
        """Hook for estimator-specific training state (none by default)."""

    def _check_fitted(self) -> None:
        if not hasattr(self, "class_freq_"):
            raise ConfigError(f"{self.model_name}: call fit(prepared) before predict")

    @abc.abstractmethod
    def predict(self, prepared: PreparedData, date_idx: np.ndarray, ticker_idx: np.ndarray) -> dict[str, np.ndarray]:
        """task name -> probabilities ``[n, C]`` / values ``[n]`` / quantiles ``[n, Q]``."""


@register_estimator("naive_majority")
class NaiveMajority(_NaiveEstimator):
    """Base rate: training class frequencies, training mean, training quantiles."""

    def predict(self, prepared: PreparedData, date_idx: np.ndarray, ticker_idx: np.ndarray) -> dict[str, np.ndarray]:
        self._check_fitted()
        n = len(date_idx)
        out: dict[str, np.ndarray] = {}
        for task in self.tasks:
            if task.kind == "classification":
                out[task.name] = np.tile(self.class_freq_[task.name], (n, 1))
            elif task.kind == "regression":
                out[task.name] = np.full(n, self.mean_[task.name])
            else:
                out[task.name] = np.tile(self.quantiles_[task.name], (n, 1))
        return out


@register_estimator("naive_zero")
class NaiveZero(_NaiveEstimator):
    """Nothing is predictable: uniform probabilities, zero return (see module docstring)."""

    def predict(self, prepared: PreparedData, date_idx: np.ndarray, ticker_idx: np.ndarray) -> dict[str, np.ndarray]:
        self._check_fitted()
        n = len(date_idx)
        out: dict[str, np.ndarray] = {}
        for task in self.tasks:
            if task.kind == "classification":
                c = len(task.classes)
                out[task.name] = np.full((n, c), 1.0 / c)
            elif task.kind == "regression":
                value = self.mean_[task.name] if task.target == "volatility" else 0.0
                out[task.name] = np.full(n, value)
            else:
                centred = self.quantiles_[task.name] - self.median_[task.name]
                out[task.name] = np.tile(centred, (n, 1))
        return out


def rolling_sigma(close: np.ndarray, window: int) -> np.ndarray:
    """``[D, N]`` std of the last ``window`` daily log returns up to each date (NaN if < window/2 known)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.diff(np.log(close), axis=0, prepend=np.nan)
    return pd.DataFrame(r).rolling(window, min_periods=max(2, window // 2)).std().to_numpy()


def past_return(close: np.ndarray, lookback: int) -> np.ndarray:
    """``[D, N]`` ``log(C_t / C_{t-L})`` (NaN where either close is missing or t < L)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        logc = np.log(close)
    out = np.full_like(logc, np.nan)
    out[lookback:] = logc[lookback:] - logc[:-lookback]
    return out


@register_estimator("naive_momentum")
class NaiveMomentum(_NaiveEstimator):
    """Random walk with the drift of the last ``lookback`` days (see module docstring)."""

    config_class: ClassVar[type] = MomentumConfig

    def __init__(self, cfg: MomentumConfig, tasks: list[Task]) -> None:
        if cfg.lookback < 1 or cfg.vol_window < 2:
            raise ConfigError(
                f"naive_momentum: lookback must be >= 1 and vol_window >= 2, got {cfg.lookback}, {cfg.vol_window}"
            )
        super().__init__(cfg, tasks)

    def _vol_window(self, task: Task) -> int:
        return int(task.params.get("vol_window") or self.cfg.vol_window)

    def _fit_extra(self, prepared: PreparedData) -> None:
        close = prepared.dense.close
        train = prepared.split.train
        self.sigma_median_: dict[int, float] = {}
        for w in {self._vol_window(t) for t in self.tasks}:
            s = rolling_sigma(close, w)[train]
            s = s[np.isfinite(s) & (s > 0)]
            self.sigma_median_[w] = float(np.median(s)) if s.size else 0.01

    def predict(self, prepared: PreparedData, date_idx: np.ndarray, ticker_idx: np.ndarray) -> dict[str, np.ndarray]:
        self._check_fitted()
        d = np.asarray(date_idx, dtype=np.int64)
        n = np.asarray(ticker_idx, dtype=np.int64)
        close = prepared.dense.close
        mu = past_return(close, self.cfg.lookback)[d, n] / self.cfg.lookback
        mu = np.where(np.isfinite(mu), mu, 0.0)
        sigmas: dict[int, np.ndarray] = {}
        out: dict[str, np.ndarray] = {}
        for task in self.tasks:
            w = self._vol_window(task)
            if w not in sigmas:
                s = rolling_sigma(close, w)[d, n]
                sigmas[w] = np.where(np.isfinite(s) & (s > 0), s, self.sigma_median_[w])
            out[task.name] = self._predict_task(task, mu, sigmas[w])
        return out

    def _predict_task(self, task: Task, mu: np.ndarray, sigma: np.ndarray) -> np.ndarray:
        h = task.horizon
        f = mu * h
        s = np.maximum(sigma * np.sqrt(h), _MIN_SIGMA)
        k = float(task.params.get("k", 0.5))
        thr = k * s
        family = task.target
        if family == "return":
            return f
        if family == "volatility":
            return sigma
        if family == "relevance":
            return np.tanh(f / s)
        if family == "quantiles":
            return f[:, None] + s[:, None] * norm.ppf(np.asarray(task.quantiles))[None, :]
        if family == "direction":
            p_up = norm.cdf(f / s)
            return np.stack([1.0 - p_up, p_up], axis=1)
        if family == "signal":
            p = norm.cdf((f - thr) / s) + norm.cdf((-f - thr) / s)
            return np.stack([1.0 - p, p], axis=1)
        if family in ("action", "regime"):
            if family == "action" and task.params.get("threshold") is not None:
                thr = np.full_like(s, float(task.params["threshold"]))
            p_up = norm.cdf((f - thr) / s)
            p_down = norm.cdf((-thr - f) / s)
            p_mid = np.clip(1.0 - p_up - p_down, 0.0, 1.0)
            three = np.stack([p_down, p_mid, p_up], axis=1)  # Sell/Hold/Buy == Bear/Sideways/Bull
            if family == "action":
                return three
            p_vol = float(self.class_freq_[task.name][3])
            return np.concatenate([three * (1.0 - p_vol), np.full((len(f), 1), p_vol)], axis=1)
        raise ConfigError(f"naive_momentum has no rule for target family {family!r} (task {task.name!r})")
