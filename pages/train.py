"""Train: configure a run from a preset, launch it as a background `finmt train` process, and
watch, cancel or resume every job (viewer mode: only watch)."""

from __future__ import annotations

import streamlit as st

from dashboard import cache, jobs, state
from dashboard import train_form as tf
from dashboard import widgets as w
from dashboard.ensemble_form import ensemble_section
from dashboard.errors import guard
from finmt_core.config import PRESET_DIR, list_presets, load_preset
from finmt_core.training.runs import RunDir, list_runs

WEIGHTING = {
    "fixed": "fixed weights",
    "learnable": "learnable (softmax) weights",
    "uncertainty": "uncertainty weighting (Kendall et al.)",
    "dwa": "dynamic weight averaging",
    "gradnorm": "GradNorm",
}
SCHEDULES = {"cosine": "cosine + warm-up", "cosine_restarts": "cosine warm restarts", "plateau": "reduce on plateau",
             "none": "constant"}
RECENT = 8  # stopped runs shown below the active ones
DEFAULT_PRESET = "tgcn"

root = state.runs_root()
st.title("Train", anchor=False)

# ---- device -------------------------------------------------------------------------------
dev = cache.device_info()
if dev["cuda"]:
    st.success(f"CUDA available: {', '.join(dev['names'])} — `auto` trains on the GPU "
               f"(mixed precision).", icon=":material/memory:")
else:
    st.info(f"CUDA is not available here (torch {dev['torch']}): runs train on the CPU.", icon=":material/memory:")

# ---- the form (absent in viewer mode) ---------------------------------------------------
viewer = state.viewer_mode()
submitted = False
if viewer:
    st.info("**Read-only dashboard (viewer mode).** Runs are launched, cancelled and resumed where the "
            "dashboard runs in editor mode or with `finmt train`; below is every job's status.",
            icon=":material/visibility:")
else:
    presets = list_presets()
    if not presets:
        st.error(f"No presets found in `{PRESET_DIR}`. Each architecture has a YAML preset there; restore "
                 "`configs/` from the repository (or reinstall finmt).", icon=":material/error:")
        st.stop()

    with st.container(border=True):
        st.subheader("New run", anchor=False)
        c1, c2 = st.columns(2)
        preset = c1.selectbox("Preset", presets, key="train_preset", help="One YAML per architecture in configs/.",
                              index=presets.index(DEFAULT_PRESET) if DEFAULT_PRESET in presets else 0)
        with c2:
            data_key = w.dataset_picker(root, label="Data", help="Upload your own panel on the Data page.")
        with guard("Loading the preset"):
            base = load_preset(preset)
        estimator = tf.is_estimator(base.model.name)
        st.caption(f"Model `{base.model.name}` · {len(base.tasks)} task(s): "
                   f"{', '.join(t.name for t in base.tasks)} · window {base.data.window} days"
                   + (" · a fitted baseline: epochs, batch size and learning rates do not apply."
                      if estimator and base.model.name != "ensemble" else "")
                   + (" · an ensemble: its member presets train first (epochs apply to them, or finished runs with "
                      "the same configs are reused), then its weights are fitted on validation."
                      if base.model.name == "ensemble" else ""))

        with st.form("train_form", border=False):
            name = st.text_input("Run name", placeholder=f"{preset}-<timestamp> (automatic)", key="train_name",
                                 help="Letters, digits, '.', '_' or '-'.")
            st.markdown("**Tasks and horizons** — tick the heads to train; horizons in trading days.")
            table = tf.edit_tasks(base, key=f"tasks.{preset}")
            c = st.columns(4)
            weighting = c[0].selectbox("Loss weighting", list(WEIGHTING), format_func=WEIGHTING.get,
                                       index=list(WEIGHTING).index(base.loss.weighting))
            epochs = c[1].number_input("Epochs", min_value=1, max_value=10_000, value=base.train.epochs, key="train_epochs")
            batch = c[2].number_input("Batch size", min_value=1, max_value=65_536, value=base.train.batch_size,
                                    key="train_batch")
            # "cuda" is offered only where a GPU is: elsewhere a cuda run could only fail
            devices = ["auto", "cpu", "cuda"] if dev["cuda"] else ["auto", "cpu"]
            device = c[3].selectbox("Device", devices,
                                    index=devices.index(base.train.device) if base.train.device in devices else 0,
                                    help="auto = the GPU when CUDA is available." if dev["cuda"]
                                    else "No CUDA GPU here: runs train on the CPU.")
            c = st.columns(4)
            lr = c[0].number_input("Learning rate", min_value=1e-7, max_value=1.0, value=float(base.train.lr), format="%g")
            head_lr = c[1].number_input("Heads learning rate", min_value=0.0, max_value=1.0,
                                        value=float(base.train.lr_groups.get("heads", 0.0)), format="%g",
                                        help="0 = same as the learning rate.")
            schedule = c[2].selectbox("Schedule", list(SCHEDULES), format_func=SCHEDULES.get,
                                      index=list(SCHEDULES).index(base.train.schedule))
            warmup = c[3].number_input("Warm-up epochs", min_value=0, max_value=1000, value=base.train.warmup_epochs)
            c = st.columns(4)
            folds = c[0].number_input("Walk-forward folds", min_value=1, max_value=20, value=int(base.split.folds),
                                      key="train_folds", help="1 = one train/val/test split. More: one model per fold on "
                                      "consecutive test blocks, in one run; Evaluation shows each fold and their mean ± std.")
            scheme = c[1].selectbox("Fold scheme", ["expanding", "rolling"], key="train_scheme",
                                    index=["expanding", "rolling"].index(base.split.walk_forward),
                                    help="expanding: each fold trains on all dates before its test block; rolling: on a "
                                    "window of the first fold's length. Used when folds > 1.")
            gpus = 1
            if dev["count"] > 1 and not estimator and folds == 1:  # folds train one after another in one process  # several GPUs: one DDP process each (torchrun)
                gpus = int(st.number_input("GPUs", min_value=1, max_value=dev["count"], value=dev["count"],
                                           help="Processes launched with torchrun, one per GPU (DistributedDataParallel)."))
            with st.expander("Model size and hyper-parameters"):
                params = tf.edit_params(base, key=f"params.{preset}")
            submitted = st.form_submit_button("Launch training", type="primary", icon=":material/rocket_launch:", key="launch")

    if submitted:
        overrides = tf.form_overrides(base, source=w.data_source(root, data_key), tasks=tf.tasks_from_table(base, table),
                                      weighting=weighting, folds=int(folds), scheme=scheme, params=params,
                                      epochs=int(epochs), batch_size=int(batch), device=device, lr=float(lr),
                                      head_lr=float(head_lr), schedule=schedule, warmup_epochs=int(warmup))
        with guard("Checking the configuration"):
            config = load_preset(preset, overrides)
        with guard("Starting the run"):
            launched = jobs.launch(config, root, name.strip() or None, nproc=gpus if folds == 1 else 1)  # folds: one process
        st.toast(f"Started {launched.name}", icon=":material/rocket_launch:")


ensemble_section(root, viewer)  # build an ensemble from finished runs; weights of ensemble runs


# ---- jobs ---------------------------------------------------------------------------------
def do_cancel(run: RunDir) -> None:
    try:
        st.toast(jobs.cancel(run), icon=":material/cancel:")
    except Exception as exc:
        st.toast(f"Could not cancel {run.name}: {exc}", icon=":material/error:")


def do_resume(run: RunDir) -> None:
    try:
        jobs.resume(run)
        st.toast(f"Resuming {run.name}", icon=":material/replay:")
    except Exception as exc:
        st.toast(f"Could not resume {run.name}: {exc}", icon=":material/error:")


def model_of(run: RunDir) -> str:
    try:
        return cache.config(run).model.name
    except Exception:  # a run whose config cannot be read: its card still shows the status
        return "?"


def job_card(view: jobs.JobView) -> None:
    with st.container(border=True):
        top = st.columns([4, 2, 1.3, 1.3], vertical_alignment="center")  # room for "Cancel" / "Resume" at 1280 px
        top[0].markdown(f"**{view.name}** · `{view.model or model_of(view.run)}`")
        with top[1]:
            w.status_badge(view.state)
        if view.can_cancel and not viewer:
            top[2].button("Cancel", key=f"cancel.{view.name}", icon=":material/stop_circle:",
                          on_click=do_cancel, args=(view.run,), width="stretch")
        if view.can_resume and not viewer:
            top[3].button("Resume", key=f"resume.{view.name}", icon=":material/replay:",
                          on_click=do_resume, args=(view.run,), width="stretch")
        if view.state != "done" or view.progress < 1:
            epoch = f"epoch {view.epoch or 0}/{view.epochs or '?'}"
            if view.message and view.message.startswith("fold "):  # a walk-forward run: its fold and epoch
                epoch = view.message
            eta = f"ETA {w.fmt_seconds(view.eta_s)}" if view.active else (view.message or "")
            st.progress(view.progress, text=f"{epoch} · {eta} · device {view.device or '–'}")
        if view.state.startswith("failed") or view.state == "damaged":
            st.error(view.error or "The run stopped without a message (see the log).", icon=":material/error:")
        tail = jobs.log_tail(view.run, 40)
        if tail and not view.active:
            with st.expander("Log"):
                st.code(tail, language=None)


def jobs_section() -> None:
    views = [jobs.job_view(r) for r in list_runs(root)]
    if not views:
        w.empty_state("No jobs yet", "No run has been trained here yet." if viewer
                      else "Launch a run with the form above; it trains in the background.")
        return
    active = [v for v in views if v.active]
    others = [v for v in views if not v.active]
    show_all = st.toggle("Show all runs", value=False, key="train_show_all")
    for view in active + (others if show_all else others[:RECENT]):
        job_card(view)
    if active:
        st.caption(":material/autorenew: Live: refreshes every 2 seconds while jobs run.")


st.subheader("Jobs", anchor=False)
running = any(jobs.job_view(r).active for r in list_runs(root)) or submitted
st.fragment(jobs_section, run_every=2 if running else None)()
