"""The sign-in gate: nobody sees a page of a shared dashboard before signing in.

Sign-in is on when ``finmt dashboard --sign-in`` started the app (``FINMT_SIGN_IN=1``) or when
the secrets hold a ``[finmt.users]`` access list (so ``streamlit run`` of the same folder is
guarded too). People sign in with Streamlit's OpenID Connect support (``st.login``, provider in
``[auth]``); the access list (finmt_core/access.py) gives each address a role:

* ``editor`` -- the whole app;
* ``viewer`` -- viewer mode in their session (dashboard/state.py: the mutating controls are
  absent and the functions behind them refuse);
* anyone else is refused with their address and whom to ask.

When sign-in is asked for but not set up (no ``[auth]``, no list, a bad entry) the gate shows
what is wrong and lets nobody in: it never falls back to an open app.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from dashboard import state
from finmt_core.access import AccessList, access_list, auth_problems, sign_in_required
from finmt_core.errors import ConfigError
from finmt_core.io_safety import escape_markdown


def _secrets() -> dict[str, Any]:
    """The app's secrets as a plain dict ({} when there is no secrets.toml)."""
    try:
        return st.secrets.to_dict() if st.secrets.load_if_toml_exists() else {}
    except (FileNotFoundError, OSError):
        return {}


def _settings() -> tuple[bool, AccessList | None, list[str]]:
    """(sign-in on, access list, problems that keep anyone from signing in)."""
    secrets = _secrets()
    try:
        users = access_list(secrets)
        problems: list[str] = []
    except ConfigError as exc:
        users, problems = None, [str(exc)]
    enabled = sign_in_required() or users is not None or bool(problems)
    if enabled:
        problems += auth_problems(secrets)
        if users is None and not problems:
            problems.append("there is no [finmt.users] access list in secrets.toml")
    return enabled, users, problems


def _refuse(title: str, message: str, *, sign_out: bool) -> None:
    """Show why nobody (or this person) gets in, and stop the script: no page renders."""
    st.title("finmt")
    st.subheader(title)
    st.error(message, icon=":material/block:")
    if sign_out and st.button("Sign out", key="signin_sign_out", icon=":material/logout:"):
        st.logout()
    st.stop()


def gate() -> str | None:
    """Run before any page: None without sign-in; otherwise the signed-in person's role
    (``"editor"`` / ``"viewer"``, also kept in the session for :func:`state.viewer_mode`).
    Everyone else sees the sign-in screen or a refusal, and the script stops here."""
    enabled, users, problems = _settings()
    st.session_state.pop(state.ROLE_KEY, None)  # decided afresh on every run
    if not enabled:
        return None
    if problems or users is None:
        _refuse("Sign-in is not set up", "This dashboard asks people to sign in, but its secrets.toml is not "
                "complete, so nobody can come in:\n\n- " + "\n- ".join(problems)
                + "\n\nIts owner can fix this (README, 'Share with your team' -> 'Sign-in').", sign_out=False)
    if not st.user.is_logged_in:
        st.title("finmt")
        st.write("This dashboard is shared with a team: sign in to open it.")
        if st.button("Sign in", type="primary", key="signin_login", icon=":material/login:"):
            st.login()
        st.stop()
    email = st.user.get("email")
    role = users.role_of(email, st.user.get("email_verified"))
    if role is None:
        who = f"**{escape_markdown(str(email))}**" if email else "your account (the provider sent no e-mail address)"
        _refuse("Not on the access list", f"{who} may not open this dashboard. Ask its owner to add your "
                "address to the access list ([finmt.users] in secrets.toml), then sign in again.", sign_out=True)
    st.session_state[state.ROLE_KEY] = role
    return role


def signed_in_sidebar(role: str) -> None:
    """Who is signed in, as what, and a way out (in the sidebar)."""
    with st.sidebar:
        label = "editor" if role == "editor" else "viewer (read-only)"
        st.caption(f":material/account_circle: {escape_markdown(str(st.user.get('email')))} · {label}")
        if st.button("Sign out", key="signin_sidebar_sign_out", icon=":material/logout:"):
            st.logout()
