"""Errors in the page, never a traceback.

``with guard("Loading predictions"):`` shows a finmt error's own message (it already says
what, where and how to fix) as ``st.error`` and stops the page; an unexpected exception is
logged with its traceback for the server log and shown to the user as one line plus a hint.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

from finmt_core.errors import ConfigError, DataError, FinmtError, RunError

log = logging.getLogger("finmt.dashboard")

#: default hint per error family, shown under the message.
HINTS: dict[type[FinmtError], str] = {
    DataError: "Check the file's columns and dates, or try the bundled demo data on the Data page.",
    ConfigError: "Adjust the settings above; the message names the field to change.",
    RunError: "Pick another run, or retrain this one from the Train page.",
}


def show_error(action: str, exc: BaseException, hint: str | None = None) -> None:
    """Render ``exc`` as an error box: ``<action> failed: <message>`` and a hint."""
    if isinstance(exc, FinmtError):
        message = str(exc)
        default_hint = next((h for cls, h in HINTS.items() if isinstance(exc, cls)), None)
    else:
        log.exception("dashboard: %s failed", action, exc_info=exc)
        message = f"unexpected {type(exc).__name__}: {exc}"
        default_hint = "This looks like a bug in finmt; the server log has the full traceback."
    st.error(f"**{action} failed.** {message}", icon=":material/error:")
    if hint or default_hint:
        st.caption(f":material/lightbulb: {hint or default_hint}")


@contextmanager
def guard(action: str, hint: str | None = None, stop: bool = True) -> Iterator[None]:
    """Run a block; show any error with :func:`show_error` and (by default) stop the page.

    Streamlit's own control flow (``st.stop``, ``st.rerun``) derives from BaseException
    and passes through untouched.
    """
    try:
        yield
    except Exception as exc:
        show_error(action, exc, hint)
        if stop:
            st.stop()
