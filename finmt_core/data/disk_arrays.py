"""Scratch arrays on disk, memory-mapped: how a panel larger than memory is prepared.

:func:`disk_array` creates a file-backed array (``mmap``, shared mapping) in a scratch folder.
Its pages live in the operating system's page cache, not in the process's private memory:
the kernel writes them out and drops them under memory pressure. Pages a process touches
through the mapping still count in its resident set (RSS) while they stay mapped, so the
writers (feature blocks, the scaler's transform) call :func:`release` on the part they are
done with (``madvise(MADV_DONTNEED)``: on a shared file mapping this unmaps the pages and
keeps their data, which a later read faults back in from the page cache or the file).

Lifetime: on POSIX the file is unlinked as soon as it is mapped, so nothing is left on disk
after the process ends, even after a crash (the space is freed with the last mapping). On
other systems the scratch folder is removed when the array is garbage-collected or at exit.

:func:`storage_for` decides ``data.storage: auto`` (disk from :data:`AUTO_DISK_BYTES` of
features up) and :func:`resolve_dir` the folder (``data.storage_dir``, else the system's
temporary folder).
"""

from __future__ import annotations

import logging
import mmap
import os
import shutil
import tempfile
import weakref
from pathlib import Path

import numpy as np

from finmt_core.errors import ConfigError, DataError

log = logging.getLogger(__name__)

#: ``data.storage: auto`` keeps the features on disk from this size of ONE ``[D, N, F]``
#: float32 array up (1 GiB: about 2,000 stocks x 2,520 days x 52 features); the raw and the
#: scaled features make two of them, plus the panel, its dense grid and the targets.
AUTO_DISK_BYTES = 1 << 30
STORAGE_CHOICES: tuple[str, ...] = ("memory", "disk", "auto")
_PAGE = mmap.PAGESIZE
#: madvise is POSIX; where it is missing a release is a no-op (more RSS, same results)
_DONTNEED = getattr(mmap, "MADV_DONTNEED", None)


def storage_for(choice: str, n_bytes: int) -> str:
    """``"memory"`` or ``"disk"`` for ``data.storage`` = ``choice`` and a features array of ``n_bytes``."""
    if choice not in STORAGE_CHOICES:
        raise ConfigError(f"data.storage must be one of {', '.join(STORAGE_CHOICES)}, got {choice!r}")
    if choice == "auto":
        return "disk" if n_bytes >= AUTO_DISK_BYTES else "memory"
    return choice


def resolve_dir(storage_dir: str | None) -> Path:
    """The folder scratch arrays go to (created when missing); a clear error when not writable."""
    base = Path(storage_dir).expanduser() if storage_dir else Path(tempfile.gettempdir())
    try:
        base.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=base, prefix=".finmt-probe-"):
            pass
    except OSError as exc:
        raise ConfigError(
            f"data.storage_dir {str(base)!r} cannot hold the on-disk features ({exc.strerror or exc}). "
            "Point data.storage_dir at a writable folder with room for them, or set data.storage: memory."
        ) from None
    return base


def _remove(path: str) -> None:
    shutil.rmtree(path, ignore_errors=True)


def disk_array(folder: Path, name: str, shape: tuple[int, ...], dtype: np.dtype | type) -> np.ndarray:
    """A zero-filled C-contiguous array of ``shape`` backed by a new file under ``folder``.

    The array is an ordinary writable ``np.ndarray`` (``torch.from_numpy`` shares it without a
    copy) whose buffer is a shared ``mmap`` of the file.

    Raises:
        DataError: the folder has no room for the file (the message gives the size needed).
    """
    dt = np.dtype(dtype)
    n_bytes = int(np.prod(shape, dtype=np.int64)) * dt.itemsize
    scratch = tempfile.mkdtemp(prefix="finmt-", dir=folder)
    path = os.path.join(scratch, f"{name}.bin")
    try:
        with open(path, "w+b") as fh:
            # a sparse file of the final size: blocks are allocated as they are written
            fh.truncate(max(n_bytes, 1))
            mm = mmap.mmap(fh.fileno(), max(n_bytes, 1))
    except OSError as exc:
        _remove(scratch)
        raise DataError(
            f"could not create the on-disk array {name} ({n_bytes / 2**30:.2f} GiB) in {folder}: "
            f"{exc.strerror or exc}. Free space there, set data.storage_dir to a larger disk, or use "
            "data.storage: memory for a small panel."
        ) from None
    if os.name == "posix":
        _remove(scratch)  # the mapping keeps the data; the space is freed with the last mapping
    arr = np.ndarray(shape, dtype=dt, buffer=mm)
    if os.name != "posix":
        weakref.finalize(mm, _remove, scratch)
    log.debug("on-disk array %s %s %s (%.2f GiB)", name, shape, dt, n_bytes / 2**30)
    return arr


def is_disk(arr: np.ndarray) -> bool:
    """Whether ``arr`` (or the array it views) is backed by a memory-mapped file."""
    base = arr
    while isinstance(base, np.ndarray) and base.base is not None:
        base = base.base
    return isinstance(base, mmap.mmap | np.memmap)


def _mapping(arr: np.ndarray) -> mmap.mmap | None:
    base = arr
    while isinstance(base, np.ndarray) and base.base is not None:
        base = base.base
    return base if isinstance(base, mmap.mmap) else None


def release(arr: np.ndarray, start: int = 0, stop: int | None = None) -> None:
    """Drop the pages of rows ``start:stop`` (first axis) of a disk array from this process's RSS.

    Their data stays in the file (and usually in the page cache, so touching them again is a
    cheap minor fault). A no-op for in-memory arrays, views that are not C-contiguous slices of
    a mapping, and systems without ``madvise``.
    """
    mm = _mapping(arr)
    if mm is None or _DONTNEED is None or arr.size == 0:
        return
    row = arr.strides[0] if arr.ndim else arr.itemsize
    origin = arr.__array_interface__["data"][0] - _buffer_address(mm)
    stop = arr.shape[0] if stop is None else min(stop, arr.shape[0])
    lo = origin + start * row
    hi = origin + stop * row
    lo -= lo % _PAGE  # madvise needs a page-aligned start; the neighbours' data is kept anyway
    length = min(hi, len(mm)) - lo
    if length > 0:
        mm.madvise(_DONTNEED, lo, length)


def _buffer_address(mm: mmap.mmap) -> int:
    # the mapping's own address: a zero-length-offset view of it as a numpy array
    return int(np.frombuffer(mm, dtype=np.uint8, count=1).__array_interface__["data"][0])
