"""Signal-gated predictions: for one date every ticker's Down / Neutral / Up call with its
confidence, a live threshold, the coverage-accuracy trade-off and one ticker's history."""

from __future__ import annotations

import contextlib

import pandas as pd
import streamlit as st

from dashboard import cache, charts, fmt, links, state
from dashboard import widgets as w
from dashboard.errors import guard
from finmt_core import plots
from finmt_core.evaluation.signal_hits import CURVE_THRESHOLDS, calls_up_to, gated_calls, hit_summary

root = state.runs_root()
st.title("Signal-gated predictions", anchor=False)
with guard("Opening the run"):  # a damaged config.yaml: one message, the picker stays
    run, config = w.pick_finished_run(root, "signal gating")

policy = cache.gating(run)
if not policy.can_gate:
    w.empty_state(
        "This model has no gating heads",
        f"**{w.plain_text(run.name)}**: {policy.reason[:1].upper()}{policy.reason[1:]}. Pick another run (e.g. a `tgcn` run).",
    )
    st.stop()
with guard("Reading predictions"):
    preds = cache.predictions(run)

# ---- controls -------------------------------------------------------------------------------
c = st.columns([2, 1, 1, 1], vertical_alignment="bottom")
threshold = links.url_slider(c[0], "Gate threshold", 0.0, 1.0, 0.5, 0.01, key="sg_threshold",
                             help="Rows whose gate probability is below this become Neutral; higher = fewer, surer calls.")
split = links.url_choice(c[1], "Segment", ["test", "val"], key="sg_split", help="Scored segment (outcomes known).")
rows = preds[preds["split"] == split].reset_index(drop=True)
if rows.empty:
    st.info(f"No {split} predictions in this run.")
    st.stop()
try:
    rows = cache.with_outcome(run, rows)  # score calls on every row with a known future
except Exception as exc:  # the run's data cannot be rebuilt: score on the stored targets only
    st.caption(f":material/info: Outcomes come from the stored targets only ({exc}).")
live = links.url_toggle(c[3], "Add the latest date", key="sg_live", default=False,
                        help="Run the model on the last date of the data: its calls for the next day (no outcome yet).")
shown = rows
if live:
    with guard("Predicting the latest date"):
        shown = pd.concat([rows, cache.latest_predictions(run)], ignore_index=True)
with c[2]:
    day = w.date_picker(sorted(shown["date"].unique()), key="date", label="Date")
st.caption(f"Rule: {policy.description}.")

# per row: the call, the probability the gate tested, the realised side and whether the call was right
gated = gated_calls(shown, threshold, policy)

score = policy.accuracy(rows, threshold)
m = st.columns(4)
m[0].metric("Coverage", fmt.pct(score["coverage"]), border=True,
            help=f"share of {split} rows with a known outcome that get a call")
m[1].metric("Accuracy of calls", fmt.pct(score["accuracy"], reason="no calls"), border=True,
            help=f"of {int(score['n_calls'])} calls with a known outcome")
m[2].metric("Calls", f"{int(score['n_calls'])}", border=True)
today = gated[gated["date"] == day]
m[3].metric(f"Calls on {day:%Y-%m-%d}", f"{hit_summary(today)['n_calls']:.0f} of {len(today)}", border=True)

# ---- the chosen date ----------------------------------------------------------------------------
left, right = st.columns([1, 1])  # the table's five columns need half the width at 1280 px
with left:
    st.markdown(f"**Every ticker on {day:%Y-%m-%d}** (click a header to sort)")
    st.dataframe(
        today.drop(columns=["date", "gate_code"]).sort_values("confidence", ascending=False),
        hide_index=True,
        column_config={"confidence": st.column_config.ProgressColumn(
                           "gate probability", min_value=0.0, max_value=1.0, format="%.2f",
                           help=f"{policy.probability_text}: the probability the gate compares with the threshold "
                                f"({threshold:.2f})."),
                       "gate": "call", "hit": st.column_config.CheckboxColumn("call right?")},
    )
    charts.csv_download(gated.drop(columns=["gate_code"]), f"{run.name}-calls-{split}-threshold-{threshold:.2f}",
                        key="sg_csv_calls", label="All calls (CSV)",
                        help="Every date and ticker of the segment: call, gate probability, realised side, hit.")
with right:
    recent = calls_up_to(gated, day, n_dates=60)
    charts.show(plots.signal_gated_heatmap(recent, title=f"Calls x gate probability, last {recent['date'].nunique()} dates"),
                key="heatmap")

# ---- coverage vs accuracy -----------------------------------------------------------------
st.subheader("Coverage vs accuracy", anchor=False)
with guard("Computing the coverage-accuracy curve"):
    curve = policy.curve(rows, CURVE_THRESHOLDS)
charts.show(plots.coverage_accuracy(curve), key="curve", file_name=f"{run.name}-coverage-accuracy")
charts.csv_download(curve, f"{run.name}-coverage-accuracy-{split}", key="sg_csv_curve", label="Curve (CSV)")
st.caption(f"On the {split} segment: raising the threshold trades coverage for accuracy; the labels are the number "
           f"of calls behind each accuracy (few calls = a noisy accuracy). The slider above is at {threshold:.2f}.")

# ---- one ticker over time -------------------------------------------------------------------
st.subheader("One ticker's history", anchor=False)
ticker = w.ticker_picker(sorted(gated["ticker"].unique()), key="ticker")
hist = gated[gated["ticker"] == ticker]
gate_task = policy.task
history = preds[preds["split"].isin(["val", "test"])].reset_index(drop=True)
# the realised forward return beside the probabilities, on val and test alike; when the run's
# data cannot be rebuilt the stored targets are shown instead (as the caption above says)
with contextlib.suppress(Exception):
    history = cache.with_outcome(run, history)
if live:
    history = pd.concat([history, cache.latest_predictions(run)], ignore_index=True)
a, b = st.columns([3, 2])
with a:
    charts.show(plots.prediction_history(history, ticker, gate_task,
                                         title=f"{ticker}: {gate_task} probabilities vs the realised return"),
                key="ticker_history")
    hits = hit_summary(hist)
    st.caption(f"{hits['n_calls']:.0f} calls, {hits['n_hits']:.0f} right of {hits['n_known']:.0f} with a known outcome "
               f"({hits['hit_rate']:.0%})." if hits["n_known"] else f"{hits['n_calls']:.0f} calls, none with a known outcome yet.")
with b:
    st.dataframe(hist.drop(columns=["ticker", "gate_code"]).sort_values("date", ascending=False), hide_index=True, height=360,
                 column_config={"hit": st.column_config.CheckboxColumn("call right?"), "gate": "call",
                                "confidence": st.column_config.NumberColumn("gate probability", format="%.2f"),
                                "date": st.column_config.DateColumn(format="YYYY-MM-DD")})
