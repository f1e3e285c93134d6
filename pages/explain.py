"""Attention & explanations: the model's attention maps for one date and ticker, Captum
attributions per task head, a SHAP summary and the embedding map."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from dashboard import cache, state
from dashboard import cache_explain as explain
from dashboard import widgets as w
from dashboard.errors import guard
from finmt_core import plots

METHODS = {"integrated_gradients": "Integrated Gradients", "saliency": "Saliency (|gradient|)"}

root = state.runs_root()
st.title("Attention & explanations", anchor=False)
with guard("Opening the run"):  # a damaged config.yaml: one message, the picker stays
    run, config = w.pick_finished_run(root, "the explanations")

if config.model.name == "ensemble":
    st.info("Explanations are not supported for an ensemble run; explain its member runs instead: "
            f"{', '.join(map(w.plain_text, config.model.params.get('members', [])))}. Its weights are on the "
            "Evaluation page.", icon=":material/info:")
    st.stop()
with guard("Reading predictions"):
    preds = cache.predictions(run)
test = preds[preds["split"] == "test"]
c = st.columns([1, 1, 2])
with c[0]:
    ticker = w.ticker_picker(sorted(test["ticker"].unique()), key="ticker")
with c[1]:
    day = w.date_picker(sorted(test.loc[test["ticker"] == ticker, "date"].unique()), key="date", label="Date (test segment)")
with guard("Loading the model", hint="Explanations need the run's checkpoint."):
    predictor = cache.predictor(run)
neural = predictor.model is not None
c[2].caption(f"Explaining **{w.plain_text(ticker)}** on **{day:%Y-%m-%d}** with `{config.model.name}`"
             + ("" if neural else " — a fitted baseline: only the SHAP summary applies."))

VIEWS = ["Attention", "Attributions (Captum)", "SHAP summary", "Embedding map"]
# one view at a time: each is computed on demand (IG, SHAP and embeddings take seconds)
view = st.segmented_control("View", VIEWS, default=VIEWS[0], key="view", bind="query-params") or VIEWS[0]

# ---- attention ----------------------------------------------------------------------------
if view == "Attention":
    if not neural:
        st.info("Baselines have no attention.", icon=":material/info:")
    else:
        with guard("Reading attention"):
            maps = explain.attention(run, day, ticker)
        if not maps:
            st.info(f"`{config.model.name}` exposes no attention weights with these settings "
                    "(e.g. tgcn uses GCN unless `use_gat` is on).", icon=":material/info:")
        for i, m in enumerate(maps):
            if m.name == "gat_edges":
                _, prepared = cache.run_data(run)
                fig = plots.gat_edges(m.extra["edge_index"], m.extra["edge_weight"], list(prepared.tickers),
                                      prepared.dense.sector, title=f"GAT edge attention on {day:%Y-%m-%d}")
            else:
                fig = plots.attention_heatmap(m.values, m.x_labels, m.y_labels, title=m.name.replace("_", " "),
                                              x_title=m.x_title, y_title=m.y_title)
            st.plotly_chart(fig, key=f"attention.{i}")

# ---- Captum attributions ------------------------------------------------------------------
elif view == "Attributions (Captum)":
    if not neural:
        st.info("Captum attributions need a neural model; see the SHAP summary for this baseline.", icon=":material/info:")
    else:
        a, b = st.columns(2)
        task = a.selectbox("Task head", [t.name for t in config.tasks], key="ex_task")
        method = b.segmented_control("Method", list(METHODS), format_func=METHODS.get, default="integrated_gradients",
                                     key="ex_method") or "integrated_gradients"
        with guard("Computing attributions"):
            attr = explain.attribution(run, day, ticker, task, method)
        if attr.delta is not None and len(attr.delta):
            st.caption(f"Explained output {float(attr.output[0]):.4f}; completeness gap of IG "
                       f"{float(np.abs(attr.delta).max()):.2e} (attributions sum to output − baseline output).")
        left, right = st.columns(2)
        left.plotly_chart(plots.attribution_bars(attr.by_feature(absolute=False), title=f"{task}: attribution per feature"),
                          key="attr_feature")
        right.plotly_chart(plots.attribution_bars(attr.by_group(absolute=False), title=f"{task}: per feature group"),
                           key="attr_group")
        if attr.time_labels is not None:
            st.plotly_chart(plots.attention_heatmap(attr.heatmap(), attr.time_labels, attr.feature_names,
                                                    title=f"{task}: |attribution| by feature and time step",
                                                    x_title="time step", y_title="feature"), key="attr_map")

# ---- SHAP ----------------------------------------------------------------------------------
elif view == "SHAP summary":
    shap_task = st.selectbox("Task head", [t.name for t in config.tasks], key="shap_task")
    if neural and predictor.input_kind == "graph":
        st.info("SHAP over graph snapshots is not supported; the Captum tab explains graph models.", icon=":material/info:")
    else:
        st.caption("Mean |SHAP| per feature over 64 test rows " + (
            "(TreeExplainer on the LightGBM boosters; lags folded into their feature)." if not neural
            else "(expected-gradients SHAP with 64 train rows as background)."))
        with guard("Computing SHAP values"):
            summary = explain.shap_values(run, shap_task)
        st.plotly_chart(plots.attribution_bars(pd.Series(summary), title=f"{shap_task}: mean |SHAP|"), key="shap")

# ---- embeddings ---------------------------------------------------------------------------
else:
    if not neural:
        st.info("Baselines have no embeddings.", icon=":material/info:")
    else:
        with guard("Projecting embeddings"):
            points = explain.embeddings(run)
        color_by = st.segmented_control("Colour by", ["sector", "ticker"], default="sector", key="emb_color") or "sector"
        ratio = points.attrs.get("explained_variance", [])
        st.plotly_chart(plots.embedding_scatter(points, color_by=color_by), key="embeddings")
        if ratio:
            st.caption(f"PCA of the shared embedding on {len(points)} test rows; the two components explain "
                       f"{sum(ratio):.0%} of its variance.")
