"""Shared UI pieces: run / ticker / date / dataset pickers kept in the URL, status badges,
empty states.

Every picker writes its choice to ``st.query_params`` (a refresh or a shared link shows the
same view) and mirrors it in the session, because Streamlit clears query parameters when the
user switches pages: the next page puts the remembered value back into its URL (see
:mod:`dashboard.state`). Streamlit's own ``bind="query-params"`` is not used for these: it
keeps a value per page and drops it from the URL when it equals the widget's default.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import streamlit as st

from dashboard import state
from finmt_core.config import ExperimentConfig
from finmt_core.training.run_state import DAMAGED_STATE
from finmt_core.training.runs import STALE_STATE, RunDir

PAGES = Path(__file__).resolve().parent.parent / "pages"

#: run state -> (badge colour, icon, short text)
STATE_STYLE: dict[str, tuple[str, str, str]] = {
    "queued": ("gray", ":material/schedule:", "queued"),
    "running": ("blue", ":material/progress_activity:", "running"),
    "done": ("green", ":material/check_circle:", "done"),
    "failed": ("red", ":material/error:", "failed"),
    "cancelled": ("orange", ":material/cancel:", "cancelled"),
    STALE_STATE: ("violet", ":material/warning:", "stopped (no heartbeat)"),
    DAMAGED_STATE: ("red", ":material/broken_image:", "damaged"),
}
#: badge colour -> the same colour for text in a table (a table cell cannot hold a badge)
BADGE_HEX: dict[str, str] = {"green": "#15803d", "blue": "#2563eb", "gray": "#6b7280", "red": "#b91c1c",
                             "orange": "#c2410c", "violet": "#7c3aed"}


def status_badge(state: str) -> None:
    """A coloured badge for a run state."""
    color, icon, text = STATE_STYLE.get(state, ("gray", ":material/help:", state))
    st.badge(text, icon=icon, color=color)  # type: ignore[arg-type]


def state_text(state: str) -> str:
    """The state as plain words (tables and select boxes cannot show badges)."""
    return STATE_STYLE.get(state, ("", "", state))[2]


def state_css(text: str) -> str:
    """CSS for a state as :func:`state_text` writes it, in its badge's colour (tables)."""
    colour = next((c for c, _icon, shown in STATE_STYLE.values() if shown == text), None)
    return f"color: {BADGE_HEX.get(colour, 'inherit') if colour else 'inherit'}; font-weight: 600"


def page_link(file: str, label: str, icon: str | None = None) -> None:
    """A link to another page of the app (``file`` is the page's file name in ``pages/``)."""
    st.page_link(str(PAGES / file), label=label, icon=icon)


def empty_state(title: str, body: str, link: tuple[str, str, str] | None = None) -> None:
    """A friendly placeholder: what is missing and where to get it (``link`` = file, label, icon)."""
    with st.container(border=True):
        st.markdown(f"#### {title}")
        st.markdown(body)
        if link is not None:
            page_link(*link)


def no_runs(what: str = "this page") -> None:
    """The empty state shared by every page that needs a run, then stop the page."""
    empty_state(
        "No runs yet",
        f"Train a model to fill {what}. On first start finmt trains a small demo set in the "
        "background; its progress shows on the Home page.",
        ("train.py", "Train a model", ":material/rocket_launch:"),
    )
    st.stop()


def url_select(
    container: object,
    label: str,
    options: Sequence[str],
    *,
    name: str,
    default: str | None = None,
    **kwargs: object,
) -> str | None:
    """A select box whose value lives in the URL as ``?<name>=`` (and in the session, for the
    next page). The URL value wins when it is one of ``options``; else the remembered one;
    else ``default``; else the first option."""
    options = [str(o) for o in options]
    if not options:
        return None
    wanted = state.get_param(name)
    pick = wanted if wanted in options else default if default in options else options[0]
    value = container.selectbox(label, options, index=options.index(pick), key=name, **kwargs)  # type: ignore[attr-defined]
    state.set_param(name, value)
    return None if value is None else str(value)


def run_picker(
    runs: Sequence[RunDir],
    *,
    label: str = "Run",
    key: str = "run",
    sidebar: bool = True,
    help: str | None = None,
) -> RunDir | None:
    """Select a run (``?run=<name>``); None when there are no runs. Without a run in the URL
    the page opens on the most recent finished run that is not a tuning trial
    (:func:`finmt_core.training.run_admin.default_run`)."""
    from finmt_core.training.run_admin import default_run

    if not runs:
        return None
    from dashboard.gate_badge import gate_badge

    by_name = {r.name: r for r in runs}
    box = st.sidebar if sidebar else st
    first = default_run(runs) or runs[0]
    name = url_select(box, label, list(by_name), name=key, default=first.name,
                      help=help or "Runs in the runs folder, newest first.")
    run = by_name.get(str(name), first)
    gate_badge(run, box)
    return run


def ticker_picker(
    tickers: Sequence[str], *, key: str = "ticker", label: str = "Ticker", sidebar: bool = False
) -> str | None:
    """Select a ticker (``?ticker=``)."""
    return url_select(st.sidebar if sidebar else st, label, list(tickers), name=key)


def date_picker(
    dates: Sequence[pd.Timestamp] | pd.DatetimeIndex,
    *,
    key: str = "date",
    label: str = "Date",
    default_last: bool = True,
    sidebar: bool = False,
) -> pd.Timestamp | None:
    """Select one of ``dates`` (``?date=YYYY-MM-DD``); defaults to the latest."""
    if len(dates) == 0:
        return None
    iso = [pd.Timestamp(d).strftime("%Y-%m-%d") for d in dates]
    value = url_select(st.sidebar if sidebar else st, label, iso, name=key,
                       default=iso[-1] if default_last else iso[0])
    return pd.Timestamp(value) if value else None


def run_caption(run: RunDir, run_state: str, config_summary: str) -> None:
    """One line under a page title saying which run is shown, with its status badge."""
    cols = st.columns([6, 1])
    cols[0].caption(f"Run **{run.name}** · {config_summary}")
    with cols[1]:
        status_badge(run_state)


def fmt_seconds(seconds: float | None) -> str:
    """``95`` -> ``1m 35s``; None -> ``–``."""
    if seconds is None or not pd.notna(seconds):
        return "–"
    s = round(float(seconds))
    if s < 60:
        return f"{s}s"
    m, s = divmod(s, 60)
    if m < 60:
        return f"{m}m {s:02d}s"
    h, m = divmod(m, 60)
    return f"{h}h {m:02d}m"


# ---- datasets ---------------------------------------------------------------------------
BUILTIN_DATA = {"demo": "Bundled demo data (real daily prices)", "synthetic": "Synthetic market (planted signal)"}


def plain_text(name: object) -> str:
    """A ticker / file name for ``st.markdown``, captions, titles and boxes: rendered as the
    literal text (``![x](url)`` is no image, ``[a](b)`` no link, ``**`` no bold)."""
    from finmt_core.io_safety import escape_markdown

    return escape_markdown(name)


STREAMLIT_CONFIG = Path(__file__).resolve().parent.parent / ".streamlit" / "config.toml"
DEFAULT_UPLOAD_MB = 200.0  # Streamlit's own default for server.maxUploadSize


def upload_limit_mb() -> float:
    """``server.maxUploadSize`` (MB) from .streamlit/config.toml; Streamlit's default when unset."""
    import tomllib

    try:
        config = tomllib.loads(STREAMLIT_CONFIG.read_text(encoding="utf-8"))
        return float(config.get("server", {}).get("maxUploadSize", DEFAULT_UPLOAD_MB))
    except (OSError, ValueError, TypeError):
        return DEFAULT_UPLOAD_MB


def dataset_options(root: Path) -> dict[str, str]:
    """option key -> label: the built-in sources and every upload saved from the Data page
    (key ``upload:<stem>``; the URL carries the key, never a server path)."""
    from finmt_core.data.uploads import list_uploads

    return {**BUILTIN_DATA, **{f"upload:{stem}": f"Upload: {stem}" for stem in list_uploads(root)}}


def data_source(root: Path, key: str) -> str:
    """The ``load_panel`` source of an option key: "demo", "synthetic" or the upload's path."""
    if key.startswith("upload:"):
        from finmt_core.data.uploads import upload_path

        return str(upload_path(root, key.split(":", 1)[1]))
    return key


def dataset_picker(root: Path, *, key: str = "data", label: str = "Data", help: str | None = None) -> str:
    """Choose a data source (``?data=``); returns the option key (see :func:`data_source`)."""
    options = dataset_options(root)
    value = url_select(st, label, list(options), name=key, format_func=lambda s: options.get(s, s), help=help)
    return str(value)


# ---- the common page header for pages that read a finished run --------------------------
def pick_finished_run(root: Path, what: str) -> tuple[RunDir, ExperimentConfig]:
    """Sidebar picker over the runs that have predictions, with the page's empty states:
    no runs at all, runs still training, or only failed runs. Stops the page when there is
    nothing to show; otherwise returns the run and its config and writes the caption."""
    from dashboard import cache, jobs
    from finmt_core.training.runs import list_runs

    runs = list_runs(root)
    if not runs:
        no_runs(what)
    from finmt_core.training.walk_forward import FOLDS_DIR, analysis_run

    # a walk-forward run is ready when its last fold is (the pages show that fold)
    ready = [r for r in runs if cache.has_predictions(r)
             or ((r.path / FOLDS_DIR).is_dir() and cache.has_predictions(analysis_run(r)))]
    wanted = st.query_params.get("run")
    if not ready:
        active = [v for v in (jobs.job_view(r) for r in runs) if v.active]
        if active:
            v = active[0]
            empty_state(
                "Still training",
                f"**{v.name}** is {v.state} ({v.progress:.0%}, ETA {fmt_seconds(v.eta_s)}). {what.capitalize()} "
                "fills in as soon as a run finishes.",
                ("curves.py", "Watch it train", ":material/monitoring:"),
            )
        else:
            empty_state("No finished runs", f"None of the runs finished training, so {what} has nothing to show. "
                        "The Train page shows why each stopped.", ("train.py", "Open Train", ":material/rocket_launch:"))
        st.stop()
    if wanted and wanted not in {r.name for r in ready} and any(r.name == wanted for r in runs):
        st.info(f"Run **{wanted}** has no predictions yet (still training, or it stopped); showing another run.",
                icon=":material/hourglass_top:")
    picked = run_picker(ready, help="Runs that finished training, newest first.")
    assert picked is not None
    run = analysis_run(picked)
    if run is not picked:
        st.info(f"**{plain_text(picked.name)}** is a walk-forward run ({cache.config(picked).split.folds} folds): this page "
                f"shows its last fold (**{run.name}**: that fold's model and test segment). The Evaluation page shows "
                "every fold and their mean ± std.", icon=":material/view_timeline:")
    config = cache.config(run)
    tasks = ", ".join(t.name for t in config.tasks)
    from dashboard.fmt import source_name

    run_caption(picked, jobs.job_view(picked).state,
                f"`{config.model.name}` · tasks {tasks} · data {plain_text(source_name(config.data.source))}")
    return run, config
