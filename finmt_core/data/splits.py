"""Date splits: train / val / test by fraction or by dates, purged and embargoed.

A row at date index ``i`` carries a target about closes ``i .. i + h``. To keep a label window
that starts in one segment from reaching into the next, the last ``embargo`` dates before a
boundary are dropped from the earlier segment (the *purge*): every train row ``i`` satisfies
``i + embargo < val[0]`` and every val row ``j`` satisfies ``j + embargo < test[0]``. With
``embargo >= max task horizon`` no train label uses a price of the val segment.

Walk-forward (``SplitConfig.folds > 1``): the test region (the last ``1 - train_frac - val_frac``
share of the usable dates, or everything from ``test_start``) is cut into ``folds``
consecutive blocks; fold ``k`` tests on block ``k`` and trains/validates on the dates before
it (``expanding``: all of them; ``rolling``: a window as long as the first fold's).
"""

from __future__ import annotations

import logging
import math

import numpy as np
import pandas as pd

from finmt_core.config import SplitConfig
from finmt_core.data.containers import Split
from finmt_core.errors import ConfigError, DataError

log = logging.getLogger(__name__)


def _date_index(dates: pd.DatetimeIndex, value: str, field: str) -> int:
    """Index of the first trading date >= ``value`` (an ISO date string from the config)."""
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"split.{field}={value!r} is not a date; use ISO format like 2012-01-03 ({exc})") from None
    if ts.tzinfo is not None:
        ts = ts.tz_localize(None)
    pos = int(dates.searchsorted(ts, side="left"))
    if pos >= len(dates):
        raise ConfigError(
            f"split.{field}={value} is after the last date of the data ({dates[-1].date()}); "
            f"choose a date between {dates[0].date()} and {dates[-1].date()}"
        )
    return pos


def _min_dates_needed(train_share: float, val_share: float, test_share: float, embargo: int) -> int:
    """Smallest number of usable dates for which fraction boundaries leave every segment non-empty."""
    need = max((embargo + 1) / train_share, (embargo + 1) / val_share, 1.0 / test_share)
    return math.ceil(need) + 2  # rounding of the boundaries can cost a date on each side


def _segments(start: int, b1: int, b2: int, end: int, embargo: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """train = [start, b1 - embargo), val = [b1, b2 - embargo), test = [b2, end)."""
    train = np.arange(start, b1 - embargo, dtype=np.int64)
    val = np.arange(b1, b2 - embargo, dtype=np.int64)
    test = np.arange(b2, end, dtype=np.int64)
    return train, val, test


def _check_nonempty(
    train: np.ndarray, val: np.ndarray, test: np.ndarray, dates: pd.DatetimeIndex, min_index: int,
    embargo: int, hint: str, fold: int | None = None,
) -> None:
    empty = [n for n, seg in (("train", train), ("val", val), ("test", test)) if len(seg) == 0]
    if not empty:
        return
    where = f" (walk-forward fold {fold})" if fold is not None else ""
    raise DataError(
        f"the data is too short for this split{where}: segment(s) {', '.join(empty)} would be empty. "
        f"There are {len(dates)} dates, the first {min_index} are the input window's warm-up and "
        f"{embargo} dates are purged before each boundary (embargo = longest task horizon). "
        f"Fix: {hint}"
    )


def _check_args(dates: pd.DatetimeIndex, embargo: int, min_index: int) -> pd.DatetimeIndex:
    dates = pd.DatetimeIndex(dates)
    if not dates.is_monotonic_increasing or not dates.is_unique:
        raise DataError("split dates must be sorted and unique (use the FeatureFrame's dates)")
    if embargo < 0:
        raise ConfigError(f"embargo must be >= 0 trading days, got {embargo}")
    if min_index < 0:
        raise ConfigError(f"min_index must be >= 0, got {min_index}")
    return dates


def make_split(dates: pd.DatetimeIndex, cfg: SplitConfig, embargo: int, min_index: int = 0) -> Split:
    """Split the row dates into purged train / val / test index arrays.

    Args:
        dates: the D sorted trading dates of the FeatureFrame.
        cfg: fractions (``train_frac``, ``val_frac``; the rest is test) or explicit boundary
            dates (``val_start``, ``test_start``: the first date of val / test; one given
            date overrides only its own boundary).
        embargo: trading days purged before each boundary (>= the longest task horizon).
        min_index: first usable row date index (``window - 1``: earlier rows lack a full window).

    Returns:
        :class:`Split` with int64 date-index arrays; train < val < test, ``train[-1] + embargo <
        val[0]`` and ``val[-1] + embargo < test[0]``.

    Raises:
        DataError: a segment would be empty (data too short); ConfigError: bad dates/order.
    """
    dates = _check_args(dates, embargo, min_index)
    d = len(dates)
    n = d - min_index
    test_share = 1.0 - cfg.train_frac - cfg.val_frac
    hint = (
        f"use at least ~{min_index + _min_dates_needed(cfg.train_frac, cfg.val_frac, test_share, embargo)} "
        "dates of history, or a shorter data.window, shorter task horizons (embargo), "
        "or other split fractions/dates"
    )
    if n <= 0:
        _check_nonempty(np.empty(0), np.empty(0), np.empty(0), dates, min_index, embargo, hint)
    b1 = min_index + round(cfg.train_frac * n)
    b2 = min_index + round((cfg.train_frac + cfg.val_frac) * n)
    if cfg.val_start is not None:
        b1 = _date_index(dates, cfg.val_start, "val_start")
    if cfg.test_start is not None:
        b2 = _date_index(dates, cfg.test_start, "test_start")
    if cfg.val_start is not None or cfg.test_start is not None:
        if b1 >= b2:
            raise ConfigError(
                f"split boundaries out of order: val starts {dates[min(b1, d - 1)].date()} but test starts "
                f"{dates[min(b2, d - 1)].date()}; set split.val_start before split.test_start"
            )
        hint = (
            f"move split.val_start / split.test_start so each segment keeps more than {embargo} dates "
            f"(data: {dates[0].date()} .. {dates[-1].date()}, first usable row {dates[min(min_index, d - 1)].date()})"
        )
    train, val, test = _segments(min_index, b1, b2, d, embargo)
    _check_nonempty(train, val, test, dates, min_index, embargo, hint)
    return Split(train=train, val=val, test=test, embargo=int(embargo))


def walk_forward_splits(
    dates: pd.DatetimeIndex, cfg: SplitConfig, embargo: int, min_index: int = 0
) -> list[Split]:
    """Walk-forward folds: consecutive, non-overlapping test blocks, each after its train + val.

    The test region is the last ``1 - train_frac - val_frac`` share of the usable dates (or
    starts at ``cfg.test_start``) and is cut into ``cfg.folds`` consecutive blocks. Fold ``k``
    tests on block ``k``; its train + val are the dates before the block (``expanding``) or a
    window of the first fold's length ending there (``rolling``), with val the last
    ``val_frac / (train_frac + val_frac)`` of them. Purge/embargo as in :func:`make_split`.

    Returns ``[make_split(...)]`` when ``cfg.folds == 1``.
    """
    if cfg.folds == 1:
        return [make_split(dates, cfg, embargo, min_index)]
    dates = _check_args(dates, embargo, min_index)
    if cfg.val_start is not None:
        raise ConfigError(
            "split.val_start cannot be combined with split.folds > 1: each walk-forward fold takes "
            "its val segment as the last val_frac share of its own training window. Remove val_start."
        )
    d = len(dates)
    n = d - min_index
    test_share = 1.0 - cfg.train_frac - cfg.val_frac
    if cfg.test_start is not None:
        region_start = _date_index(dates, cfg.test_start, "test_start")
    else:
        region_start = min_index + round((cfg.train_frac + cfg.val_frac) * n)
    region_len = d - region_start
    if region_len < cfg.folds or region_start - min_index <= 0:
        raise DataError(
            f"the data is too short for {cfg.folds} walk-forward folds: the test region has {max(region_len, 0)} "
            f"dates and {max(region_start - min_index, 0)} usable dates precede it. Fix: use fewer split.folds, "
            "more history, or a larger test share (lower train_frac + val_frac)"
        )
    # Block boundaries: consecutive, sizes differ by at most one date.
    edges = region_start + (np.arange(cfg.folds + 1) * region_len) // cfg.folds
    first_len = region_start - min_index  # train + val span of fold 0
    val_ratio = cfg.val_frac / (cfg.train_frac + cfg.val_frac)
    hint = (
        f"use fewer split.folds, more history (~{min_index + _min_dates_needed(cfg.train_frac, cfg.val_frac, test_share, embargo) * 2} dates), "
        "a shorter data.window or shorter task horizons"
    )
    splits: list[Split] = []
    for k in range(cfg.folds):  # loop over folds (a handful), not over rows
        test_start, test_end = int(edges[k]), int(edges[k + 1])
        start = min_index if cfg.walk_forward == "expanding" else max(min_index, test_start - first_len)
        span = test_start - start
        b1 = start + round((1.0 - val_ratio) * span)
        train, val, _ = _segments(start, b1, test_start, test_end, embargo)
        test = np.arange(test_start, test_end, dtype=np.int64)
        _check_nonempty(train, val, test, dates, min_index, embargo, hint, fold=k)
        splits.append(Split(train=train, val=val, test=test, embargo=int(embargo), fold=k))
    log.debug("walk-forward: %d %s folds, test blocks start at %s", cfg.folds, cfg.walk_forward,
              [str(dates[s.test[0]].date()) for s in splits])
    return splits
