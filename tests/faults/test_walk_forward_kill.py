"""kill -9 of a walk-forward training inside its second fold: ``finmt train --resume`` leaves
the finished fold alone and continues the killed fold from its last good checkpoint."""

from __future__ import annotations

import pytest
from fault_helpers import assert_whole, config_file, kill9, start, wait_for
from typer.testing import CliRunner

from finmt_core.cli import app
from finmt_core.training.runs import RunDir
from finmt_core.training.walk_forward import fold_run

pytestmark = [pytest.mark.faults, pytest.mark.slow]


def test_kill_inside_a_fold_then_resume(tmp_path, linux_fds) -> None:
    root, marker, log = tmp_path / "runs", tmp_path / "writing", tmp_path / "train.log"
    cfg = config_file(tmp_path, epochs=3)
    # fold 0 writes last.pt 3 times, fold 1 once (epoch 1); the 5th write (fold 1, epoch 2) hangs mid-write
    proc = start(["train", "--config", str(cfg), "--folds", "2", "--name", "wf", "--runs-dir", str(root)], log,
                 FAULT_SLOW_FILE="last.pt", FAULT_SLOW_SKIP="4", FAULT_SLOW_S="120", FAULT_MARKER=str(marker))
    wait_for(marker.exists, "fold 1's second last.pt write", proc, log)
    kill9(proc)
    run, f0, f1 = RunDir(root / "wf"), fold_run(RunDir(root / "wf"), 0), fold_run(RunDir(root / "wf"), 1)
    assert run.effective_state() == "failed (stale)" and f1.effective_state() == "failed (stale)"
    assert f0.status()["state"] == "done" and assert_whole(f1) == [1]
    done_at, fold0_metrics = f0.status()["finished"], f0.metrics_path.read_bytes()

    res = CliRunner().invoke(app, ["train", "--resume", "wf", "--runs-dir", str(root)])
    assert res.exit_code == 0, res.output
    assert run.status()["state"] == "done" and "fold 1: done" in res.output
    assert f0.status()["finished"] == done_at and f0.metrics_path.read_bytes() == fold0_metrics
    assert assert_whole(f1, epochs=3) == [1, 2, 3]
