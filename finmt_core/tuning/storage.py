"""Where an Optuna study lives: the storage URL of ``finmt tune`` and the dashboard's Tuning page.

- Default: a SQLite file ``<runs>/optuna.db`` (several local processes share it; writers wait
  :data:`SQLITE_TIMEOUT_S` for a lock).
- A database server shared by several machines: ``postgresql+psycopg://user:pw@host:5432/db``
  (psycopg 3, the ``postgres`` extra: ``pip install 'finmt[postgres]'``). ``postgresql://`` and
  ``postgres://`` are read as psycopg 3 when it is installed (psycopg2 otherwise), so the URL
  from a database's settings page works as it is.
- :data:`STORAGE_ENV` (``FINMT_OPTUNA_STORAGE``) names the storage when ``--storage`` is not
  given: ``finmt tune`` writes there and the dashboard's Tuning page reads it.

A worker that dies (machine lost, ``kill -9``) would leave its trial RUNNING for ever (on SQLite
too); Optuna's heartbeat marks such a trial FAIL :data:`HEARTBEAT_GRACE_S` seconds
after its last beat (checked when any worker starts a trial).
"""

from __future__ import annotations

import importlib.util
import os
import warnings
from pathlib import Path
from typing import Any

from finmt_core.errors import ConfigError

#: seconds a SQLite writer waits for a lock held by another tuning process.
SQLITE_TIMEOUT_S = 60
#: environment variable with the storage URL used when ``--storage`` is not given.
STORAGE_ENV = "FINMT_OPTUNA_STORAGE"
#: seconds between a running trial's heartbeats.
HEARTBEAT_INTERVAL_S = 60
#: a RUNNING trial whose last heartbeat is older than this is marked FAIL (several beats missed).
HEARTBEAT_GRACE_S = 300

_POSTGRES_SCHEMES = ("postgresql", "postgres")


def default_storage(runs_root: str | Path) -> str:
    """``sqlite:///<runs_root>/optuna.db`` (absolute path)."""
    return f"sqlite:///{Path(runs_root).resolve() / 'optuna.db'}"


def study_storage(runs_root: str | Path) -> str:
    """The storage URL in effect: ``$FINMT_OPTUNA_STORAGE`` when set, else :func:`default_storage`."""
    return os.environ.get(STORAGE_ENV, "").strip() or default_storage(runs_root)


def is_sqlite(url: str) -> bool:
    return url.strip().lower().startswith("sqlite")


def storage_exists(url: str) -> bool:
    """False only for a SQLite URL whose file does not exist yet (nothing to read); a server
    database is assumed to exist (reading it reports what is wrong)."""
    if not is_sqlite(url):
        return True
    from sqlalchemy.engine import make_url

    database = make_url(url.strip()).database
    if not database or database == ":memory:":
        return False
    return Path(database).is_file()


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def storage_url(url: str) -> str:
    """``url`` with a PostgreSQL driver SQLAlchemy can load.

    ``postgresql://`` / ``postgres://`` -> ``postgresql+psycopg://`` when psycopg 3 is installed
    (else ``postgresql://``, SQLAlchemy's psycopg2 default, when psycopg2 is). Other URLs are
    returned unchanged.

    Raises:
        ConfigError: a PostgreSQL URL and no driver for it installed.
    """
    url = url.strip()
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ConfigError(f"study storage {url!r} is not a database URL; use sqlite:///PATH/optuna.db or "
                          "postgresql+psycopg://USER:PASSWORD@HOST:PORT/DATABASE")
    base, _, driver = scheme.lower().partition("+")
    if base not in _POSTGRES_SCHEMES:
        return url
    if not driver:
        if _has("psycopg"):
            driver = "psycopg"
        elif _has("psycopg2"):
            return f"postgresql://{rest}"
        else:
            driver = "psycopg"  # reported as missing below
    module = "psycopg2" if driver == "psycopg2" else driver
    if not _has(module):
        raise ConfigError(f"study storage {display_url(url)} needs the PostgreSQL driver {module!r}, which is not "
                          "installed; install psycopg 3 with: pip install 'finmt[postgres]' and write the URL as "
                          "postgresql+psycopg://... (or postgresql://...)")
    return f"postgresql+{driver}://{rest}"


def display_url(url: str) -> str:
    """``url`` with its password masked (``***``), for messages, logs and the dashboard."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url.strip()).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return url.split("@")[-1] if "@" in url else url


def open_storage(url: str) -> Any:
    """An ``optuna.storages.RDBStorage`` on ``url`` (see the module docstring).

    Raises:
        ConfigError: no driver installed for the URL.
        sqlalchemy.exc.OperationalError: the database cannot be reached (callers that retry
            need it raw; :func:`storage_error` turns it into a message).
    """
    import optuna

    url = storage_url(url)
    # Several local processes share one SQLite file: writers wait for locks instead of failing.
    engine = {"connect_args": {"timeout": SQLITE_TIMEOUT_S}} if is_sqlite(url) else {"pool_pre_ping": True}
    with warnings.catch_warnings():  # the heartbeat is "experimental" in Optuna's words since 2.9
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.storages.RDBStorage(url, engine_kwargs=engine,
                                          heartbeat_interval=HEARTBEAT_INTERVAL_S, grace_period=HEARTBEAT_GRACE_S)


def storage_error(url: str, exc: BaseException) -> ConfigError:
    """A ConfigError saying which storage (password masked) could not be used, why and what to check."""
    orig = getattr(exc, "orig", None) or exc
    lines = str(orig).strip().splitlines()
    reason = lines[0] if lines else type(orig).__name__
    return ConfigError(f"cannot use study storage {display_url(url)}: {reason}. Check that the database server "
                       "runs and accepts this user, and the URL's host, port and database name")
