"""``finmt dashboard``: the app's settings travel as flags wherever it starts, and an editable
dashboard is never served beyond loopback by accident (``--viewer`` or ``--insecure`` say so)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from finmt_core.cli import app
from finmt_core.commands import dashboard as cmd

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def launched(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[tuple[list[str], dict[str, str]]]:
    """Calls of ``streamlit run`` (recorded, not started), from a folder outside the checkout."""
    calls: list[tuple[list[str], dict[str, str]]] = []
    monkeypatch.setattr(cmd.subprocess, "call", lambda argv, env: calls.append((argv, env)) or 0)
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
    for option in ("--viewer", "--insecure", "--address 127.0.0.1"):
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
