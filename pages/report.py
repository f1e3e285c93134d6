"""Report: build the self-contained HTML report of a run, download it, or present it full
screen (presentation mode hides the navigation and every control)."""

from __future__ import annotations

import streamlit as st

from dashboard import cache, state
from dashboard import widgets as w
from dashboard.errors import guard

root = state.runs_root()
presenting = state.presentation_mode()
if not presenting:
    st.title("Report", anchor=False)
with guard("Opening the run"):  # a damaged config.yaml: one message, the picker stays
    run, config = w.pick_finished_run(root, "the report")
built_key = f"report_built.{run.name}"

# ---- controls (hidden in presentation mode) ---------------------------------------------------
cost, explain = 10.0, True
if not presenting:
    with st.container(border=True):
        st.markdown("One HTML file for stakeholders: data and setup, the metric table beside the baselines, "
                    "caveats, training curves, confusion matrices, signal gating, the backtest net of costs, "
                    "top explanations and breakdowns. It opens offline (plotly is inlined).")
        c = st.columns([1, 1, 2], vertical_alignment="bottom")
        cost = c[0].number_input("Backtest cost (bps)", min_value=0.0, max_value=500.0, value=10.0, step=1.0,
                                 key="report_cost")
        explain = c[1].toggle("Include explanations", value=True, key="report_explain",
                              help="Integrated Gradients on a sample of test rows (adds a few seconds).")
        if c[2].button("Build report", type="primary", icon=":material/description:", key="report_build"):
            st.session_state[built_key] = True

if presenting or st.session_state.get(built_key):
    with st.spinner("Building the report…"), guard("Building the report"):
        html = cache.report(run, cost_bps=cost, explain=explain)
    if not presenting:
        c = st.columns([1, 1, 3])
        c[0].download_button("Download report.html", html, file_name=f"{run.name}-report.html", mime="text/html",
                             icon=":material/download:", key="report_download", type="primary")
        with c[1]:
            st.page_link(str(w.PAGES / "report.py"), label="Presentation mode", icon=":material/slideshow:",
                         query_params={"present": "1", "run": run.name})
        c[2].caption(f"{len(html) / 1e6:.1f} MB, self-contained.")
    st.iframe(html.decode("utf-8"), height=2400 if presenting else 1400)
    if presenting:
        st.page_link(str(w.PAGES / "report.py"), label="Exit presentation mode", icon=":material/close:",
                     query_params={"run": run.name})
else:
    w.empty_state("Build the report", "Press **Build report** to render it here; then download it or switch to "
                  "presentation mode.")
