"""A full disk while a run writes (a test double at the write layer: from the Nth write of one
file on, every write fails with ENOSPC after writing half its bytes): ``finmt train`` ends
with one ``error:`` line, every file of the run stays whole, and ``--resume`` finishes the run
once there is space again."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
from fault_helpers import assert_whole, config_file, temp_files
from typer.testing import CliRunner

from finmt_core.cli import app
from finmt_core.training import atomic
from finmt_core.training.runs import RunDir

pytestmark = pytest.mark.faults
runner = CliRunner()


def fill_disk_at(monkeypatch: pytest.MonkeyPatch, file: str, nth: int) -> list[str]:
    """From the ``nth`` write of ``file`` on, the disk is full: that write and every later one
    writes half its bytes and raises ENOSPC. Returns the files whose writes failed."""
    real = atomic._write_fd
    seen, failed = [0], []

    def write(fd: int, data: bytes) -> None:
        name = Path(os.readlink(f"/proc/self/fd/{fd}")).name
        if name == file or (name.startswith(f".{file}.") and name.endswith(".tmp")):
            seen[0] += 1
        if seen[0] >= nth:
            failed.append(name)
            real(fd, bytes(data[: len(data) // 2]))
            raise OSError(errno.ENOSPC, "No space left on device")
        real(fd, data)

    monkeypatch.setattr(atomic, "_write_fd", write)
    return failed


@pytest.mark.parametrize(("file", "nth"), [("last.pt", 2), ("metrics.jsonl", 2), ("status.json", 6),
                                           ("predictions.parquet", 1)])
def test_full_disk_gives_one_line_and_the_run_resumes(tmp_path, monkeypatch, linux_fds, file, nth) -> None:
    root = tmp_path / "runs"
    cfg = config_file(tmp_path, epochs=3)
    failed = fill_disk_at(monkeypatch, file, nth)
    res = runner.invoke(app, ["train", "--config", str(cfg), "--name", "r", "--runs-dir", str(root)])
    assert failed, "the fault was never injected"
    assert res.exit_code == 2, res.output
    errors = [ln for ln in res.output.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and (res.exception is None or isinstance(res.exception, SystemExit)), res.output
    assert errors[0].startswith("error: no space left on device while writing ") and file in errors[0]
    assert errors[0].endswith(f"finmt train --resume r --runs-dir {root}")
    assert "Traceback" not in res.output

    run = RunDir(root / "r")
    assert temp_files(run) == []  # no half file anywhere
    assert_whole(run)  # status, config, metrics and last.pt all parse; epochs 1..N once each

    monkeypatch.undo()  # space is back
    res = runner.invoke(app, ["train", "--resume", "r", "--runs-dir", str(root)])
    assert res.exit_code == 0, res.output
    assert assert_whole(run, epochs=3) == [1, 2, 3]
    assert run.status()["state"] == "done" and len(run.predictions()) > 0
