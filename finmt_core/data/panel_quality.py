"""Is the data good enough? Warnings for suspicious prices; enough history for the presets.

Warnings are Panel notes that start with :data:`WARNING` (``finmt data validate`` prints them
as ``warning:`` lines, the Data page as warning boxes):

* a possible **unadjusted split**: a day-over-day close ratio beyond x1.8 (either way: 2:1,
  3:1, 10:1, 1:30 ...) that does not revert the next day (a one-day spike that comes back is
  a bad tick, not a split);
* **constant prices**: a ticker whose close never changes (over at least
  :data:`MIN_CONSTANT_ROWS` dates) carries nothing to learn; when that holds for every ticker
  the file is refused (:class:`DataError`).

Usability (:func:`preset_fits`, :data:`USABILITY_RULE`): a preset with lookback ``window``,
longest task horizon ``h``, embargo ``e`` and split fractions (train, val, test) needs at least
``60 + window - 1 + h`` dates (feature warm-up, the first full window, the last label) plus
enough usable dates that each of train / val / test keeps :data:`MIN_SEGMENT_DATES` dates after
``e`` dates are purged before each boundary:
``ceil(max((10 + e) / train, (10 + e) / val, 10 * folds / test))``. Conservative on purpose:
a preset it accepts can be split; one it refuses would train on too little to mean anything.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from finmt_core.data.panel_io import RawTable
from finmt_core.errors import ConfigError, DataError

log = logging.getLogger(__name__)

#: prefix of the Panel notes that are warnings
WARNING = "warning: "
#: a close ratio beyond this (or below its inverse) from one date to the next looks like a split
SPLIT_RATIO = 1.8
#: a jump whose next day brings the close back within this ratio of the old level is a spike
REVERT_RATIO = 1.25
#: trading days the features need before their first value (longest lookback)
FEATURE_WARMUP = 60
#: closes a ticker needs before "never changes" means anything (two equal closes are just a flat day)
MIN_CONSTANT_ROWS = 5
#: dates each of train / val / test must keep after purging
MIN_SEGMENT_DATES = 10
USABILITY_RULE = (
    f"a preset needs {FEATURE_WARMUP} dates of feature warm-up + window - 1 + its longest horizon, plus enough "
    f"dates for train, val and test to keep {MIN_SEGMENT_DATES} dates each after the embargo is purged"
)
_SHOWN = 5


def warn_splits(df: pd.DataFrame, notes: list[str]) -> None:
    """Append a warning naming ticker and date of every non-reverting jump beyond x1.8.

    ``df`` must be sorted by (``_tc``, ``date``) with ``close``, ``ticker`` and ``date`` columns.
    """
    codes = df["_tc"].to_numpy()
    log_close = np.log(df["close"].to_numpy(dtype=np.float64))
    same = np.r_[False, codes[1:] == codes[:-1]]
    step = np.where(same, np.r_[np.nan, np.diff(log_close)], np.nan)
    following = np.r_[step[1:], np.nan]  # NaN where the next row is another ticker's
    with np.errstate(invalid="ignore"):
        jump = np.abs(step) > math.log(SPLIT_RATIO)
        reverted = np.abs(step + following) < math.log(REVERT_RATIO)
    spike = jump & reverted  # up and straight back down (or down and up): a bad tick
    split = jump & ~reverted & ~np.r_[False, spike[:-1]]  # the way back from a spike is no split either
    if not split.any():
        return
    rows = np.flatnonzero(split)
    ratio = np.exp(step[rows])
    shown = []
    for i, r in zip(rows[:_SHOWN], ratio[:_SHOWN], strict=False):  # at most five: formatting only
        guess = f"{_nice(1 / r)}:1 split?" if r < 1 else f"1:{_nice(r)} reverse split?"
        shown.append(f"{df['ticker'].iat[i]} on {df['date'].iat[i].date()} (close {df['close'].iat[i - 1]:.6g} -> "
                     f"{df['close'].iat[i]:.6g}, x{r:.3g}, {guess})")
    n_tickers = len(np.unique(codes[rows]))
    message = (f"{WARNING}possible unadjusted split(s): {len(rows)} close jump(s) beyond x{SPLIT_RATIO} that did not "
               f"revert, in {n_tickers} ticker(s): {'; '.join(shown)}{' ...' if len(rows) > _SHOWN else ''}. "
               "Use split-adjusted prices (e.g. the adjusted close), or check these rows.")
    log.info(message)
    notes.append(message)


def _nice(ratio: float) -> str:
    """``1.97`` -> ``"2"`` (a whole split ratio within 10%), else 3 significant digits."""
    whole = round(ratio)
    return str(whole) if whole >= 2 and abs(ratio - whole) / whole < 0.1 else f"{ratio:.3g}"


def check_constant(raw: RawTable, df: pd.DataFrame, notes: list[str]) -> None:
    """Warn about tickers whose close never changes; DataError when that is every ticker."""
    stats = df.groupby("_tc", sort=True)["close"].agg(["min", "max", "count"])
    several = stats["count"].to_numpy() >= MIN_CONSTANT_ROWS
    constant = several & (stats["min"].to_numpy() == stats["max"].to_numpy())
    if not constant.any():
        return
    names = df.groupby("_tc", sort=True)["ticker"].first().to_numpy()[constant]
    levels = stats["min"].to_numpy()[constant]
    if constant.sum() == several.sum():
        raise DataError(
            f"{raw.label}: the close never changes for any ticker (e.g. {names[0]!r} is {levels[0]:.6g} on all "
            f"{int(stats['count'].to_numpy()[constant][0])} dates): there is nothing to learn. Check that the close "
            "column holds prices (not a constant such as a lot size), or load another file."
        )
    shown = ", ".join(f"{n!r} ({v:.6g})" for n, v in zip(names[:_SHOWN], levels[:_SHOWN], strict=True))
    message = (f"{WARNING}constant prices: the close of {int(constant.sum())} ticker(s) never changes: {shown}"
               f"{' ...' if constant.sum() > _SHOWN else ''}. They carry no signal; remove them or check their prices.")
    log.info(message)
    notes.append(message)


@dataclass(frozen=True)
class PresetFit:
    """Whether a panel is long enough for one preset (see :data:`USABILITY_RULE`)."""

    name: str
    window: int
    horizon: int
    embargo: int
    need: int  # dates the preset needs
    have: int  # dates of the longest ticker series

    @property
    def ok(self) -> bool:
        return self.have >= self.need


def dates_needed(window: int, horizon: int, embargo: int, train_frac: float, val_frac: float,
                 folds: int = 1) -> int:
    """Dates a preset needs by :data:`USABILITY_RULE`."""
    test_frac = 1.0 - train_frac - val_frac
    seg = MIN_SEGMENT_DATES
    usable = max((seg + embargo) / train_frac, (seg + embargo) / val_frac, seg * folds / test_frac)
    return FEATURE_WARMUP + window - 1 + horizon + math.ceil(usable - 1e-9)


def preset_fits(panel: pd.DataFrame) -> list[PresetFit]:
    """One :class:`PresetFit` per preset in ``configs/`` (a preset that fails to load is skipped)."""
    from finmt_core.config import list_presets, load_preset

    have = int(panel["close"].notna().groupby(level="ticker").sum().max()) if len(panel) else 0
    fits = []
    for name in list_presets():
        try:
            cfg = load_preset(name)
        except ConfigError as exc:
            log.warning("preset %s skipped in the usability check: %s", name, exc)
            continue
        need = dates_needed(cfg.data.window, cfg.max_horizon, cfg.embargo, cfg.split.train_frac,
                            cfg.split.val_frac, cfg.split.folds)
        fits.append(PresetFit(name, cfg.data.window, cfg.max_horizon, cfg.embargo, need, have))
    return fits


def check_usable(panel: pd.DataFrame) -> list[PresetFit]:
    """:func:`preset_fits`, or a :class:`DataError` when no preset can use the panel."""
    fits = preset_fits(panel)
    if not fits or any(f.ok for f in fits):
        return fits
    best = min(fits, key=lambda f: f.need)
    dates = panel.index.get_level_values("date")
    span = f" ({dates.min().date()} to {dates.max().date()})" if len(dates) else ""
    raise DataError(
        f"{panel.attrs.get('source', 'the data')}: too little history for any preset: the longest series has "
        f"{best.have} date(s){span}, but the least demanding preset, {best.name} (window {best.window}, horizon "
        f"{best.horizon}), needs {best.need}. Rule: {USABILITY_RULE}. Load a longer history (at least {best.need} "
        "trading days)."
    )


def describe_fits(fits: list[PresetFit]) -> str:
    """``"7 of 8 presets fit: a, b, ...; too short for: c (needs 443 dates)"``."""
    ok = [f.name for f in fits if f.ok]
    short = [f"{f.name} (needs {f.need} dates)" for f in fits if not f.ok]
    text = f"{len(ok)} of {len(fits)} presets fit: {', '.join(ok) or '-'}"
    return text + (f"; too short for: {', '.join(short)}" if short else "")
