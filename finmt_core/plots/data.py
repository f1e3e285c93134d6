"""Data charts: candlesticks, the feature explorer and the stock graph."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from finmt_core.plots._common import base_layout, color, empty_figure
from finmt_core.plots.explain import network


def price_candlestick(panel: pd.DataFrame, ticker: str, title: str | None = None) -> go.Figure:
    """Candlestick (line when only ``close`` exists) of one ticker, with volume bars below
    when the panel has volume. ``panel``: MultiIndex (date, ticker)."""
    title = title or f"{ticker}"
    try:
        df = panel.xs(ticker, level="ticker")
    except KeyError:
        return empty_figure(title, f"ticker {ticker!r} is not in the data")
    has_vol = "volume" in df.columns and df["volume"].notna().any()
    fig = make_subplots(rows=2 if has_vol else 1, cols=1, shared_xaxes=True, row_heights=[0.75, 0.25] if has_vol else [1.0],
                        vertical_spacing=0.03)
    if {"open", "high", "low"} <= set(df.columns) and df[["open", "high", "low"]].notna().any().all():
        fig.add_trace(go.Candlestick(x=df.index, open=df["open"], high=df["high"], low=df["low"], close=df["close"], name="price"), row=1, col=1)
        fig.update_xaxes(rangeslider_visible=False)
    else:
        fig.add_trace(go.Scatter(x=df.index, y=df["close"], name="close", line={"color": color(0)}), row=1, col=1)
    if has_vol:
        fig.add_trace(go.Bar(x=df.index, y=df["volume"], name="volume", marker_color="lightgrey"), row=2, col=1)
    return base_layout(fig, title, height=520)


def feature_explorer(frame: pd.DataFrame, features: Sequence[str], title: str = "Features") -> go.Figure:
    """Lines of selected features over time, each on its own small panel (shared dates).

    Args:
        frame: date-indexed DataFrame with one column per feature (one ticker's slice of a
            FeatureFrame, e.g. ``pd.DataFrame(ff.values[:, n, :], index=ff.dates, columns=ff.names)``).
    """
    feats = [f for f in features if f in frame.columns]
    if not feats:
        return empty_figure(title, "pick at least one feature")
    fig = make_subplots(rows=len(feats), cols=1, shared_xaxes=True, subplot_titles=feats, vertical_spacing=0.04)
    for i, f in enumerate(feats):
        fig.add_trace(go.Scatter(x=frame.index, y=frame[f], name=f, line={"color": color(i)}, showlegend=False), row=i + 1, col=1)
    return base_layout(fig, title, height=min(200 + 160 * len(feats), 1400))


def stock_graph(edge_index: np.ndarray, edge_weight: np.ndarray, tickers: Sequence[str], sectors: Sequence[str] | None = None,
                title: str = "Stock graph (fitted on train dates)") -> go.Figure:
    """The run's stock graph (``StockGraph.edge_index`` / ``edge_weight``), nodes by sector."""
    return network(edge_index, edge_weight, tickers, sectors, title=title)
