"""Home: what finmt does, the data in use, every run with its status and headline metrics."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import cache, demo, fmt, jobs, links, run_actions, state
from dashboard import widgets as w
from finmt_core.evaluation.evaluate import headline_frame
from finmt_core.evaluation.metrics import HEADLINE
from finmt_core.training.run_admin import is_trial, list_trash, read_meta
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
HIGHER_IS_BETTER = {metric: higher for metric, higher in HEADLINE.values()}
#: shares shown in percent ("coverage 100.0 %", never "coverage 1")
PERCENT_METRICS = {"accuracy", "balanced_accuracy", "directional_accuracy", "coverage", "hit_rate"}
#: text colour of each state in the runs table (the badge colours of the other pages)
STATE_COLOURS = {"done": "#15803d", "running": "#2563eb", "queued": "#6b7280", "failed": "#b91c1c",
                 "cancelled": "#c2410c", "stopped (no heartbeat)": "#7c3aed", "damaged": "#b91c1c"}


def headline(evaluation: dict | None) -> str:
    """``direction: accuracy 0.532 (best baseline 0.511)`` per task, from evaluation.json."""
    if not evaluation:
        return ""
    parts = []
    for row in headline_frame(evaluation).to_dict("records"):
        metric, model = row.pop("metric"), row.pop("model", None)
        task = row.pop("task")
        if model is None or pd.isna(model):
            continue
        base = [v for v in row.values() if pd.notna(v)]
        best = (max if HIGHER_IS_BETTER.get(metric, True) else min)(base) if base else None
        shown = fmt.pct if metric in PERCENT_METRICS else (lambda v: fmt.num(v, ".3f"))
        parts.append(f"{task}: {metric.replace('_', ' ')} {shown(model)}"
                     + (f" (best baseline {shown(best)})" if best is not None else ""))
    return " · ".join(parts)


def headline_of(run) -> str:
    """The run's headline from evaluation.json; a damaged file says so (one line) instead."""
    try:
        return headline(cache.evaluation_file(run))
    except Exception as exc:  # damaged evaluation.json: the message names the file and the fix
        return str(exc)[:200]


def runs_table(runs) -> tuple[pd.DataFrame, int]:
    rows, active = [], 0
    for run in runs:
        try:
            view, cfg = jobs.job_view(run), cache.config(run)
        except Exception as exc:  # a half-written or hand-edited run: list it, do not crash
            rows.append({"run": run.name, "state": "unreadable", "model": "", "tasks": "",
                         "progress": 0.0, "headline": str(exc)[:120], "tags": "", "notes": "", "trial": False})
            continue
        active += view.active
        meta = read_meta(run)
        rows.append({
            "run": run.name,
            "state": w.state_text(view.state),
            "model": cfg.model.name,
            "headline": (view.error if view.state == "damaged" else headline_of(run)) or (view.error or view.message or ""),
            "progress": view.progress,
            "best val loss": view.best_val_loss if view.best_val_loss is not None else float("nan"),
            "tasks": ", ".join(t.name for t in cfg.tasks),
            "data": fmt.source_name(cfg.data.source),
            "tags": ", ".join(meta.tags),
            "notes": meta.notes,
            "trial": is_trial(run),
        })
    return pd.DataFrame(rows), active


def filter_runs(table: pd.DataFrame) -> pd.DataFrame:
    """Search, state, tag and trial filters (each kept in the URL: ``?q=``, ``?states=``,
    ``?tags=``, ``?trials=1``); returns the matching rows."""
    c = st.columns([3, 2, 2, 1.5], vertical_alignment="bottom")
    query = links.url_text(c[0], "Search runs", key="q", placeholder="name, model, task, tag or note")
    states = links.url_multiselect(c[1], "State", sorted(set(table["state"])), key="states", placeholder="any state")
    all_tags = sorted({t.strip() for tags in table["tags"] for t in str(tags).split(",") if t.strip()})
    tags = links.url_multiselect(c[2], "Tags", all_tags, key="tags", placeholder="any tag")
    trials = links.url_toggle(c[3], "Show trials", key="trials", default=False,
                              help="Show the runs a tuning study trained (named <study>-t0001 …).")
    keep = pd.Series(True, index=table.index)
    if query:
        text = table[["run", "model", "tasks", "tags", "notes", "headline"]].astype(str).agg(" ".join, axis=1)
        keep &= text.str.contains(query, case=False, regex=False)
    if states:
        keep &= table["state"].isin(states)
    if tags:
        keep &= table["tags"].apply(lambda v: bool(set(tags) & {t.strip() for t in str(v).split(",")}))
    if not trials:
        keep &= ~table["trial"].astype(bool)
    return table[keep]


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
    table, active = runs_table(runs)
    states = table["state"]
    shown = filter_runs(table)
    c = st.columns(4)
    c[0].metric("Runs", len(table), border=True)
    queued = int((states == "queued").sum())
    c[1].metric("Training now", int((states == "running").sum()), border=True,
                delta=f"{queued} queued" if queued else None, delta_color="off", delta_arrow="off")
    c[2].metric("Finished", int((states == "done").sum()), border=True)
    c[3].metric("Failed or cancelled", int(states.isin(["failed", "cancelled"]).sum()), border=True)
    if len(shown) < len(table):
        st.caption(f"Showing {len(shown)} of {len(table)} runs (filters above).")
    shown = shown.drop(columns=["trial"])
    if "best val loss" in shown:  # a dash, never "None", for runs without a validation loss
        shown["best val loss"] = shown["best val loss"].map(lambda v: fmt.num(v, ".4f"))
    st.dataframe(
        shown.style.map(lambda v: f"color: {STATE_COLOURS.get(v, 'inherit')}; font-weight: 600", subset=["state"]),
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
            run = RunDir(root / name)
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
