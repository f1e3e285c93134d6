"""The job runner: background `finmt train` processes started, watched, cancelled and resumed
from the run directory."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import handmade_runs
import pytest

from dashboard import jobs
from finmt_core.training.runs import STALE_STATE, RunDir


def test_train_command_resumes_the_queued_run_in_its_own_folder(tmp_path):
    run = RunDir(tmp_path / "my-run")
    cmd = jobs.train_command(run)
    assert cmd[:3] == [sys.executable, "-m", "finmt_core.cli"]
    assert cmd[3:] == ["train", "--resume", "my-run", "--runs-dir", str(tmp_path)]


def test_cancel_of_a_run_whose_process_is_gone_marks_it_cancelled(tmp_path):
    path = handmade_runs.write_run(tmp_path, "ghost", "tgcn", handmade_runs.TGCN_TASKS, state="running", epochs_done=1)
    run = RunDir(path)
    run.write_status(pid=2**22 + 12345)  # no such process
    assert jobs.job_view(run).state == STALE_STATE
    message = jobs.cancel(run)
    assert "marked cancelled" in message
    assert run.cancel_requested()
    assert jobs.job_view(run).state == "cancelled"


def test_cancel_of_a_finished_run_changes_nothing(tmp_path):
    run = RunDir(handmade_runs.write_run(tmp_path, "finished", "tgcn", handmade_runs.TGCN_TASKS))
    assert "already done" in jobs.cancel(run)
    assert not run.cancel_requested()
    assert run.status()["state"] == "done"


def test_a_launch_that_died_before_starting_shows_its_log(tmp_path):
    run = RunDir(handmade_runs.write_run(tmp_path, "broken", "tgcn", handmade_runs.TGCN_TASKS, state="queued", epochs_done=0))
    run.write_status(pid=2**22 + 54321, launcher="dashboard")
    run.log_path.write_text("Traceback ...\nImportError: no module named foo\n")
    view = jobs.job_view(run)
    assert view.state == "failed"
    assert "ImportError: no module named foo" in view.error
    assert jobs.log_tail(run, 1) == "ImportError: no module named foo"


def test_resume_needs_a_checkpoint(tmp_path):
    from finmt_core.errors import RunError

    run = RunDir(handmade_runs.write_run(tmp_path, "stopped", "tgcn", handmade_runs.TGCN_TASKS, state="cancelled"))
    assert not jobs.job_view(run).can_resume
    with pytest.raises(RunError, match="no checkpoint"):
        jobs.resume(run)


def _wait(predicate, timeout_s: float, what: str, run: RunDir):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        view = jobs.job_view(run)
        if predicate(view):
            return view
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}; status {run.status()}; log:\n{jobs.log_tail(run, 30)}")


@pytest.mark.slow
def test_train_page_launches_a_job_that_progresses_and_cancels(open_page, tmp_path, monkeypatch):
    """The Train page's form starts `finmt train` in the background; progress advances in
    status.json; the page's Cancel button stops the process and the run ends cancelled."""
    import psutil

    root = tmp_path / "runs"
    root.mkdir()
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the child trains on one thread of the shared CPU
    at = open_page(root, "train")
    assert not at.exception
    at.selectbox(key="train_preset").select("lstm_transformer").run()
    at.selectbox(key="data").select("synthetic").run()
    at.number_input(key="train_epochs").set_value(200)
    at.number_input(key="train_batch").set_value(16)
    at.button(key="launch").click().run()
    assert not at.exception, [e.value for e in at.exception]
    runs = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
    assert len(runs) == 1, runs
    run = RunDir(runs[0])
    assert run.config().model.name == "lstm_transformer" and run.config().train.epochs == 200
    pid = run.status()["pid"]
    assert psutil.pid_exists(pid)

    view = _wait(lambda v: v.state == "running" and v.progress > 0, 300, "progress to advance", run)
    assert 0 < view.progress < 1 and view.device == "cpu"

    at.run()  # the job card now shows a Cancel button
    at.button(key=f"cancel.{run.name}").click().run()
    assert run.cancel_requested()
    view = _wait(lambda v: not v.active, 180, "the job to stop", run)
    assert view.state == "cancelled"
    deadline = time.monotonic() + 30
    while psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE and time.monotonic() < deadline:
        time.sleep(0.2)
    jobs.reap()
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_launch_rejects_an_unsafe_run_name(tmp_path):
    from finmt_core.config import load_preset
    from finmt_core.errors import RunError

    with pytest.raises(RunError, match="invalid run name"):
        jobs.launch(load_preset("naive"), tmp_path, name="../escape")
    assert not any(Path(tmp_path).iterdir())
    assert os.listdir(tmp_path) == []


def test_multi_gpu_runs_relaunch_under_torchrun(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from finmt_core.config import load_preset
    from finmt_core.training.runs import create_run

    run = create_run(tmp_path, "ddp-run", load_preset("tgcn"))
    assert "--nproc" not in jobs.train_command(run)
    run.write_status(nproc=4)
    cmd = jobs.train_command(run)
    assert cmd[-2:] == ["--nproc", "4"] and "--resume" in cmd
