"""Run a server child process (``streamlit run``) so that stopping finmt stops it too.

``finmt dashboard`` starts Streamlit as a child process. A process manager (systemd,
``docker stop``, Kubernetes, ``kill PID``) sends SIGTERM to *finmt*, not to the child: without
forwarding, finmt would die and leave the server running, holding the port. SIGINT from a
terminal reaches the whole process group, but a supervisor's SIGINT may reach finmt alone.

:func:`run_forwarding_signals` passes SIGTERM, SIGINT and SIGHUP on to the child, waits for it
to stop (:data:`GRACE_S`; then it is killed) and returns its exit status.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from types import FrameType

log = logging.getLogger(__name__)

#: signals passed on to the child (SIGHUP: the terminal closed)
FORWARDED = tuple(s for s in (signal.SIGTERM, signal.SIGINT, getattr(signal, "SIGHUP", None)) if s is not None)
#: seconds the child gets to stop after a forwarded signal before it is killed
GRACE_S = 15.0
#: seconds between checks on the child while it runs
POLL_S = 0.2


def exit_status(returncode: int) -> int:
    """A child's ``returncode`` as a shell exit status: killed by signal N (``-N``) -> 128 + N."""
    return 128 - returncode if returncode < 0 else returncode


def run_forwarding_signals(argv: Sequence[str], env: Mapping[str, str] | None = None, grace_s: float = GRACE_S) -> int:
    """Run ``argv`` to completion, forwarding :data:`FORWARDED` signals to it.

    Args:
        argv: the child's command line.
        env: its environment (None: this process's).
        grace_s: seconds the child may take to exit after the first forwarded signal; then it is
            killed (SIGKILL).

    Returns:
        The child's exit status (128 + N when a signal N ended it).

    Outside the main thread (where Python cannot install signal handlers) the child simply runs;
    however this function ends, the child is never left running.
    """
    proc = subprocess.Popen(list(argv), env=dict(env) if env is not None else None)
    received: list[int] = []

    def forward(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)
        if proc.poll() is None:
            log.info("passing %s on to the server (pid %d)", signal.Signals(signum).name, proc.pid)
            proc.send_signal(signum)

    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {sig: signal.signal(sig, forward) for sig in FORWARDED}
    try:
        deadline: float | None = None
        while proc.poll() is None:
            if received and deadline is None:
                deadline = time.monotonic() + grace_s
            if deadline is not None and time.monotonic() > deadline:
                log.warning("the server (pid %d) did not stop %.0f s after %s: killing it", proc.pid, grace_s,
                            signal.Signals(received[0]).name)
                proc.kill()
                break
            try:
                proc.wait(timeout=POLL_S)
            except subprocess.TimeoutExpired:
                continue
        return exit_status(proc.wait())
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if proc.poll() is None:  # an exception in this process: never leave the server behind
            proc.kill()
            proc.wait()
