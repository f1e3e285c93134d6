"""Explanation charts: attention heatmaps, attribution bars, embeddings and graph networks."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from finmt_core.plots._common import base_layout, color, empty_figure


def attention_heatmap(weights: np.ndarray, x_labels: Sequence[str], y_labels: Sequence[str], title: str = "Attention",
                      x_title: str = "", y_title: str = "", zmin: float | None = None,
                      zmax: float | None = None) -> go.Figure:
    """Heatmap of a 2-D attention (or attribution) map with labelled axes.

    Args:
        weights: ``[len(y_labels), len(x_labels)]``.
        zmin, zmax: fixed ends of the colour scale (default: the data's range, which stretches a
            near-uniform map into strong contrast; pass 0 and a bound for an honest scale).
    """
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim == 1:
        w = w[None, :]
    fig = go.Figure(go.Heatmap(z=w, x=[str(v) for v in x_labels], y=[str(v) for v in y_labels], colorscale="Viridis",
                               zmin=zmin, zmax=zmax,
                               hovertemplate=f"{y_title or 'row'} %{{y}}<br>{x_title or 'col'} %{{x}}<br>%{{z:.4f}}<extra></extra>"))
    return base_layout(fig, title, x_title, y_title, height=max(300, min(900, 22 * w.shape[0] + 140)))


def attribution_bars(values: pd.Series, top: int = 20, title: str = "Feature attribution") -> go.Figure:
    """Horizontal bars of the ``top`` largest |attributions| (signed values kept; colour by sign)."""
    if values is None or len(values) == 0:
        return empty_figure(title, "no attributions")
    v = values.reindex(values.abs().sort_values(ascending=False).index).head(top)[::-1]
    fig = go.Figure(go.Bar(x=v.to_numpy(), y=[str(i) for i in v.index], orientation="h",
                           marker_color=[color(2) if x >= 0 else color(3) for x in v.to_numpy()]))
    return base_layout(fig, title, "attribution", "", height=max(300, 22 * len(v) + 120))


def embedding_scatter(points: pd.DataFrame, color_by: str | None = None, title: str = "Embeddings (2-D projection)") -> go.Figure:
    """Scatter of 2-D projected embeddings. ``points``: columns ``x``, ``y`` (+ ``label`` for
    hover text and ``color_by`` for colour groups)."""
    if points.empty:
        return empty_figure(title, "no embeddings")
    fig = go.Figure()
    groups = points.groupby(color_by, sort=True) if color_by and color_by in points.columns else [("all", points)]
    for i, (name, g) in enumerate(groups):
        fig.add_trace(go.Scattergl(x=g["x"], y=g["y"], mode="markers", name=str(name), marker={"size": 6, "color": color(i), "opacity": 0.7},
                                   text=g["label"] if "label" in g.columns else None))
    return base_layout(fig, title, "component 1", "component 2")


def _circle(n: int) -> tuple[np.ndarray, np.ndarray]:
    a = 2 * np.pi * np.arange(n) / max(n, 1)
    return np.cos(a), np.sin(a)


def network(edge_index: np.ndarray, edge_weight: np.ndarray, labels: Sequence[str], groups: Sequence[str] | None = None,
            title: str = "Stock graph", max_edges: int = 400) -> go.Figure:
    """Nodes on a circle (ordered by group), edges as lines whose opacity/width grow with the
    weight; only the ``max_edges`` heaviest edges are drawn. ``edge_index`` ``[2, E]``."""
    n = len(labels)
    ei = np.asarray(edge_index, dtype=np.int64)
    ew = np.asarray(edge_weight, dtype=np.float64)
    if n == 0:
        return empty_figure(title, "no nodes")
    order = np.argsort(np.asarray(groups, dtype=str), kind="stable") if groups is not None else np.arange(n)
    pos = np.empty(n, dtype=np.int64)
    pos[order] = np.arange(n)
    cx, cy = _circle(n)
    x, y = cx[pos], cy[pos]
    fig = go.Figure()
    if ei.size:
        keep = np.argsort(-ew)[:max_edges]
        top = ew[keep].max() if len(keep) else 1.0
        # bucket edges into 4 weight bands: one trace per band keeps the figure small
        bands = np.minimum((ew[keep] / top * 4).astype(int), 3)
        for b in range(4):
            sel = keep[bands == b]
            if not len(sel):
                continue
            xs = np.stack([x[ei[0, sel]], x[ei[1, sel]], np.full(len(sel), np.nan)], 1).ravel()
            ys = np.stack([y[ei[0, sel]], y[ei[1, sel]], np.full(len(sel), np.nan)], 1).ravel()
            fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", hoverinfo="skip", showlegend=False,
                                     line={"width": 0.5 + b, "color": f"rgba(80,80,80,{0.15 + 0.2 * b})"}))
    g = np.asarray(groups, dtype=str) if groups is not None else np.full(n, "stocks")
    for i, name in enumerate(dict.fromkeys(g[order])):
        sel = g == name
        fig.add_trace(go.Scatter(x=x[sel], y=y[sel], mode="markers+text", name=str(name), text=np.asarray(labels)[sel],
                                 textposition="top center", marker={"size": 10, "color": color(i)}))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, scaleanchor="x")
    return base_layout(fig, title, height=560)


def gat_edges(edge_index: np.ndarray, attention: np.ndarray, tickers: Sequence[str], sectors: Sequence[str] | None = None,
              title: str = "GAT edge attention", max_edges: int = 300) -> go.Figure:
    """The stock graph with edges weighted by GAT attention (``attention`` ``[E]``, e.g.
    averaged over heads and dates)."""
    return network(edge_index, attention, tickers, sectors, title=title, max_edges=max_edges)
