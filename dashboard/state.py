"""Where the dashboard keeps its state: runs on disk, the view in the URL.

* The runs root comes from the environment variable ``FINMT_RUNS_DIR`` (``finmt dashboard``
  sets it; default ``./runs``), so the app, the CLI and background jobs agree on one folder.
* Viewer mode (``FINMT_VIEWER=1``; ``finmt dashboard --viewer`` sets it) serves every analysis
  page read-only: no training launch, cancel, resume, upload or tuning. The pages leave those
  controls out and the functions behind them (:func:`require_editor`) refuse. With sign-in
  (dashboard/signin.py) a person whose role is ``viewer`` gets the same read-only app in their
  own session, whatever the process-wide setting.
* The current view (selected run, ticker, date, ...) lives in ``st.query_params`` so that a
  refresh or a shared link shows the same screen. Streamlit clears query parameters when the
  user switches pages, so every value is mirrored in ``st.session_state`` and written back
  to the URL on the next page.
"""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from finmt_core.errors import FinmtError
from finmt_core.runs_root import default_runs_root

#: environment variable naming the runs root (shared with ``finmt dashboard``).
RUNS_ENV = "FINMT_RUNS_DIR"
#: set to ``0`` to stop the first-start demo runs (tests, read-only deployments).
DEMO_ENV = "FINMT_DEMO"
#: set to ``1`` for a read-only dashboard (viewer mode; ``finmt dashboard --viewer`` sets it).
VIEWER_ENV = "FINMT_VIEWER"
_TRUE = ("1", "true", "yes", "on")
#: query parameters the app keeps across pages.
VIEW_PARAMS = ("run", "ticker", "date")
_MIRROR = "_view_"


def runs_root() -> Path:
    """The runs root (absolute), created on first use."""
    root = default_runs_root().expanduser().resolve()  # the CLI's rule: $FINMT_RUNS_DIR, else ./runs
    root.mkdir(parents=True, exist_ok=True)
    return root


def demo_enabled() -> bool:
    """Whether the first-start demo runs may be launched (``FINMT_DEMO=0`` turns them off, and
    viewer mode never trains)."""
    return os.environ.get(DEMO_ENV, "1").strip().lower() not in ("0", "false", "no", "off") and not viewer_mode()


class ReadOnlyError(FinmtError, PermissionError):
    """A mutating action (train, cancel, resume, upload, tune) asked of a viewer-mode dashboard."""


#: session-state key of the signed-in person's role (set only by dashboard/signin.py's gate)
ROLE_KEY = "_finmt_signed_in_role"


def session_role() -> str | None:
    """The signed-in person's role in this browser session (``"editor"`` / ``"viewer"``), or
    None without sign-in (or outside a script run, e.g. a background thread)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    if get_script_run_ctx(suppress_warning=True) is None:
        return None
    role = st.session_state.get(ROLE_KEY)
    return str(role) if role else None


def viewer_mode() -> bool:
    """Whether the dashboard is read-only for this session (``FINMT_VIEWER=1``, ``finmt dashboard
    --viewer``, or a person signed in with the viewer role)."""
    return os.environ.get(VIEWER_ENV, "0").strip().lower() in _TRUE or session_role() == "viewer"


def require_editor(action: str) -> None:
    """Raise :class:`ReadOnlyError` naming ``action`` when the dashboard is in viewer mode."""
    if session_role() == "viewer" and os.environ.get(VIEWER_ENV, "0").strip().lower() not in _TRUE:
        raise ReadOnlyError(f"{action} is not available: you are signed in as a viewer (read-only). "
                            "Ask the dashboard's owner to make you an editor in [finmt.users] of secrets.toml.")
    if viewer_mode():
        raise ReadOnlyError(
            f"{action} is not available: this dashboard is read-only (viewer mode, {VIEWER_ENV}=1). "
            "Start it without --viewer (and without FINMT_VIEWER) to train, upload or tune."
        )


def get_param(name: str) -> str | None:
    """A view parameter: the URL first, then the value remembered from another page."""
    value = st.query_params.get(name)
    if value:
        st.session_state[_MIRROR + name] = value
        return str(value)
    remembered = st.session_state.get(_MIRROR + name)
    if remembered:
        # carried over from another page: put it back in the URL so the link is shareable
        st.query_params[name] = remembered
        return str(remembered)
    return None


def set_param(name: str, value: str | None) -> None:
    """Store a view parameter in the URL and in the session (``None`` removes it)."""
    if value is None or value == "":
        st.query_params.pop(name, None)
        st.session_state.pop(_MIRROR + name, None)
        return
    value = str(value)
    if st.query_params.get(name) != value:
        st.query_params[name] = value
    st.session_state[_MIRROR + name] = value


def presentation_mode() -> bool:
    """Presentation mode (``?present=1``): navigation and controls are hidden."""
    return str(st.query_params.get("present", "0")).lower() in ("1", "true", "yes", "on")
