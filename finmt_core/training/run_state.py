"""A run's state as shown to people: names, time stamps, and the state a status.json stands for.

``effective_state`` turns a recorded state into the one to show: a "running" run whose process
is gone (same host) or whose heartbeat is old is ``"failed (stale)"``; a demo run still
"queued" by a dead launcher is ``"cancelled"``. Used by :mod:`finmt_core.training.runs`.
"""

from __future__ import annotations

import os
import re
import socket
from datetime import datetime, timezone
from typing import Any

from finmt_core.errors import RunError

RUN_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}")
STATES = ("queued", "running", "done", "failed", "cancelled")
#: A "running" run whose heartbeat is older than this is reported as stale (seconds).
STALE_AFTER_S = 300.0
STALE_STATE = "failed (stale)"
#: The state shown for a run whose status.json cannot be read (the reason is in ``error``).
DAMAGED_STATE = "damaged"


def one_line(exc: BaseException, limit: int = 200) -> str:
    """The first line of an exception's message, shortened: for one-line error messages."""
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return text if len(text) <= limit else text[: limit - 1] + "…"


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        t = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


def validate_run_name(name: str) -> str:
    """Return ``name`` if it is a safe run-directory name, else raise RunError."""
    if not isinstance(name, str) or not RUN_NAME_RE.fullmatch(name):
        raise RunError(
            f"invalid run name {name!r}: use 1-80 letters, digits, '.', '_' or '-', starting with a "
            "letter or digit (no '/' and no leading '.')"
        )
    return name


def pid_alive(pid: int) -> bool:
    """Whether a local process ``pid`` is running (a zombie counts as gone)."""
    try:
        import psutil

        if not psutil.pid_exists(pid):
            return False
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except Exception:  # psutil missing or the process vanished between calls
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


def effective_state(status: dict[str, Any], now: datetime | None = None, stale_after_s: float = STALE_AFTER_S) -> str:
    """The state to show: ``"failed (stale)"`` for a "running" run whose process is gone
    (same host, pid dead) or whose heartbeat is older than ``stale_after_s``."""
    state = str(status.get("state") or "queued")
    if state == "queued" and status.get("launcher") == "demo" and status.get("pid") \
            and status.get("host") in (None, socket.gethostname()) and not pid_alive(int(status["pid"])):
        return "cancelled"  # the demo process was killed before it reached this run
    if state != "running":
        return state
    pid = status.get("pid")
    if pid and status.get("host") in (None, socket.gethostname()) and not pid_alive(int(pid)):
        return STALE_STATE
    beat = _parse_time(status.get("heartbeat"))
    now = now or datetime.now(timezone.utc)
    if beat is not None and (now - beat).total_seconds() > stale_after_s:
        return STALE_STATE
    return state
