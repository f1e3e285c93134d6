"""Evaluation: every metric beside the baselines on the same test rows, with significance;
confusion matrices, ROC, calibration, regression scatter, IC over time, breakdowns; warnings
first."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from dashboard import cache, state
from dashboard import widgets as w
from dashboard.errors import guard, show_error
from finmt_core import plots
from finmt_core.evaluation.breakdowns import ic_series
from finmt_core.evaluation.evaluate import metric_table
from finmt_core.evaluation.frames import point_prediction
from finmt_core.evaluation.metrics import reliability_bins

root = state.runs_root()
st.title("Evaluation", anchor=False)
with guard("Opening the run"):  # a damaged config.yaml: one message, the picker stays
    run, config = w.pick_finished_run(root, "the evaluation")

try:
    evaluation = cache.evaluation_file(run)
except Exception as exc:  # a damaged evaluation.json: say so, and offer to rebuild it below
    show_error("Reading evaluation.json", exc, hint="Evaluate the run again to rebuild the file.")
    evaluation = None
if evaluation is None:
    w.empty_state("Not evaluated yet", "Evaluation scores the test predictions and fits the baselines "
                  "(majority class, momentum, zero return, LightGBM) on exactly the same rows."
                  + (" This dashboard is read-only: evaluate the run with `finmt evaluate RUN`." if state.viewer_mode()
                     else " It takes from a few seconds to a minute."))
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
metric = st.segmented_control("Metric", metrics_present, default=metrics_present[0], key="eval_metric") or metrics_present[0]
st.plotly_chart(plots.metric_vs_baseline(table, metric), key="vs_baseline")
wide = table.pivot_table(index=["task", "metric"], columns="name", values="value", sort=False)
wide = wide[["model", *[c for c in wide.columns if c != "model"]]]
st.dataframe(wide, column_config={c: st.column_config.NumberColumn(format="%.4f") for c in wide.columns})


def significance_rows() -> pd.DataFrame:
    rows = []
    for task, sig in evaluation.get("significance", {}).items():
        model = sig.get("model", {})
        for base, edge in sig.get("vs", {}).items():
            rows.append({
                "task": task, "metric": sig.get("metric"), "model": model.get("value"),
                "model 95% CI": f"{model.get('ci_low', np.nan):.4f} – {model.get('ci_high', np.nan):.4f}",
                "vs": base, "edge": edge.get("value"),
                "edge 95% CI": f"{edge.get('ci_low', np.nan):.4f} – {edge.get('ci_high', np.nan):.4f}",
                "significant": bool(edge.get("significant", 0.0)),
            })
    return pd.DataFrame(rows)


with st.expander("Significance: is the edge over each baseline real? (date-clustered intervals)", expanded=True):
    sig = significance_rows()
    if sig.empty:
        st.caption("No significance computed for this run.")
    else:
        st.dataframe(sig, hide_index=True, column_config={
            "model": st.column_config.NumberColumn(format="%.4f"), "edge": st.column_config.NumberColumn(format="%+.4f"),
            "significant": st.column_config.CheckboxColumn("CI excludes 0")})

gated = evaluation.get("signal_gated")
if gated:
    c = st.columns(3)
    c[0].metric("Signal-gated accuracy", f"{gated['accuracy']:.3f}" if gated.get("accuracy") is not None else "–", border=True)
    c[1].metric("Coverage", f"{gated['coverage']:.1%}" if gated.get("coverage") is not None else "–", border=True)
    c[2].metric("Gate threshold", f"{gated['threshold']:.2f}", border=True)

# ---- per task ------------------------------------------------------------------------------
st.subheader("Per task", anchor=False)
with guard("Reading the predictions"):  # the charts below need predictions.parquet itself
    cache.predictions(run)
scored = [t for t in config.tasks if t.name in evaluation.get("tasks", {})]
normalise = st.toggle("Normalise confusion matrices (rows = true class)", value=True, key="eval_norm")
for tab, task in zip(st.tabs([t.name for t in scored]), scored):
    with tab:
        rows = cache.task_rows(run, task.name)
        if task.kind == "classification":
            conf = evaluation.get("confusion", {}).get(task.name)
            a, b, c = st.columns(3)
            if conf:
                a.plotly_chart(plots.confusion_matrix(np.asarray(conf["matrix"]), conf["classes"], normalize=normalise),
                               key=f"cm.{task.name}")
            b.plotly_chart(plots.roc_curves(rows.y, rows.pred, task.classes), key=f"roc.{task.name}")
            c.plotly_chart(plots.calibration(reliability_bins(rows.y, rows.pred)), key=f"cal.{task.name}")
        else:
            a, b = st.columns(2)
            point = point_prediction(task, rows.pred)
            a.plotly_chart(plots.regression_scatter(rows.y, point), key=f"scatter.{task.name}")
            b.plotly_chart(plots.ic_over_time(ic_series(task, rows)), key=f"ic.{task.name}")
        regime = evaluation.get("breakdowns", {}).get("regime", {}).get(task.name, {})
        ticker = evaluation.get("breakdowns", {}).get("ticker", {}).get(task.name, {})
        left, right = st.columns(2)
        with left:
            st.markdown("**By market regime**")
            if regime:
                st.dataframe(pd.DataFrame(regime).T.rename_axis("regime"))
            else:
                st.caption("Too few rows per regime.")
        with right:
            st.markdown("**By ticker**")
            if ticker:
                st.dataframe(pd.DataFrame(ticker).T.rename_axis("ticker"))

horizons = evaluation.get("breakdowns", {}).get("horizon", {})
if horizons:
    st.subheader("Multi-horizon consistency", anchor=False)
    for family, entry in horizons.items():
        left, right = st.columns([1, 2])
        left.markdown(f"**{family}**: {entry.get('metric')} by horizon (days)")
        left.dataframe(pd.Series(entry.get("by_horizon", {}), name=entry.get("metric")).rename_axis("horizon"))
        corr_h = pd.DataFrame(entry.get("prediction_correlation", {}))
        if not corr_h.empty:
            right.plotly_chart(plots.attention_heatmap(corr_h.to_numpy(), list(corr_h.columns), list(corr_h.index),
                                                       title=f"{family}: rank correlation of predictions across horizons"),
                               key=f"horizon.{family}")

corr = evaluation.get("breakdowns", {}).get("cross_task_correlation", {})
if corr:
    st.subheader("Cross-task correlation of predictions", anchor=False)
    names = list(corr)
    st.plotly_chart(plots.attention_heatmap(pd.DataFrame(corr).loc[names, names].to_numpy(), names, names,
                                            title="Spearman correlation between task predictions"), key="xcorr")
