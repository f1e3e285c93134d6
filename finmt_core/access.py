"""Who may use a shared dashboard: the sign-in settings and the access list (no streamlit here).

Sign-in uses Streamlit's built-in OpenID Connect support (``st.login``); both halves live in
the app's ``secrets.toml`` (``.streamlit/secrets.toml`` in the folder ``finmt dashboard`` is
started from, ``~/.streamlit/secrets.toml``, or ``finmt dashboard --secrets FILE``)::

    [auth]                        # Streamlit's: the OpenID Connect provider
    redirect_uri = "https://finmt.example.org/oauth2callback"
    cookie_secret = "a long random string"
    client_id = "..."
    client_secret = "..."
    server_metadata_url = "https://accounts.google.com/.well-known/openid-configuration"

    [finmt.users]                 # finmt's: who may come in, and as what
    "ana@example.org" = "editor"  # the whole app: train, cancel, upload, tune
    "bo@example.org" = "viewer"   # every analysis page, read-only (viewer mode)
    "@example.org" = "viewer"     # anyone else with an example.org address

A person's own entry wins over their domain's. Addresses compare case-insensitively; a provider
that says the address is not verified (``email_verified = false``) is refused. Anyone not on
the list is refused.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from finmt_core.errors import ConfigError

ROLES = ("editor", "viewer")
#: settings Streamlit needs in ``[auth]`` for one unnamed provider (``st.login()``)
AUTH_KEYS = ("redirect_uri", "cookie_secret", "client_id", "client_secret", "server_metadata_url")
#: environment variable set by ``finmt dashboard --sign-in``: the app must sign people in
SIGN_IN_ENV = "FINMT_SIGN_IN"


@dataclass(frozen=True)
class AccessList:
    """E-mail address (or ``@domain``) -> role (``"editor"`` or ``"viewer"``), lower-cased."""

    entries: Mapping[str, str]

    @classmethod
    def from_mapping(cls, users: Mapping[str, Any], where: str = "[finmt.users]") -> AccessList:
        """Validate ``{"ana@example.org": "editor", "@example.org": "viewer", ...}``.

        Raises:
            ConfigError: empty, a key that is neither an address nor ``@domain``, or a role
                that is not ``editor`` / ``viewer`` (the message names the entry).
        """
        if not isinstance(users, Mapping) or not users:
            raise ConfigError(f"{where} is empty: list who may sign in, e.g. \"ana@example.org\" = \"editor\"")
        entries: dict[str, str] = {}
        for key, role in users.items():
            who = str(key).strip().lower()
            local, at, domain = who.rpartition("@")
            if not at or not domain or "." not in domain or " " in who:
                raise ConfigError(f"{where}: {key!r} is not an e-mail address or '@domain' "
                                  "(write \"ana@example.org\" = \"editor\" or \"@example.org\" = \"viewer\")")
            role_s = str(role).strip().lower()
            if role_s not in ROLES:
                raise ConfigError(f"{where}: {key!r} = {role!r}; the role must be \"editor\" or \"viewer\"")
            entries[who if local else "@" + domain] = role_s
        return cls(entries)

    def role_of(self, email: str | None, verified: bool | None = None) -> str | None:
        """The role of ``email`` (its own entry first, then its domain's), or None: refused.

        ``verified`` is the provider's ``email_verified`` claim; only an explicit False refuses
        (many providers leave the claim out)."""
        if not email or verified is False:
            return None
        who = str(email).strip().lower()
        if "@" not in who:
            return None
        return self.entries.get(who) or self.entries.get("@" + who.rpartition("@")[2])

    def __len__(self) -> int:
        return len(self.entries)


def default_secrets_files(cwd: Path | None = None) -> list[Path]:
    """Where Streamlit looks for ``secrets.toml`` by default (later files win)."""
    return [Path.home() / ".streamlit" / "secrets.toml", (cwd or Path.cwd()) / ".streamlit" / "secrets.toml"]


def read_secrets(files: Iterable[Path]) -> dict[str, Any]:
    """The TOML files merged (later files win per top-level section, as in Streamlit); missing
    files are skipped. Raises ConfigError naming a file that is not valid TOML."""
    import tomllib  # (stdlib since 3.11; ruff's target is still py310)

    merged: dict[str, Any] = {}
    for path in files:
        try:
            merged.update(tomllib.loads(Path(path).read_text(encoding="utf-8")))
        except FileNotFoundError:
            continue
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    return merged


def access_list(secrets: Mapping[str, Any]) -> AccessList | None:
    """The ``[finmt.users]`` access list of the secrets, or None when there is none."""
    finmt = secrets.get("finmt")
    if not isinstance(finmt, Mapping) or "users" not in finmt:
        return None
    return AccessList.from_mapping(finmt["users"])


def auth_problems(secrets: Mapping[str, Any]) -> list[str]:
    """What keeps Streamlit's ``st.login()`` from working with these secrets ([] = nothing)."""
    auth = secrets.get("auth")
    if not isinstance(auth, Mapping):
        return ["there is no [auth] section (Streamlit's OpenID Connect settings)"]
    problems = [f"[auth] has no {key}" for key in AUTH_KEYS if not str(auth.get(key, "")).strip()]
    redirect = str(auth.get("redirect_uri", ""))
    if redirect and not redirect.rstrip("/").endswith("/oauth2callback"):
        problems.append(f"[auth] redirect_uri {redirect!r} must end with /oauth2callback")
    return problems


def check_sign_in(files: Sequence[Path]) -> AccessList:
    """Validate the sign-in settings found in ``files`` (for ``finmt dashboard --sign-in``).

    Returns:
        The access list.

    Raises:
        ConfigError: what is missing or wrong, where, and how to fix it.
    """
    import importlib.util

    shown = ", ".join(str(f) for f in files)
    secrets = read_secrets(files)
    problems = auth_problems(secrets)
    try:
        users = access_list(secrets)
    except ConfigError as exc:
        problems.append(str(exc))
        users = None
    else:
        if users is None:
            problems.append("there is no [finmt.users] access list (\"ana@example.org\" = \"editor\", ...)")
    if importlib.util.find_spec("authlib") is None:
        problems.append("Streamlit's sign-in needs Authlib: pip install 'Authlib>=1.3.2'")
    if problems or users is None:
        raise ConfigError("sign-in is not set up (read " + shown + "):\n  - " + "\n  - ".join(problems)
                          + "\nSee README, 'Share with your team' -> 'Sign-in', for a complete secrets.toml.")
    return users


def sign_in_required() -> bool:
    """Whether ``finmt dashboard --sign-in`` asked for sign-in (``FINMT_SIGN_IN=1``)."""
    return os.environ.get(SIGN_IN_ENV, "0").strip().lower() in ("1", "true", "yes", "on")
