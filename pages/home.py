"""Home: what finmt does, the data in use, every run with its status and headline metrics."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import cache, demo, fmt, jobs, links, run_actions, state
from dashboard import run_table as rt
from dashboard import widgets as w
from finmt_core.training.run_admin import list_trash, read_meta
from finmt_core.training.runs import RunDir, list_runs

root = state.runs_root()

st.title("finmt", anchor=False)
st.markdown(
    "**A workbench for multi-task learning on market data.** finmt turns a price panel into "
    "features and labels for several prediction tasks at once (direction, return, volatility, "
    "regime, signal vs noise, quantiles …), trains multi-head networks — a temporal graph "
    "network, CNNs and a ViT on feature images, CNN + LSTM, LSTM + transformer, a dual tower — "
    "next to honest baselines, and evaluates them on leakage-free date splits with backtests, "
    "explanations and a report."
)


# ---- the first-start demo set -------------------------------------------------------------
def demo_panel() -> None:
    prog = demo.progress(root)
    if prog is None or (prog.finished and prog.failed == 0 and prog.error is None):
        return
    with st.container(border=True):
        if not prog.finished:
            st.markdown("#### :material/model_training: Training the demo runs")
            now = f" — now **{prog.current}**" if prog.current else ""
            st.progress(prog.fraction, text=f"{prog.done} of {prog.total} runs done{now}")
            st.caption("A small set of models trains on the bundled demo data in the background "
                       "(a few minutes on a quiet machine, longer on a busy one; the bar above shows where it is). "
                       "Pages fill in as each run finishes.")
        else:
            st.warning(f"The demo set finished with {prog.failed} failed run(s). "
                       f"{prog.error or 'See the Train page for each run’s error.'}")


# ---- runs ---------------------------------------------------------------------------------
def filter_runs(table: pd.DataFrame) -> pd.DataFrame:
    """Search, state, tag and trial filters (each kept in the URL: ``?q=``, ``?states=``,
    ``?tags=``, ``?trials=1``); returns the matching rows."""
    c = st.columns([3, 2, 2, 1.5], vertical_alignment="bottom")
    query = links.url_text(c[0], "Search runs", key="q", placeholder="name, model, task, tag or note")
    states = links.url_multiselect(c[1], "State", sorted(set(table["state"])), key="states", placeholder="any state")
    tags = links.url_multiselect(c[2], "Tags", rt.all_tags(table), key="tags", placeholder="any tag")
    trials = links.url_toggle(c[3], "Show trials", key="trials", default=False,
                              help="Show the runs a tuning study trained (named <study>-t0001 …).")
    return rt.filter_table(table, query, states, tags, trials)


def runs_section() -> None:
    runs = list_runs(root)
    demo_panel()
    if not runs:
        prog = demo.progress(root)
        if state.viewer_mode():  # read-only: nothing to launch from here
            w.empty_state("No runs yet", "Nothing has been trained in this runs folder yet.")
        elif prog is None or prog.finished:  # (while the demo starts, its progress box says it all)
            w.empty_state("No runs yet", "Launch one on the **Train** page.",
                          ("train.py", "Train a model", ":material/rocket_launch:"))
        return
    table, active = rt.runs_table(runs)
    shown = filter_runs(table)
    n = rt.state_counts(table)
    c = st.columns(4)
    c[0].metric("Runs", n["runs"], border=True)
    c[1].metric("Training now", n["running"], border=True,
                delta=f"{n['queued']} queued" if n["queued"] else None, delta_color="off", delta_arrow="off")
    c[2].metric("Finished", n["done"], border=True)
    c[3].metric("Failed or cancelled", n["failed_or_cancelled"], border=True)
    if len(shown) < len(table):
        st.caption(f"Showing {len(shown)} of {len(table)} runs (filters above).")
    st.dataframe(
        rt.shown_table(shown).style.map(w.state_css, subset=["state"]),  # each state in its badge's colour
        hide_index=True,
        column_config={
            "progress": st.column_config.ProgressColumn("progress", min_value=0.0, max_value=1.0, format="percent"),
            "headline": st.column_config.TextColumn("headline (test)", width="large"),
            "notes": st.column_config.TextColumn("notes", width="medium"),
        },
    )
    if active:
        st.caption(":material/autorenew: Updating every few seconds while runs train.")


any_active = any(jobs.job_view(r).active for r in list_runs(root)) or bool(
    (p := demo.progress(root)) and not p.finished
)
st.subheader("Runs", anchor=False)
st.fragment(runs_section, run_every=3 if any_active else None)()


# ---- run management (editor mode only) ------------------------------------------------------
def act(action: str, fn, *args) -> None:
    """Run one management action (a button's callback); its error (name taken, run training,
    viewer mode ...) shows as a toast."""
    try:
        result = fn(*args)
        st.toast(action, icon=":material/check_circle:")
    except Exception as exc:  # a RunError/ReadOnlyError message says what and how to fix
        st.toast(f"{action} failed: {exc}", icon=":material/error:")
        return
    if isinstance(result, RunDir):  # renamed or restored: the picker follows the run
        st.session_state["manage_run"] = result.name
    elif fn is run_actions.trash:
        st.session_state.pop("manage_run", None)


def manage_runs() -> None:
    runs = list_runs(root)
    trash = list_trash(root)
    if not runs and not trash:
        return
    with st.expander("Manage runs: tags, notes, rename, delete", icon=":material/edit_note:"):
        if runs:
            name = st.selectbox("Run", [r.name for r in runs], key="manage_run")
            run = next(r for r in runs if r.name == name)
            meta = read_meta(run)
            a, b = st.columns([1, 2])
            a.text_input("Tags (comma-separated)", value=", ".join(meta.tags), key=f"manage_tags.{name}")
            b.text_area("Notes", value=meta.notes, key=f"manage_notes.{name}", height=68)
            c = st.columns([1, 2, 1, 1], vertical_alignment="bottom")
            # callbacks read the fields from the session: their values at the click, not at the last render
            c[0].button("Save tags and notes", key="run_save", icon=":material/save:", on_click=lambda: act(
                "Saved tags and notes", run_actions.save_labels, run, st.session_state[f"manage_tags.{name}"],
                st.session_state[f"manage_notes.{name}"]))
            c[1].text_input("New name", value=name, key=f"manage_name.{name}")
            c[2].button("Rename", key="run_rename", icon=":material/drive_file_rename_outline:", on_click=lambda: act(
                f"Renamed {name}", run_actions.rename, root, name, st.session_state[f"manage_name.{name}"]))
            c[3].button("Move to trash", key="run_trash", icon=":material/delete:",
                        on_click=act, args=(f"Moved {name} to the trash (restore it below)", run_actions.trash, root, name))
        if trash:
            st.markdown(f"**Trash** ({len(trash)}): deleted runs wait in `.trash` under the runs folder until you "
                        "remove them there.")
            for entry in trash[:20]:
                t = st.columns([4, 1], vertical_alignment="center")
                when = f"{entry.deleted:%Y-%m-%d %H:%M} UTC" if entry.deleted else "unknown time"
                t[0].markdown(f"{w.plain_text(entry.name)} · deleted {when}")
                t[1].button("Restore", key=f"restore.{entry.path.name}", icon=":material/restore_from_trash:",
                            on_click=act, args=(f"Restored {entry.name}", run_actions.restore, root, entry.path.name))


if not state.viewer_mode():
    manage_runs()

# ---- data and shortcuts -----------------------------------------------------------------
def data_source_of(run) -> str | None:
    try:
        return cache.config(run).data.source
    except Exception:  # an unreadable config is already flagged in the runs table
        return None



left, right = st.columns(2)
with left:
    st.subheader("Data", anchor=False)
    sources = sorted({src for r in list_runs(root) if (src := data_source_of(r))}) or ["demo"]
    st.markdown("In use by the runs: " + ", ".join(w.plain_text(fmt.source_name(s)) for s in sources))
    if "demo" in sources:
        try:
            info = cache.summary("demo", cache.panel("demo"))
            st.markdown(
                f"**Bundled demo data:** {info['n_tickers']} tickers, {info['first_date']} → "
                f"{info['last_date']} ({info['n_dates']} trading days), columns "
                f"{', '.join(info['price_columns'])}."
            )
        except Exception as exc:
            st.caption(f"Demo data summary unavailable: {exc}")
    w.page_link("data.py", "Explore the data", ":material/table_chart:")
with right:
    st.subheader("Shortcuts", anchor=False)
    if not state.viewer_mode():
        w.page_link("train.py", "Train a model", ":material/rocket_launch:")
    w.page_link("curves.py", "Watch training curves", ":material/monitoring:")
    w.page_link("evaluation.py", "Compare against baselines", ":material/fact_check:")
    w.page_link("signals.py", "Today’s signal-gated calls", ":material/traffic:")
    w.page_link("report.py", "Download a report", ":material/description:")
