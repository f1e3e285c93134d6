"""Attention & explanations: the model's attention maps for one date and ticker, Captum
attributions per task head, a SHAP summary and the embedding map."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from dashboard import cache, charts, glossary, links, state
from dashboard import cache_explain as explain
from dashboard import widgets as w
from dashboard.errors import guard
from finmt_core import plots
from finmt_core.explain.flatness import flat_map

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
view = links.url_choice(st, "View", VIEWS, key="view", widget="segmented_control")

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
                flat = flat_map(m.values)
                fig = plots.attention_heatmap(m.values, m.x_labels, m.y_labels, title=m.name.replace("_", " "),
                                              x_title=m.x_title, y_title=m.y_title,
                                              **({"zmin": 0.0, "zmax": flat.scale_top} if flat else {}))
                if flat:
                    st.info(f"**{m.name.replace('_', ' ')} is nearly flat**: every weight lies between {flat.low:.4f} "
                            f"and {flat.high:.4f}, against {flat.uniform:.4f} for perfectly uniform attention. The model spreads its "
                            "attention almost evenly here; the colour scale starts at 0 so the map looks as flat as "
                            "it is.", icon=":material/horizontal_rule:")
            charts.show(fig, key=f"attention.{i}", file_name=f"{run.name}-{ticker}-{m.name}")

# ---- Captum attributions ------------------------------------------------------------------
elif view == "Attributions (Captum)":
    if not neural:
        st.info("Captum attributions need a neural model; see the SHAP summary for this baseline.", icon=":material/info:")
    else:
        a, b = st.columns(2)
        task = links.url_choice(a, "Task head", [t.name for t in config.tasks], key="ex_task")
        method = links.url_choice(b, "Method", list(METHODS), key="ex_method", widget="segmented_control",
                                  format_func=METHODS.get, default="integrated_gradients")
        with guard("Computing attributions"):
            attr = explain.attribution(run, day, ticker, task, method)
        if attr.delta is not None and len(attr.delta):
            st.caption(f"Explained output {float(attr.output[0]):.4f}; completeness gap of IG "
                       f"{float(np.abs(attr.delta).max()):.2e} (attributions sum to output − baseline output).")
        left, right = st.columns(2)
        by_feature = attr.by_feature(absolute=False)
        charts.show(plots.attribution_bars(by_feature, title=f"{task}: attribution per feature"),
                    key="attr_feature", container=left)
        charts.show(plots.attribution_bars(attr.by_group(absolute=False), title=f"{task}: per feature group"),
                    key="attr_group", container=right)
        top = by_feature.reindex(by_feature.abs().sort_values(ascending=False).index).head(8)
        with st.expander("What the top features measure", icon=":material/menu_book:"):
            st.markdown(glossary.help_text(top.index) or "No glossary entry for these features.")
        charts.csv_download(by_feature.rename("attribution").rename_axis("feature").reset_index(),
                            f"{run.name}-{ticker}-{task}-attribution", key="attr_csv", label="Attributions (CSV)")
        if attr.time_labels is not None:
            charts.show(plots.attention_heatmap(attr.heatmap(), attr.time_labels, attr.feature_names,
                                                title=f"{task}: |attribution| by feature and time step",
                                                x_title="time step", y_title="feature"), key="attr_map")

# ---- SHAP ----------------------------------------------------------------------------------
elif view == "SHAP summary":
    shap_task = links.url_choice(st, "Task head", [t.name for t in config.tasks], key="shap_task")
    if neural and predictor.input_kind == "graph":
        st.info("SHAP over graph snapshots is not supported; the Captum tab explains graph models.", icon=":material/info:")
    else:
        st.caption("Mean |SHAP| per feature over 64 test rows " + (
            "(TreeExplainer on the LightGBM boosters; lags folded into their feature)." if not neural
            else "(expected-gradients SHAP with 64 train rows as background)."))
        with guard("Computing SHAP values"):
            summary = explain.shap_values(run, shap_task)
        charts.show(plots.attribution_bars(pd.Series(summary), title=f"{shap_task}: mean |SHAP|"), key="shap")
        charts.csv_download(pd.Series(summary, name="mean_abs_shap").rename_axis("feature").reset_index(),
                            f"{run.name}-{shap_task}-shap", key="shap_csv", label="SHAP summary (CSV)")

# ---- embeddings ---------------------------------------------------------------------------
else:
    if not neural:
        st.info("Baselines have no embeddings.", icon=":material/info:")
    else:
        with guard("Projecting embeddings"):
            points = explain.embeddings(run)
        color_by = links.url_choice(st, "Colour by", ["sector", "ticker"], key="emb_color", widget="segmented_control")
        ratio = points.attrs.get("explained_variance", [])
        charts.show(plots.embedding_scatter(points, color_by=color_by), key="embeddings")
        if ratio:
            st.caption(f"PCA of the shared embedding on {len(points)} test rows; the two components explain "
                       f"{sum(ratio):.0%} of its variance.")
