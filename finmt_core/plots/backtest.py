"""Backtest charts from ``BacktestResult.frame()`` (one row per decision date)."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from finmt_core.plots._common import base_layout, color, empty_figure


def equity_drawdown(frame: pd.DataFrame, title: str = "Equity and drawdown") -> go.Figure:
    """Equity curves (net of costs, gross, equal-weight buy-and-hold benchmark) above their
    drawdowns. Expects ``equity_net``, ``equity_gross``, ``equity_benchmark`` and the matching
    ``drawdown_*`` columns."""
    if frame is None or frame.empty:
        return empty_figure(title, "no backtest days")
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.7, 0.3], vertical_spacing=0.05)
    styles = {"net": ("strategy, net of costs", color(0), "solid"), "gross": ("strategy, before costs", color(0), "dot"),
              "benchmark": ("equal-weight buy & hold", "grey", "solid")}
    for key, (name, c, dash) in styles.items():
        if f"equity_{key}" not in frame.columns:
            continue
        fig.add_trace(go.Scatter(x=frame.index, y=frame[f"equity_{key}"], name=name, legendgroup=key,
                                 line={"color": c, "dash": dash}), row=1, col=1)
        if key != "gross":
            fig.add_trace(go.Scatter(x=frame.index, y=frame[f"drawdown_{key}"], name=f"{name} drawdown", legendgroup=key,
                                     showlegend=False, fill="tozeroy", line={"color": c, "width": 1}), row=2, col=1)
    fig.update_yaxes(title_text="equity (start = 1)", row=1, col=1)
    fig.update_yaxes(title_text="drawdown", tickformat=".0%", row=2, col=1)
    return base_layout(fig, title, height=520)


def turnover(frame: pd.DataFrame, title: str = "Daily turnover and exposure") -> go.Figure:
    """Turnover (bars) and gross / net exposure (lines) per day."""
    if frame is None or frame.empty:
        return empty_figure(title, "no backtest days")
    fig = go.Figure()
    fig.add_trace(go.Bar(x=frame.index, y=frame["turnover"], name="turnover", marker_color=color(1)))
    for i, col in enumerate(("gross_exposure", "net_exposure")):
        if col in frame.columns:
            fig.add_trace(go.Scatter(x=frame.index, y=frame[col], name=col.replace("_", " "), line={"color": color(2 + i)}))
    return base_layout(fig, title, "date", "fraction of capital")


def returns_histogram(frame: pd.DataFrame, title: str = "Daily returns") -> go.Figure:
    """Overlaid histograms of daily net strategy and benchmark returns."""
    fig = go.Figure()
    for i, col in enumerate(("net_return", "benchmark_return")):
        if col in frame.columns:
            fig.add_trace(go.Histogram(x=frame[col], name=col.replace("_", " "), opacity=0.6, marker_color=color(i), nbinsx=60))
    fig.update_layout(barmode="overlay")
    fig.update_xaxes(tickformat=".1%")
    return base_layout(fig, title, "daily return", "days")
