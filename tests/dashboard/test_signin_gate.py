"""The sign-in gate (dashboard/signin.py) through the real router, with AppTest's simulated
``st.user``: no page for anyone not signed in and on the access list, the whole app for an
editor, viewer mode for a viewer, and no way in at all while sign-in is asked for but not set up.
(The real OpenID Connect round trip is tests/e2e/test_signin_browser.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest
from page_helpers import no_exception, texts

from dashboard import state
from finmt_core.access import SIGN_IN_ENV

REPO = Path(__file__).resolve().parents[2]
SECRETS = {
    "auth": {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "0123456789abcdef" * 2,
             "client_id": "finmt", "client_secret": "secret",
             "server_metadata_url": "http://localhost:9400/.well-known/openid-configuration"},
    "finmt": {"users": {"ana@example.org": "editor", "bo@example.org": "viewer"}},
}


@pytest.fixture
def app(empty_root, monkeypatch):
    """``app(user=..., secrets=..., page=...)`` -> the AppTest after opening ``page``."""
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv(state.RUNS_ENV, str(empty_root))
    monkeypatch.setenv(state.DEMO_ENV, "0")
    monkeypatch.delenv(state.VIEWER_ENV, raising=False)
    monkeypatch.delenv(SIGN_IN_ENV, raising=False)

    def _open(user: dict | None = None, secrets: dict | None = None, page: str = "train") -> AppTest:
        at = AppTest.from_file(str(REPO / "dashboard" / "app.py"), default_timeout=120)
        at.secrets = dict(secrets or {})
        at.user = dict(user or {"is_logged_in": False})
        at.run()
        no_exception(at)
        stopped_at_gate = bool(_keys(at) & {"signin_login", "signin_sign_out"}) or "Sign-in is not set up" in texts(at)
        if page != "home" and not stopped_at_gate:
            at.switch_page(f"../pages/{page}.py")
            at.run()
            no_exception(at)
        return at

    return _open


def _keys(at) -> set[str]:
    return {b.key for b in at.button if b.key}


def test_without_sign_in_settings_there_is_no_gate(app):
    at = app()
    assert "launch" in _keys(at) and "signin_login" not in _keys(at)


def test_nobody_sees_a_page_before_signing_in(app):
    at = app(secrets=SECRETS)
    assert _keys(at) == {"signin_login"}
    assert "sign in to open it" in texts(at)
    assert not at.get("selectbox") and not at.get("file_uploader")


def test_an_editor_gets_the_whole_app(app):
    at = app(user={"is_logged_in": True, "email": "Ana@Example.org", "email_verified": True}, secrets=SECRETS)
    assert {"launch", "signin_sidebar_sign_out"} <= _keys(at)
    assert "Ana@Example" in texts(at) and "editor" in texts(at)


def test_a_viewer_gets_viewer_mode_in_their_session(app):
    at = app(user={"is_logged_in": True, "email": "bo@example.org"}, secrets=SECRETS)
    assert "launch" not in _keys(at) and "signin_sidebar_sign_out" in _keys(at)
    assert "viewer mode" in "\n".join(str(i.value) for i in at.info)
    assert at.session_state[state.ROLE_KEY] == "viewer"


@pytest.mark.parametrize("user", [{"is_logged_in": True, "email": "eve@elsewhere.org"},
                                  {"is_logged_in": True, "email": "ana@example.org", "email_verified": False},
                                  {"is_logged_in": True}])
def test_anyone_else_is_refused(app, user):
    at = app(user=user, secrets=SECRETS)
    assert _keys(at) == {"signin_sign_out"}
    assert "Not on the access list" in texts(at)
    assert user.get("email", "the provider sent no e-mail") in texts(at).replace("\\", "")


def test_sign_in_asked_for_but_not_set_up_lets_nobody_in(app, monkeypatch):
    monkeypatch.setenv(SIGN_IN_ENV, "1")  # finmt dashboard --sign-in, secrets gone since
    at = app(user={"is_logged_in": True, "email": "ana@example.org"})
    assert "Sign-in is not set up" in texts(at) and "no [auth] section" in texts(at)
    assert not _keys(at)
    bad = {**SECRETS, "finmt": {"users": {"ana@example.org": "admin"}}}  # a bad list also shuts the door
    at = app(user={"is_logged_in": True, "email": "ana@example.org"}, secrets=bad)
    assert "Sign-in is not set up" in texts(at) and "'admin'" in texts(at)


def _viewer_calls_a_mutating_function() -> None:
    """AppTest script: a session signed in as a viewer asks for a training launch."""
    import streamlit as st

    from dashboard import jobs, state
    from finmt_core.config import load_preset

    st.session_state[state.ROLE_KEY] = "viewer"
    try:
        jobs.launch(load_preset("naive"), state.runs_root(), "should-not-exist")
    except state.ReadOnlyError as exc:
        st.write(f"refused: {exc}")


def test_the_functions_behind_the_controls_refuse_a_signed_in_viewer(empty_root, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv(state.RUNS_ENV, str(empty_root))
    monkeypatch.delenv(state.VIEWER_ENV, raising=False)
    at = AppTest.from_function(_viewer_calls_a_mutating_function, default_timeout=60).run()
    no_exception(at)
    assert "refused:" in texts(at) and "signed in as a viewer" in texts(at)
    assert not list(empty_root.iterdir())  # no run was created
    assert not state.viewer_mode()  # outside that session nothing is read-only
