"""Figure 8 — demo start: from an empty runs directory to every demo run finished (<= 3 min).

Runs exactly what the dashboard launches on first start, ``python -m dashboard.demo RUNS_DIR``
(train and evaluate every run of ``dashboard.demo.DEMO_SET`` on the bundled data, one after
the other), on a fresh empty folder, and times the process end to end (interpreter start and
imports included). Every demo run must end ``done``; per-run train times come from their
``status.json``. Full profile only: it is one long measurement.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from benchmarks.harness import Result

TARGET_S = 180.0
REPO_ROOT = Path(__file__).resolve().parent.parent


def _seconds(status: dict) -> float | None:
    try:
        return (datetime.fromisoformat(status["finished"]) - datetime.fromisoformat(status["started"])).total_seconds()
    except (KeyError, TypeError, ValueError):
        return None


def run(workdir: str, timeout_s: int = 540) -> list[Result]:
    from dashboard.demo import DEMO_SET
    from finmt_core.training.runs import RunDir

    root = Path(workdir) / "demo-runs"
    root.mkdir(parents=True, exist_ok=False)  # must start empty
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "dashboard.demo", str(root)], cwd=str(REPO_ROOT),
                          capture_output=True, text=True, timeout=timeout_s,
                          env=dict(os.environ, PYTHONUNBUFFERED="1"))
    elapsed = time.perf_counter() - t0
    states, per_run = {}, []
    for item in DEMO_SET:
        run = RunDir(root / item.name)
        status = run.status() if run.exists() else {}
        states[item.name] = status.get("state", "missing")
        sec = _seconds(status)
        per_run.append(f"{item.name} {sec:.0f}s" if sec is not None else f"{item.name} ?")
    not_done = {k: v for k, v in states.items() if v != "done"}
    note = f"{len(DEMO_SET)} demo runs: " + ", ".join(per_run)
    if proc.returncode != 0 or not_done:
        tail = " | ".join(proc.stderr.strip().splitlines()[-3:])
        return [Result("demo_start_all_done", "s", [], TARGET_S, "lower", note=note,
                       error=f"demo exited {proc.returncode}; runs not done: {not_done}; {tail}")]
    return [Result("demo_start_all_done", "s", [elapsed], TARGET_S, "lower", note=note)]
