"""Signal-gated predictions: for one date every ticker's Down / Neutral / Up call with its
confidence, a live threshold, the coverage-accuracy trade-off and one ticker's history."""

from __future__ import annotations

import contextlib

import numpy as np
import pandas as pd
import streamlit as st

from dashboard import cache, charts, fmt, links, state
from dashboard import widgets as w
from dashboard.errors import guard
from finmt_core import plots
from finmt_core.errors import DataError
from finmt_core.inference.gating import (
    coverage_accuracy_curve,
    gate_probability,
    gated_accuracy,
    gating_rule,
    realised_direction,
    signal_gated,
)

RULE_TEXT = {
    "signal+direction": "a call where P(Signal) ≥ threshold; its side from the direction head",
    "action": "Up where P(Buy) ≥ threshold, Down where P(Sell) ≥ threshold, otherwise Neutral",
    "direction": "Up/Down where the larger of P(Up), P(Down) ≥ threshold",
}
OUTCOME = {1.0: "Up", -1.0: "Down"}

root = state.runs_root()
st.title("Signal-gated predictions", anchor=False)
with guard("Opening the run"):  # a damaged config.yaml: one message, the picker stays
    run, config = w.pick_finished_run(root, "signal gating")

with guard("Reading predictions"):
    preds = cache.predictions(run)
try:
    rule = gating_rule(preds)
except DataError:
    w.empty_state(
        "This model has no gating heads",
        f"Signal gating needs class probabilities of a signal + direction, an action or a direction task; "
        f"**{run.name}** predicts {', '.join(t.name for t in config.tasks)}. Pick another run (e.g. a `tgcn` run).",
    )
    st.stop()

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
st.caption(f"Rule: {RULE_TEXT[rule]}.")

GATE_TEXT = {"signal+direction": "P(Signal)", "action": "max(P(Buy), P(Sell))", "direction": "max(P(Up), P(Down))"}
gated = pd.concat([shown[["date", "ticker"]], signal_gated(shown, threshold)], axis=1)
# the table shows the probability the gate tests against the threshold (not P(Signal) x P(side)),
# so every call sits at or above the threshold and every Neutral row below it
gated["confidence"] = gate_probability(shown)
truth = realised_direction(shown)
gated["realised"] = pd.Series(truth).map(OUTCOME).fillna("unknown").to_numpy()
gated["hit"] = np.where(np.isnan(truth) | (gated["gate_code"] == 0), None, gated["gate_code"].to_numpy() == truth)
for col in [c for c in shown.columns if "_prob_" in c and c.split("_prob_")[0] in ("signal", "direction", "action")]:
    gated[col.replace("_prob_", " P(") + ")"] = shown[col].to_numpy()

score = gated_accuracy(rows, threshold)
m = st.columns(4)
m[0].metric("Coverage", fmt.pct(score["coverage"]), border=True,
            help=f"share of {split} rows with a known outcome that get a call")
m[1].metric("Accuracy of calls", fmt.pct(score["accuracy"], reason="no calls"), border=True,
            help=f"of {int(score['n_calls'])} calls with a known outcome")
m[2].metric("Calls", f"{int(score['n_calls'])}", border=True)
today = gated[gated["date"] == day]
m[3].metric(f"Calls on {day:%Y-%m-%d}", f"{int((today['gate_code'] != 0).sum())} of {len(today)}", border=True)

# ---- the chosen date ----------------------------------------------------------------------------
left, right = st.columns([1, 1])  # the table's five columns need half the width at 1280 px
with left:
    st.markdown(f"**Every ticker on {day:%Y-%m-%d}** (click a header to sort)")
    st.dataframe(
        today.drop(columns=["date", "gate_code"]).sort_values("confidence", ascending=False),
        hide_index=True,
        column_config={"confidence": st.column_config.ProgressColumn(
                           "gate probability", min_value=0.0, max_value=1.0, format="%.2f",
                           help=f"{GATE_TEXT[rule]}: the probability the gate compares with the threshold "
                                f"({threshold:.2f})."),
                       "gate": "call", "hit": st.column_config.CheckboxColumn("call right?")},
    )
    charts.csv_download(gated.drop(columns=["gate_code"]), f"{run.name}-calls-{split}-threshold-{threshold:.2f}",
                        key="sg_csv_calls", label="All calls (CSV)",
                        help="Every date and ticker of the segment: call, gate probability, realised side, hit.")
with right:
    recent = sorted(gated["date"].unique())
    upto = [d for d in recent if d <= day][-60:]
    charts.show(plots.signal_gated_heatmap(gated[gated["date"].isin(upto)],
                                           title=f"Calls x gate probability, last {len(upto)} dates"), key="heatmap")

# ---- coverage vs accuracy -----------------------------------------------------------------
st.subheader("Coverage vs accuracy", anchor=False)
with guard("Computing the coverage-accuracy curve"):
    curve = coverage_accuracy_curve(rows, np.round(np.linspace(0.0, 0.95, 20), 3))
charts.show(plots.coverage_accuracy(curve), key="curve", file_name=f"{run.name}-coverage-accuracy")
charts.csv_download(curve, f"{run.name}-coverage-accuracy-{split}", key="sg_csv_curve", label="Curve (CSV)")
st.caption(f"On the {split} segment: raising the threshold trades coverage for accuracy; the labels are the number "
           f"of calls behind each accuracy (few calls = a noisy accuracy). The slider above is at {threshold:.2f}.")

# ---- one ticker over time -------------------------------------------------------------------
st.subheader("One ticker's history", anchor=False)
ticker = w.ticker_picker(sorted(gated["ticker"].unique()), key="ticker")
hist = gated[gated["ticker"] == ticker]
gate_task = "action" if rule == "action" else "direction"
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
    called = hist[hist["gate_code"] != 0]
    hits = called["hit"].dropna()
    st.caption(f"{len(called)} calls, {int(hits.sum())} right of {len(hits)} with a known outcome "
               f"({hits.mean():.0%})." if len(hits) else f"{len(called)} calls, none with a known outcome yet.")
with b:
    st.dataframe(hist.drop(columns=["ticker", "gate_code"]).sort_values("date", ascending=False), hide_index=True, height=360,
                 column_config={"hit": st.column_config.CheckboxColumn("call right?"), "gate": "call",
                                "confidence": st.column_config.NumberColumn("gate probability", format="%.2f"),
                                "date": st.column_config.DateColumn(format="YYYY-MM-DD")})
