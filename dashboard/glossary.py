"""One glossary of the feature and metric names the pages show, one hover away.

``describe(name)`` gives the sentence for a feature (``garman_klass_20``), a metric
(``balanced_accuracy``) or a baseline (``naive_momentum``); :func:`column_help` turns it into
``st.column_config`` entries so a table's header shows it as its tooltip, and :func:`help_text`
joins several for a widget's ``help=``. Window lengths are in trading days.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

#: exact names (features without a window, metrics, baselines, table columns)
TERMS: dict[str, str] = {
    # ---- metrics
    "accuracy": "Share of rows whose predicted class is the true class.",
    "balanced_accuracy": "Mean of the per-class recalls: 1/classes for a constant guess, whatever the class balance.",
    "mcc": "Matthews correlation coefficient: −1 (always wrong) … 0 (chance) … +1 (perfect); robust to imbalance.",
    "roc_auc": "Area under the ROC curve (one-vs-rest, macro): 0.5 = chance, 1 = perfect ranking.",
    "log_loss": "Cross-entropy of the predicted probabilities (nats, lower is better).",
    "ic": "Information coefficient: per-date Pearson correlation of prediction and realised value, averaged over dates.",
    "rank_ic": "Per-date Spearman (rank) correlation of prediction and realised value, averaged over dates.",
    "directional_accuracy": "Share of rows where the predicted sign matches the realised sign.",
    "mae": "Mean absolute error (units of the target: log return or volatility).",
    "r2": "Coefficient of determination: 1 − SSE / variance; 0 = as good as the mean, below 0 worse.",
    "pinball": "Pinball (quantile) loss averaged over the quantiles (lower is better).",
    "coverage": "Share of rows that get a call (signal gating) or that fall inside the predicted interval (quantiles).",
    "sharpe": "Annualised mean daily return / its standard deviation (√252 scaling).",
    "sortino": "Like Sharpe, but dividing by the downside deviation only.",
    "max_drawdown": "Largest fall from a running peak of the equity curve.",
    "calmar": "Annualised return / |max drawdown|.",
    "turnover": "Sum of |weight changes| per day: how much of the book is traded.",
    "hit_rate": "Share of days with a position whose return was positive.",
    "val_score": "Mean per-task validation skill over chance (balanced accuracy − 1/classes; IC).",
    # ---- baselines
    "model": "The trained model of this run.",
    "naive_majority": "Baseline: always the most frequent class of the train segment (regression: its mean).",
    "naive_momentum": "Baseline: the sign of the last 20-day return (continuation).",
    "naive_zero": "Baseline: predicts a zero return everywhere.",
    "lightgbm": "Baseline: gradient-boosted trees (LightGBM) on the same features and rows.",
    "single_task": "Baseline: the same network trained on this one task only.",
    # ---- features without a window in the name
    "macd": "MACD: 12-day minus 26-day exponential moving average of the close, over the close.",
    "macd_signal": "9-day exponential average of the MACD.",
    "macd_hist": "MACD minus its signal line.",
    "log_volume_change": "Log of today's volume over yesterday's.",
    "gap_open": "Log of today's open over yesterday's close (overnight gap).",
    "intraday_return": "Log of the close over the open of the same day.",
    "intraday_range": "Log of the high over the low of the same day.",
    "close_location": "Where the close sits in the day's high–low range (0 = low, 1 = high).",
    "breadth": "Share of stocks that rose today (market context).",
}

#: ``<prefix>_<window>`` feature families: the sentence takes the window in trading days
FAMILIES: dict[str, str] = {
    "ret": "Log return over the last {w} days.",
    "ma_gap": "Close over its {w}-day moving average, minus 1.",
    "rsi": "Relative strength index over {w} days (0–100; above 70 often read as overbought).",
    "stoch": "Stochastic oscillator over {w} days: where the close sits in the {w}-day range.",
    "dist_high": "Distance of the close below its {w}-day high (log).",
    "trend_strength": "Strength of the {w}-day trend (slope over noise).",
    "volume_z": "Volume's z-score against its {w}-day history.",
    "turnover_z": "Dollar turnover's z-score against its {w}-day history.",
    "obv_slope": "Slope of on-balance volume over {w} days.",
    "vol": "Realised volatility: standard deviation of daily log returns over {w} days.",
    "downside_vol": "Standard deviation of the negative daily returns over {w} days.",
    "bb_width": "Bollinger band width over {w} days (4 standard deviations over the mean).",
    "shock": "Today's return in units of the {w}-day volatility.",
    "atr": "Average true range over {w} days, over the close.",
    "parkinson": "Parkinson volatility (from daily high–low ranges) over {w} days.",
    "garman_klass": "Garman–Klass volatility (from open, high, low, close) over {w} days.",
    "mkt_ret": "Equal-weight market log return over {w} days (context).",
    "mkt_vol": "Equal-weight market volatility over {w} days (context).",
    "cs_rank_ret": "Cross-sectional rank (0–1) of the {w}-day return among all stocks on the date.",
    "cs_rank_vol": "Cross-sectional rank (0–1) of the {w}-day volatility among all stocks on the date.",
    "rel_strength": "Return over {w} days minus the market's.",
    "mkt_rel_ret": "Return over {w} days minus the market's.",
    "sector_ret": "Equal-weight return of the stock's sector over {w} days (context).",
    "sector_rel_ret": "Return over {w} days minus the stock's sector's.",
    "corr_mkt": "Correlation of daily returns with the market over {w} days.",
    "beta": "Beta to the equal-weight market over {w} days.",
}
_WINDOW = re.compile(r"(?P<family>[a-z_]+?)_(?P<w>\d+)")
_RATIO = re.compile(r"(?P<family>[a-z_]+?)_(?P<a>\d+)_(?P<b>\d+)")


def describe(name: Any) -> str | None:
    """The glossary sentence of a feature, metric or baseline name; None when unknown."""
    text = str(name)
    if text in TERMS:
        return TERMS[text]
    ratio = _RATIO.fullmatch(text)
    if ratio:
        fam, a, b = ratio["family"], ratio["a"], ratio["b"]
        if fam == "ma_cross":
            return f"{a}-day over {b}-day moving average, minus 1 (a moving-average crossover)."
        if fam in ("vol_ratio", "volume_ratio"):
            what = "Volatility" if fam == "vol_ratio" else "Average volume"
            return f"{what} over {a} days divided by that over {b} days."
    match = _WINDOW.fullmatch(text)
    if match and match["family"] in FAMILIES:
        return FAMILIES[match["family"]].format(w=match["w"])
    return None


def help_text(names: Iterable[Any]) -> str | None:
    """``**name**: sentence`` lines for the names the glossary knows (a widget's ``help=``)."""
    lines = [f"**{n}**: {d}" for n in names if (d := describe(n))]
    return "\n\n".join(lines) or None


def column_help(columns: Iterable[Any], **column_kwargs: Any) -> dict[str, Any]:
    """``st.column_config`` entries whose header tooltip is the glossary sentence of each known
    column (pass ``format=...`` etc. for number columns)."""
    import streamlit as st

    out: dict[str, Any] = {}
    for col in columns:
        text = describe(col)
        if text:
            factory = st.column_config.NumberColumn if column_kwargs else st.column_config.Column
            out[str(col)] = factory(str(col), help=text, **column_kwargs)
    return out
