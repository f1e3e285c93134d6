"""Data: choose the demo, synthetic or your own panel; its summary, prices, features, labels
and the stock graph."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import cache, charts, glossary, links, state
from dashboard import widgets as w
from dashboard.errors import guard, show_error
from finmt_core import plots
from finmt_core.data.panel_quality import USABILITY_RULE, WARNING, check_usable, describe_fits
from finmt_core.data.uploads import save_upload
from finmt_core.data.views import classification_families, last_days, ticker_features
from finmt_core.errors import DataError, FinmtError

CLASS_FAMILIES = classification_families()


def show_plain_error(action: str, exc: Exception) -> None:
    """show_error with the message as plain text: it quotes cells and tickers from the user's file."""
    show_error(action, DataError(w.plain_text(exc)) if isinstance(exc, FinmtError) else exc)


root = state.runs_root()
st.title("Data", anchor=False)

# ---- source: a saved dataset, or a new upload ---------------------------------------------
viewer = state.viewer_mode()  # a read-only dashboard takes no uploads (saved datasets stay selectable)
left, right = st.columns([1, 1])
with left:
    key = w.dataset_picker(root, label="Dataset", help="Uploads saved below appear here and on the Train page.")
with right:
    upload = None if viewer else st.file_uploader("Upload a panel (CSV or Parquet)", type=["csv", "gz", "parquet"], key="upload",
                              help="Long format (date, ticker, close [, open, high, low, volume, sector, …]) "
                                   "or wide (a date column and one close column per ticker).")
    date_format = "" if viewer else st.text_input("Date format (only when asked)", key="date_format", placeholder="%d/%m/%Y",
                                help="For dates that cannot be detected, e.g. 02/01/2020: %d/%m/%Y (day first), "
                                     "%m/%d/%Y (month first), or dayfirst / monthfirst.").strip()

panel = None
if upload is not None:
    data, label = upload.getvalue(), w.plain_text(upload.name)
    limit_mb = w.upload_limit_mb()
    if len(data) > limit_mb * 1024 * 1024:
        show_plain_error(f"Reading {label}", DataError(
            f"{upload.name}: {len(data) / 1024 / 1024:.1f} MB is over the upload limit of {limit_mb:g} MB "
            "(server.maxUploadSize in .streamlit/config.toml). Train on it from the command line "
            "(finmt train --data PATH), or raise the limit and restart the dashboard."))
    else:
        try:
            panel = cache.uploaded_panel(upload.name, data, date_format)
            fits = check_usable(panel)
        except Exception as exc:  # the loader's message says what, where and how to fix
            show_plain_error(f"Reading {label}", exc)
            panel = None
    if panel is not None:
        st.success(f"**{label}** is valid: shown below. {w.plain_text(describe_fits(fits))}.",
                   icon=":material/check_circle:")
        if st.button("Save for training", icon=":material/save:", key="save_upload",
                     help="Stores the validated panel with the runs; pick it on the Train page."):
            with guard("Saving the upload", stop=False):  # a full disk: one message, and no file left behind
                stem = save_upload(root, upload.name, data, panel)
                st.toast(f"Saved as dataset “Upload: {w.plain_text(stem)}”.", icon=":material/save:")
        # keyed by the bytes' hash: another file under the same name and row count is never
        # confused with this one (the summary, features and labels below are cached by this key)
        source_key = cache.upload_key(data, date_format)
if panel is None:
    source_key = cache.dataset_key(w.data_source(root, key))
    with guard("Loading the dataset"):
        panel = cache.panel(w.data_source(root, key))

# ---- summary ------------------------------------------------------------------------------
info = cache.summary(source_key, panel)
c = st.columns([1, 1.1, 1.5, 1.5, 1])  # dates need the room: nothing cut off at 1280 px
c[0].metric("Tickers", info["n_tickers"], border=True)
c[1].metric("Trading days", info["n_dates"], border=True)
c[2].metric("From", info["first_date"] or "—", border=True)
c[3].metric("To", info["last_date"] or "—", border=True)
c[4].metric("Missing", f"{info['missing_pct']:.1f} %", border=True, help="share of the date x ticker grid without a close")
st.caption(w.plain_text(f"Columns: {', '.join(info['columns'])}" + (f" · sectors: {', '.join(info['sectors'])}"
                                                                     if info["sectors"] else "")))
for note in info["notes"]:  # notes quote tickers and cells from the file: shown as plain text
    if note.startswith(WARNING):
        st.warning(w.plain_text(note[len(WARNING):]), icon=":material/warning:")
    else:
        st.info(w.plain_text(note), icon=":material/info:")
with guard("Checking the history", stop=False):
    st.caption(w.plain_text(f"Presets: {describe_fits(check_usable(panel))}. Rule: {USABILITY_RULE}."))

# lazy tabs: only the open one runs (features, labels and the graph take a moment to build)
TABS = ["Prices", "Features", "Labels", "Stock graph", "Per ticker"]
prices_tab, features_tab, labels_tab, graph_tab, table_tab = st.tabs(
    TABS, key="data_tab", on_change="rerun", default=links.read("data_tab", str, lambda v: v in TABS) or TABS[0]
)
links.write("data_tab", st.session_state.get("data_tab"), TABS[0])  # the open tab is part of the link

PERIODS = {"6M": 126, "1Y": 252, "3Y": 756, "All": None}
if prices_tab.open:
    with prices_tab:
        p1, p2 = st.columns([3, 1], vertical_alignment="bottom")
        with p1:
            ticker = w.ticker_picker(info["tickers"], key="ticker")
        period = links.url_choice(p2, "Period", list(PERIODS), key="price_period", default="1Y", widget="segmented_control")
        shown = last_days(panel, PERIODS[period])
        charts.show(plots.price_candlestick(shown, ticker), key="prices", file_name=f"{ticker}-prices-{period}")
        charts.csv_download(shown.xs(ticker, level="ticker").reset_index(), f"{ticker}-prices-{period}", key="prices_csv",
                            label="Prices (CSV)")

if features_tab.open:
    with features_tab:
        with guard("Computing features"):
            frame = cache.features(source_key, panel)
        groups = {g: names for g, names in frame.groups.items() if names}
        g1, g2, g3 = st.columns([1, 1, 2])
        group = links.url_choice(g1, "Group", list(groups), key="feature_group")
        f_ticker = links.url_choice(g2, "Ticker", frame.tickers, key="feature_ticker")
        chosen = g3.multiselect("Features", groups[group], default=groups[group][:3], key=f"features.{group}",
                                help="Hover the names below the chart for what each measures.")
        one = ticker_features(frame, f_ticker)
        charts.show(plots.feature_explorer(one, chosen, title=f"{group} features · {f_ticker}"), key="features")
        if chosen:
            st.markdown(glossary.help_text(chosen) or "")
            charts.csv_download(one[chosen].rename_axis("date").reset_index(), f"{f_ticker}-{group}-features",
                                key="features_csv", label="Features (CSV)")
        if frame.skipped:
            with st.expander(f"{len(frame.skipped)} feature(s) unavailable for this data"):
                st.dataframe(pd.Series(frame.skipped, name="reason").rename_axis("feature"))

if labels_tab.open:
    with labels_tab:
        l1, l2 = st.columns([3, 1])
        families = links.url_multiselect(l1, "Tasks", CLASS_FAMILIES, default=["direction", "signal"], key="label_tasks")
        horizon = links.url_number(l2, "Horizon (days)", key="label_h", default=1, min_value=1, max_value=60)
        if not families:
            st.caption("Pick at least one task.")
        else:
            with guard("Building labels"):
                view = cache.data_view(source_key, tuple(families), int(horizon), panel)
            charts.show(plots.label_distribution(view["counts"], title=f"Label distribution · horizon {horizon}d"),
                        key="labels")
            spans = " · ".join(f"{s}: {a:%Y-%m-%d} → {b:%Y-%m-%d}" for s, (a, b) in view["split_dates"].items())
            st.caption(f"Date split (purged by the horizon): {spans}")

if graph_tab.open:
    with graph_tab:
        with guard("Building the stock graph"):
            view = cache.data_view(source_key, ("direction",), 1, panel)
        charts.show(plots.stock_graph(view["edge_index"], view["edge_weight"], view["tickers"], view["sectors"]),
                    key="graph")
        st.caption(f"{view['graph_kind']} graph, {view['edge_index'].shape[1] // 2} edges, fitted on the train dates only.")

if table_tab.open:
    with table_tab:
        st.dataframe(pd.DataFrame(info["per_ticker"]).T.rename_axis("ticker"))
