"""Evaluation charts: confusion matrices, ROC, calibration, regression scatter, IC over time,
metric-vs-baseline bars, signal-gated tables/maps and the coverage-accuracy curve."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from sklearn.metrics import roc_curve

from finmt_core.plots._common import base_layout, color, empty_figure, thin


def confusion_matrix(cm: np.ndarray, classes: Sequence[str], normalize: bool = False, title: str = "Confusion matrix") -> go.Figure:
    """Heatmap of a ``[C, C]`` confusion matrix (rows = true class, columns = predicted).

    ``normalize=True`` shows each row as shares of the true class (recall on the diagonal).
    """
    m = np.asarray(cm, dtype=np.float64)
    if normalize:
        rows = m.sum(axis=1, keepdims=True)
        m = np.divide(m, rows, out=np.zeros_like(m), where=rows > 0)
    text = np.vectorize(lambda v: f"{v:.2f}" if normalize else f"{int(v)}")(m)
    fig = go.Figure(go.Heatmap(
        z=m, x=list(classes), y=list(classes), text=text, texttemplate="%{text}", colorscale="Blues",
        hovertemplate="true %{y}<br>predicted %{x}<br>%{text}<extra></extra>", zmin=0,
    ))
    fig.update_yaxes(autorange="reversed")
    return base_layout(fig, title + (" (row-normalised)" if normalize else ""), "predicted", "true", height=380)


def roc_curves(y_true: np.ndarray, probs: np.ndarray, classes: Sequence[str], title: str = "ROC (one-vs-rest)") -> go.Figure:
    """One ROC curve per class (one-vs-rest; binary tasks show the positive class only) and
    the chance diagonal."""
    y = np.asarray(y_true).astype(int)
    p = np.asarray(probs, dtype=np.float64)
    fig = go.Figure()
    ks = [1] if p.shape[1] == 2 else range(p.shape[1])
    for k in ks:
        pos = y == k
        if not 0 < pos.sum() < len(y):
            continue
        fpr, tpr, _ = roc_curve(pos, p[:, k])
        fig.add_trace(go.Scatter(x=fpr, y=tpr, mode="lines", name=str(classes[k]), line={"color": color(k)}))
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="chance", line={"dash": "dot", "color": "grey"}))
    fig.update_xaxes(range=[0, 1])
    fig.update_yaxes(range=[0, 1])
    return base_layout(fig, title, "false positive rate", "true positive rate", height=400)


def calibration(table: pd.DataFrame, title: str = "Calibration") -> go.Figure:
    """Reliability diagram from :func:`~finmt_core.evaluation.metrics.reliability_bins`:
    predicted probability vs observed frequency per bin (marker size ~ count), and the
    diagonal of perfect calibration."""
    t = table[table["count"] > 0]
    size = 6 + 18 * np.sqrt(t["count"] / max(t["count"].max(), 1))
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfect", line={"dash": "dot", "color": "grey"}))
    fig.add_trace(go.Scatter(
        x=t["mean_pred"], y=t["frac_pos"], mode="lines+markers", name="model", marker={"size": size, "color": color(0)},
        customdata=t["count"], hovertemplate="predicted %{x:.2f}<br>observed %{y:.2f}<br>n=%{customdata}<extra></extra>",
    ))
    ece = table.attrs.get("ece")
    fig.update_xaxes(range=[0, 1])
    fig.update_yaxes(range=[0, 1])
    return base_layout(fig, title + (f" (ECE {ece:.3f})" if ece is not None else ""), "predicted probability", "observed frequency", 400)


def regression_scatter(y_true: np.ndarray, pred: np.ndarray, title: str = "Predicted vs realised", max_points: int = 5000) -> go.Figure:
    """Predicted vs realised values (WebGL scatter, thinned to ``max_points``) with the y = x
    line and a least-squares fit."""
    y, p = np.asarray(y_true, dtype=np.float64), np.asarray(pred, dtype=np.float64)
    ok = np.isfinite(y) & np.isfinite(p)
    y, p = y[ok], p[ok]
    if len(y) == 0:
        return empty_figure(title, "no rows with both a prediction and a target")
    idx = thin(len(y), max_points)
    fig = go.Figure(go.Scattergl(x=p[idx], y=y[idx], mode="markers", name="rows", marker={"size": 4, "opacity": 0.4, "color": color(0)}))
    lo, hi = float(min(p.min(), y.min())), float(max(p.max(), y.max()))
    fig.add_trace(go.Scatter(x=[lo, hi], y=[lo, hi], mode="lines", name="y = x", line={"dash": "dot", "color": "grey"}))
    if np.std(p) > 0:
        slope, icpt = np.polyfit(p, y, 1)
        xs = np.array([p.min(), p.max()])
        fig.add_trace(go.Scatter(x=xs, y=icpt + slope * xs, mode="lines", name=f"fit (slope {slope:.2f})", line={"color": color(3)}))
    return base_layout(fig, title, "predicted", "realised", 420)


def ic_over_time(ic: pd.Series, window: int = 20, title: str = "Information coefficient over time") -> go.Figure:
    """Daily cross-sectional IC (bars) and its rolling mean over ``window`` dates (line)."""
    if ic is None or len(ic) == 0:
        return empty_figure(title, "no date has enough stocks to compute an IC")
    fig = go.Figure()
    fig.add_trace(go.Bar(x=ic.index, y=ic.to_numpy(), name="daily IC", marker_color=np.where(ic.to_numpy() >= 0, color(2), color(3))))
    fig.add_trace(go.Scatter(x=ic.index, y=ic.rolling(window, min_periods=1).mean(), name=f"{window}-day mean", line={"color": "black"}))
    fig.add_hline(y=float(ic.mean()), line_dash="dot", annotation_text=f"mean {ic.mean():.3f}")
    return base_layout(fig, title, "date", "IC")


def metric_vs_baseline(table: pd.DataFrame, metric: str, title: str | None = None) -> go.Figure:
    """Grouped bars of one metric: one group per task, one bar per model/baseline.

    Args:
        table: tidy rows ``task, name, metric, value`` (+ optional ``ci_low``, ``ci_high``
            shown as error bars); see ``evaluation.evaluate.metric_table``.
    """
    t = table[table["metric"] == metric]
    title = title or f"{metric}: model vs baselines (same test rows)"
    if t.empty:
        return empty_figure(title, f"no {metric} to compare")
    fig = go.Figure()
    for i, (name, g) in enumerate(t.groupby("name", sort=False)):
        err = None
        if {"ci_low", "ci_high"} <= set(g.columns) and g["ci_low"].notna().any():
            err = {"type": "data", "symmetric": False, "array": (g["ci_high"] - g["value"]).to_numpy(),
                   "arrayminus": (g["value"] - g["ci_low"]).to_numpy()}
        fig.add_trace(go.Bar(x=g["task"], y=g["value"], name=str(name), marker_color=color(i), error_y=err,
                             text=[f"{v:.3f}" for v in g["value"]], textposition="outside"))
    fig.update_layout(barmode="group")
    return base_layout(fig, title, "task", metric)


def coverage_accuracy(curve: pd.DataFrame, title: str = "Signal gating: coverage vs accuracy") -> go.Figure:
    """Coverage (share of rows that get an Up/Down call) and accuracy of those calls against
    the gating threshold, from :func:`~finmt_core.inference.gating.coverage_accuracy_curve`."""
    fig = go.Figure()
    calls = curve["n_calls"] if "n_calls" in curve else pd.Series(np.nan, index=curve.index)
    # the number of calls behind each accuracy, on the marker and in the hover: 85 % of 3 calls is noise
    labels = [f"{int(n)}" if pd.notna(n) else "" for n in calls]
    fig.add_trace(go.Scatter(x=curve["threshold"], y=curve["accuracy"], mode="lines+markers+text", name="accuracy",
                             text=labels, textposition="top center", textfont={"size": 10}, customdata=calls,
                             hovertemplate="threshold %{x:.2f}<br>accuracy %{y:.1%}<br>%{customdata:,.0f} calls<extra></extra>",
                             line={"color": color(0)}))
    fig.add_trace(go.Scatter(x=curve["threshold"], y=curve["coverage"], mode="lines+markers", name="coverage",
                             customdata=calls, line={"color": color(1)},
                             hovertemplate="threshold %{x:.2f}<br>coverage %{y:.1%}<br>%{customdata:,.0f} calls<extra></extra>"))
    fig.add_hline(y=0.5, line_dash="dot", annotation_text="coin flip")
    fig.update_yaxes(range=[0, 1.05], tickformat=".0%")
    return base_layout(fig, title, "threshold (labels: number of calls)", "share")


def signal_gated_table(df: pd.DataFrame, max_rows: int = 50, title: str = "Signal-gated predictions") -> go.Figure:
    """Table of gated calls (date, ticker, gate, confidence, + any other given columns),
    most confident first."""
    t = df.sort_values("confidence", ascending=False).head(max_rows)
    cols = list(t.columns)
    cells = [t[c].dt.strftime("%Y-%m-%d") if pd.api.types.is_datetime64_any_dtype(t[c])
             else t[c].map(lambda v: f"{v:.3f}" if isinstance(v, float) else v) for c in cols]
    fill = [["#e8f5e9" if g == "Up" else "#ffebee" if g == "Down" else "white" for g in t.get("gate", [""] * len(t))]]
    fig = go.Figure(go.Table(header={"values": cols, "fill_color": "#eeeeee"}, cells={"values": cells, "fill_color": fill * len(cols)}))
    return base_layout(fig, title, height=min(120 + 24 * len(t), 900))


def signal_gated_heatmap(df: pd.DataFrame, title: str = "Signal-gated calls (date x ticker)") -> go.Figure:
    """Heatmap of gate codes (-1 Down, 0 Neutral, +1 Up) scaled by confidence, dates x tickers.

    Args:
        df: rows with ``date``, ``ticker``, ``gate_code``, ``confidence``.
    """
    if df.empty:
        return empty_figure(title, "no gated predictions")
    z = (df.assign(v=df["gate_code"] * df["confidence"]).pivot_table(index="ticker", columns="date", values="v", aggfunc="mean"))
    fig = go.Figure(go.Heatmap(z=z.to_numpy(), x=z.columns, y=z.index.astype(str), colorscale="RdYlGn", zmid=0, zmin=-1, zmax=1,
                               # the title stands along the bar: never cut off at the chart's right edge
                               colorbar={"title": {"text": "Down (−) … Up (+) × probability", "side": "right"}}))
    return base_layout(fig, title, "date", "ticker", height=max(300, 18 * len(z) + 120))


def label_distribution(counts: pd.DataFrame, title: str = "Label distribution") -> go.Figure:
    """Class shares per split. ``counts``: rows ``task, class, split, count``."""
    if counts.empty:
        return empty_figure(title, "no labels")
    tot = counts.groupby(["task", "split"])["count"].transform("sum")
    c = counts.assign(share=counts["count"] / tot, x=counts["task"] + ": " + counts["class"].astype(str))
    fig = go.Figure()
    for i, (split, g) in enumerate(c.groupby("split", sort=False)):
        fig.add_trace(go.Bar(x=g["x"], y=g["share"], name=str(split), marker_color=color(i), customdata=g["count"],
                             hovertemplate="%{x}<br>share %{y:.2%}<br>n=%{customdata}<extra></extra>"))
    fig.update_layout(barmode="group")
    return base_layout(fig, title, "task: class", "share")
