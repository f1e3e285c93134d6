"""Data: choose the demo, synthetic or your own panel; its summary, prices, features, labels
and the stock graph."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import cache, state
from dashboard import widgets as w
from dashboard.errors import guard, show_error
from finmt_core import plots
from finmt_core.tasks import CATALOGUE

CLASS_FAMILIES = [f for f, (kind, *_r) in CATALOGUE.items() if kind == "classification"]

root = state.runs_root()
st.title("Data", anchor=False)

# ---- source: a saved dataset, or a new upload ---------------------------------------------
left, right = st.columns([1, 1])
with left:
    key = w.dataset_picker(root, label="Dataset", help="Uploads saved below appear here and on the Train page.")
with right:
    upload = st.file_uploader("Upload a panel (CSV or Parquet)", type=["csv", "gz", "parquet"], key="upload",
                              help="Long format (date, ticker, close [, open, high, low, volume, sector, …]) "
                                   "or wide (a date column and one close column per ticker).")

panel = None
if upload is not None:
    try:
        panel = cache.uploaded_panel(upload.name, upload.getvalue())
    except Exception as exc:  # the loader's message says what, where and how to fix
        show_error(f"Reading {upload.name}", exc)
    if panel is not None:
        stem = "".join(ch if ch.isalnum() or ch in "._-" else "-" for ch in upload.name.split(".")[0])[:60] or "upload"
        st.success(f"**{upload.name}** is valid: shown below.", icon=":material/check_circle:")
        if st.button("Save for training", icon=":material/save:", key="save_upload",
                     help="Stores the validated panel with the runs; pick it on the Train page."):
            out = panel.copy()
            out.attrs = {"source": upload.name}
            out.to_parquet(w.uploads_dir(root) / f"{stem}.parquet")
            st.toast(f"Saved as dataset “Upload: {stem}”.", icon=":material/save:")
        source_key = f"upload:{stem}"
if panel is None:
    source_key = key
    with guard("Loading the dataset"):
        panel = cache.panel(w.data_source(root, key))

# ---- summary ------------------------------------------------------------------------------
info = cache.summary(f"{source_key}:{len(panel)}", panel)
c = st.columns(5)
c[0].metric("Tickers", info["n_tickers"], border=True)
c[1].metric("Trading days", info["n_dates"], border=True)
c[2].metric("From", info["first_date"] or "–", border=True)
c[3].metric("To", info["last_date"] or "–", border=True)
c[4].metric("Missing", f"{info['missing_pct']:.1f}%", border=True, help="share of the date x ticker grid without a close")
st.caption(f"Columns: {', '.join(info['columns'])}" + (f" · sectors: {', '.join(info['sectors'])}" if info["sectors"] else ""))
for note in info["notes"]:
    st.info(note, icon=":material/info:")

# lazy tabs: only the open one runs (features, labels and the graph take a moment to build)
prices_tab, features_tab, labels_tab, graph_tab, table_tab = st.tabs(
    ["Prices", "Features", "Labels", "Stock graph", "Per ticker"], key="data_tab", on_change="rerun"
)

PERIODS = {"6M": 126, "1Y": 252, "3Y": 756, "All": None}
if prices_tab.open:
    with prices_tab:
        p1, p2 = st.columns([3, 1], vertical_alignment="bottom")
        with p1:
            ticker = w.ticker_picker(info["tickers"], key="ticker")
        period = p2.segmented_control("Period", list(PERIODS), default="1Y", key="price_period") or "All"
        dates = panel.index.get_level_values("date").unique().sort_values()
        shown = panel if PERIODS[period] is None else panel.loc[dates[-PERIODS[period]:][0]:]
        st.plotly_chart(plots.price_candlestick(shown, ticker), key="prices")

if features_tab.open:
    with features_tab:
        with guard("Computing features"):
            frame = cache.features(f"{source_key}:{len(panel)}", panel)
        groups = {g: names for g, names in frame.groups.items() if names}
        g1, g2, g3 = st.columns([1, 1, 2])
        group = g1.selectbox("Group", list(groups), key="feature_group")
        f_ticker = g2.selectbox("Ticker", frame.tickers, key="feature_ticker")
        chosen = g3.multiselect("Features", groups[group], default=groups[group][:3], key=f"features.{group}")
        n = frame.tickers.index(f_ticker)
        one = pd.DataFrame(frame.values[:, n, :], index=frame.dates, columns=frame.names)
        st.plotly_chart(plots.feature_explorer(one, chosen, title=f"{group} features · {f_ticker}"), key="features")
        if frame.skipped:
            with st.expander(f"{len(frame.skipped)} feature(s) unavailable for this data"):
                st.dataframe(pd.Series(frame.skipped, name="reason").rename_axis("feature"))

if labels_tab.open:
    with labels_tab:
        l1, l2 = st.columns([3, 1])
        families = l1.multiselect("Tasks", CLASS_FAMILIES, default=["direction", "signal"], key="label_tasks")
        horizon = l2.number_input("Horizon (days)", min_value=1, max_value=60, value=1, key="label_h")
        if not families:
            st.caption("Pick at least one task.")
        else:
            with guard("Building labels"):
                view = cache.data_view(f"{source_key}:{len(panel)}", tuple(families), int(horizon), panel)
            st.plotly_chart(plots.label_distribution(view["counts"], title=f"Label distribution · horizon {horizon}d"),
                            key="labels")
            spans = " · ".join(f"{s}: {a:%Y-%m-%d} → {b:%Y-%m-%d}" for s, (a, b) in view["split_dates"].items())
            st.caption(f"Date split (purged by the horizon): {spans}")

if graph_tab.open:
    with graph_tab:
        with guard("Building the stock graph"):
            view = cache.data_view(f"{source_key}:{len(panel)}", ("direction",), 1, panel)
        st.plotly_chart(plots.stock_graph(view["edge_index"], view["edge_weight"], view["tickers"], view["sectors"]),
                        key="graph")
        st.caption(f"{view['graph_kind']} graph, {view['edge_index'].shape[1] // 2} edges, fitted on the train dates only.")

if table_tab.open:
    with table_tab:
        st.dataframe(pd.DataFrame(info["per_ticker"]).T.rename_axis("ticker"))
