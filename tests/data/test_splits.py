"""Date splits: disjoint, ordered, purged by the embargo; walk-forward folds."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pandas as pd
import pytest

from finmt_core.config import SplitConfig
from finmt_core.data.containers import Split
from finmt_core.data.splits import make_split, walk_forward_splits
from finmt_core.errors import ConfigError, DataError


def _dates(n: int) -> pd.DatetimeIndex:
    return pd.bdate_range("2020-01-01", periods=n)


def _assert_valid(split: Split, n_dates: int, embargo: int, min_index: int) -> None:
    train, val, test = split.train, split.val, split.test
    for seg in (train, val, test):
        assert seg.dtype == np.int64
        assert seg.size > 0
        assert np.all(np.diff(seg) == 1)  # contiguous runs of dates
    assert train[0] >= min_index
    assert test[-1] < n_dates
    # every row's label window (i .. i + embargo) ends before the next segment starts
    assert train[-1] + embargo < val[0]
    assert val[-1] + embargo < test[0]
    assert not (set(train) & set(val) or set(val) & set(test) or set(train) & set(test))
    assert split.embargo == embargo


@pytest.mark.parametrize(
    ("n", "train_frac", "val_frac", "embargo", "min_index"),
    list(itertools.product([60, 250, 1003], [0.5, 0.7], [0.1, 0.2], [0, 1, 5, 10], [0, 19])),
)
def test_fraction_split_is_disjoint_and_embargoed(n, train_frac, val_frac, embargo, min_index) -> None:
    cfg = SplitConfig(train_frac=train_frac, val_frac=val_frac)
    try:
        split = make_split(_dates(n), cfg, embargo, min_index=min_index)
    except DataError as exc:
        # too short: the hint names a history length that is longer than n and that works
        needed = int(re.search(r"at least ~(\d+) dates", str(exc)).group(1))
        assert needed > n
        n = needed
        split = make_split(_dates(n), cfg, embargo, min_index=min_index)
    _assert_valid(split, n, embargo, min_index)
    # test runs to the last date, the purge is exactly `embargo` dates
    assert split.test[-1] == n - 1
    assert split.val[0] - split.train[-1] - 1 == embargo
    assert split.test[0] - split.val[-1] - 1 == embargo


def test_fraction_boundaries_follow_fractions() -> None:
    split = make_split(_dates(1000), SplitConfig(train_frac=0.6, val_frac=0.2), embargo=5)
    assert split.val[0] == 600 and split.test[0] == 800
    assert split.train[-1] == 594 and split.val[-1] == 794


def test_explicit_dates_set_boundaries() -> None:
    dates = _dates(300)
    cfg = SplitConfig(val_start=str(dates[150].date()), test_start=str(dates[220].date()))
    split = make_split(dates, cfg, embargo=3, min_index=10)
    assert split.val[0] == 150 and split.test[0] == 220
    _assert_valid(split, 300, 3, 10)


def test_explicit_date_on_non_trading_day_rounds_forward() -> None:
    dates = _dates(300)  # business days: 2020-01-04 is a Saturday
    split = make_split(dates, SplitConfig(val_start="2020-01-04", test_start=str(dates[250].date())), embargo=1)
    assert dates[split.val[0]] == pd.Timestamp("2020-01-06")


@pytest.mark.parametrize(
    ("val_start", "test_start", "match"),
    [
        ("2020-06-01", "2020-03-02", "out of order"),
        ("not-a-date", None, "not a date"),
        ("2031-01-01", None, "after the last date"),
    ],
)
def test_bad_dates_raise_config_error(val_start, test_start, match) -> None:
    with pytest.raises(ConfigError, match=match):
        make_split(_dates(300), SplitConfig(val_start=val_start, test_start=test_start), embargo=2)


def test_too_short_data_raises_with_hint() -> None:
    with pytest.raises(DataError, match="too short") as info:
        make_split(_dates(30), SplitConfig(), embargo=5, min_index=19)
    assert "window" in str(info.value) and "dates of history" in str(info.value)


def test_empty_after_warmup_raises() -> None:
    with pytest.raises(DataError, match="too short"):
        make_split(_dates(10), SplitConfig(), embargo=1, min_index=19)


def test_unsorted_dates_rejected() -> None:
    with pytest.raises(DataError, match="sorted"):
        make_split(_dates(100)[::-1], SplitConfig(), embargo=1)


@pytest.mark.parametrize("mode", ["expanding", "rolling"])
@pytest.mark.parametrize(("n", "folds", "embargo"), [(400, 2, 1), (800, 4, 5), (1200, 5, 10)])
def test_walk_forward_folds(mode, n, folds, embargo) -> None:
    cfg = SplitConfig(train_frac=0.5, val_frac=0.2, folds=folds, walk_forward=mode)
    splits = walk_forward_splits(_dates(n), cfg, embargo, min_index=19)
    assert [s.fold for s in splits] == list(range(folds))
    for s in splits:
        _assert_valid(s, n, embargo, 19)
    tests = [s.test for s in splits]
    # consecutive, non-overlapping test blocks covering the region up to the last date
    for a, b in itertools.pairwise(tests):
        assert a[-1] + 1 == b[0]
    assert tests[-1][-1] == n - 1
    lengths = [len(t) for t in tests]
    assert max(lengths) - min(lengths) <= 1
    spans = [s.val[-1] - s.train[0] for s in splits]
    if mode == "expanding":
        assert all(s.train[0] == 19 for s in splits)
        assert all(np.diff(spans) > 0)
    else:
        assert abs(spans[-1] - spans[0]) <= 1  # the window slides, its length stays
        assert splits[-1].train[0] > splits[0].train[0]


def test_walk_forward_one_fold_is_make_split() -> None:
    cfg = SplitConfig()
    [only] = walk_forward_splits(_dates(500), cfg, 5, min_index=19)
    ref = make_split(_dates(500), cfg, 5, min_index=19)
    for name in ("train", "val", "test"):
        np.testing.assert_array_equal(only.segment(name), ref.segment(name))


def test_walk_forward_with_test_start() -> None:
    dates = _dates(600)
    cfg = SplitConfig(test_start=str(dates[400].date()), folds=4)
    splits = walk_forward_splits(dates, cfg, 2)
    assert splits[0].test[0] == 400 and splits[-1].test[-1] == 599


def test_walk_forward_rejects_val_start_and_short_data() -> None:
    with pytest.raises(ConfigError, match="val_start"):
        walk_forward_splits(_dates(600), SplitConfig(val_start="2020-06-01", folds=3), 2)
    with pytest.raises(DataError, match="walk-forward"):
        walk_forward_splits(_dates(60), SplitConfig(folds=5), 10, min_index=19)
