"""Start a dashboard server process for a browser test and stop it afterwards: one helper for
the plain app (conftest), the comparison link test and the sign-in test."""

from __future__ import annotations

import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path


def serve_process(cmd: list[str], *, cwd: Path, env: dict[str, str], log: Path, port: int, what: str,
                  start_timeout_s: float = 90, stop_signal: int = signal.SIGTERM,
                  stop_timeout_s: float = 10) -> Iterator[str]:
    """Run ``cmd`` (a server on 127.0.0.1:``port``), yield its URL once ``/_stcore/health``
    answers, then stop it with ``stop_signal`` (killed after ``stop_timeout_s``). A generator for
    fixtures: ``yield from serve_process(...)``. A server that exits or never answers raises with
    the tail of ``log``."""
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + start_timeout_s
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not start; log:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield url
    finally:
        proc.send_signal(stop_signal)
        try:
            proc.wait(timeout=stop_timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
