"""Tuning: Optuna studies whose trials are runs — best value over time, parameter importances,
the trials table beside Optuna's own views (parallel coordinates, slice, contour, importances),
and evaluating the chosen trial on its test segment (viewer mode: the studies only, no new
search and no evaluation)."""

from __future__ import annotations

import streamlit as st

from dashboard import state
from dashboard.errors import guard
from dashboard.tuning_jobs import launch_tuning
from finmt_core.config import list_presets
from finmt_core.plots.optuna_views import optuna_views
from finmt_core.plots.tuning import param_importances, tuning_history
from finmt_core.tuning.results import best_trial_metrics
from finmt_core.tuning.storage import display_url, is_sqlite, storage_exists, study_storage
from finmt_core.tuning.study import evaluate_best, list_studies, load_study, study_summary

root = state.runs_root()
st.title("Hyper-parameter tuning", anchor=False)
st.caption("Each trial is a normal run scored on its **validation** loss; the test segment is read "
           "only when you evaluate the chosen trial. Several machines can share a study through a "
           "database URL (`finmt tune --storage postgresql://...`, see the README).")

viewer = state.viewer_mode()
if viewer:
    st.info("**Read-only dashboard (viewer mode):** the studies below can be explored; searches are started "
            "with `finmt tune` or from a dashboard in editor mode.", icon=":material/visibility:")
else:
    with st.expander("Start a search", icon=":material/rocket_launch:", expanded=False), st.form("tune_form"):
        c1, c2, c3, c4 = st.columns(4)
        presets = [p for p in list_presets() if p != "naive" and not p.endswith(("_ensemble", "_fusion"))]
        preset = c1.selectbox("Preset", presets, index=presets.index("lstm_transformer") if "lstm_transformer" in presets else 0)
        data = c2.selectbox("Data", ["demo", "synthetic"])
        trials = c3.number_input("Trials", min_value=1, max_value=200, value=5)
        epochs = c4.number_input("Epochs per trial", min_value=1, max_value=200, value=3)
        study_name = st.text_input("Study name", value=f"tune-{preset}")
        if st.form_submit_button("Start", type="primary", key="tune_start"):
            with guard("Starting the search", stop=False):
                log_path = launch_tuning(preset, data, int(trials), int(epochs), study_name, root)
                st.success(f"Search started in the background; its log is `{log_path}`. Trials appear below as they finish.")

storage = study_storage(root)  # $FINMT_OPTUNA_STORAGE (e.g. a shared PostgreSQL), else <runs>/optuna.db
if not is_sqlite(storage):
    st.caption(f"Studies from `{display_url(storage)}` (FINMT_OPTUNA_STORAGE).")
elif not storage_exists(storage):
    st.info(("No study yet." if viewer else "No study yet. Start one above or run "
             "`finmt tune --preset lstm_transformer --trials 10`."), icon=":material/info:")
    st.stop()
with guard("Reading the studies"):
    studies = list_studies(storage)
if not studies:
    st.info("The study database is empty so far.", icon=":material/info:")
    st.stop()
study = st.selectbox("Study", studies, key="tuning_study")
with guard("Reading the study"):
    summary = study_summary(storage, study)
trials_df = summary["trials"]
counts = trials_df["state"].value_counts() if len(trials_df) else {}
cols = st.columns(4)
cols[0].metric("Trials", len(trials_df), border=True)
cols[1].metric("Complete", int(counts.get("COMPLETE", 0)), border=True)
cols[2].metric("Pruned", int(counts.get("PRUNED", 0)), border=True)
best = summary["best_value"]
cols[3].metric("Best objective", f"{best:.4f}" if best is not None else "–", border=True,
               help="Minimised: the negated validation score (mean per-task skill over chance) with "
                    "train.monitor = score, else the weighted validation loss.")

left, right = st.columns(2)
left.plotly_chart(tuning_history(trials_df), key="tuning_history")
right.plotly_chart(param_importances(summary["importances"]), key="tuning_importances")
if summary.get("importance_note"):
    right.warning(summary["importance_note"], icon=":material/warning:")

st.subheader("Trials", anchor=False)
shown = [c for c in trials_df.columns if c in ("number", "value", "state", "duration") or c.startswith("params_")]
table_col, views_col = st.columns(2)
table_col.dataframe(trials_df[shown + (["user_attrs_run"] if "user_attrs_run" in trials_df else [])],
                    hide_index=True, width="stretch")
with views_col, guard("Drawing Optuna's views of the study", stop=False):
    views = optuna_views(load_study(storage, study))
    for tab, view in zip(st.tabs([v.title for v in views]), views):
        with tab:
            if view.note:
                (st.warning if view.key == "importances" and view.figure is not None else st.info)(
                    view.note, icon=":material/info:")
            if view.figure is not None:
                st.plotly_chart(view.figure, key=f"optuna_{view.key}")

if summary["best_run"]:
    st.subheader("Best trial", anchor=False)
    st.write(f"Run `{summary['best_run']}` with:")
    st.json(summary["best_params"], expanded=True)
    if not viewer and st.button("Evaluate the best trial on its test segment", type="primary", key="tune_evaluate"):
        with guard("Evaluating the best trial", stop=False), st.spinner("Fitting baselines and scoring the test rows…"):
            result = evaluate_best(storage, study, root)
            st.dataframe(best_trial_metrics(result), width="stretch")
            st.success(f"Done. Pick run `{summary['best_run']}` on the Evaluation page for the full comparison.")
