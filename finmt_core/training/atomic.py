"""Atomic file writes (a reader never sees half a file, a crash never leaves one) and
advisory file locks between processes.

Write to a temp file in the same folder, then ``os.replace`` (atomic on POSIX and Windows).
A process killed between the two leaves its temp file (``.<name>.<pid>.<hex>.tmp``) behind;
:func:`clean_stale_temp_files` removes those of dead processes (the trainer calls it when a
run starts or resumes).

Every byte goes through :func:`_write_fd` (the one write layer: tests replace it to simulate
a full disk). A full disk (``ENOSPC``/``EDQUOT``) raises :class:`DiskFullError`, a
:class:`~finmt_core.errors.RunError` that is also an ``OSError``: the CLI and the pages show
it as one line, and the file that was being replaced keeps its previous content.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import re
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from finmt_core.errors import RunError

log = logging.getLogger(__name__)

#: errno values that mean "the disk (or the user's quota) is full".
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
#: a temp file of :func:`atomic_write_bytes`: ``.<target name>.<pid>.<12 hex>.tmp``
TEMP_RE = re.compile(r"^\.(?P<target>.+)\.(?P<pid>\d+)\.[0-9a-f]{12}\.tmp$")
#: a temp file older than this is removed even when its pid is alive (a recycled pid).
TEMP_MAX_AGE_S = 3600.0


class DiskFullError(RunError, OSError):
    """A write failed because the disk is full; the file being written is unchanged."""

    def __init__(self, path: str | Path, exc: OSError) -> None:
        OSError.__init__(self, exc.errno, exc.strerror or "no space left on device", str(path))
        self.message = (f"no space left on device while writing {path} ({exc.strerror or exc}); "
                        "the file keeps its previous content. Free some space and retry")

    def __str__(self) -> str:
        return self.message


def is_disk_full(exc: BaseException) -> bool:
    """True for an ``OSError`` saying that the disk or the quota is full."""
    return isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS


def _write_fd(fd: int, data: bytes) -> None:
    """Write all of ``data`` to the file descriptor ``fd`` (the single write layer)."""
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def atomic_write_bytes(path: str | Path, data: bytes, durable: bool = True) -> None:
    """Write ``data`` to ``path`` atomically (temp file in the same folder, rename).

    ``durable`` also fsyncs before the rename (checkpoints, predictions); frequently rewritten
    small files (status.json heartbeats) skip it: readers still never see half a file.

    Raises:
        DiskFullError: the disk is full (the temp file is removed, ``path`` is unchanged).
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.parent / f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:12]}.tmp"
        # os.open with 0o666 (not mkstemp's 0o600) so the umask decides, as for any other file.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as exc:
        if is_disk_full(exc):
            raise DiskFullError(path, exc) from None
        raise
    try:
        try:
            _write_fd(fd, data)
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and is_disk_full(exc):
            raise DiskFullError(path, exc) from None
        raise


def append_line(path: str | Path, line: str) -> None:
    """Append one text line (one write + fsync): it is whole or absent.

    A torn last line left by an earlier crash is closed with a newline first, so it never
    swallows this one; a failed write is cut back off (``ftruncate`` needs no space).

    Raises:
        DiskFullError: the disk is full (the file is as it was before the call).
    """
    path = Path(path)
    data = line.encode("utf-8")
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o666)
    try:
        size = os.fstat(fd).st_size
        if size > 0 and os.lseek(fd, size - 1, os.SEEK_SET) >= 0 and os.read(fd, 1) != b"\n":
            data = b"\n" + data
        try:
            _write_fd(fd, data)
            os.fsync(fd)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, size)
            if is_disk_full(exc):
                raise DiskFullError(path, exc) from None
            raise
    finally:
        os.close(fd)


def atomic_write_text(path: str | Path, text: str, durable: bool = True) -> None:
    atomic_write_bytes(path, text.encode("utf-8"), durable=durable)


def atomic_write_json(path: str | Path, obj: Any, durable: bool = True) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, default=json_default, allow_nan=True) + "\n", durable)


def clean_stale_temp_files(folder: str | Path, alive: Callable[[int], bool], max_age_s: float = TEMP_MAX_AGE_S) -> list[Path]:
    """Remove the temp files of :func:`atomic_write_bytes` in ``folder`` whose writer is gone
    (``alive(pid)`` is False) or that are older than ``max_age_s``; returns the removed paths.

    A temp file is never part of the run's contract (readers only see renamed files), so
    removing it loses nothing; one whose writer still lives is left alone.
    """
    removed: list[Path] = []
    folder = Path(folder)
    if not folder.is_dir():
        return removed
    now = time.time()
    for p in folder.iterdir():
        m = TEMP_RE.match(p.name)
        if m is None:
            continue
        pid = int(m.group("pid"))
        try:
            old = now - p.stat().st_mtime > max_age_s
        except FileNotFoundError:
            continue
        if pid != os.getpid() and (old or not alive(pid)):
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
                removed.append(p)
    if removed:
        log.warning("removed %d temp file(s) left by an interrupted write in %s: %s", len(removed), folder,
                    ", ".join(p.name for p in removed))
    return removed


@contextlib.contextmanager
def file_lock(path: str | Path, *, wait: bool = True, busy: Callable[[str], BaseException] | None = None,
              record_pid: bool = False) -> Iterator[None]:
    """Hold an exclusive POSIX ``flock`` on ``path`` (created if needed) for the block.

    The OS drops the lock when its process dies, so a killed holder never blocks anyone.

    Args:
        wait: block until the lock is free; with ``wait=False`` a held lock raises
            ``busy(holder)`` (``holder``: ``"process 1234"`` or ``"another process"``).
        record_pid: write this process's pid into the file while holding it (for ``holder``).
    """
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks (atomic replaces still hold)
        yield
        return
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+", encoding="utf-8") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fh)
            raise (busy(holder) if busy else BlockingIOError(f"{path} is locked by {holder}")) from None
        if record_pid:
            with contextlib.suppress(OSError):  # informative only: a full disk must not stop the holder
                fh.seek(0)
                fh.truncate()
                fh.write(f"{os.getpid()}\n")
                fh.flush()
        try:
            yield
        finally:
            if record_pid:
                with contextlib.suppress(OSError):
                    fh.truncate(0)
            fcntl.flock(fh, fcntl.LOCK_UN)


def _holder(fh: Any) -> str:
    fh.seek(0)
    pid = fh.read().strip()
    return f"process {pid}" if pid.isdigit() else "another process"


def lock_holder(path: str | Path) -> str | None:
    """Who holds the :func:`file_lock` on ``path`` now (``"process 1234"``), or None."""
    try:
        import fcntl
    except ImportError:
        return None
    try:
        fh = open(path, encoding="utf-8")  # noqa: SIM115 (closed by the with below)
    except FileNotFoundError:
        return None
    with fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _holder(fh)
        fcntl.flock(fh, fcntl.LOCK_UN)
        return None


def json_default(o: Any) -> Any:
    """``json.dumps`` fallback: numpy/torch scalars and arrays, timestamps, paths."""
    if hasattr(o, "tolist"):  # numpy / torch arrays and scalars (a 0-d tolist() is the scalar)
        return o.tolist()
    if isinstance(o, datetime):  # pandas Timestamps are datetimes
        return o.isoformat()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
