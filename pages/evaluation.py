"""Evaluation: every metric beside the baselines on the same test rows, with significance;
confusion matrices, ROC, calibration, regression scatter, IC over time, breakdowns; warnings
first."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from dashboard import cache, charts, fmt, glossary, links, state
from dashboard import widgets as w
from dashboard.errors import guard, show_error
from dashboard.walk_forward_view import walk_forward_section
from finmt_core import plots
from finmt_core.evaluation.breakdowns import ic_series
from finmt_core.evaluation.evaluate import metric_table
from finmt_core.evaluation.frames import point_prediction
from finmt_core.evaluation.metrics import reliability_bins
from finmt_core.evaluation.tables import (
    breakdown_frame,
    horizon_frame,
    metric_wide,
    significance_frame,
    square_correlation,
    task_rows_frame,
)

root = state.runs_root()
st.title("Evaluation", anchor=False)
with guard("Opening the run"):  # a damaged config.yaml: one message, the picker stays
    run, config = w.pick_finished_run(root, "the evaluation")

walk_forward_section(run)  # a walk-forward run: every fold and their mean ± std (nothing otherwise)
try:
    evaluation = cache.evaluation_file(run)
except Exception as exc:  # a damaged evaluation.json: say so, and offer to rebuild it below
    show_error("Reading evaluation.json", exc, hint="Evaluate the run again to rebuild the file.")
    evaluation = None
if evaluation is None:
    w.empty_state("Not evaluated yet", "Evaluation scores the test predictions and fits the baselines "
                  "(majority class, momentum, zero return, LightGBM) on exactly the same rows."
                  + (" This dashboard is read-only: evaluate the run with `finmt evaluate RUN`." if state.viewer_mode()
                     else " It fits the baselines and scores every row, so it can take a minute or more on a busy "
                          "machine; the page waits for it."))
    if not state.viewer_mode() and st.button("Evaluate now", type="primary", icon=":material/play_arrow:", key="evaluate"):
        with st.spinner("Evaluating…"), guard("Evaluating the run"):
            cache.evaluate(run)
        st.rerun()
    st.stop()

# ---- warnings first -----------------------------------------------------------------------
warnings = evaluation.get("warnings", [])
if warnings:
    st.warning(f"**{len(warnings)} warning(s) — read these before trusting any number below.**\n\n"
               + "\n".join(f"- {x}" for x in warnings), icon=":material/warning:")
splits = evaluation.get("splits", {})
st.caption("Test segment " + " → ".join(splits.get("test", [])) + f" · {evaluation['run'].get('n_test_rows', '?')} rows · "
           + " · ".join(f"{s} {a} → {b}" for s, (a, b) in splits.items() if s != "test" and (a, b)))

if evaluation.get("ensemble"):  # an ensemble run: its weights (its members are among the baselines below)
    from finmt_core.ensemble.build import weights_frame

    with st.expander("Ensemble weights (learned on the validation segment)", icon=":material/join:"):
        st.dataframe(weights_frame(evaluation["ensemble"]), hide_index=True, key="ensemble_weights")
        st.caption("Members appear below as `member:<run>` and their equal-weight mix as `equal_weights`.")

# ---- model vs baselines ------------------------------------------------------------------
st.subheader("Model vs baselines (same test rows)", anchor=False)
table = metric_table(evaluation)
if table.empty:
    st.info("No task could be scored on the test segment (no known targets).")
    st.stop()
metrics_present = list(dict.fromkeys(table["metric"]))
metric = links.url_choice(st, "Metric", metrics_present, key="eval_metric", widget="segmented_control",
                          help=glossary.help_text(metrics_present))
charts.show(plots.metric_vs_baseline(table, metric), key="vs_baseline", file_name=f"{run.name}-{metric}-vs-baselines")
wide = metric_wide(table)
# a metric a baseline cannot have (the IC of a constant prediction) shows as a dash, explained below
st.dataframe(wide.map(lambda v: fmt.num(v, ".4f")), column_config=glossary.column_help(wide.columns))
if wide.isna().to_numpy().any():
    st.caption(f"{fmt.DASH}: not defined for that predictor on these rows (e.g. the IC of a constant prediction, "
               "or a metric of another task kind).")
charts.csv_download(table, f"{run.name}-metrics-vs-baselines", key="eval_csv_metrics", label="Metrics (CSV)")


with st.expander("Significance: is the edge over each baseline real? (date-clustered intervals)", expanded=True):
    sig = significance_frame(evaluation)
    if sig.empty:
        st.caption("No significance computed for this run.")
    else:
        st.dataframe(fmt.significance_table(sig), hide_index=True,
                     column_config={"significant": st.column_config.CheckboxColumn("CI excludes 0")})

gated = evaluation.get("signal_gated")
if gated:
    c = st.columns(3)
    n_calls = gated.get("n_calls")
    c[0].metric("Signal-gated accuracy", fmt.pct(gated.get("accuracy"), reason="no calls"), border=True,
                help=None if fmt.missing(n_calls) else f"of {int(n_calls):,} calls")
    c[1].metric("Coverage", fmt.pct(gated.get("coverage")), border=True,
                delta=None if fmt.missing(n_calls) else f"{int(n_calls):,} calls", delta_color="off", delta_arrow="off")
    c[2].metric("Gate threshold", f"{gated['threshold']:.2f}", border=True)

# ---- per task ------------------------------------------------------------------------------
st.subheader("Per task", anchor=False)
with guard("Reading the predictions"):  # the charts below need predictions.parquet itself
    cache.predictions(run)
scored = [t for t in config.tasks if t.name in evaluation.get("tasks", {})]
normalise = links.url_toggle(st, "Normalise confusion matrices (rows = true class)", key="eval_norm", default=True)
for tab, task in zip(st.tabs([t.name for t in scored]), scored):
    with tab:
        rows = cache.task_rows(run, task.name)
        if task.kind == "classification":
            conf = evaluation.get("confusion", {}).get(task.name)
            a, b, c = st.columns(3)
            if conf:
                charts.show(plots.confusion_matrix(np.asarray(conf["matrix"]), conf["classes"], normalize=normalise),
                            key=f"cm.{task.name}", container=a)
            charts.show(plots.roc_curves(rows.y, rows.pred, task.classes), key=f"roc.{task.name}", container=b)
            charts.show(plots.calibration(reliability_bins(rows.y, rows.pred)), key=f"cal.{task.name}", container=c)
        else:
            a, b = st.columns(2)
            point = point_prediction(task, rows.pred)
            charts.show(plots.regression_scatter(rows.y, point), key=f"scatter.{task.name}", container=a)
            charts.show(plots.ic_over_time(ic_series(task, rows)), key=f"ic.{task.name}", container=b)
        charts.csv_download(task_rows_frame(task, rows), f"{run.name}-{task.name}-test-predictions", key=f"eval_csv.{task.name}",
                            label=f"{task.name}: test predictions (CSV)",
                            help="Every scored test row: date, ticker, target and the prediction the charts are drawn from.")
        regime = breakdown_frame(evaluation, "regime", task.name)
        ticker = breakdown_frame(evaluation, "ticker", task.name)
        left, right = st.columns(2)
        with left:
            st.markdown("**By market regime**")
            if not regime.empty:
                st.dataframe(fmt.table_text(regime))
            else:
                st.caption("Too few rows per regime.")
        with right:
            st.markdown("**By ticker**")
            if not ticker.empty:
                st.dataframe(fmt.table_text(ticker))

horizons = evaluation.get("breakdowns", {}).get("horizon", {})
if horizons:
    st.subheader("Multi-horizon consistency", anchor=False)
    for family, entry in horizons.items():
        left, right = st.columns([1, 2])
        left.markdown(f"**{family}**: {entry.get('metric')} by horizon (days)")
        left.dataframe(horizon_frame(entry))
        corr_h = pd.DataFrame(entry.get("prediction_correlation", {}))
        if not corr_h.empty:
            right.plotly_chart(plots.attention_heatmap(corr_h.to_numpy(), list(corr_h.columns), list(corr_h.index),
                                                       title=f"{family}: rank correlation of predictions across horizons"),
                               key=f"horizon.{family}")

corr = evaluation.get("breakdowns", {}).get("cross_task_correlation", {})
if corr:
    st.subheader("Cross-task correlation of predictions", anchor=False)
    square = square_correlation(corr)
    names = list(square.columns)
    st.plotly_chart(plots.attention_heatmap(square.to_numpy(), names, names,
                                            title="Spearman correlation between task predictions"), key="xcorr")
