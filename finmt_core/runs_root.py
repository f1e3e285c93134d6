"""The runs root: the folder that holds the run directories.

One rule, used by every ``finmt`` verb (``--runs-dir``, commands/_common.py) and by the
dashboard (dashboard/state.py): an explicit folder wins; otherwise the environment variable
``FINMT_RUNS_DIR`` (``finmt dashboard`` sets it for the app and the training jobs the app
starts); otherwise ``./runs``.
"""

from __future__ import annotations

import os
from pathlib import Path

#: environment variable naming the runs root (the default of every ``--runs-dir``)
RUNS_ENV = "FINMT_RUNS_DIR"
#: the runs root when neither ``--runs-dir`` nor ``FINMT_RUNS_DIR`` names one
DEFAULT_RUNS_DIR = "runs"


def default_runs_root() -> Path:
    """``$FINMT_RUNS_DIR`` when set (and not blank), else ``./runs`` (relative, as given)."""
    value = os.environ.get(RUNS_ENV, "").strip()
    return Path(value).expanduser() if value else Path(DEFAULT_RUNS_DIR)


__all__ = ["DEFAULT_RUNS_DIR", "RUNS_ENV", "default_runs_root"]
