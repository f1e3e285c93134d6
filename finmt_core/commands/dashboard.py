"""``finmt dashboard``: start the Streamlit app (dashboard/app.py) with finmt's settings.

Wherever it is started (a checkout or an installed wheel, from any folder) the app gets:

* the settings of the app's ``.streamlit/config.toml`` (theme, upload limit, headless, ...),
  passed as ``streamlit run`` flags so they hold whatever the current folder is; a
  ``.streamlit/config.toml`` in the current folder adds its own settings (e.g.
  ``server.baseUrlPath`` behind a reverse proxy), and arguments after ``--`` go to
  ``streamlit run`` as they are;
* ``--viewer`` (or ``FINMT_VIEWER=1``): a read-only app (see dashboard/state.py);
* ``--sign-in``: people sign in with OpenID Connect (Streamlit's ``st.login``) and get the role
  the access list in ``secrets.toml`` gives them (editor or viewer; see finmt_core/access.py);
* a bind to 127.0.0.1 unless ``--address`` says otherwise; any other address refuses to start
  unless the app is read-only (``--viewer``), signs people in (``--sign-in``) or ``--insecure``
  says that everyone on that network may train, cancel, upload and tune;
* SIGTERM / SIGINT / SIGHUP sent to ``finmt dashboard`` stop the Streamlit server too
  (commands/_child.py).
"""

from __future__ import annotations

import importlib.util
import ipaddress
import os
import sys
from pathlib import Path
from typing import Any

import typer

from finmt_core.access import SIGN_IN_ENV, check_sign_in, default_secrets_files
from finmt_core.commands._child import run_forwarding_signals
from finmt_core.commands._common import friendly_errors, run_dir_alias, runs_dir_option, runs_root
from finmt_core.errors import ConfigError
from finmt_core.runs_root import RUNS_ENV

#: environment variables shared with dashboard/state.py (finmt_core never imports the app); the app
#: and the training jobs it starts read the runs root from RUNS_ENV, which this command sets
VIEWER_ENV = "FINMT_VIEWER"
#: streamlit settings this command sets from its own options (not from config.toml or ``--``)
OWN_SETTINGS = ("server.port", "server.address", "server.headless")


def app_root() -> Path:
    """The folder holding ``dashboard/app.py``, ``pages/`` and ``.streamlit/config.toml``: the
    installed ``finmt_app`` package (setup.py), or the repository root of a checkout."""
    spec = importlib.util.find_spec("finmt_app")
    candidates = [Path(p) for p in (spec.submodule_search_locations or [])] if spec else []
    candidates.append(Path(__file__).resolve().parents[2])  # a checkout (pip install -e .)
    for root in candidates:
        if (root / "dashboard" / "app.py").is_file():
            return root
    raise ConfigError(
        "the dashboard's files (dashboard/app.py, pages/) are not installed with finmt_core; "
        "reinstall finmt (pip install finmt, or pip install -e . in a checkout)"
    )


def config_flags(config_file: Path) -> list[str]:
    """``--section.key=value`` for every setting of a Streamlit config.toml (none if absent),
    except :data:`OWN_SETTINGS`."""
    import tomllib  # (stdlib since 3.11; ruff's target is still py310)

    try:
        config = tomllib.loads(config_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{config_file}: not valid TOML ({exc})") from None
    flags = []
    for name, value in _flatten(config):
        if name.count(".") >= 1 and name not in OWN_SETTINGS:
            flags.append(f"--{name}={_flag_value(value)}")
    return flags


def _flatten(table: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """``{"theme": {"light": {"primaryColor": "#fff"}}}`` -> ``[("theme.light.primaryColor", "#fff")]``
    (nested sections such as ``[theme.light]`` / ``[theme.dark]`` become dotted option names)."""
    out: list[tuple[str, Any]] = []
    for key, value in table.items():
        name = f"{prefix}{key}"
        out += _flatten(value, f"{name}.") if isinstance(value, dict) else [(name, value)]
    return out


def _flag_value(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def is_loopback(address: str) -> bool:
    """Whether ``address`` is reachable only from this machine (127.0.0.0/8, ::1, localhost)."""
    if address.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip().strip("[]")).is_loopback
    except ValueError:  # a host name (or "" = every interface): reachable from elsewhere
        return False


def check_exposure(address: str, viewer: bool, insecure: bool, sign_in: bool = False) -> None:
    """Refuse to serve an editable dashboard to anyone beyond loopback (ConfigError naming the options)."""
    if is_loopback(address) or viewer or insecure or sign_in:
        return
    raise ConfigError(
        f"refusing to serve the dashboard on {address or 'every interface'!r}: anyone who reaches it could "
        "launch and cancel training, upload files and tune. Choose one:\n"
        "  --viewer             serve it read-only (every analysis page; no training, uploads or tuning)\n"
        "  --sign-in            people sign in (OpenID Connect) and get the role secrets.toml gives them: "
        "editor or viewer (README, 'Share with your team')\n"
        "  --address 127.0.0.1  keep it on this machine (e.g. behind a reverse proxy that signs people in; "
        "README, 'Share with your team')\n"
        "  --insecure           serve every control to everyone on that network (a trusted network only)"
    )


def viewer_from_env() -> bool:
    return os.environ.get(VIEWER_ENV, "0").strip().lower() in ("1", "true", "yes", "on")


def streamlit_command(
    root: Path, port: int, address: str, headless: bool, extra: list[str] | tuple[str, ...] = ()
) -> list[str]:
    """The ``streamlit run`` command line: the app's config.toml as flags, this command's own
    settings, then ``extra`` (arguments after ``--``; they may not move the port or address)."""
    for arg in extra:
        if arg.split("=", 1)[0] in {f"--{name}" for name in OWN_SETTINGS}:
            raise ConfigError(f"{arg.split('=', 1)[0]} is set with finmt dashboard's own --port / --address / --headless")
    return [
        sys.executable, "-m", "streamlit", "run", str(root / "dashboard" / "app.py"),
        *config_flags(root / ".streamlit" / "config.toml"),
        "--server.port", str(port), "--server.address", address,
        "--server.headless", str(headless).lower(), "--browser.gatherUsageStats", "false",
        *extra,
    ]


def register(app: typer.Typer) -> None:
    @app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
    @friendly_errors
    def dashboard(
        ctx: typer.Context,
        port: int = typer.Option(8501, help="Port to serve on (bound to 127.0.0.1 by default)."),
        address: str = typer.Option(
            "127.0.0.1", help="Address to bind. Anything but loopback needs --viewer, --sign-in or --insecure."
        ),
        runs_dir: Path | None = runs_dir_option("Folder of run directories the app reads and writes "
                                                "(default: $FINMT_RUNS_DIR, else ./runs)."),
        run_dir: Path | None = run_dir_alias(),
        headless: bool = typer.Option(True, help="Do not try to open a browser window."),
        viewer: bool = typer.Option(
            False, "--viewer", help="Read-only: every analysis page; no training, cancelling, uploads or tuning "
            "(same as FINMT_VIEWER=1)."
        ),
        sign_in: bool = typer.Option(
            False, "--sign-in", help="People sign in with OpenID Connect ([auth] in secrets.toml) and get the role "
            "[finmt.users] gives them: editor (everything) or viewer (read-only); anyone else is refused."
        ),
        secrets: Path = typer.Option(
            None, "--secrets", help="The secrets.toml with [auth] and [finmt.users] (default: ./.streamlit/"
            "secrets.toml, then ~/.streamlit/secrets.toml)."
        ),
        insecure: bool = typer.Option(
            False, "--insecure", help="Allow a non-loopback --address without --viewer or --sign-in: everyone who "
            "reaches it can train, cancel, upload and tune."
        ),
    ) -> None:
        """Start the dashboard. On first start with no runs it trains a small demo set in the background
        (not with --viewer). Arguments after -- go to `streamlit run` (e.g. -- --server.baseUrlPath=finmt)."""
        viewer = viewer or viewer_from_env()
        extra = list(ctx.args)
        if secrets is not None and not sign_in:
            raise ConfigError("--secrets names the sign-in settings: use it with --sign-in")
        if sign_in:
            if secrets is not None and not secrets.is_file():
                raise ConfigError(f"--secrets {secrets}: no such file")
            users = check_sign_in([secrets] if secrets is not None else default_secrets_files())
            if secrets is not None:
                extra.append(f"--secrets.files={secrets.resolve()}")
        check_exposure(address, viewer, insecure, sign_in)
        root = app_root()
        cmd = streamlit_command(root, port, address, headless, extra)
        runs = runs_root(runs_dir, run_dir).resolve()
        env = dict(os.environ, **{RUNS_ENV: str(runs)})  # the app and its training jobs read this
        if viewer:
            env[VIEWER_ENV] = "1"
        if sign_in:
            env[SIGN_IN_ENV] = "1"
        mode = "read-only (viewer mode)" if viewer else "editable"
        if sign_in:
            mode += f"; sign-in required, {len(users)} entries on the access list"
        typer.echo(f"finmt dashboard on http://{address}:{port}  ({mode}; runs: {runs})")
        raise typer.Exit(run_forwarding_signals(cmd, env))
