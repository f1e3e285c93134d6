"""Errors a person can act on.

Every error raised at a boundary (file loading, config parsing, CLI arguments) is one of
these, and its message says *what* is wrong, *where* (file, column, rows) and *how to fix it*.
The CLI turns them into a one-line message and exit code 2; the dashboard shows them with
``st.error`` — never a traceback.
"""

from __future__ import annotations


class FinmtError(Exception):
    """Base class of every error finmt raises on purpose."""


class DataError(FinmtError, ValueError):
    """The input data cannot be used as given (bad file, column, values or too short)."""


class ConfigError(FinmtError, ValueError):
    """An experiment configuration is invalid (unknown preset, task/model mismatch, ...)."""


class RunError(FinmtError):
    """A run directory is missing, incomplete or cannot be loaded."""
