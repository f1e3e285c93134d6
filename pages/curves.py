"""Training curves: per-task losses updating live while a run trains, task weights, learning
rate, throughput and validation metrics; overlay several runs to compare them."""

from __future__ import annotations

import streamlit as st

from dashboard import cache, charts, fmt, jobs, links, state
from dashboard import widgets as w
from dashboard.errors import guard
from finmt_core import plots
from finmt_core.training.metrics_log import loss_column, overlay, run_summary, val_metric_names
from finmt_core.training.runs import list_runs
from finmt_core.training.walk_forward import fold_runs, is_walk_forward

LIVE_EVERY_S = 2

root = state.runs_root()
st.title("Training curves", anchor=False)
runs = list_runs(root)
if not runs:
    w.no_runs("the training curves")
run = w.run_picker(runs)
assert run is not None
if is_walk_forward(run):  # a walk-forward run: one fold's curves at a time
    folds = fold_runs(run)
    if folds:
        k = st.sidebar.selectbox("Fold", list(range(len(folds))), index=len(folds) - 1, key="curves_fold",
                                 format_func=lambda i: f"fold {i} of {run.config().split.folds}")
        st.info(f"**{w.plain_text(run.name)}** is a walk-forward run: these are the curves of fold {k} "
                "(pick another fold in the sidebar).", icon=":material/view_timeline:")
        run = folds[k]
with guard("Reading the run"):
    config = cache.config(run)
view = jobs.job_view(run)
w.run_caption(run, view.state, f"`{config.model.name}` · tasks {', '.join(t.name for t in config.tasks)}")
log_y = links.url_toggle(st.sidebar, "Log-scale losses", key="curves_log", default=False)


def live_curves() -> None:
    """Re-reads metrics.jsonl every few seconds while the run trains (no full-page rerun)."""
    now = jobs.job_view(run)
    metrics = cache.metrics(run)
    if now.active:
        st.progress(now.progress, text=f"epoch {now.epoch or 0}/{now.epochs or '?'} · "
                                       f"ETA {w.fmt_seconds(now.eta_s)} · device {now.device or '–'}")
    summary = run_summary(metrics)
    cols = st.columns(4)
    cols[0].metric("Epochs logged", len(metrics), border=True)
    if summary["best_val_score"] is not None:
        cols[1].metric("Best val score", f"{summary['best_val_score']:+.4f}", border=True,
                       help="Mean per-task validation skill over chance (balanced accuracy − 1/classes; IC). "
                            "The checkpoint kept as best is the epoch with the highest score (train.monitor).")
    else:
        cols[1].metric("Best val loss", fmt.num(summary["best_val_loss"], ".4f", dash="–"), border=True)
    cols[2].metric("Samples / s", fmt.num(summary["samples_per_s"], ",.0f", dash="–"), border=True)
    cols[3].metric("Device", now.device or "–", border=True)
    if metrics.empty:
        if now.active:
            st.info("The run is preparing data or training its first epoch; curves appear after epoch 1.",
                    icon=":material/hourglass_top:")
        elif now.state == "done":
            st.info("This run is a fitted baseline (no epochs): it has no training curves. "
                    "See its metrics on the Evaluation page.", icon=":material/info:")
        else:
            st.warning(f"No epochs were logged ({now.state}). {now.error or ''}", icon=":material/warning:")
        return
    charts.csv_download(metrics, f"{run.name}-metrics", key="curves_csv", label="Every logged metric (CSV)",
                        help="metrics.jsonl as a table: one row per epoch, every loss, weight, rate and validation metric.")
    loss_tab, weight_tab, lr_tab, speed_tab, val_tab = st.tabs(
        ["Losses", "Task weights", "Learning rate", "Throughput", "Validation metrics"]
    )
    with loss_tab:
        charts.show(plots.loss_curves(metrics, log_y=log_y), key="loss", file_name=f"{run.name}-losses")
    with weight_tab:
        charts.show(plots.task_weights(metrics), key="weights", file_name=f"{run.name}-task-weights")
    with lr_tab:
        charts.show(plots.learning_rate(metrics), key="lr", file_name=f"{run.name}-learning-rate")
    with speed_tab:
        charts.show(plots.throughput(metrics), key="speed", file_name=f"{run.name}-throughput")
    with val_tab:
        names = val_metric_names(metrics)
        if names:
            metric = links.url_choice(st, "Metric", names, key="curves_val_metric")
            charts.show(plots.val_metric(metrics, metric), key="valm", file_name=f"{run.name}-val-{metric}")
        else:
            st.caption("No validation metrics logged for this run.")
    if view.active and not now.active:
        st.rerun()  # the run just finished: refresh the whole page (status badge, compare list)


st.fragment(live_curves, run_every=LIVE_EVERY_S if view.active else None)()

# ---- compare runs -----------------------------------------------------------------------------
st.subheader("Compare runs", anchor=False)
others = [r.name for r in runs if r.name != run.name]
picked = links.url_multiselect(st, "Overlay these runs", others, key="compare", placeholder="choose runs to overlay")
if picked:
    with guard("Reading the runs to compare"):
        # the shown run (or fold) and the picked ones, in the order picked
        overlaid = [run, *(next(r for r in runs if r.name == n) for n in picked)]
        tasks = sorted({t.name for r in overlaid for t in cache.config(r).tasks})
    k = st.columns([3, 1])
    series = links.url_choice(k[0], "Loss", ["total", *tasks], key="compare_series", widget="segmented_control")
    side = links.url_choice(k[1], "Segment", ["val", "train"], key="compare_side", widget="segmented_control")
    column = loss_column(side, series)
    metrics_by_run = {r.name: cache.metrics(r) for r in overlaid}
    charts.show(plots.compare_runs(metrics_by_run, column, log_y=log_y,
                                   title=f"{side or 'val'} {series or 'total'} loss by run"), key="compare_fig")
    curves = overlay(metrics_by_run, column)  # one column per run, one row per epoch
    if not curves.empty:
        charts.csv_download(curves.reset_index(), f"{run.name}-compare-{side}-{series}",
                            key="compare_csv", label="Overlaid curves (CSV)")
else:
    st.caption("Pick one or more runs to overlay their loss curves on this run's.")
