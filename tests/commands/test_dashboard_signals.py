"""Stopping ``finmt dashboard`` stops its Streamlit server: SIGTERM (a process manager, ``kill``)
and SIGINT are passed on to the child and waited for (finmt_core/commands/_child.py)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 120


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env() -> dict[str, str]:
    env = dict(os.environ, FINMT_DEMO="0", PYTHONPATH=str(REPO))
    env.pop("FINMT_VIEWER", None)
    return env


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_to_finmt_dashboard_stops_the_streamlit_server(tmp_path, sig):
    port = _free_port()
    log = tmp_path / "dashboard.log"
    with open(log, "wb") as out:
        # a new session: the signal reaches finmt alone, as from a process manager (not the terminal's group)
        proc = subprocess.Popen([sys.executable, "-m", "finmt_core.cli", "dashboard", "--port", str(port),
                                 "--runs-dir", str(tmp_path / "runs"), "--", "--server.fileWatcherType=none"],
                                cwd=tmp_path, env=_env(), stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    children: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.3)
        children = psutil.Process(proc.pid).children(recursive=True)
        assert any("streamlit" in " ".join(c.cmdline()) for c in children), [c.cmdline() for c in children]
        proc.send_signal(sig)
        assert proc.wait(timeout=60) == 0, log.read_text()[-3000:]  # streamlit stops cleanly on either
        _gone, alive = psutil.wait_procs(children, timeout=10)
        assert not alive, f"left running: {[c.cmdline() for c in alive]}"
        with pytest.raises(OSError):  # nothing serves the port any more
            urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2)
    finally:
        for c in children:  # a failed test leaves no server behind
            if c.is_running():
                c.kill()
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_child_that_ignores_sigterm_is_killed_after_the_grace_period(tmp_path):
    child = ("import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
             "print('ready', flush=True); time.sleep(120)")
    wrapper = ("import sys; from finmt_core.commands._child import run_forwarding_signals; "
               f"sys.exit(run_forwarding_signals([sys.executable, '-c', {child!r}], grace_s=1.0))")
    proc = subprocess.Popen([sys.executable, "-c", wrapper], env=_env(), stdout=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        (stubborn,) = psutil.Process(proc.pid).children()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 128 + signal.SIGKILL  # the shell's convention for "killed"
        assert not psutil.pid_exists(stubborn.pid) or stubborn.status() == psutil.STATUS_ZOMBIE
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
