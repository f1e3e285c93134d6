"""Hyper-parameter search figures (from ``finmt_core.tuning.study_summary``)."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from finmt_core.plots._common import base_layout, color, empty_figure


def tuning_history(trials: pd.DataFrame) -> go.Figure:
    """Each trial's objective (best validation loss) by trial number, the best so far as a
    step line, and pruned trials marked at the bottom.

    Args:
        trials: ``Study.trials_dataframe()`` rows: ``number``, ``value``, ``state``.
    """
    title = "Validation loss by trial"
    if trials is None or len(trials) == 0:
        return empty_figure(title, "no trials yet")
    fig = go.Figure()
    done = trials[trials["state"] == "COMPLETE"].sort_values("number")
    if len(done):
        fig.add_trace(go.Scatter(x=done["number"], y=done["value"], mode="markers", name="trial",
                                 marker={"color": color(0), "size": 8}))
        fig.add_trace(go.Scatter(x=done["number"], y=done["value"].cummin(), mode="lines", name="best so far",
                                 line={"color": color(2), "shape": "hv", "width": 3}))
    pruned = trials[trials["state"] == "PRUNED"]
    if len(pruned):
        floor = float(done["value"].min()) if len(done) else 0.0
        fig.add_trace(go.Scatter(x=pruned["number"], y=[floor] * len(pruned), mode="markers", name="pruned",
                                 marker={"color": color(3), "symbol": "x", "size": 9}))
    return base_layout(fig, title, "trial", "best validation loss")


def param_importances(importances: dict[str, float]) -> go.Figure:
    """Optuna's parameter importances (fANOVA by default) as horizontal bars."""
    title = "Parameter importances"
    if not importances:
        return empty_figure(title, "needs at least two completed trials with varied parameters")
    items = sorted(importances.items(), key=lambda kv: kv[1])
    fig = go.Figure(go.Bar(x=[v for _, v in items], y=[k for k, _ in items], orientation="h",
                           marker={"color": color(1)}))
    return base_layout(fig, title, "importance (share of explained variance)", None,
                       height=max(260, 40 * len(items) + 120))
