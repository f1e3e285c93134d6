"""finmt dashboard: the router.

Start with ``finmt dashboard`` (or ``make run``; ``--viewer`` for a read-only app, ``--sign-in``
for a shared one). This file only configures the page, runs the sign-in gate (dashboard/signin.py:
nothing below it runs for someone not signed in and allowed), picks the navigation (pages live
in the ``pages/`` folder next to ``dashboard/``, one file per page), starts the background import
warm-up and kicks off the first-start demo runs (not in viewer mode); every screen is a page file.
"""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

#: the folder holding dashboard/, pages/ and .streamlit/: the repository root in a checkout,
#: ``finmt_app/`` in an installation (setup.py). On sys.path so that ``dashboard`` is this app
#: however it is started (``finmt dashboard``, ``streamlit run``, AppTest).
APP_ROOT = Path(__file__).resolve().parent.parent
if str(APP_ROOT) not in sys.path:
    sys.path.insert(0, str(APP_ROOT))

from dashboard import charts, demo, signin, state, warmup  # noqa: E402  (needs APP_ROOT on sys.path)
from finmt_core.runtime import tune_allocator  # noqa: E402

tune_allocator()  # once per process: large tensors reuse freed heap (finmt_core/runtime.py)

PAGES = APP_ROOT / "pages"


def _page(file: str, title: str, icon: str, url: str, default: bool = False) -> st.Page:
    return st.Page(PAGES / file, title=title, icon=icon, url_path=url, default=default)


#: the menu (top right) holds About and, with the two themes of .streamlit/config.toml, the
#: viewer's Light / Dark / System switch (charts follow the theme)
ABOUT = ("**finmt** — multi-task learning workbench for market data. Every view is a link: copy the "
         "address bar to share exactly this screen. Switch between the light and dark theme here.")
st.set_page_config(page_title="finmt", page_icon=":material/insights:", layout="wide", menu_items={"About": ABOUT})
role = signin.gate()  # with sign-in: stops here unless the person is on the access list

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
        _page("compare.py", "Compare runs", ":material/compare_arrows:", "compare"),
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
if role is not None and not presenting:
    signin.signed_in_sidebar(role)
if not presenting:
    charts.image_format_picker()
if state.viewer_mode() and not presenting:
    st.sidebar.caption(":material/visibility: Read-only dashboard (viewer mode): nothing can be "
                       "trained, cancelled, uploaded or tuned here.")
warmup.start()
demo.ensure_started(state.runs_root(), enabled=state.demo_enabled())  # never in viewer mode
page.run()
