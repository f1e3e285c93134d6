"""Start ``finmt tune`` searches from the dashboard (detached, like training jobs); refused in
viewer mode."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from dashboard.state import require_editor
from finmt_core.training.runs import validate_run_name

REPO_ROOT = Path(__file__).resolve().parent.parent


def tune_command(preset: str, data: str, trials: int, epochs: int | None, study: str, root: Path) -> list[str]:
    cmd = [sys.executable, "-m", "finmt_core.cli", "tune", "--preset", preset, "--data", data,
           "--trials", str(trials), "--study", study, "--runs-dir", str(root)]
    if epochs:
        cmd += ["--epochs", str(epochs)]
    return cmd


def launch_tuning(preset: str, data: str, trials: int, epochs: int | None, study: str, root: Path) -> Path:
    """Start a search in the background; returns its log file (``<runs>/<study>.tune.log``).

    The study name becomes the prefix of its trial runs, so it is validated like a run name.
    Raises ReadOnlyError in viewer mode.
    """
    require_editor("Starting a tuning search")
    validate_run_name(study)
    root.mkdir(parents=True, exist_ok=True)
    log_path = root / f"{study}.tune.log"
    cmd = tune_command(preset, data, trials, epochs, study, root)
    with open(log_path, "ab") as logfile:
        logfile.write(f"\n$ {' '.join(cmd)}\n".encode())
        logfile.flush()
        subprocess.Popen(cmd, stdout=logfile, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                         cwd=str(REPO_ROOT), env=dict(os.environ, PYTHONUNBUFFERED="1"),
                         start_new_session=True, close_fds=True)
    return log_path
