"""Sign-in for real: ``finmt dashboard --sign-in`` against a local OpenID Connect provider.

The provider is ``oidc-provider-mock`` on loopback (its authorisation form takes the subject,
which it also returns as the ``email`` claim); Streamlit runs ``st.login`` against it through
its discovery document. Headless Chromium signs in as an editor (the Train page offers
"Launch training"), as a viewer (the page opens read-only: no launch control) and as someone not
on the access list (refused, no page).
"""

from __future__ import annotations

import os
import secrets
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_server import serve_process

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(900)]

REPO = Path(__file__).resolve().parents[2]
EDITOR, VIEWER, STRANGER = "ana@example.org", "bo@example.org", "eve@elsewhere.org"
WAIT_S = 120
SERVER_START_TIMEOUT_S = 120


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def provider() -> Iterator[str]:
    """A local OpenID Connect provider; yields its issuer URL."""
    mock = pytest.importorskip("oidc_provider_mock", reason="sign-in test needs oidc-provider-mock (pip install -e '.[dev]')")
    pytest.importorskip("authlib", reason="Streamlit's st.login needs Authlib")
    with mock.run_server_in_thread(port=_free_port()) as server:
        yield f"http://localhost:{server.server_port}"


@pytest.fixture(scope="module")
def signin_server(provider: str, browser_tools, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``finmt dashboard --sign-in --secrets FILE`` on a free loopback port; yields its URL."""
    port = _free_port()
    work = tmp_path_factory.mktemp("signin")
    secrets_file = work / "secrets.toml"
    secrets_file.write_text(
        "[auth]\n"
        f'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
        f'cookie_secret = "{secrets.token_hex(32)}"\n'
        'client_id = "finmt-test"\nclient_secret = "finmt-test-secret"\n'
        f'server_metadata_url = "{provider}/.well-known/openid-configuration"\n\n'
        "[finmt.users]\n"
        f'"{EDITOR}" = "editor"\n"{VIEWER}" = "viewer"\n',
        encoding="utf-8",
    )
    runs = work / "runs"
    env = dict(os.environ, FINMT_DEMO="0", PYTHONUNBUFFERED="1", PYTHONPATH=str(REPO))
    env.pop("FINMT_VIEWER", None)
    log = work / "dashboard.log"
    cmd = [sys.executable, "-m", "finmt_core.cli", "dashboard", "--sign-in", "--secrets", str(secrets_file),
           "--port", str(port), "--runs-dir", str(runs), "--", "--server.fileWatcherType=none"]
    # SIGTERM: finmt forwards it to streamlit
    yield from serve_process(cmd, cwd=work, env=env, log=log, port=port, what="finmt dashboard --sign-in",
                             start_timeout_s=SERVER_START_TIMEOUT_S, stop_timeout_s=30)


def _wait_for(driver, predicate, what: str, timeout: float = WAIT_S):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            found = predicate()
        except Exception:  # the page is changing under us (navigation): look again
            found = None
        if found:
            return found
        time.sleep(0.3)
    from selenium.webdriver.common.by import By

    raise AssertionError(f"timed out waiting for {what}; page shows:\n{driver.find_element(By.TAG_NAME, 'body').text[:2000]}")


def _idle(driver) -> bool:
    from selenium.webdriver.common.by import By

    apps = driver.find_elements(By.CSS_SELECTOR, "[data-testid='stApp']")
    return bool(apps) and apps[0].get_attribute("data-test-script-state") == "notRunning"


def _body(driver) -> str:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.TAG_NAME, "body").text


def _sign_in(driver, url: str, email: str) -> None:
    """A fresh browser session: open the app, press Sign in, give ``email`` to the provider."""
    from selenium.webdriver.common.by import By

    driver.delete_all_cookies()
    driver.get(url)
    button = _wait_for(driver, lambda: [b for b in driver.find_elements(By.TAG_NAME, "button")
                                        if b.text.strip().endswith("Sign in")], "the Sign in button")
    button[0].click()
    field = _wait_for(driver, lambda: driver.find_elements(By.CSS_SELECTOR, "input[name='sub']"), "the provider's form")
    field[0].send_keys(email)
    driver.find_element(By.XPATH, "//button[normalize-space()='Authorize']").click()
    _wait_for(driver, lambda: driver.current_url.startswith(url) and _idle(driver)
              and "Sign in" not in [b.text.strip() for b in driver.find_elements(By.TAG_NAME, "button")],
              f"the app after signing in as {email}")


def _open_train(driver, url: str) -> str:
    driver.get(f"{url}/train")
    return _wait_for(driver, lambda: _idle(driver) and "Train" in _body(driver) and _body(driver), "the Train page")


def test_an_editor_gets_the_whole_app(signin_server, driver):
    _sign_in(driver, signin_server, EDITOR)
    _open_train(driver, signin_server)
    text = _wait_for(driver, lambda: "Launch training" in _body(driver) and _body(driver), "the launch control")
    assert EDITOR in text and "editor" in text
    assert "Read-only dashboard" not in text


def test_a_viewer_gets_the_read_only_app(signin_server, driver):
    _sign_in(driver, signin_server, VIEWER)
    _open_train(driver, signin_server)
    # the Train page's own read-only note: the page has rendered, in viewer mode
    text = _wait_for(driver, lambda: _idle(driver) and "Runs are launched, cancelled and resumed" in _body(driver)
                     and _body(driver), "the Train page in viewer mode")
    assert VIEWER in text and "viewer (read-only)" in text
    assert "Launch training" not in text


def test_someone_not_on_the_list_is_refused(signin_server, driver):
    _sign_in(driver, signin_server, STRANGER)
    text = _wait_for(driver, lambda: "Not on the access list" in _body(driver) and _body(driver), "the refusal")
    assert STRANGER in text
    driver.get(f"{signin_server}/train")  # no page opens by its address either
    text = _wait_for(driver, lambda: _idle(driver) and "Not on the access list" in _body(driver) and _body(driver),
                     "the refusal on /train")
    assert "Launch training" not in text and "Home" not in text
