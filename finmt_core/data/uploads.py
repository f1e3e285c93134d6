"""Uploaded panels saved for training: ``<runs>/.uploads/<stem>.parquet``.

An upload is validated (:func:`finmt_core.data.panel.load_panel`) before it is saved. Saving is
atomic (:func:`finmt_core.training.atomic.atomic_write_bytes`: temp file + rename), so a failed
save (full disk, killed process) leaves no file and never half of one. Two different uploads
never overwrite each other: the upload's SHA-256 is kept in the Parquet metadata, and a name
already holding other bytes gets ``-<hash10>`` appended. The folder's leading dot keeps it out
of :func:`finmt_core.training.runs.list_runs`.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from finmt_core.errors import DataError
from finmt_core.training.atomic import atomic_write_bytes

log = logging.getLogger(__name__)

#: the uploads folder under the runs root
UPLOADS = ".uploads"
#: Parquet metadata key of the upload's content hash
DIGEST_KEY = b"finmt.upload_sha256"
#: suffixes stripped from an uploaded file's name to make its dataset name
TABLE_SUFFIXES = (".gz", ".bz2", ".xz", ".zip", ".csv", ".tsv", ".txt", ".parquet")
_STEM = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}")


def upload_stem(file_name: str) -> str:
    """``"prices.2024.csv.gz"`` -> ``"prices.2024"``: the whole name without its table suffixes,
    limited to letters, digits and ``._-`` (never a path; at most 60 characters)."""
    name = str(file_name).rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
    for suffix in TABLE_SUFFIXES:
        name = name[: -len(suffix)] if name.lower().endswith(suffix) else name
    stem = "".join(ch if ch.isalnum() or ch in "._-" else "-" for ch in name)[:60].strip(".-")
    return stem or "upload"


def uploads_dir(root: str | Path) -> Path:
    """``<root>/.uploads`` (created when missing)."""
    path = Path(root) / UPLOADS
    path.mkdir(parents=True, exist_ok=True)
    return path


def upload_path(root: str | Path, stem: str) -> Path:
    """The file of the saved upload ``stem`` (a name from :func:`list_uploads`).

    Raises:
        DataError: ``stem`` is not a plain name (a path, a leading dot, other characters).
    """
    if not _STEM.fullmatch(stem):
        raise DataError(f"{stem!r} is not the name of a saved upload: use one of {list_uploads(root)[:10]} "
                        "(letters, digits, '.', '_' and '-', no leading dot)")
    return uploads_dir(root) / f"{stem}.parquet"


def list_uploads(root: str | Path) -> list[str]:
    """The stems of the saved uploads, sorted by name."""
    return [p.stem for p in sorted(uploads_dir(root).glob("*.parquet"))]


def save_upload(root: str | Path, file_name: str, data: bytes, panel: pd.DataFrame) -> str:
    """Save a validated upload for training; returns its stem.

    Args:
        root: the runs folder.
        file_name: the uploaded file's name (only its stem is used).
        data: the uploaded bytes (hashed: the same bytes land in the same file).
        panel: the panel read from ``data``; stored as Parquet (its ``attrs`` are dropped).

    Returns:
        The stem: ``<stem>`` unless that name holds a different upload, then ``<stem>-<hash10>``.

    Raises:
        DiskFullError: the disk is full; no file was written.
    """
    digest = hashlib.sha256(data).hexdigest().encode()
    stem = upload_stem(file_name)
    target = uploads_dir(root) / f"{stem}.parquet"
    if target.exists() and _digest(target) != digest:
        stem = f"{stem}-{digest[:10].decode()}"
        target = target.with_name(f"{stem}.parquet")
    out = panel.copy()
    out.attrs = {}
    table = pa.Table.from_pandas(out)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), DIGEST_KEY: digest})
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    atomic_write_bytes(target, buffer.getvalue())
    log.info("saved upload %s as %s (%d rows)", file_name, target, len(panel))
    return stem


def _digest(path: Path) -> bytes | None:
    try:
        return (pq.read_schema(path).metadata or {}).get(DIGEST_KEY)
    except (OSError, ValueError):  # unreadable: treat as a different upload (never overwrite it)
        return None
