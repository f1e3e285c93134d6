"""Report: build the self-contained HTML report of a run, download it, or present it full
screen (presentation mode hides the navigation and every control and draws the run natively:
dashboard/presentation.py)."""

from __future__ import annotations

import streamlit as st

from dashboard import cache, links, presentation, state
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
cost = float(links.read("report_cost", float, lambda v: 0.0 <= v <= 500.0) or 10.0)
if presenting:
    presentation.render(run, config, cost)
    st.page_link(str(w.PAGES / "report.py"), label="Exit presentation mode", icon=":material/close:",
                 query_params={"run": run.name, **({"report_cost": f"{cost:g}"} if cost != 10.0 else {})})
    st.stop()
with st.container(border=True):
    st.markdown("One HTML file for stakeholders: data and setup, the metric table beside the baselines, "
                "caveats, training curves, confusion matrices, signal gating, the backtest net of costs, "
                "top explanations and breakdowns. It opens offline (plotly is inlined).")
    c = st.columns([1, 1, 1, 1], vertical_alignment="bottom")
    cost = links.url_number(c[0], "Backtest cost (bps)", key="report_cost", default=10.0, min_value=0.0,
                            max_value=500.0, step=1.0)
    explain = links.url_toggle(c[1], "Include explanations", key="report_explain", default=True,
                               help="Integrated Gradients on a sample of test rows (adds seconds to a minute).")
    if c[2].button("Build report", type="primary", icon=":material/description:", key="report_build"):
        st.session_state[built_key] = True
    with c[3]:
        st.page_link(str(w.PAGES / "report.py"), label="Presentation mode", icon=":material/slideshow:",
                     query_params={"present": "1", "run": run.name, **({"report_cost": f"{cost:g}"} if cost != 10.0 else {})},
                     help="The run full screen for an audience: no navigation, no controls.")

if st.session_state.get(built_key):
    with st.spinner("Building the report…"), guard("Building the report"):
        html = cache.report(run, cost_bps=cost, explain=explain)
    c = st.columns([1, 3])
    c[0].download_button("Download report.html", html, file_name=f"{run.name}-report.html", mime="text/html",
                         icon=":material/download:", key="report_download", type="primary")
    c[1].caption(f"{len(html) / 1e6:.1f} MB, self-contained.")
    st.iframe(html.decode("utf-8"), height=1400)
else:
    w.empty_state("Build the report", "Press **Build report** to render it here and download it, or open the "
                  "presentation mode.")
