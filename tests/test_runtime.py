"""The malloc tuning of finmt's entry points: on by default on glibc, off on request."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

CODE = "from finmt_core.runtime import allocator_state, tune_allocator\nprint(tune_allocator(), tune_allocator())\nprint(allocator_state())"


def _run(env_value: str | None) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k != "FINMT_MALLOC_TUNING"}
    if env_value is not None:
        env["FINMT_MALLOC_TUNING"] = env_value
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, env=env, check=True)
    return out.stdout.strip().splitlines()


@pytest.mark.skipif(not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
                    reason="malloc tuning applies to Linux with glibc only")
def test_tuned_by_default_and_idempotent() -> None:
    first, state = _run(None)
    assert first == "True True"
    assert "tuned" in state and "MiB" in state


def test_switched_off_by_the_environment() -> None:
    first, state = _run("0")
    assert first == "False False"
    assert state == "default allocator settings"
