"""Inference charts: what-if before/after bars and one ticker's prediction history."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from finmt_core.inference.output_columns import GATE_CODE, Output, parse_output
from finmt_core.plots._common import base_layout, color, empty_figure

#: Shading of the scored segments on history charts.
SEGMENT_FILL = {"val": "rgba(255, 165, 0, 0.12)", "test": "rgba(31, 119, 180, 0.10)"}


def _panel_of(output: str) -> str:
    """Which what-if panel an output belongs to (they differ in scale)."""
    parsed = parse_output(output)
    if parsed.is_probability:
        return "probabilities"
    if parsed.kind == "entropy":
        return "entropy (nats)"
    return "values (log return)"


def whatif_before_after(table: pd.DataFrame, title: str = "Before vs after the shock",
                        labels: dict[str, str] | None = None) -> go.Figure:
    """Grouped bars of every output before and after a what-if shock, one panel per scale.

    Args:
        table: ``WhatIfResult.table`` — index = output (``<task>_prob_<Class>``,
            ``<task>_pred``, ``<task>_q<NN>``, ``gate_probability``, ``<task>_entropy``),
            columns ``before`` / ``after`` (point predictions) and, after an MC-dropout
            what-if, ``before_mean`` / ``before_lo`` / ``before_hi`` and the ``after_*`` alike.
            With the MC columns the bars are the sample means with ``[lo, hi]`` error bars
            (rows without an interval, e.g. entropy, get none); ``gate_code`` is not drawn.
        labels: output -> the name a person reads on the axis (default: the output name).
    """
    if table is None or table.empty:
        return empty_figure(title, "no predictions to compare")
    t = table.drop(index=[i for i in table.index if i == GATE_CODE])
    if t.empty:
        return empty_figure(title, "no predictions to compare")
    mc = {"before_mean", "after_mean"} <= set(t.columns)
    panels = list(dict.fromkeys(_panel_of(str(o)) for o in t.index))
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=panels,
                        column_widths=[max(1, sum(_panel_of(str(o)) == p for o in t.index)) for p in panels])
    for j, panel in enumerate(panels, start=1):
        rows = t[[_panel_of(str(o)) == panel for o in t.index]]
        for i, side in enumerate(("before", "after")):
            y = rows[f"{side}_mean"] if mc else rows[side]
            error = None
            if mc:
                lo, hi = rows[f"{side}_lo"].to_numpy(float), rows[f"{side}_hi"].to_numpy(float)
                has = np.isfinite(lo) & np.isfinite(hi)
                if has.any():  # asymmetric bars from the mean to each quantile (0 where no interval)
                    error = {"type": "data", "symmetric": False, "array": np.where(has, hi - y, 0.0),
                             "arrayminus": np.where(has, y - lo, 0.0), "thickness": 1.5}
            fig.add_trace(go.Bar(x=[(labels or {}).get(str(o), str(o)) for o in rows.index], y=y, name=side, legendgroup=side, showlegend=j == 1,
                                 marker_color=color(7 if i == 0 else 0), error_y=error,
                                 hovertemplate=f"{side}<br>%{{x}}: %{{y:.4f}}<extra></extra>"), row=1, col=j)
    fig.update_layout(barmode="group")
    suffix = " (MC-dropout mean, 10–90 % interval)" if mc else ""
    return base_layout(fig, title + suffix, height=420)


def _task_outputs(df: pd.DataFrame, task: str) -> tuple[str, list[Output]]:
    """(kind, parsed output columns) of ``task`` in a predictions frame: its class
    probabilities, else its quantiles (by level), else its point prediction."""
    mine = [o for c in df.columns if (o := parse_output(str(c), [task])).task == task]
    probs = [o for o in mine if o.kind == "probability"]
    if probs:
        return "classification", probs
    qs = sorted((o for o in mine if o.kind == "quantile"), key=lambda o: o.level or 0)
    if qs:
        return "quantile", qs
    preds = [o for o in mine if o.kind == "prediction"]
    return ("regression", preds) if preds else ("", [])


def _shade_segments(fig: go.Figure, rows: pd.DataFrame) -> None:
    """A shaded band over the dates of each scored segment (val, test) present in ``rows``."""
    if "split" not in rows.columns:
        return
    for seg, fill in SEGMENT_FILL.items():
        dates = rows.loc[rows["split"] == seg, "date"]
        if len(dates):
            fig.add_vrect(x0=dates.min(), x1=dates.max(), fillcolor=fill, line_width=0, layer="below",
                          annotation_text=seg, annotation_position="top left")


def prediction_history(df: pd.DataFrame, ticker: str, task: str, title: str | None = None) -> go.Figure:
    """One ticker's predictions of one task over time against what happened.

    Classification: each class probability (left axis, 0–1); quantile: the median with the
    outer quantiles as a band; regression: the prediction. What happened goes beside it:
    the realised forward return ``fwd_return`` as bars on the right axis when the frame has
    it (else ``<task>_target``: the class index as markers, or the realised value as a line).
    Val and test dates are shaded.

    Args:
        df: predictions.parquet rows (``date``, ``ticker``, optional ``split``, the task's
            ``<task>_prob_<Class>`` / ``<task>_q<NN>`` / ``<task>_pred`` and ``<task>_target``
            columns; optional ``fwd_return``, a log return).
        ticker: the stock to show.
        task: the task name (e.g. ``"direction"``).
    """
    title = title or f"{ticker}: {task} predictions vs what happened"
    kind, outputs = _task_outputs(df, task)
    cols = [o.name for o in outputs]
    if not kind:
        return empty_figure(title, f"the predictions have no {task!r} columns")
    rows = df[df["ticker"].astype(str) == str(ticker)].copy()
    if rows.empty:
        return empty_figure(title, f"no predictions for {ticker}")
    rows["date"] = pd.to_datetime(rows["date"])
    rows = rows.sort_values("date")
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    if kind == "classification":
        for i, c in enumerate(cols):
            fig.add_trace(go.Scatter(x=rows["date"], y=rows[c], mode="lines", name=f"P({outputs[i].cls})",
                                     line={"color": color(i)}), secondary_y=False)
        fig.update_yaxes(title_text="probability", range=[0, 1], secondary_y=False)
    elif kind == "quantile":
        lo, hi = rows[cols[0]], rows[cols[-1]]
        fig.add_trace(go.Scatter(x=rows["date"], y=hi, mode="lines", line={"width": 0}, showlegend=False,
                                 hoverinfo="skip"), secondary_y=False)
        fig.add_trace(go.Scatter(x=rows["date"], y=lo, mode="lines", line={"width": 0}, fill="tonexty",
                                 fillcolor="rgba(31, 119, 180, 0.2)", name=f"q{outputs[0].level:02d}–q{outputs[-1].level:02d}"),
                      secondary_y=False)
        mid = f"{task}_pred" if f"{task}_pred" in rows.columns else cols[len(cols) // 2]
        fig.add_trace(go.Scatter(x=rows["date"], y=rows[mid], mode="lines", name="median", line={"color": color(0)}),
                      secondary_y=False)
        fig.update_yaxes(title_text="predicted", secondary_y=False)
    else:
        fig.add_trace(go.Scatter(x=rows["date"], y=rows[cols[0]], mode="lines", name="predicted",
                                 line={"color": color(0)}), secondary_y=False)
        fig.update_yaxes(title_text="predicted", secondary_y=False)
    target = f"{task}_target"
    if "fwd_return" in rows.columns and rows["fwd_return"].notna().any():
        r = rows["fwd_return"].to_numpy(float)
        fig.add_trace(go.Bar(x=rows["date"], y=r, name="realised fwd return", opacity=0.45,
                             marker_color=np.where(r >= 0, "#2ca02c", "#d62728")), secondary_y=True)
        fig.update_yaxes(title_text="realised log return", secondary_y=True)
    elif target in rows.columns and rows[target].notna().any():
        if kind == "classification":
            classes = [str(o.cls) for o in outputs]
            fig.add_trace(go.Scatter(x=rows["date"], y=rows[target], mode="markers", name="realised class",
                                     marker={"color": "black", "size": 5, "symbol": "x"}), secondary_y=True)
            fig.update_yaxes(title_text="realised", tickvals=list(range(len(classes))), ticktext=classes,
                             range=[-0.5, len(classes) - 0.5], secondary_y=True)
        else:  # same units as the prediction: on the left axis, to compare directly
            fig.add_trace(go.Scatter(x=rows["date"], y=rows[target], mode="lines", name="realised",
                                     line={"color": "black", "width": 1}), secondary_y=False)
    _shade_segments(fig, rows)
    return base_layout(fig, title, "date", height=420)
