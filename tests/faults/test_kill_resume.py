"""kill -9 of a training at random moments, and in the middle of a checkpoint write: the run
stays whole (no half file, the temp file is cleaned at the next start) and ``finmt train
--resume`` continues from the last good checkpoint with epochs 1..N logged once each."""

from __future__ import annotations

import os
import random
import subprocess

import pytest
from fault_helpers import assert_whole, config_file, kill9, start, temp_files, wait_for
from typer.testing import CliRunner

from finmt_core.cli import app
from finmt_core.training.checkpoint import load_checkpoint
from finmt_core.training.runs import RunDir

pytestmark = [pytest.mark.faults, pytest.mark.slow]
runner = CliRunner()


def _resume_here(root, name: str) -> None:
    res = runner.invoke(app, ["train", "--resume", name, "--runs-dir", str(root)])
    assert res.exit_code == 0, res.output


def test_kill_during_a_checkpoint_write_then_resume(tmp_path, linux_fds) -> None:
    root, marker, log = tmp_path / "runs", tmp_path / "writing", tmp_path / "train.log"
    cfg = config_file(tmp_path, epochs=3)
    # epoch 1 completes; the write of epoch 2's last.pt stops after its bytes, before the rename
    proc = start(["train", "--config", str(cfg), "--name", "k", "--runs-dir", str(root)], log,
                 FAULT_SLOW_FILE="last.pt", FAULT_SLOW_SKIP="1", FAULT_SLOW_S="120", FAULT_MARKER=str(marker))
    wait_for(marker.exists, "the second last.pt write", proc, log)
    kill9(proc)
    run = RunDir(root / "k")
    assert any(n.startswith(".last.pt.") for n in temp_files(run))  # the kill hit mid-write
    assert load_checkpoint(run.last_checkpoint)["epoch"] == 1  # the previous last.pt is whole
    assert assert_whole(run) == [1]
    assert run.effective_state() == "failed (stale)"

    _resume_here(root, "k")
    assert temp_files(run) == []  # cleaned at the resume
    assert assert_whole(run, epochs=3) == [1, 2, 3]
    assert run.status()["state"] == "done" and run.predictions_path.is_file()


def test_kill_at_random_moments_then_resume(tmp_path) -> None:
    seed = int(os.environ.get("FAULT_SEED", random.randrange(10**6)))
    rng = random.Random(seed)
    root, log = tmp_path / "runs", tmp_path / "train.log"
    cfg = config_file(tmp_path, epochs=6)
    run = RunDir(root / "r")
    args = ["train", "--config", str(cfg), "--name", "r", "--runs-dir", str(root)]
    for attempt in range(2):  # start, kill; resume, kill; then resume to the end
        proc = start(args, log)
        wait_for(lambda p=proc: run.exists() and run.status().get("state") == "running" and
                 run.status().get("pid") == p.pid, "training to start", proc, log)
        # a random moment: after a random number of logged epochs, a random part into the next one
        # (a tiny epoch takes ~0.1-0.3 s: batches, validation, three checkpoint writes, the log line)
        after, delay = rng.randint(0, 4), rng.uniform(0.0, 0.3)
        wait_for(lambda n=after, p=proc: len(run.metric_records()) >= n or p.poll() is not None,
                 f"epoch {after}", None, log)
        try:
            proc.wait(timeout=delay)  # it may finish first on a fast machine: then resume has nothing left
        except subprocess.TimeoutExpired:
            kill9(proc)
        print(f"seed {seed}: attempt {attempt} killed {delay:.2f} s after epoch {after}, logged {assert_whole(run)}")
        args = ["train", "--resume", "r", "--runs-dir", str(root)]
    _resume_here(root, "r")
    assert temp_files(run) == []
    assert assert_whole(run, epochs=6) == [1, 2, 3, 4, 5, 6], f"seed {seed}"
    assert run.status()["state"] == "done"
