"""The access list of a shared dashboard (finmt_core/access.py): who gets which role, and what a
sign-in configuration lacks (named, before anything starts)."""

from __future__ import annotations

from pathlib import Path

import pytest

from finmt_core.access import AccessList, access_list, auth_problems, check_sign_in, read_secrets
from finmt_core.errors import ConfigError

AUTH = {"redirect_uri": "https://finmt.example.org/oauth2callback", "cookie_secret": "x" * 32,
        "client_id": "id", "client_secret": "secret",
        "server_metadata_url": "https://idp.example.org/.well-known/openid-configuration"}


@pytest.fixture
def users() -> AccessList:
    return AccessList.from_mapping({"Ana@Example.org": "editor", "bo@example.org": "Viewer", "@example.org": "viewer",
                                    "cy@partner.com": "editor"})


@pytest.mark.parametrize(("email", "role"), [
    ("ana@example.org", "editor"), ("ANA@EXAMPLE.ORG ", "editor"),  # case and blanks do not matter
    ("bo@example.org", "viewer"), ("zed@example.org", "viewer"),     # own entry, then the domain's
    ("cy@partner.com", "editor"), ("dee@partner.com", None),          # no domain entry: refused
    ("eve@elsewhere.org", None), ("", None), (None, None), ("no-at-sign", None),
    ("ana@example.org.evil.com", None),                               # a suffix is not the domain
])
def test_roles(users, email, role):
    assert users.role_of(email) == role


def test_an_unverified_address_is_refused_and_a_missing_claim_is_not(users):
    assert users.role_of("ana@example.org", verified=False) is None
    assert users.role_of("ana@example.org", verified=True) == "editor"
    assert users.role_of("ana@example.org", verified=None) == "editor"


@pytest.mark.parametrize(("entries", "says"), [
    ({}, "empty"),
    ({"ana@example.org": "admin"}, "'admin'"),
    ({"ana": "editor"}, "'ana'"),
    ({"ana@localhost": "editor"}, "'ana@localhost'"),
])
def test_bad_lists_are_named(entries, says):
    with pytest.raises(ConfigError, match=says):
        AccessList.from_mapping(entries)


def test_auth_problems_name_each_missing_setting():
    assert auth_problems({"auth": AUTH}) == []
    assert auth_problems({}) == ["there is no [auth] section (Streamlit's OpenID Connect settings)"]
    problems = auth_problems({"auth": {**AUTH, "client_secret": "", "redirect_uri": "https://finmt.example.org/"}})
    assert problems == ["[auth] has no client_secret", "[auth] redirect_uri 'https://finmt.example.org/' must end "
                        "with /oauth2callback"]
    assert access_list({"auth": AUTH}) is None


def _toml(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_check_sign_in_reads_the_files_later_ones_winning(tmp_path):
    auth = "[auth]\n" + "".join(f'{k} = "{v}"\n' for k, v in AUTH.items())
    first = _toml(tmp_path / "home.toml", auth + '[finmt.users]\n"old@example.org" = "editor"\n')
    second = _toml(tmp_path / "here.toml", '[finmt.users]\n"ana@example.org" = "editor"\n"bo@example.org" = "viewer"\n')
    users = check_sign_in([first, second, tmp_path / "missing.toml"])
    assert dict(users.entries) == {"ana@example.org": "editor", "bo@example.org": "viewer"}
    assert read_secrets([tmp_path / "missing.toml"]) == {}


def test_check_sign_in_lists_everything_missing(tmp_path):
    secrets = _toml(tmp_path / "secrets.toml", '[auth]\nclient_id = "id"\n')
    with pytest.raises(ConfigError) as err:
        check_sign_in([secrets])
    message = str(err.value)
    for missing in ("redirect_uri", "cookie_secret", "client_secret", "server_metadata_url", "[finmt.users]",
                    str(secrets), "Share with your team"):
        assert missing in message
    bad = _toml(tmp_path / "bad.toml", "[auth\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        check_sign_in([bad])
