"""What-if: shock one stock's recent inputs (last return, volatility, volume, any feature) and
see every head's prediction before and after, with MC-dropout uncertainty."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from dashboard import cache, state
from dashboard import widgets as w
from dashboard.errors import guard

root = state.runs_root()
st.title("What-if", anchor=False)
run, config = w.pick_finished_run(root, "the what-if explorer")

with guard("Loading the model", hint="The run needs its checkpoint (or, for a baseline, its data) to predict."):
    predictor = cache.predictor(run)
    panel, _ = cache.run_data(run)
    prepared = predictor.prepare(panel)

# ---- which row ------------------------------------------------------------------------------
c = st.columns([1, 1, 2])
with c[0]:
    ticker = w.ticker_picker(list(prepared.tickers), key="ticker")
n = list(prepared.tickers).index(ticker)
dates = prepared.dates[prepared.has_window()[:, n]]
if len(dates) == 0:
    st.warning(f"{ticker} has no date with a full {config.data.window}-day input window.")
    st.stop()
with c[1]:
    day = w.date_picker(dates, key="date", label="Date (default: the latest)")
c[2].caption(f"The model sees {config.data.window} trading days up to the chosen date. Shocks change this stock's "
             "inputs only; market-wide features stay as they are. Nothing is written to the run.")

# ---- shocks ---------------------------------------------------------------------------------
has_volume = "volume" in panel.columns
with st.container(border=True):
    s = st.columns(3)
    shock_ret = s[0].slider("Shock to the last return (%)", -15.0, 15.0, 0.0, 0.5, key="wi_return",
                            help="Added to the stock's close on the chosen date (log return, in percent).")
    vol_factor = s[1].slider("Volatility over the window (x)", 0.0, 3.0, 1.0, 0.1, key="wi_vol",
                             help="Scales the daily return deviations (and intraday ranges) over the input window.")
    volume_factor = s[2].slider("Volume over the window (x)", 0.0, 5.0, 1.0, 0.1, key="wi_volume",
                                disabled=not has_volume, help=None if has_volume else "This data has no volume column.")
    stock_features = [f for f in prepared.frame.names if f not in set(prepared.frame.market)]
    f = st.columns([2, 1])
    feature = f[0].selectbox("Edit one feature on the date (optional)", ["(none)", *stock_features], key="wi_feature")
    current = float(prepared.frame.values[prepared.dates.get_loc(day), n, prepared.frame.names.index(feature)]) \
        if feature != "(none)" else 0.0
    value = f[1].number_input("New raw value", value=current if np.isfinite(current) else 0.0, format="%g",
                              key=f"wi_value.{feature}", disabled=feature == "(none)")

shocks: dict[str, float] = {}
if shock_ret:
    shocks["return"] = shock_ret / 100.0
if vol_factor != 1.0:
    shocks["volatility"] = vol_factor
if has_volume and volume_factor != 1.0:
    shocks["volume"] = volume_factor
if feature != "(none)" and value != current:
    shocks[feature] = float(value)

with guard("Computing the what-if"):
    result = predictor.what_if(panel, ticker, day, shocks)

# ---- before / after ---------------------------------------------------------------------------
st.subheader(f"{ticker} on {result.date:%Y-%m-%d}: before → after", anchor=False)
st.caption(("No shock applied yet: move a slider." if not shocks else f"Shocks: {shocks}.")
           + f" Computed in {result.elapsed_ms:.0f} ms.")
order = {t.name: i for i, t in enumerate(config.tasks)}


def task_of(output: str) -> str:
    """``direction_prob_Up`` / ``return_pred`` / ``quantiles_q10`` -> the task name."""
    if "_prob_" in output:
        return output.split("_prob_")[0]
    return output.removesuffix("_pred").rsplit("_q", 1)[0] if output not in ("gate_confidence",) else "~gate"


def label(output: str) -> str:
    if "_prob_" in output:
        task, cls = output.split("_prob_")
        return f"{task}: P({cls})"
    return output.replace("_pred", "").replace("_q", " q").replace("_", " ")


table = result.table
outputs = sorted((i for i in table.index if i != "gate_code"), key=lambda o: (order.get(task_of(o), len(order)), o))
cols = st.columns(min(4, max(1, len(outputs))))
for i, name in enumerate(outputs):
    before, after = table.loc[name, "before"], table.loc[name, "after"]
    fmt = "{:.3f}" if "_prob_" in name or name == "gate_confidence" else "{:+.4f}"
    cols[i % len(cols)].metric(label(name), fmt.format(after), delta=f"{after - before:+.4f}" if shocks else None,
                               border=True, help=f"before: {fmt.format(before)}")
if "gate_code" in table.index:
    label = {-1.0: "Down", 0.0: "Neutral", 1.0: "Up"}
    st.markdown(f"**Signal-gated call:** {label.get(table.loc['gate_code', 'before'])} → "
                f"**{label.get(table.loc['gate_code', 'after'])}**")

left, right = st.columns(2)
with left:
    st.markdown("**Every output**")
    st.dataframe(table, column_config={c: st.column_config.NumberColumn(format="%.5f") for c in table.columns})
with right:
    st.markdown("**Inputs that changed (raw feature values on the date)**")
    moved = result.features[result.features["difference"].abs() > 1e-12]
    if moved.empty:
        st.caption("No input changed.")
    else:
        st.dataframe(moved.reindex(moved["difference"].abs().sort_values(ascending=False).index),
                     column_config={c: st.column_config.NumberColumn(format="%.5f") for c in moved.columns})

# ---- uncertainty ------------------------------------------------------------------------------
st.subheader("Uncertainty (MC dropout, unshocked inputs)", anchor=False)
if predictor.model is None:
    st.info(f"`{config.model.name}` is a fitted baseline without dropout: no MC-dropout uncertainty.",
            icon=":material/info:")
elif st.toggle("Sample 30 dropout masks", value=False, key="wi_mc"):
    with st.spinner("Sampling…"), guard("MC dropout"):
        unc = predictor.predict_uncertainty(panel, dates=day, n_samples=30)
    row = unc[unc["ticker"] == ticker].drop(columns=["date", "ticker"]).T.rename(columns=lambda _: "value")
    if unc.attrs.get("active_dropout", 0) == 0:
        st.warning("This model has no active dropout layers: every spread is 0.")
    st.dataframe(pd.DataFrame(row), column_config={"value": st.column_config.NumberColumn(format="%.5f")})
    st.caption("Regression heads: mean, std and a central interval over the samples; classification heads: "
               "mean probabilities, their std, predictive entropy and mutual information.")
