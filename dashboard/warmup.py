"""Import the heavy modules (torch, torch-geometric, the model registry, plots) in a background
thread once per server, so the first visit to Train, What-if or Explanations does not wait
for them. Python's import lock makes a page that needs a module mid-import simply wait."""

from __future__ import annotations

import importlib
import logging
import threading

import streamlit as st

log = logging.getLogger("finmt.dashboard.warmup")

#: imported in this order: torch first (the Train page's device line is the earliest page to
#: need it), then the plots and evaluation the analysis pages read, then torch_geometric (which
#: the graph model imports when it is built, not when its config is read) and the models.
MODULES = ("torch", "finmt_core.plots", "finmt_core.evaluation.evaluate", "torch_geometric.nn",
           "finmt_core.models", "finmt_core.inference.predictor", "finmt_core.explain")


def _import_all() -> None:
    for name in MODULES:
        try:
            importlib.import_module(name)
        except Exception as exc:  # a broken optional module shows up on its page, not here
            log.warning("warm-up import of %s failed: %s", name, exc)


@st.cache_resource(show_spinner=False)
def start() -> threading.Thread:
    """Start the warm-up thread (once per server process)."""
    thread = threading.Thread(target=_import_all, name="finmt-warmup", daemon=True)
    thread.start()
    return thread
