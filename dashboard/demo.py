"""First-start demo runs: a new user sees every page populated without doing anything.

When the dashboard starts on an empty runs folder, :func:`ensure_started` launches (once:
guarded by a lock file that survives refreshes, reruns and restarts) one background process,
``python -m dashboard.demo RUNS_DIR``, which trains a small set of runs on the bundled demo
data one after the other (one process: the machine may have only two cores) and evaluates
each right after training so the Evaluation pages open instantly. All demo runs are created
up front as "queued", so the Home page can show the progress of the whole set.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from finmt_core.config import ExperimentConfig, load_preset
from finmt_core.training.runs import (
    RunDir,
    atomic_write_json,
    create_run,
    effective_state,
    list_runs,
    now_iso,
)

log = logging.getLogger("finmt.dashboard.demo")

LOCK_FILE = ".demo.lock"
STATE_FILE = ".demo.json"
LOG_FILE = ".demo.log"
REPO_ROOT = Path(__file__).resolve().parent.parent
#: seconds after which a demo process that never reported its pid is considered dead.
START_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class DemoRun:
    """One run of the demo set: a preset from ``configs/`` and what to change for speed."""

    name: str
    preset: str
    overrides: dict[str, Any]
    blurb: str


#: The demo set, trained in this order (the fast baseline first so pages fill quickly). Epoch
#: and batch caps keep the whole set (training + evaluation beside every baseline) well inside
#: two minutes on a 2-core CPU: measured 61 s wall, 57 s CPU, with another job on one core.
DEMO_SET: tuple[DemoRun, ...] = (
    DemoRun("demo-lightgbm", "lightgbm", {}, "LightGBM baseline: return, direction, quantiles"),
    DemoRun("demo-tgcn", "tgcn", {"train": {"epochs": 6, "max_batches_per_epoch": 100}},
            "temporal graph network: signal + direction"),
    DemoRun("demo-lstm-transformer", "lstm_transformer", {"train": {"epochs": 4, "max_batches_per_epoch": 60}},
            "LSTM + transformer: return, direction, quantiles"),
    DemoRun("demo-finnex-cnn", "finnex_cnn", {"train": {"epochs": 3, "max_batches_per_epoch": 40}},
            "CNN on feature images: action + return"),
)
DEMO_DATA = "demo"


def demo_config(item: DemoRun) -> ExperimentConfig:
    """The preset with the demo's overrides, on the bundled demo data, on the CPU."""
    overrides = {"name": item.name, "data": {"source": DEMO_DATA}, **item.overrides}
    train = dict(overrides.get("train", {}))
    train.setdefault("device", "auto")
    overrides["train"] = train
    return load_preset(item.preset, overrides)


# ---- launching (called by the app on every rerun: must be cheap) -------------------------
def ensure_started(root: Path, enabled: bool = True) -> bool:
    """Launch the demo set once if the runs folder is empty; True when this call launched it.
    Never in viewer mode (a read-only dashboard shows the runs that exist)."""
    from dashboard.state import viewer_mode

    if not enabled or viewer_mode() or (root / LOCK_FILE).exists() or list_runs(root):
        return False
    try:
        fd = os.open(root / LOCK_FILE, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:  # another session won the race
        return False
    with os.fdopen(fd, "w") as fh:
        fh.write(now_iso() + "\n")
    # written before the process starts; the process rewrites it with its pid and run names
    atomic_write_json(root / STATE_FILE, {"pid": None, "started": now_iso(), "runs": [], "finished": None})
    with open(root / LOG_FILE, "ab") as logfile:
        proc = subprocess.Popen(
            [sys.executable, "-m", "dashboard.demo", str(root)],
            stdout=logfile, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            cwd=str(REPO_ROOT), env=dict(os.environ, PYTHONUNBUFFERED="1"),
            start_new_session=True, close_fds=True,
        )
    from dashboard import jobs

    jobs._CHILDREN[proc.pid] = proc  # reaped like any other job
    log.info("demo set launched (pid %d) in %s", proc.pid, root)
    return True


@dataclass(frozen=True)
class DemoProgress:
    """How far the demo set is: counts of runs by state, the run training now, overall 0..1."""

    total: int
    done: int
    failed: int
    current: str | None
    current_progress: float
    finished: bool
    error: str | None

    @property
    def fraction(self) -> float:
        if self.total == 0:
            return 0.0
        return min(1.0, (self.done + self.failed + self.current_progress) / self.total)


def progress(root: Path) -> DemoProgress | None:
    """The demo set's progress, or None when no demo was launched in ``root``."""
    try:
        state = json.loads((root / STATE_FILE).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    names = state.get("runs") or [d.name for d in DEMO_SET]
    done = failed = 0
    current, current_progress = None, 0.0
    for name in names:
        run = RunDir(root / name)
        if not run.exists():
            continue
        status = run.status()
        s = effective_state(status)
        if s == "done":
            done += 1
        elif s in ("failed", "cancelled") or s.startswith("failed"):
            failed += 1
        elif s == "running":
            current, current_progress = name, float(status.get("progress") or 0.0)
    finished = bool(state.get("finished"))
    error = state.get("error")
    pid = state.get("pid")
    if not finished and pid and not _alive(int(pid)):
        finished = True  # the demo process ended (killed, or crashed before writing "finished")
        error = error or f"the demo process stopped early; see {root / LOG_FILE}"
    elif not finished and not pid and _age_s(state.get("started")) > START_TIMEOUT_S:
        finished = True
        error = f"the demo process did not start; see {root / LOG_FILE}"
    return DemoProgress(len(names), done, failed, current, current_progress, finished, error)


def _age_s(iso: str | None) -> float:
    try:
        return (datetime.now(timezone.utc) - datetime.fromisoformat(str(iso))).total_seconds()
    except (TypeError, ValueError):
        return 0.0


def _alive(pid: int) -> bool:
    from dashboard.jobs import _process

    return _process(pid) is not None


# ---- the background process --------------------------------------------------------------
class _Terminated(BaseException):
    """SIGTERM to the demo process: stop the whole set (a Cancel button stops one run only).
    A BaseException so that no ``except Exception`` on the way (trainer, evaluation) eats it."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise _Terminated()


def run_demo(root: Path) -> None:
    """Create every demo run (queued), then train and evaluate them one after the other.

    Cancelling one run from the dashboard (its cancel file) moves on to the next run; SIGTERM
    to this process (or during a run's training: the trainer stops and the run ends
    "cancelled" without a cancel file) stops the set, and the runs not started yet are
    marked cancelled so nothing stays queued forever.
    """
    from finmt_core.evaluation.evaluate import evaluate_run
    from finmt_core.training import start_queued

    signal.signal(signal.SIGTERM, _on_sigterm)  # the trainer swaps in its own handler while fitting
    state_path = root / STATE_FILE
    state = {"pid": os.getpid(), "started": now_iso(), "runs": [], "finished": None, "error": None}
    runs: list[tuple[RunDir, DemoRun]] = []
    for item in DEMO_SET:
        try:
            run = create_run(root, item.name, demo_config(item))
        except Exception as exc:  # a preset missing in this checkout: skip it, keep the rest
            log.warning("demo run %s skipped: %s", item.name, exc)
            continue
        run.write_status(launcher="demo", pid=os.getpid(), message=item.blurb)
        runs.append((run, item))
        state["runs"].append(item.name)  # type: ignore[union-attr]
    atomic_write_json(state_path, state)
    pending = list(runs)
    try:
        while pending:
            run, item = pending.pop(0)
            if run.cancel_requested():
                run.write_status(state="cancelled", finished=now_iso(), message="cancelled before it started")
                continue
            try:
                log.info("demo: training %s", item.name)
                start_queued(run.name, root)  # written ahead (queued): train it from epoch 1
                status = run.status()
                if status.get("state") == "cancelled" and not run.cancel_requested():
                    raise _Terminated()  # SIGTERM arrived while the trainer was fitting
                if status.get("state") == "done":
                    evaluate_run(run.path)
            except _Terminated:
                pending.insert(0, (run, item))  # marked cancelled below unless it finished
                raise
            except Exception as exc:  # one failed demo run must not stop the others
                log.exception("demo run %s failed", item.name)
                if run.status().get("state") not in ("failed", "cancelled", "done"):
                    run.write_status(state="failed", error=f"{type(exc).__name__}: {exc}", finished=now_iso())
    except _Terminated:
        log.warning("demo: terminated; %d run(s) not started are marked cancelled", len(pending))
        state["error"] = "the demo set was stopped (SIGTERM)"
        for run, _ in pending:
            if run.status().get("state") in ("queued", "running"):
                run.write_status(state="cancelled", finished=now_iso(), message="the demo set was stopped")
    finally:
        state["finished"] = now_iso()
        atomic_write_json(state_path, state)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Train the dashboard's demo runs into RUNS_DIR.")
    parser.add_argument("runs_dir", type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    root = args.runs_dir.resolve()
    root.mkdir(parents=True, exist_ok=True)
    run_demo(root)


if __name__ == "__main__":
    main()
