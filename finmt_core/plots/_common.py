"""Shared helpers of the figure builders: layout defaults and metric-log column parsing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

#: One qualitative palette for tasks / series, so a task has the same colour on every chart.
PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)
TEMPLATE = "plotly_white"


def color(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def base_layout(fig: go.Figure, title: str, x: str | None = None, y: str | None = None, height: int = 420) -> go.Figure:
    """Title, axis labels, template and margins shared by every builder."""
    fig.update_layout(
        title={"text": title, "x": 0.01},
        template=TEMPLATE,
        height=height,
        margin={"l": 60, "r": 20, "t": 60, "b": 50},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "right", "x": 1.0},
    )
    if x is not None:
        fig.update_xaxes(title_text=x)
    if y is not None:
        fig.update_yaxes(title_text=y)
    return fig


def epoch_axis(fig: go.Figure, epochs: pd.Series | pd.Index | np.ndarray) -> go.Figure:
    """Integer epoch ticks: one per epoch when there are few, whole numbers otherwise."""
    n = len(pd.unique(np.asarray(epochs)))
    if 0 < n <= 20:
        fig.update_xaxes(dtick=1)
    else:
        fig.update_xaxes(tickformat="d")
    return fig


def empty_figure(title: str, message: str) -> go.Figure:
    """A figure that says why there is nothing to show (instead of an empty chart)."""
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper", font={"size": 14})
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return base_layout(fig, title, height=250)


def nested_columns(metrics: pd.DataFrame, key: str) -> pd.DataFrame:
    """Per-name columns of a metrics log: ``key.<name>`` (RunDir.metrics() flattens nested
    dicts with '.') or a column ``key`` holding dicts. Returns epoch-indexed numeric columns
    named ``<name>``; only one level below ``key`` (``val_metrics.direction.accuracy`` under
    ``val_metrics`` becomes ``direction.accuracy``)."""
    idx = metrics["epoch"] if "epoch" in metrics.columns else pd.RangeIndex(len(metrics))
    if key in metrics.columns and metrics[key].map(lambda v: isinstance(v, dict)).any():
        flat = pd.json_normalize([v if isinstance(v, dict) else {} for v in metrics[key]], sep=".")
        flat.index = idx
        return flat.apply(pd.to_numeric, errors="coerce")
    prefix = f"{key}."
    cols = [c for c in metrics.columns if str(c).startswith(prefix)]
    out = metrics[cols].apply(pd.to_numeric, errors="coerce")
    out.columns = [str(c)[len(prefix):] for c in cols]
    out.index = idx
    return out


def thin(n: int, max_points: int, seed: int = 0) -> np.ndarray:
    """Indices of at most ``max_points`` of ``n`` rows (random, sorted): big scatters stay light."""
    if n <= max_points:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, max_points, replace=False))
