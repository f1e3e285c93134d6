"""``finmt dashboard``: the app's settings travel as flags wherever it starts, and an editable
dashboard is never served beyond loopback by accident (``--viewer`` or ``--insecure`` say so)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from finmt_core.cli import app
from finmt_core.commands import dashboard as cmd

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def launched(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[tuple[list[str], dict[str, str]]]:
    """Calls of ``streamlit run`` (recorded, not started), from a folder outside the checkout."""
    calls: list[tuple[list[str], dict[str, str]]] = []
    monkeypatch.setattr(cmd, "run_forwarding_signals", lambda argv, env: calls.append((argv, env)) or 0)
    monkeypatch.delenv(cmd.VIEWER_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    return calls


def run(*args: str):
    return CliRunner().invoke(app, ["dashboard", *args])


@pytest.mark.parametrize("address", ["127.0.0.1", "127.0.1.1", "localhost", "::1", "[::1]"])
def test_loopback_addresses(address):
    assert cmd.is_loopback(address)


@pytest.mark.parametrize("address", ["0.0.0.0", "", "::", "192.168.1.20", "10.0.0.5", "finmt.example.org"])
def test_addresses_reachable_from_elsewhere(address):
    assert not cmd.is_loopback(address)


def test_a_network_address_without_viewer_mode_refuses_and_names_the_options(launched):
    result = run("--address", "0.0.0.0")
    assert result.exit_code == 2
    for option in ("--viewer", "--sign-in", "--insecure", "--address 127.0.0.1"):
        assert option in result.output
    assert not launched  # streamlit never started


@pytest.mark.parametrize("how", [("--viewer",), ("--insecure",), ("env",)])
def test_a_network_address_is_served_read_only_or_on_purpose(launched, monkeypatch, how):
    if how == ("env",):
        monkeypatch.setenv(cmd.VIEWER_ENV, "1")
        how = ()
    result = run("--address", "0.0.0.0", "--port", "8600", *how)
    assert result.exit_code == 0, result.output
    (argv, env), = launched
    assert argv[argv.index("--server.address") + 1] == "0.0.0.0"
    assert argv[argv.index("--server.port") + 1] == "8600"
    assert (env.get(cmd.VIEWER_ENV) == "1") == (how != ("--insecure",))


def test_the_apps_settings_are_flags_wherever_it_starts(launched, tmp_path):
    result = run("--runs-dir", "my-runs", "--", "--server.baseUrlPath=finmt")
    assert result.exit_code == 0, result.output
    (argv, env), = launched
    assert Path(argv[argv.index("run") + 1]) == cmd.app_root() / "dashboard" / "app.py"
    for flag in ("--theme.primaryColor=#2563eb", "--server.maxUploadSize=200", "--theme.light.backgroundColor=#ffffff",
                 "--theme.dark.backgroundColor=#0f172a"):
        assert flag in argv  # from .streamlit/config.toml, though the current folder has none
    assert argv[argv.index("--server.address") + 1] == "127.0.0.1"
    assert not [a for a in argv if a.startswith("--server.address=")]  # config.toml's own is not repeated
    assert argv[-1] == "--server.baseUrlPath=finmt"  # after `--`: passed through, last
    assert env[cmd.RUNS_ENV] == str(tmp_path / "my-runs") and cmd.VIEWER_ENV not in env


def test_passthrough_cannot_move_the_address(launched):
    result = run("--", "--server.address=0.0.0.0")
    assert result.exit_code == 2 and "--address" in result.output
    assert not launched


def test_app_root_in_a_checkout_is_the_repository():
    root = cmd.app_root()
    assert root == REPO  # pip install -e .: the checkout itself (an installation: finmt_app/)
    assert (root / "dashboard" / "app.py").is_file() and (root / "pages" / "home.py").is_file()
    assert (root / ".streamlit" / "config.toml").is_file()


SIGN_IN_SECRETS = """[auth]
redirect_uri = "https://finmt.example.org/oauth2callback"
cookie_secret = "0123456789abcdef0123456789abcdef"
client_id = "finmt"
client_secret = "secret"
server_metadata_url = "https://idp.example.org/.well-known/openid-configuration"

[finmt.users]
"ana@example.org" = "editor"
"@example.org" = "viewer"
"""


@pytest.mark.parametrize("where", ["cwd", "--secrets"])
def test_sign_in_serves_a_network_address_and_tells_the_app(launched, tmp_path, where):
    if where == "cwd":  # ./.streamlit/secrets.toml, where streamlit itself looks
        (tmp_path / ".streamlit").mkdir()
        (tmp_path / ".streamlit" / "secrets.toml").write_text(SIGN_IN_SECRETS)
        args: tuple[str, ...] = ()
    else:
        (tmp_path / "team.toml").write_text(SIGN_IN_SECRETS)
        args = ("--secrets", "team.toml")
    result = run("--address", "0.0.0.0", "--sign-in", *args)
    assert result.exit_code == 0, result.output
    assert "sign-in required, 2 entries" in result.output
    (argv, env), = launched
    assert env["FINMT_SIGN_IN"] == "1" and cmd.VIEWER_ENV not in env  # editors get the whole app
    assert (f"--secrets.files={tmp_path / 'team.toml'}" in argv) == (where == "--secrets")


def test_sign_in_without_settings_refuses_naming_what_is_missing(launched, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.streamlit/secrets.toml either
    result = run("--address", "0.0.0.0", "--sign-in")
    assert result.exit_code == 2
    assert "no [auth] section" in result.output and "[finmt.users]" in result.output
    assert not launched
    result = run("--secrets", "team.toml")
    assert result.exit_code == 2 and "use it with --sign-in" in result.output
    result = run("--sign-in", "--secrets", "nowhere.toml")
    assert result.exit_code == 2 and "no such file" in result.output
