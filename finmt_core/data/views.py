"""Slices of a panel and of its features that a person looks at: the last days of prices, one
ticker's features over time, the task families with class labels (for label charts)."""

from __future__ import annotations

import pandas as pd

from finmt_core.data.containers import FeatureFrame
from finmt_core.tasks import CATALOGUE


def last_days(panel: pd.DataFrame, n_days: int | None) -> pd.DataFrame:
    """The rows of ``panel`` (index ``(date, ticker)``, sorted) on its last ``n_days`` trading
    dates; the whole panel when ``n_days`` is None or covers every date."""
    if n_days is None:
        return panel
    dates = panel.index.get_level_values("date").unique().sort_values()
    if len(dates) == 0:
        return panel
    return panel.loc[dates[-n_days:][0]:]


def ticker_features(frame: FeatureFrame, ticker: str) -> pd.DataFrame:
    """One ticker's raw features: index = the frame's dates, one column per feature (NaN
    where unknown).

    Raises:
        KeyError: ``ticker`` is not in the frame.
    """
    if ticker not in frame.tickers:
        raise KeyError(f"ticker {ticker!r} is not in the feature frame ({len(frame.tickers)} tickers)")
    n = list(frame.tickers).index(ticker)
    return pd.DataFrame(frame.values[:, n, :], index=frame.dates, columns=frame.names)


def classification_families() -> list[str]:
    """The task families whose labels are classes (direction, signal, regime, ...), in
    catalogue order."""
    return [family for family, (kind, *_rest) in CATALOGUE.items() if kind == "classification"]
