"""What-if: shock one stock's recent inputs (last return, volatility, volume, any feature) and
see every head's prediction before and after, with MC-dropout uncertainty."""

from __future__ import annotations

import streamlit as st

from dashboard import cache, charts, fmt, glossary, links, state
from dashboard import widgets as w
from dashboard.errors import guard
from finmt_core import plots
from finmt_core.inference.output_columns import (
    GATE_CODE,
    gate_call,
    output_labels,
    parse_output,
    shown_outputs,
)
from finmt_core.inference.whatif import MC_COLUMNS
from finmt_core.inference.whatif_inputs import (
    build_shocks,
    changed_inputs,
    dates_with_window,
    raw_value,
    start_value,
    stock_features,
)

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
dates = dates_with_window(prepared, ticker)
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
    shock_ret = links.url_slider(s[0], "Shock to the last return (%)", -15.0, 15.0, 0.0, 0.5, key="wi_return",
                                 help="Added to the stock's close on the chosen date (log return, in percent).")
    vol_factor = links.url_slider(s[1], "Volatility over the window (x)", 0.0, 3.0, 1.0, 0.1, key="wi_vol",
                                  help="Scales the daily return deviations (and intraday ranges) over the input window.")
    volume_factor = links.url_slider(s[2], "Volume over the window (x)", 0.0, 5.0, 1.0, 0.1, key="wi_volume",
                                     disabled=not has_volume,
                                     help=None if has_volume else "This data has no volume column.")
    editable = stock_features(prepared.frame)
    f = st.columns([2, 1])
    feature = links.url_choice(f[0], "Edit one feature on the date (optional)", ["(none)", *editable],
                               key="wi_feature", help=glossary.help_text(editable))
    current = raw_value(prepared.frame, day, ticker, feature) if feature != "(none)" else 0.0
    start = start_value(current)
    wanted = links.read("wi_value", float)
    value = f[1].number_input("New raw value", value=start if wanted is None else wanted, format="%g",
                              key=f"wi_value.{feature}", disabled=feature == "(none)",
                              help=glossary.describe(feature) if feature != "(none)" else None)
    links.write("wi_value", None if feature == "(none)" else value, start, repr)

shocks = build_shocks(shock_ret, vol_factor, volume_factor if has_volume else None,
                      None if feature == "(none)" else feature, value, current)

mc = st.columns([1, 2], vertical_alignment="bottom")
if predictor.model is None:
    use_mc, n_mc = False, 0
    mc[0].caption(f"`{config.model.name}` is a fitted baseline without dropout: no MC-dropout uncertainty.")
else:
    use_mc = links.url_toggle(mc[0], "Uncertainty (MC dropout)", key="wi_mc", default=False,
                              help="Sample dropout masks before and after the shock: mean and a 10–90 % interval per output.")
    n_mc = links.url_slider(mc[1], "MC samples", 5, 100, 30, 5, key="wi_mc_samples", disabled=not use_mc,
                            help="Forward passes with dropout on, per side; more = smoother intervals, slower.")

with guard("Computing the what-if"), st.spinner("Sampling dropout masks…" if use_mc else "Predicting…"):
    result = predictor.what_if(panel, ticker, day, shocks, mc_samples=n_mc if use_mc else 0)

# ---- before / after ---------------------------------------------------------------------------
st.subheader(f"{w.plain_text(ticker)} on {result.date:%Y-%m-%d}: before → after", anchor=False)
st.caption(("No shock applied yet: move a slider." if not shocks else f"Shocks: {fmt.shocks_text(shocks)}.")
           + f" Computed in {result.elapsed_ms:.0f} ms.")
task_names = [t.name for t in config.tasks]
table = result.table
labels = output_labels(table.index, task_names)
outputs = shown_outputs(table.index, task_names)
cols = st.columns(min(4, max(1, len(outputs))))
for i, name in enumerate(outputs):
    before, after = table.loc[name, "before"], table.loc[name, "after"]
    spec = parse_output(name, task_names).number_format
    cols[i % len(cols)].metric(labels[name], spec.format(after), delta=f"{after - before:+.4f}" if shocks else None,
                               border=True, help=f"before: {spec.format(before)}")
if GATE_CODE in table.index:
    st.markdown(f"**Signal-gated call:** {gate_call(table.loc[GATE_CODE, 'before'])} → "
                f"**{gate_call(table.loc[GATE_CODE, 'after'])}**")

for note in result.notes:
    st.warning(note, icon=":material/warning:")
# people read outputs by name: the internal gate code is shown as the call above, not as a number
outputs_only = table.drop(index=GATE_CODE, errors="ignore")
readable = outputs_only.rename(index=labels)
charts.show(plots.whatif_before_after(outputs_only, labels=labels), key="wi_bars", file_name=f"{run.name}-{ticker}-what-if")

left, right = st.columns(2)
with left:
    st.markdown("**Every output**")
    st.dataframe(readable[["before", "after", "difference"]].rename_axis("output"),
                 column_config={c: st.column_config.NumberColumn(format="%.5f") for c in ("before", "after", "difference")})
    charts.csv_download(readable[["before", "after", "difference"]].rename_axis("output"), f"{run.name}-{ticker}-what-if",
                        key="wi_csv", label="Outputs (CSV)", index=True)
with right:
    st.markdown("**Inputs that changed (raw feature values on the date)**")
    moved = changed_inputs(result.features)
    if moved.empty:
        st.caption("No input changed.")
    else:
        st.dataframe(moved,
                     column_config={c: st.column_config.NumberColumn(format="%.5f") for c in moved.columns}
                     | {"_index": st.column_config.Column("feature", help=glossary.help_text(moved.index))})

# ---- uncertainty ------------------------------------------------------------------------------
if result.mc_samples:
    st.subheader(f"Uncertainty (MC dropout, {result.mc_samples} samples per side)", anchor=False)
    unc = outputs_only[list(MC_COLUMNS)]
    # outputs without dropout samples (e.g. the gate confidence) have no interval: left out, not "nan"
    no_interval = [labels[o] for o in unc.index[unc.isna().all(axis=1)]]
    unc = unc.dropna(how="all").rename(index=labels).rename_axis("output")
    st.dataframe(unc.map(lambda v: fmt.num(v, ".5f")))
    if no_interval:
        st.caption(f"No dropout interval for {', '.join(no_interval)} (not a sampled network output).")
    st.caption("Mean and 10 % / 90 % quantiles of each output over the dropout samples, before and after the shock "
               "(the same masks on both sides, so the change is the shock's). `<task>_entropy`: predictive entropy "
               "of the mean class probabilities (nats; higher = less sure).")
