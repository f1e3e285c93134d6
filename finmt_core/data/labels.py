"""Targets for every task family of :mod:`finmt_core.tasks`, on the dense (date x ticker) grid.

Convention: the row at date ``t`` holds the target about close ``t`` -> close ``t + h``
(``h`` = the task's horizon in trading-day rows of the panel). Definitions (``C`` = close,
``r[s] = log(C[s] / C[s-1])`` the daily log return, NaN across a missing close):

- forward return ``fwd = log(C[t+h] / C[t])``; needs both closes.
- ``σ`` (daily vol known at t) = sample std (ddof=1) of ``r`` over the ``vol_window`` rows
  ending at ``t``, defined once ``vol_window // 2`` returns are present (gaps are skipped).
- forward realised vol ``rv`` = sample std of ``r[t+1..t+h]`` for ``h >= 2`` (all ``h``
  returns needed, i.e. every close ``t..t+h``); for ``h == 1`` a one-return std does not
  exist, so ``rv = |r[t+1]|`` (the root mean square of that single return).
- ``action``: Buy (2) if ``fwd > k·σ·√h``, Sell (0) if ``fwd < -k·σ·√h``, else Hold (1);
  with ``params.threshold`` set, the fixed band ``±threshold`` (log-return units) instead.
- ``direction``: Up (1) if ``fwd > 0`` else Down (0) (a flat move counts as Down).
- ``return`` / ``quantiles``: ``fwd``.  ``volatility``: ``rv``.
- ``regime``: Volatile (3) if ``rv > vol_mult·σ``, else Bull (2) / Bear (0) by ``±k·σ·√h``,
  else Sideways (1).
- ``signal``: Signal (1) if ``|fwd| > k·σ·√h`` else Noise (0).
- ``relevance``: ``tanh(fwd / (σ·√h))``.

Cross-sectional normalisation (``Task.normalize``): the *training* target is built from the
forward return normalised per date across tickers (:mod:`finmt_core.data.cs_norm`) —
``demean``/``zscore``/``rank`` for ``return``; classification labels are cut from the demeaned
(``rank``: median-centred) forward return. ``Targets.values`` always holds the raw target,
which evaluation scores against; the normalised one is in ``Targets.train_values``.

Validity: a target is valid only where every price it needs is present, its window ends
inside the data and (for σ-scaled families) ``σ`` is finite and > 0; for a task with
``mask_by``, also only where the masking task is valid with target 1. Invalid targets are
NaN (never 0), so ``valid == isfinite(values)`` holds for every task.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

import numpy as np

from finmt_core.data.containers import Targets
from finmt_core.data.cs_norm import cs_normalize
from finmt_core.data.dense import DensePanel
from finmt_core.data.features import ops
from finmt_core.errors import ConfigError, DataError
from finmt_core.tasks import Task, validate_task_list

logger = logging.getLogger(__name__)

#: σ window of ``Targets.aux["vol"]`` (the catalogue's default ``vol_window``).
AUX_VOL_WINDOW = 30


class LabelInputs(Protocol):
    """What a label family reads: ``[D, N]`` float64 arrays by horizon / window."""

    def fwd_return(self, h: int) -> np.ndarray:
        """Forward log return over ``h`` days."""
        ...

    def sigma(self, window: int) -> np.ndarray:
        """Trailing daily-return std over ``window`` days."""
        ...

    def fwd_vol(self, h: int) -> np.ndarray:
        """Forward realised vol over ``h`` days."""
        ...


class _LabelInputs:
    """Memoised log prices, forward returns, trailing σ and forward realised vol ``[D, N]``."""

    def __init__(self, dense: DensePanel) -> None:
        # Column-major: each ticker's history contiguous for the date-axis scans (see ops).
        self.log_close = ops.log_prices(np.asfortranarray(dense.close, dtype=np.float64))
        self.r1 = self.log_close - ops.shift(self.log_close, 1)
        self._cache: dict[tuple[str, int], np.ndarray] = {}

    def fwd_return(self, h: int) -> np.ndarray:
        """``log(C[t+h] / C[t])``: NaN past the end of the data or where a close is missing."""
        key = ("fwd", h)
        if key not in self._cache:
            self._cache[key] = ops.shift(self.log_close, -h) - self.log_close
        return self._cache[key]

    def sigma(self, window: int) -> np.ndarray:
        """Trailing std of daily log returns over ``window`` rows ending at t (known at t)."""
        key = ("sigma", window)
        if key not in self._cache:
            self._cache[key] = ops.roll_std(self.r1, window, minp=max(2, window // 2))
        return self._cache[key]

    def fwd_vol(self, h: int) -> np.ndarray:
        """Realised vol of ``r[t+1..t+h]`` (std, ddof=1; ``|r[t+1]|`` for h == 1)."""
        key = ("fwd_vol", h)
        if key not in self._cache:
            if h == 1:
                self._cache[key] = np.abs(ops.shift(self.r1, -1))
            else:
                # Trailing std of the h returns ending at t+h, moved back to row t.
                self._cache[key] = ops.shift(ops.roll_std(self.r1, h, minp=h), -h)
        return self._cache[key]


class _NormalizedInputs:
    """``_LabelInputs`` whose forward returns are normalised across tickers per date.

    ``fwd_return`` of a regression family uses ``method`` itself; classification families
    cut their labels from a centred return (``rank`` -> median-centred, else demeaned).
    σ and forward realised vol are the raw ones (thresholds stay in return units).
    """

    def __init__(self, base: _LabelInputs, method: str) -> None:
        self.base = base
        self.method = method
        self._cache: dict[int, np.ndarray] = {}

    def fwd_return(self, h: int) -> np.ndarray:
        if h not in self._cache:
            self._cache[h] = cs_normalize(self.base.fwd_return(h), self.method)
        return self._cache[h]

    def sigma(self, window: int) -> np.ndarray:
        return self.base.sigma(window)

    def fwd_vol(self, h: int) -> np.ndarray:
        return self.base.fwd_vol(h)


def _norm_method(task: Task) -> str:
    """The :func:`cs_normalize` method behind ``task.normalize`` for this family."""
    if task.kind == "classification":
        return "median" if task.normalize == "rank" else "demean"
    return task.normalize


def _param(task: Task, name: str, *, integer: bool = False, minimum: float = 0.0) -> float:
    """A numeric family parameter > ``minimum``, or a ConfigError naming the task and the fix."""
    value = task.params.get(name)
    number = float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
    if (number is None or not np.isfinite(number) or number <= minimum
            or (integer and not number.is_integer())):
        kind = "an integer" if integer else "a number"
        raise ConfigError(f"task {task.name!r}: params.{name} must be {kind} > {minimum:g}, got {value!r}")
    return number


def _sigma(x: LabelInputs, task: Task) -> np.ndarray:
    """The task's σ (``params.vol_window``); NaN where it is not finite and > 0."""
    sigma = x.sigma(int(_param(task, "vol_window", integer=True, minimum=1)))
    return np.where(sigma > 0, sigma, np.nan)


def _band(x: LabelInputs, task: Task) -> tuple[np.ndarray, np.ndarray]:
    """``(σ, k·σ·√h)`` for σ-scaled families."""
    sigma = _sigma(x, task)
    return sigma, _param(task, "k") * sigma * np.sqrt(task.horizon)


def _three_way(fwd: np.ndarray, thr: np.ndarray | float) -> np.ndarray:
    """0 below ``-thr``, 2 above ``thr``, else 1 (NaN where fwd or thr is NaN)."""
    out = np.where(fwd > thr, 2.0, np.where(fwd < -thr, 0.0, 1.0))
    return np.where(np.isfinite(fwd) & np.isfinite(thr), out, np.nan)


def _action(x: LabelInputs, task: Task) -> np.ndarray:
    fwd = x.fwd_return(task.horizon)
    if task.params.get("threshold") is not None:
        return _three_way(fwd, _param(task, "threshold"))
    return _three_way(fwd, _band(x, task)[1])


def _direction(x: LabelInputs, task: Task) -> np.ndarray:
    fwd = x.fwd_return(task.horizon)
    return np.where(np.isfinite(fwd), (fwd > 0).astype(np.float64), np.nan)


def _return(x: LabelInputs, task: Task) -> np.ndarray:
    return x.fwd_return(task.horizon)


def _volatility(x: LabelInputs, task: Task) -> np.ndarray:
    return x.fwd_vol(task.horizon)


def _regime(x: LabelInputs, task: Task) -> np.ndarray:
    sigma, thr = _band(x, task)
    rv = x.fwd_vol(task.horizon)
    trend = _three_way(x.fwd_return(task.horizon), thr)  # Bear 0 / Sideways 1 / Bull 2
    out = np.where(rv > _param(task, "vol_mult") * sigma, 3.0, trend)
    return np.where(np.isfinite(trend) & np.isfinite(rv), out, np.nan)


def _signal(x: LabelInputs, task: Task) -> np.ndarray:
    fwd = x.fwd_return(task.horizon)
    thr = _band(x, task)[1]
    return np.where(np.isfinite(fwd) & np.isfinite(thr), (np.abs(fwd) > thr).astype(np.float64), np.nan)


def _relevance(x: LabelInputs, task: Task) -> np.ndarray:
    sigma = _sigma(x, task)
    return np.tanh(x.fwd_return(task.horizon) / (sigma * np.sqrt(task.horizon)))


#: family -> builder returning float64 ``[D, N]`` with NaN exactly where the target is unknown.
FAMILIES: dict[str, Callable[[LabelInputs, Task], np.ndarray]] = {
    "action": _action,
    "direction": _direction,
    "return": _return,
    "volatility": _volatility,
    "regime": _regime,
    "signal": _signal,
    "relevance": _relevance,
    "quantiles": _return,
}


def _mask_order(tasks: list[Task]) -> list[Task]:
    """Tasks ordered so that every ``mask_by`` task comes before the tasks it masks."""
    by_name = {t.name: t for t in tasks}
    done: list[Task] = []
    state: dict[str, str] = {}

    def visit(t: Task, chain: tuple[str, ...]) -> None:
        if state.get(t.name) == "done":
            return
        if t.name in chain:
            raise ConfigError(f"tasks' mask_by form a cycle: {' -> '.join((*chain, t.name))}; remove one mask_by")
        if t.mask_by is not None:
            visit(by_name[t.mask_by], (*chain, t.name))
        state[t.name] = "done"
        done.append(t)

    for t in tasks:  # a loop over the few tasks, not over the data
        visit(t, ())
    return done


def build_targets(dense: DensePanel, tasks: list[Task]) -> Targets:
    """Build every task's target and validity mask (see the module docstring for definitions).

    Args:
        dense: the panel on its (date x ticker) grid (``to_dense(panel)``).
        tasks: the run's tasks (validated: unique names, ``mask_by`` names a binary task).

    Returns:
        Targets with ``values[name]`` ``[D, N]`` float32 (class index as float; NaN where
        invalid; always the raw, un-normalised target), ``valid[name]`` ``[D, N]`` bool,
        ``train_values[name]`` for tasks with ``normalize`` (same validity), and ``aux``: ``"fwd_return_<h>"`` for each
        horizon used and ``"vol"`` (σ over ``AUX_VOL_WINDOW`` days), float32 ``[D, N]``.
    """
    validate_task_list(tasks)
    if "close" not in dense.columns or dense.close.size == 0:
        raise DataError("build_targets needs a panel with a non-empty 'close' column")
    unknown = [t.name for t in tasks if t.target not in FAMILIES]
    if unknown:
        raise ConfigError(f"no label builder for task(s) {unknown}; families are {sorted(FAMILIES)}")
    x = _LabelInputs(dense)
    n_dates = dense.close.shape[0]
    values: dict[str, np.ndarray] = {}
    valid: dict[str, np.ndarray] = {}
    train_values: dict[str, np.ndarray] = {}
    normed: dict[str, _NormalizedInputs] = {}
    for task in _mask_order(tasks):
        if task.horizon >= n_dates:
            logger.warning("task %r: horizon %d >= %d dates in the panel; every target is invalid",
                           task.name, task.horizon, n_dates)
        raw = FAMILIES[task.target](x, task)
        ok = np.isfinite(raw)
        if task.mask_by is not None:
            # The masking task is already final (topological order): rows count only where it
            # is known and equals 1.
            ok &= valid[task.mask_by] & (values[task.mask_by] == 1)
        valid[task.name] = np.ascontiguousarray(ok)
        values[task.name] = np.ascontiguousarray(np.where(ok, raw, np.nan), dtype=np.float32)
        logger.debug("task %s: %.1f%% of rows valid", task.name, 100.0 * ok.mean())
        if task.normalize != "none":
            method = _norm_method(task)
            xn = normed.setdefault(method, _NormalizedInputs(x, method))
            # same validity as the raw target: normalisation never adds or drops rows
            norm = FAMILIES[task.target](xn, task)
            train_values[task.name] = np.ascontiguousarray(np.where(ok, norm, np.nan), dtype=np.float32)

    aux = {f"fwd_return_{h}": np.ascontiguousarray(x.fwd_return(h), dtype=np.float32)
           for h in sorted({t.horizon for t in tasks})}
    aux["vol"] = np.ascontiguousarray(x.sigma(AUX_VOL_WINDOW), dtype=np.float32)
    ordered = {t.name: values[t.name] for t in tasks}
    return Targets(tasks=list(tasks), values=ordered,
                   valid={t.name: valid[t.name] for t in tasks}, aux=aux, train_values=train_values)
