"""Shared CLI plumbing: errors as one clear line (exit 2), logging, and the runs-root option.

The runs root has one way in on every verb: ``--runs-dir`` (:func:`runs_dir_option`), whose
default is ``$FINMT_RUNS_DIR``, else ``./runs`` (:mod:`finmt_core.runs_root`). The old
spelling ``--run-dir`` (:func:`run_dir_alias`) still works for one release: hidden from
``--help``, it logs a deprecation warning and means exactly the same.
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import typer

from finmt_core.errors import ConfigError, FinmtError
from finmt_core.runs_root import RUNS_ENV, default_runs_root

F = TypeVar("F", bound=Callable[..., Any])

log = logging.getLogger("finmt_core.commands")

RUNS_DIR_HELP = f"Folder of run directories (default: ${RUNS_ENV}, else ./runs)."


def friendly_errors(fn: F) -> F:
    """Decorator for CLI commands: a FinmtError (or a missing file) becomes ``error: ...`` + exit 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except FinmtError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(code=2) from None
        except (FileNotFoundError, PermissionError, IsADirectoryError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(code=2) from None

    return wrapper  # type: ignore[return-value]


def setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def runs_dir_option(help: str = RUNS_DIR_HELP) -> Any:
    """The ``--runs-dir`` option of a verb (pass it and :func:`run_dir_alias` to :func:`runs_root`)."""
    return typer.Option(None, "--runs-dir", help=help, show_default=False)


def run_dir_alias() -> Any:
    """``--run-dir``: the deprecated spelling of ``--runs-dir`` (hidden; kept for one release)."""
    return typer.Option(None, "--run-dir", hidden=True, help="Deprecated: use --runs-dir.")


def runs_root(runs_dir: Path | None, run_dir: Path | None = None) -> Path:
    """The folder of run directories a command works in.

    Args:
        runs_dir: ``--runs-dir`` (None: not given).
        run_dir: the deprecated ``--run-dir`` (None: not given); logs a deprecation warning.

    Returns:
        ``--runs-dir``, else ``--run-dir``, else ``$FINMT_RUNS_DIR``, else ``runs``.

    Raises:
        ConfigError: both spellings given with different folders.
    """
    if run_dir is not None:
        log.warning("--run-dir is deprecated and will be removed in the next release; use --runs-dir "
                    "(the same folder of run directories)")
        if runs_dir is not None and Path(runs_dir) != Path(run_dir):
            raise ConfigError(f"--runs-dir {runs_dir} and --run-dir {run_dir} name different folders; "
                              "give only --runs-dir (--run-dir is its deprecated spelling)")
        runs_dir = runs_dir if runs_dir is not None else run_dir
    return Path(runs_dir) if runs_dir is not None else default_runs_root()
