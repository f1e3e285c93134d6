"""Atomic file writes: a reader never sees half a file, a crash never leaves one.

Write to a temp file in the same folder, then ``os.replace`` (atomic on POSIX and Windows).
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any


def atomic_write_bytes(path: str | Path, data: bytes, durable: bool = True) -> None:
    """Write ``data`` to ``path`` atomically (temp file in the same folder, rename).

    ``durable`` also fsyncs before the rename (checkpoints, predictions); frequently rewritten
    small files (status.json heartbeats) skip it: readers still never see half a file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:12]}.tmp"
    # os.open with 0o666 (not mkstemp's 0o600) so the umask decides, as for any other file.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | Path, text: str, durable: bool = True) -> None:
    atomic_write_bytes(path, text.encode("utf-8"), durable=durable)


def atomic_write_json(path: str | Path, obj: Any, durable: bool = True) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, default=json_default, allow_nan=True) + "\n", durable)


def json_default(o: Any) -> Any:
    """``json.dumps`` fallback: numpy/torch scalars and arrays, timestamps, paths."""
    if hasattr(o, "tolist"):  # numpy / torch arrays and scalars (a 0-d tolist() is the scalar)
        return o.tolist()
    if isinstance(o, datetime):  # pandas Timestamps are datetimes
        return o.isoformat()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
