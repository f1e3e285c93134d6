"""Two trainers of one run, two launches of one config, two dashboard sessions pressing
Resume, a killed demo process: one trainer per run, no clobbering, nothing stuck "queued"."""

from __future__ import annotations

import os
import threading
import time

import handmade_runs
import pytest
from fault_helpers import assert_whole, config_file, start, tiny_config, wait_for
from typer.testing import CliRunner

from dashboard import jobs
from finmt_core.cli import app
from finmt_core.errors import RunError
from finmt_core.training.runs import RunDir, create_run, list_runs

pytestmark = pytest.mark.faults
runner = CliRunner()


@pytest.mark.slow
def test_two_resumes_at_once_one_trains_the_other_refuses(tmp_path) -> None:
    root, log = tmp_path / "runs", tmp_path / "a.log"
    run = create_run(root, "q", tiny_config(epochs=3))  # queued, as the dashboard leaves it
    release = tmp_path / "release"
    first = start(["train", "--resume", "q", "--runs-dir", str(root)], log, FAULT_HOLD_UNTIL=str(release))
    wait_for(lambda: run.training_holder() is not None and run.metric_records(), "A to train an epoch", first, log)
    status_before = run.status()

    second = runner.invoke(app, ["train", "--resume", "q", "--runs-dir", str(root)])
    assert second.exit_code == 2, second.output
    lines = second.output.strip().splitlines()
    assert lines == [f"error: run 'q' is being trained by process {first.pid}; wait for it to finish or cancel it "
                     "(Cancel on the Train page, or stop that process)"]
    assert run.status() == status_before  # the refused one touched nothing

    release.touch()
    assert first.wait(timeout=300) == 0, log.read_text()[-2000:]
    assert assert_whole(run, epochs=3) == [1, 2, 3]  # not 1, 2, 2, 3, 3
    assert run.status()["state"] == "done" and run.training_holder() is None


@pytest.mark.slow
def test_two_launches_of_one_config_at_once_give_two_runs(tmp_path) -> None:
    root = tmp_path / "runs"
    cfg = config_file(tmp_path, epochs=1)
    procs = [start(["train", "--config", str(cfg), "--runs-dir", str(root)], tmp_path / f"{i}.log") for i in range(2)]
    assert [p.wait(timeout=300) for p in procs] == [0, 0], [(tmp_path / f"{i}.log").read_text()[-1500:] for i in range(2)]
    runs = list_runs(root)
    assert len(runs) == 2 and runs[0].name != runs[1].name
    pids = set()
    for run in runs:
        assert run.status()["state"] == "done" and assert_whole(run, epochs=1) == [1]
        assert len(run.predictions()) > 0
        pids.add(run.status()["pid"])
    assert pids == {p.pid for p in procs}  # each run trained by its own process, none overwritten


def test_dashboard_resume_refuses_while_the_run_trains(tmp_path, monkeypatch) -> None:
    run = RunDir(handmade_runs.write_run(tmp_path, "c", "tgcn", handmade_runs.TGCN_TASKS, state="cancelled"))
    run.last_checkpoint.parent.mkdir(exist_ok=True)
    run.last_checkpoint.write_bytes(b"weights")
    monkeypatch.setattr(jobs, "_spawn", lambda r, cmd: pytest.fail("must not start a second trainer"))
    with run.training_lock(), pytest.raises(RunError, match=rf"being trained by process {os.getpid()}"):
        jobs.resume(run)


def test_dashboard_resume_from_two_sessions_starts_one_trainer(tmp_path, monkeypatch) -> None:
    run = RunDir(handmade_runs.write_run(tmp_path, "c", "tgcn", handmade_runs.TGCN_TASKS, state="cancelled"))
    run.last_checkpoint.parent.mkdir(exist_ok=True)
    run.last_checkpoint.write_bytes(b"weights")
    spawned: list[int] = []

    def spawn(r: RunDir, cmd: list[str]) -> int:  # a launched trainer: alive (this process), queued
        time.sleep(0.3)  # the other session presses Resume meanwhile
        r.write_status(pid=os.getpid(), launcher="dashboard")
        spawned.append(1)
        return os.getpid()

    monkeypatch.setattr(jobs, "_spawn", spawn)
    outcomes: list[str] = []

    def press() -> None:
        try:
            jobs.resume(run)
            outcomes.append("started")
        except RunError as exc:
            outcomes.append(str(exc))

    sessions = [threading.Thread(target=press) for _ in range(2)]
    for t in sessions:
        t.start()
    for t in sessions:
        t.join(timeout=30)
    assert len(spawned) == 1 and sorted(outcomes)[-1] == "started"
    assert "is still queued; cancel it before resuming" in sorted(outcomes)[0]


def test_a_killed_demo_process_leaves_no_run_queued(tmp_path, monkeypatch) -> None:
    run = RunDir(handmade_runs.write_run(tmp_path, "demo-tgcn", "tgcn", handmade_runs.TGCN_TASKS, state="queued",
                                         epochs_done=0))
    run.metrics_path.unlink()
    run.write_status(launcher="demo", pid=2**22 + 4321, epoch=0)  # the demo process was kill -9'd
    view = jobs.job_view(run)
    assert view.state == "cancelled" and not view.active and view.can_resume
    assert "demo process stopped before this run started" in view.message
    started: list[list[str]] = []
    monkeypatch.setattr(jobs, "_spawn", lambda r, cmd: started.append(cmd) or 1)
    jobs.resume(run)  # it can be started: `finmt train --resume` starts a run that never trained
    assert started and started[0][3:5] == ["train", "--resume"]
    assert run.status()["state"] == "queued"
