"""Training curves from a run's metrics log (``RunDir.metrics()``: one row per epoch)."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from finmt_core.plots._common import base_layout, color, empty_figure, epoch_axis, nested_columns


def loss_curves(metrics: pd.DataFrame, log_y: bool = False) -> go.Figure:
    """Per-task train (solid) and validation (dashed) losses, plus the totals, on one chart.

    Buttons switch between train + val, train only and val only; clicking a legend entry
    toggles a task's pair of lines together (legend groups).

    Args:
        metrics: epoch rows with ``epoch``, ``train_loss``, ``val_loss`` and per-task
            ``train.<task>`` / ``val.<task>`` columns (or dict columns ``train`` / ``val``).
    """
    title = "Loss per task"
    if metrics is None or len(metrics) == 0:
        return empty_figure(title, "no epochs logged yet")
    epochs = metrics["epoch"] if "epoch" in metrics.columns else pd.RangeIndex(1, len(metrics) + 1)
    fig = go.Figure()
    kinds: list[str] = []  # "train" | "val" per trace, for the buttons
    series = [("total", metrics.get("train_loss"), metrics.get("val_loss"))]
    tr, va = nested_columns(metrics, "train"), nested_columns(metrics, "val")
    for task in dict.fromkeys([*tr.columns, *va.columns]):
        series.append((task, tr.get(task), va.get(task)))
    for i, (name, train, val) in enumerate(series):
        c = color(i)
        width = 3 if name == "total" else 2
        for kind, values, dash in (("train", train, "solid"), ("val", val, "dash")):
            if values is None or pd.Series(values).isna().all():
                continue
            fig.add_trace(go.Scatter(
                x=epochs, y=pd.Series(values).to_numpy(), mode="lines+markers", name=f"{name} ({kind})",
                legendgroup=name, line={"color": c, "dash": dash, "width": width}, marker={"size": 4},
            ))
            kinds.append(kind)
    buttons = []
    for label, show in (("train + val", {"train", "val"}), ("train", {"train"}), ("val", {"val"})):
        buttons.append({"label": label, "method": "restyle", "args": [{"visible": [k in show for k in kinds]}]})
    if log_y:
        fig.update_yaxes(type="log")
    base_layout(fig, title, "epoch", "loss", height=480)
    # title pinned to the top edge, the buttons in their own row just above the plot and the
    # (long) legend below it, so none of the three overlap however many tasks there are
    fig.update_layout(
        title={"y": 0.985, "yanchor": "top"},
        margin={"t": 95, "b": 40},
        updatemenus=[{"type": "buttons", "direction": "right", "buttons": buttons, "x": 0.0, "xanchor": "left",
                      "y": 1.02, "yanchor": "bottom", "pad": {"t": 0, "b": 0}, "showactive": True}],
        legend={"orientation": "h", "yanchor": "top", "y": -0.16, "xanchor": "left", "x": 0.0},
    )
    return epoch_axis(fig, epochs)


def _lines(frame: pd.DataFrame, title: str, ytitle: str, empty: str) -> go.Figure:
    frame = frame.dropna(axis=1, how="all")
    if frame.empty:
        return empty_figure(title, empty)
    fig = go.Figure()
    for i, col in enumerate(frame.columns):
        fig.add_trace(go.Scatter(x=frame.index, y=frame[col], mode="lines+markers", name=str(col), line={"color": color(i)}))
    return epoch_axis(base_layout(fig, title, "epoch", ytitle), frame.index)


def task_weights(metrics: pd.DataFrame) -> go.Figure:
    """Loss weight of each task per epoch (``weights.<task>``): fixed, learned or adaptive."""
    return _lines(nested_columns(metrics, "weights"), "Task weights", "weight", "no task weights logged")


def learning_rate(metrics: pd.DataFrame) -> go.Figure:
    """Learning rate of each parameter group per epoch (``lr.<group>``)."""
    fig = _lines(nested_columns(metrics, "lr"), "Learning rate", "lr", "no learning rate logged")
    if fig.data:
        fig.update_yaxes(type="log")
    return fig


def val_metric(metrics: pd.DataFrame, metric: str = "accuracy") -> go.Figure:
    """A validation metric per task per epoch (``val_metrics.<task>.<metric>``)."""
    vm = nested_columns(metrics, "val_metrics")
    cols = [c for c in vm.columns if c.endswith(f".{metric}")]
    frame = vm[cols].rename(columns=lambda c: c.rsplit(".", 1)[0])
    return _lines(frame, f"Validation {metric}", metric, f"no validation {metric} logged")


def throughput(metrics: pd.DataFrame) -> go.Figure:
    """Samples per second (left axis) and epoch time in seconds (right axis)."""
    title = "Throughput"
    if metrics is None or len(metrics) == 0 or "samples_per_s" not in metrics.columns:
        return empty_figure(title, "no throughput logged")
    epochs = metrics["epoch"] if "epoch" in metrics.columns else pd.RangeIndex(1, len(metrics) + 1)
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(go.Bar(x=epochs, y=metrics["samples_per_s"], name="samples/s", marker_color=color(0)), secondary_y=False)
    if "epoch_time_s" in metrics.columns:
        fig.add_trace(go.Scatter(x=epochs, y=metrics["epoch_time_s"], name="epoch time (s)", mode="lines+markers",
                                 line={"color": color(1)}), secondary_y=True)
    fig.update_yaxes(title_text="samples / s", secondary_y=False)
    fig.update_yaxes(title_text="seconds", secondary_y=True)
    return epoch_axis(base_layout(fig, title, "epoch"), epochs)


def compare_runs(metrics_by_run: dict[str, pd.DataFrame], column: str = "val_loss", log_y: bool = False,
                 title: str | None = None) -> go.Figure:
    """One line per run of one metrics-log column over epochs, to compare runs.

    Args:
        metrics_by_run: run name -> its metrics log (``RunDir.metrics()``: one row per epoch,
            ``epoch`` column; nested values flattened with '.', e.g. ``val.direction``).
        column: the column to overlay (``val_loss``, ``train_loss``, ``val.<task>``,
            ``val_metrics.<task>.<metric>``, ...); runs without it are left out and named in
            the empty-state message when none has it.
    """
    title = title or f"{column} by run"
    fig = go.Figure()
    epochs: list[pd.Series] = []
    for i, (name, m) in enumerate(metrics_by_run.items()):
        if m is None or len(m) == 0 or column not in m.columns or m[column].isna().all():
            continue
        ep = m["epoch"] if "epoch" in m.columns else pd.RangeIndex(1, len(m) + 1).to_series()
        epochs.append(pd.Series(ep))
        fig.add_trace(go.Scatter(x=ep, y=pd.to_numeric(m[column], errors="coerce"), mode="lines+markers", name=str(name),
                                 line={"color": color(i)}, marker={"size": 4}))
    if not fig.data:
        return empty_figure(title, f"none of {', '.join(map(str, metrics_by_run)) or 'the runs'} logged {column!r}")
    if log_y:
        fig.update_yaxes(type="log")
    return epoch_axis(base_layout(fig, title, "epoch", column), pd.concat(epochs))
