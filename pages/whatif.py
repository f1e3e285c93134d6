"""What-if: shock one stock's recent inputs (last return, volatility, volume, any feature) and
see every head's prediction before and after, with MC-dropout uncertainty."""

from __future__ import annotations

import numpy as np
import streamlit as st

from dashboard import cache, state
from dashboard import widgets as w
from dashboard.errors import guard
from finmt_core import plots
from finmt_core.inference.whatif import MC_COLUMNS

root = state.runs_root()
st.title("What-if", anchor=False)
with guard("Opening the run"):  # a damaged config.yaml: one message, the picker stays
    run, config = w.pick_finished_run(root, "the what-if explorer")

if config.model.name == "ensemble":
    st.info("What-if is not supported for an ensemble run (its members each scale their own inputs); open one of "
            f"its member runs here: {', '.join(map(w.plain_text, config.model.params.get('members', [])))}.",
            icon=":material/info:")
    st.stop()
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
    st.warning(f"{w.plain_text(ticker)} has no date with a full {config.data.window}-day input window.")
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

mc = st.columns([1, 2], vertical_alignment="bottom")
if predictor.model is None:
    use_mc, n_mc = False, 0
    mc[0].caption(f"`{config.model.name}` is a fitted baseline without dropout: no MC-dropout uncertainty.")
else:
    use_mc = mc[0].toggle("Uncertainty (MC dropout)", value=False, key="wi_mc",
                          help="Sample dropout masks before and after the shock: mean and a 10–90 % interval per output.")
    n_mc = mc[1].slider("MC samples", 5, 100, 30, 5, key="wi_mc_samples", disabled=not use_mc,
                        help="Forward passes with dropout on, per side; more = smoother intervals, slower.")

with guard("Computing the what-if"), st.spinner("Sampling dropout masks…" if use_mc else "Predicting…"):
    result = predictor.what_if(panel, ticker, day, shocks, mc_samples=n_mc if use_mc else 0)

# ---- before / after ---------------------------------------------------------------------------
st.subheader(f"{w.plain_text(ticker)} on {result.date:%Y-%m-%d}: before → after", anchor=False)
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
outputs = sorted((i for i in table.index if i != "gate_code" and not i.endswith("_entropy")), key=lambda o: (order.get(task_of(o), len(order)), o))
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

for note in result.notes:
    st.warning(note, icon=":material/warning:")
st.plotly_chart(plots.whatif_before_after(table), key="wi_bars")

left, right = st.columns(2)
with left:
    st.markdown("**Every output**")
    st.dataframe(table[["before", "after", "difference"]],
                 column_config={c: st.column_config.NumberColumn(format="%.5f") for c in ("before", "after", "difference")})
with right:
    st.markdown("**Inputs that changed (raw feature values on the date)**")
    moved = result.features[result.features["difference"].abs() > 1e-12]
    if moved.empty:
        st.caption("No input changed.")
    else:
        st.dataframe(moved.reindex(moved["difference"].abs().sort_values(ascending=False).index),
                     column_config={c: st.column_config.NumberColumn(format="%.5f") for c in moved.columns})

# ---- uncertainty ------------------------------------------------------------------------------
if result.mc_samples:
    st.subheader(f"Uncertainty (MC dropout, {result.mc_samples} samples per side)", anchor=False)
    unc = table.loc[[o for o in table.index if o != "gate_code"], list(MC_COLUMNS)]
    st.dataframe(unc, column_config={c: st.column_config.NumberColumn(format="%.5f") for c in unc.columns})
    st.caption("Mean and 10 % / 90 % quantiles of each output over the dropout samples, before and after the shock "
               "(the same masks on both sides, so the change is the shock's). `<task>_entropy`: predictive entropy "
               "of the mean class probabilities (nats; higher = less sure).")
