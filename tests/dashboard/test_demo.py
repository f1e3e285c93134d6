"""First-start demo runs: launched once per runs folder, in one background process, with
progress readable from the run directories."""

from __future__ import annotations

import json

import handmade_runs
import pytest

from dashboard import demo
from finmt_core.training.runs import RunDir, atomic_write_json


class FakePopen:
    """Records the command instead of training (the real process is exercised by the
    benchmarks' demo-start measurement)."""

    launched: list[list[str]] = []

    def __init__(self, cmd, **kwargs):
        FakePopen.launched.append(list(cmd))
        self.pid = 2**22 + 777
        self.kwargs = kwargs

    def poll(self):
        return 0


@pytest.fixture
def fake_popen(monkeypatch):
    FakePopen.launched = []
    monkeypatch.setattr(demo.subprocess, "Popen", FakePopen)
    return FakePopen


def test_demo_launches_once_on_an_empty_runs_folder(tmp_path, fake_popen):
    assert demo.ensure_started(tmp_path) is True
    assert (tmp_path / demo.LOCK_FILE).is_file()
    assert fake_popen.launched == [[demo.sys.executable, "-m", "dashboard.demo", str(tmp_path)]]
    # a rerun, a refresh or a second browser tab must not launch it again
    assert demo.ensure_started(tmp_path) is False
    assert len(fake_popen.launched) == 1


def test_demo_not_launched_when_runs_exist_or_disabled(tmp_path, fake_popen):
    assert demo.ensure_started(tmp_path, enabled=False) is False
    handmade_runs.write_run(tmp_path, "mine", "tgcn", handmade_runs.TGCN_TASKS)
    assert demo.ensure_started(tmp_path) is False
    assert fake_popen.launched == []
    assert not (tmp_path / demo.LOCK_FILE).exists()


def test_every_demo_run_is_a_valid_preset_on_the_demo_data():
    names = [item.name for item in demo.DEMO_SET]
    assert len(names) == len(set(names)) >= 3
    for item in demo.DEMO_SET:
        cfg = demo.demo_config(item)
        assert cfg.data.source == "demo" and cfg.name == item.name
    models = {demo.demo_config(i).model.name for i in demo.DEMO_SET}
    assert "tgcn" in models and "lightgbm" in models


def test_progress_counts_runs_by_state(tmp_path):
    names = ["demo-a", "demo-b", "demo-c"]
    handmade_runs.write_run(tmp_path, "demo-a", "tgcn", handmade_runs.TGCN_TASKS)
    handmade_runs.write_run(tmp_path, "demo-b", "tgcn", handmade_runs.TGCN_TASKS, state="running", epochs_done=2)
    RunDir(tmp_path / "demo-b").write_status(progress=0.5, pid=None)
    handmade_runs.write_run(tmp_path, "demo-c", "tgcn", handmade_runs.TGCN_TASKS, state="queued", epochs_done=0)
    atomic_write_json(tmp_path / demo.STATE_FILE, {"pid": None, "started": "2100-01-01T00:00:00+00:00",
                                                   "runs": names, "finished": None})
    prog = demo.progress(tmp_path)
    assert (prog.total, prog.done, prog.failed, prog.current) == (3, 1, 0, "demo-b")
    assert prog.fraction == pytest.approx(1.5 / 3)
    assert not prog.finished


def test_progress_reports_a_demo_process_that_never_started(tmp_path):
    (tmp_path / demo.STATE_FILE).write_text(json.dumps({"pid": None, "started": "2000-01-01T00:00:00+00:00",
                                                        "runs": [], "finished": None}))
    prog = demo.progress(tmp_path)
    assert prog.finished and "did not start" in prog.error
    assert demo.progress(tmp_path / "nowhere") is None


def test_home_shows_the_demo_progress(open_page, tmp_path):
    handmade_runs.write_run(tmp_path, "demo-a", "tgcn", handmade_runs.TGCN_TASKS, state="queued", epochs_done=0)
    atomic_write_json(tmp_path / demo.STATE_FILE, {"pid": None, "started": "2100-01-01T00:00:00+00:00",
                                                   "runs": ["demo-a", "demo-b"], "finished": None})
    at = open_page(tmp_path, "home")
    assert not at.exception
    assert any("Training the demo runs" in m.value for m in at.markdown)
    assert at.get("progress")


@pytest.fixture
def fake_training(monkeypatch):
    """train_run / evaluate_run replaced by recorders (run_demo's own logic is under test)."""
    from finmt_core.evaluation import evaluate
    from finmt_core.training import pipeline

    calls: dict[str, list[str]] = {"train": [], "evaluate": []}
    behaviour: dict[str, object] = {}

    def fake_train(name, root, **kwargs):
        calls["train"].append(name)
        action = behaviour.get(name, "done")
        if action == "raise":
            raise ValueError("boom")
        if action == "sigterm":
            import os
            import signal

            os.kill(os.getpid(), signal.SIGTERM)
        RunDir(root / name).write_status(state="done")

    def fake_evaluate(path, **kwargs):
        calls["evaluate"].append(RunDir(path).name)
        return {}

    monkeypatch.setattr(pipeline, "start_queued", fake_train)
    monkeypatch.setattr(evaluate, "evaluate_run", fake_evaluate)
    return calls, behaviour


@pytest.fixture
def restore_sigterm():
    import signal

    before = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, before)


def test_demo_trains_and_evaluates_every_run_in_order(tmp_path, fake_training, restore_sigterm):
    calls, behaviour = fake_training
    names = [item.name for item in demo.DEMO_SET]
    behaviour[names[0]] = "raise"  # one failed demo run must not stop the others
    demo.run_demo(tmp_path)
    assert calls["train"] == names
    assert calls["evaluate"] == names[1:]
    first = RunDir(tmp_path / names[0]).status()
    assert first["state"] == "failed" and "boom" in first["error"]
    prog = demo.progress(tmp_path)
    assert prog.finished and prog.done == len(names) - 1 and prog.failed == 1


def test_sigterm_stops_the_demo_and_cancels_what_is_left(tmp_path, fake_training, restore_sigterm):
    calls, behaviour = fake_training
    names = [item.name for item in demo.DEMO_SET]
    behaviour[names[0]] = "sigterm"
    demo.run_demo(tmp_path)
    assert calls["train"] == names[:1] and calls["evaluate"] == []
    assert {RunDir(tmp_path / n).status()["state"] for n in names} == {"cancelled"}
    prog = demo.progress(tmp_path)
    assert prog.finished and "stopped" in prog.error
