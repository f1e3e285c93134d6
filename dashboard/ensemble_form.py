"""The Train page's "Ensemble of finished runs" section: pick runs, fit their stacking
weights in a background job (like any training), and show the weights of ensemble runs.

The members must share tasks, data and split (checked before anything is launched: the
error names the runs that differ). The weights are learned on the validation segment; the
Evaluation page then scores the ensemble beside every member, their equal-weight mix and the
usual baselines on the same test rows.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboard import jobs
from dashboard import widgets as w
from dashboard.errors import guard
from finmt_core.training.runs import RunDir, list_runs

METHODS = {"stack": "learned on validation (stacking)", "equal": "equal weights"}


def _finished(root: Path) -> tuple[list[str], list[RunDir]]:
    """(names of finished non-ensemble runs, finished ensemble runs), newest first."""
    members, ensembles = [], []
    for run in list_runs(root):
        try:
            if run.effective_state() != "done":
                continue
            (ensembles if run.config().model.name == "ensemble" else members).append(run)
        except Exception:  # an unreadable run is simply not offered
            continue
    return [r.name for r in members], ensembles


def ensemble_section(root: Path, viewer: bool) -> None:
    """Render the section (form only in editor mode; the weights of ensemble runs always)."""
    from finmt_core.ensemble.build import ensemble_config, read_summary, weights_frame

    names, ensembles = _finished(root)
    with st.expander("Ensemble of finished runs", icon=":material/join:", expanded=False):
        if not viewer:
            if len(names) < 2:
                st.caption("Needs two finished runs with the same tasks, data and split "
                           "(or train an ensemble preset: cnn_lstm_ensemble, lgbm_lstm_fusion).")
            else:
                with st.form("ensemble_form", border=False):
                    picked = st.multiselect("Member runs", names, key="ens_members",
                                            help="Finished runs with the same tasks, data and split.")
                    c = st.columns(2)
                    name = c[0].text_input("Ensemble name", placeholder="ensemble-<timestamp> (automatic)",
                                           key="ens_name")
                    method = c[1].selectbox("Weights", list(METHODS), format_func=METHODS.get, key="ens_method")
                    go = st.form_submit_button("Build ensemble", icon=":material/join:", key="ens_build")
                if go:
                    with guard("Checking the members", stop=False):
                        config = ensemble_config(root, picked, name.strip() or "ensemble", method)
                        run = jobs.launch(config, root, name.strip() or None)
                        st.toast(f"Started {run.name}: fitting the weights", icon=":material/join:")
        if ensembles:
            shown = st.selectbox("Weights of", [r.name for r in ensembles], key="ens_show")
            with guard("Reading the weights", stop=False):
                summary = read_summary(root / shown)
                if summary is None:
                    st.caption("This ensemble has no ensemble.json yet.")
                else:
                    st.caption(f"Per task: weight of each member ({w.plain_text(summary.get('method'))}), learned on "
                               "the validation segment, with the validation loss of each member, of equal weights "
                               "and of the ensemble.")
                    st.dataframe(weights_frame(summary), hide_index=True, key="ens_weights")
