"""Training jobs: start, watch, cancel and resume ``finmt train`` subprocesses.

The dashboard never trains inside the Streamlit process. A job is a run directory (created
with :func:`finmt_core.training.runs.create_run`) plus a detached ``finmt train`` process
writing into it; everything the pages show is read back from the run directory, so jobs
survive a page refresh or a restart of the dashboard, and several can run at once.

Cancelling writes the run's ``cancel`` file (the trainer checks it between batches) and sends
SIGTERM to the process; resuming relaunches ``finmt train --resume NAME`` on the same directory
(which is also how a new run starts: the dashboard writes config.yaml first). Resume is one
claim per run: two sessions pressing it at once start one process (the check and the launch
happen under the run's ``.launch.lock``), and the trainer's own lock refuses any second one.

In viewer mode (``FINMT_VIEWER=1``) launch, resume and cancel refuse with
:class:`dashboard.state.ReadOnlyError`; reading a job's status works as always.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dashboard.state import require_editor
from finmt_core.config import ExperimentConfig
from finmt_core.errors import RunError
from finmt_core.training.atomic import file_lock
from finmt_core.training.runs import DAMAGED_STATE, STALE_STATE, RunDir, create_run, effective_state, now_iso

log = logging.getLogger("finmt.dashboard.jobs")

REPO_ROOT = Path(__file__).resolve().parent.parent
#: states in which a run may still change by itself.
ACTIVE_STATES = ("queued", "running")
#: processes this dashboard started, kept so finished ones are reaped (no zombies).
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}
#: command-line fragments that identify a finmt training process (guards SIGTERM against
#: a recycled pid that now belongs to something else).
_TRAINER_MARKERS = ("finmt_core.cli", "finmt train", "dashboard.demo")


@dataclass(frozen=True)
class JobView:
    """What the pages show about one run (read from status.json; times in seconds)."""

    run: RunDir
    state: str
    progress: float
    epoch: int | None
    epochs: int | None
    eta_s: float | None
    device: str | None
    error: str | None
    message: str | None
    model: str | None
    best_val_loss: float | None
    pid: int | None

    @property
    def name(self) -> str:
        return self.run.name

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def can_cancel(self) -> bool:
        return self.active

    @property
    def can_resume(self) -> bool:
        """A stopped run with a last checkpoint can continue where it stopped; one that never
        trained (e.g. a demo run whose process was killed first) can start."""
        return self.state in ("failed", "cancelled", STALE_STATE, DAMAGED_STATE) and startable(self.run)


def startable(run: RunDir) -> bool:
    """True when ``finmt train --resume`` can continue ``run`` (it has ``last.pt``) or start it
    (it never completed an epoch)."""
    return run.last_checkpoint.is_file() or (not run.metric_records() and not run.best_checkpoint.is_file())


def train_command(run: RunDir) -> list[str]:
    """The ``finmt train`` command line that trains ``run``.

    The run directory already holds its config.yaml (state "queued", written by
    :func:`launch`), so both a first start and a resume are ``finmt train --resume NAME``:
    the trainer starts a queued run and continues a stopped one from ``checkpoints/last.pt``.
    """
    cmd = [sys.executable, "-m", "finmt_core.cli", "train", "--resume", run.name, "--runs-dir", str(run.path.parent)]
    nproc = int(run.status().get("nproc") or 1)
    return [*cmd, "--nproc", str(nproc)] if nproc > 1 else cmd


def _spawn(run: RunDir, cmd: list[str]) -> int:
    """Start ``cmd`` detached (own session: it outlives a Streamlit rerun or restart), its
    stdout and stderr appended to the run's ``train.log``; returns the pid."""
    env = dict(os.environ, PYTHONUNBUFFERED="1", FINMT_RUNS_DIR=str(run.path.parent))
    with open(run.log_path, "ab") as logfile:
        logfile.write(f"\n$ {' '.join(cmd)}\n".encode())
        logfile.flush()
        proc = subprocess.Popen(
            cmd,
            stdout=logfile,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=str(REPO_ROOT),
            env=env,
            start_new_session=True,
            close_fds=True,
        )
    _CHILDREN[proc.pid] = proc
    run.write_status(pid=proc.pid, launcher="dashboard", launched=now_iso())
    log.info("started %s (pid %d): %s", run.name, proc.pid, " ".join(cmd))
    return proc.pid


def launch(config: ExperimentConfig, root: str | Path, name: str | None = None, nproc: int = 1) -> RunDir:
    """Create a run directory for ``config`` under ``root`` and start training it
    (``nproc`` > 1: one DDP process per GPU under torchrun; kept for resumes).

    Raises RunError when ``name`` is invalid or taken (create_run's message says which), and
    ReadOnlyError in viewer mode.
    """
    require_editor("Launching training")
    run = create_run(root, name or None, config)
    if nproc > 1:
        run.write_status(nproc=nproc)
    _spawn(run, train_command(run))
    return run


def resume(run: RunDir) -> int:
    """Relaunch training of a stopped run from its last checkpoint (or start a run that never
    trained); returns the new pid. RunError when it is training or being started already."""
    require_editor("Resuming a run")
    with file_lock(run.path / ".launch.lock"):  # check-and-launch as one step across sessions
        holder = run.training_holder()
        if holder is not None:
            raise RunError(f"run {run.name!r} is being trained by {holder}; wait for it to finish or cancel it")
        view = job_view(run)
        if view.active:
            raise RunError(f"run {run.name!r} is still {view.state}; cancel it before resuming")
        if not startable(run):
            raise RunError(f"run {run.name!r} has no checkpoint to resume from; start a new run instead")
        run.clear_cancel()
        run.write_status(state="queued", error=None, message="resuming from the last checkpoint")
        return _spawn(run, train_command(run))


def _process(pid: int) -> Any | None:
    """A live (non-zombie) psutil process for ``pid``, or None."""
    import psutil

    reap()
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        return proc
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def _is_trainer(proc: Any) -> bool:
    try:
        cmdline = " ".join(proc.cmdline())
    except Exception:  # the process ended between the calls
        return False
    return any(m in cmdline for m in _TRAINER_MARKERS)


def cancel(run: RunDir) -> str:
    """Ask a queued or running job to stop; returns a sentence saying what was done.

    The cancel file alone stops the trainer at the next batch; SIGTERM makes it stop even when
    it is busy elsewhere (data preparation). Runs trained inside the demo process get only the
    cancel file so the rest of the demo set keeps going. A job whose process is already gone
    is marked cancelled directly. Refuses (ReadOnlyError) in viewer mode.
    """
    require_editor("Cancelling a run")
    status = run.status()
    state = effective_state(status)
    if state not in ACTIVE_STATES and state != STALE_STATE:
        return f"{run.name} is already {state}."
    run.request_cancel()
    pid = status.get("pid")
    proc = _process(int(pid)) if pid else None
    if proc is not None and _is_trainer(proc):
        if status.get("launcher") != "demo":
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(proc.pid, signal.SIGTERM)
        return f"Cancelling {run.name}: the trainer stops after the current batch."
    run.write_status(state="cancelled", finished=now_iso(), message="cancelled from the dashboard", eta_s=None)
    return f"{run.name} was not running any more; marked cancelled."


def reap() -> None:
    """Collect the exit status of finished children so they do not linger as zombies."""
    for pid, proc in list(_CHILDREN.items()):
        if proc.poll() is not None:
            _CHILDREN.pop(pid, None)


def _float(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def job_view(run: RunDir) -> JobView:
    """The run's status as the pages show it.

    ``effective_state`` turns a "running" run whose process died into ``failed (stale)``; a
    "queued" run whose launcher process already exited without writing a status (e.g. it
    crashed on import) is shown as failed with the end of its log as the error.
    """
    reap()
    status = run.status()
    state = effective_state(status)
    error = status.get("error")
    pid = status.get("pid")
    gone = state == STALE_STATE or (
        state == "queued" and pid and status.get("launcher") == "dashboard" and _process(int(pid)) is None
    )
    if gone and run.cancel_requested():
        # SIGTERM arrived before the trainer's handler was installed (e.g. while preparing data)
        status = run.write_status(state="cancelled", finished=now_iso(), message="cancelled", eta_s=None)
        state = "cancelled"
    elif gone and state == "queued":
        state = "failed"
        error = error or f"the training process exited before starting. Log:\n{log_tail(run, 15)}"
    message = status.get("message")
    if state == "cancelled" and status.get("state") == "queued":  # effective_state: its demo process died
        message = "the demo process stopped before this run started; Resume trains it"
    return JobView(
        run=run,
        state=state,
        progress=min(max(_float(status.get("progress")) or 0.0, 0.0), 1.0),
        epoch=status.get("epoch"),
        epochs=status.get("epochs"),
        eta_s=_float(status.get("eta_s")),
        device=status.get("device"),
        error=error,
        message=message,
        model=status.get("model"),
        best_val_loss=_float(status.get("best_val_loss")),
        pid=int(pid) if pid else None,
    )


def log_tail(run: RunDir, lines: int = 40) -> str:
    """The last ``lines`` lines of the run's ``train.log`` ('' when there is none)."""
    try:
        with open(run.log_path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 64_000))  # the tail only: logs of long runs grow large
            text = fh.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def device_info() -> dict[str, Any]:
    """Whether CUDA is usable here and which GPU(s): ``{"cuda", "count", "names", "torch"}``."""
    import torch

    cuda = bool(torch.cuda.is_available())
    names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if cuda else []
    return {"cuda": cuda, "count": len(names), "names": names, "torch": torch.__version__}
