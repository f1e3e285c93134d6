"""finmt dashboard: the router.

Start with ``finmt dashboard`` (or ``make run``). This file only configures the page, picks
the navigation (pages live in the top-level ``pages/`` folder, one file per page), starts the
background import warm-up and kicks off the first-start demo runs; every screen is a page file.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboard import demo, state, warmup
from finmt_core.runtime import tune_allocator

tune_allocator()  # once per process: large tensors reuse freed heap (finmt_core/runtime.py)

PAGES = Path(__file__).resolve().parent.parent / "pages"


def _page(file: str, title: str, icon: str, url: str, default: bool = False) -> st.Page:
    return st.Page(PAGES / file, title=title, icon=icon, url_path=url, default=default)


st.set_page_config(page_title="finmt", page_icon=":material/insights:", layout="wide")

NAVIGATION = {
    "Overview": [
        _page("home.py", "Home", ":material/home:", "home", default=True),
        _page("data.py", "Data", ":material/table_chart:", "data"),
    ],
    "Training": [
        _page("train.py", "Train", ":material/rocket_launch:", "train"),
        _page("curves.py", "Training curves", ":material/monitoring:", "curves"),
        _page("tuning.py", "Tuning", ":material/science:", "tuning"),
    ],
    "Analysis": [
        _page("evaluation.py", "Evaluation", ":material/fact_check:", "evaluation"),
        _page("explain.py", "Attention & explanations", ":material/visibility:", "explain"),
        _page("backtest.py", "Backtest", ":material/show_chart:", "backtest"),
        _page("signals.py", "Signal-gated predictions", ":material/traffic:", "signals"),
        _page("whatif.py", "What-if", ":material/tune:", "whatif"),
        _page("learning.py", "Model zoo: does it learn?", ":material/school:", "zoo"),
    ],
    "Share": [
        _page("report.py", "Report", ":material/description:", "report"),
    ],
}

presenting = state.presentation_mode()
page = st.navigation(NAVIGATION, position="hidden" if presenting else "sidebar")
if presenting:
    # hide the sidebar toggle and toolbar so a shared screen shows only the content
    st.html(
        "<style>[data-testid='stSidebar'],[data-testid='stSidebarCollapsedControl'],"
        "[data-testid='stToolbar']{display:none !important;}</style>"
    )
warmup.start()
demo.ensure_started(state.runs_root(), enabled=state.demo_enabled())
page.run()
