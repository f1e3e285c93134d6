"""``python tests/faults/hooked_train.py ARGS`` = ``finmt ARGS`` with test-only fault hooks.

The hooks wrap the one write layer (:func:`finmt_core.training.atomic._write_fd`), so the
product code carries no test switch. Environment variables:

- ``FAULT_SLOW_FILE=last.pt``, ``FAULT_SLOW_SKIP=1``, ``FAULT_SLOW_S=60``: after writing the
  temp file of ``last.pt`` (all bytes, before the rename), skip the first ``SKIP`` such writes,
  then touch ``FAULT_MARKER`` and sleep ``FAULT_SLOW_S`` (a window for ``kill -9`` mid-write).
- ``FAULT_HOLD_UNTIL=PATH``: after the first metrics line, wait until ``PATH`` exists (a
  training that stays in the middle of its epochs while a test races it).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path


def _install() -> None:
    from finmt_core.training import atomic

    slow_file = os.environ.get("FAULT_SLOW_FILE")
    skip = int(os.environ.get("FAULT_SLOW_SKIP", "0"))
    slow_s = float(os.environ.get("FAULT_SLOW_S", "0"))
    marker = os.environ.get("FAULT_MARKER")
    hold = os.environ.get("FAULT_HOLD_UNTIL")
    real = atomic._write_fd
    seen = [0]

    def hooked(fd: int, data: bytes) -> None:
        real(fd, data)
        try:
            name = Path(os.readlink(f"/proc/self/fd/{fd}")).name
        except OSError:
            return
        if slow_file and name.startswith(f".{slow_file}.") and name.endswith(".tmp"):
            seen[0] += 1
            if seen[0] > skip:
                if marker:
                    Path(marker).write_text(name)
                time.sleep(slow_s)
        if hold and name == "metrics.jsonl":
            deadline = time.monotonic() + 300
            while not Path(hold).exists() and time.monotonic() < deadline:
                time.sleep(0.05)

    atomic._write_fd = hooked


if __name__ == "__main__":
    _install()
    from finmt_core.cli import main

    sys.argv = ["finmt", *sys.argv[1:]]
    main()
