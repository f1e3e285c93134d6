"""The run-directory contract: names, atomic writes, status merging, metrics log, listing."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone

import pytest

from finmt_core.config import ExperimentConfig
from finmt_core.errors import RunError
from finmt_core.training.runs import (
    STALE_STATE,
    RunDir,
    atomic_write_json,
    atomic_write_text,
    create_run,
    delete_run,
    effective_state,
    list_runs,
    open_run,
    validate_run_name,
)


@pytest.mark.parametrize("name", ["a", "run-1", "tgcn_2024.01.05", "X" * 80])
def test_valid_names(name: str) -> None:
    assert validate_run_name(name) == name


@pytest.mark.parametrize("name", ["../evil", "..", ".hidden", "a/b", "a\\b", "", "x" * 81, "spa ce", "/abs", "é"])
def test_invalid_names_rejected(name: str) -> None:
    with pytest.raises(RunError, match="invalid run name"):
        validate_run_name(name)


def test_open_run_rejects_traversal(tmp_path) -> None:
    with pytest.raises(RunError):
        open_run(tmp_path, "../evil")


def test_atomic_write_leaves_no_temp_and_replaces(tmp_path) -> None:
    p = tmp_path / "f.txt"
    atomic_write_text(p, "one")
    atomic_write_text(p, "two")
    assert p.read_text() == "two"
    assert [x.name for x in tmp_path.iterdir()] == ["f.txt"]
    atomic_write_json(tmp_path / "j.json", {"a": float("nan"), "b": 1})
    assert json.loads((tmp_path / "j.json").read_text())["b"] == 1


def test_atomic_write_failure_keeps_old_file(tmp_path) -> None:
    p = tmp_path / "f.json"
    atomic_write_json(p, {"ok": 1})
    with pytest.raises(TypeError):
        atomic_write_json(p, {"bad": object()})
    assert json.loads(p.read_text()) == {"ok": 1}
    assert sorted(x.name for x in tmp_path.iterdir()) == ["f.json"]


def test_create_run_writes_config_and_queued_status(tmp_path) -> None:
    cfg = ExperimentConfig(name="demo", preset="tgcn")
    run = create_run(tmp_path, None, cfg)
    assert run.name.startswith("tgcn-")
    assert run.config() == cfg
    st = run.status()
    assert st["state"] == "queued" and st["preset"] == "tgcn" and st["created"]
    second = create_run(tmp_path, None, cfg)  # same second: a suffix keeps names unique
    assert second.name != run.name
    with pytest.raises(RunError, match="already exists"):
        create_run(tmp_path, run.name, cfg)
    with pytest.raises(RunError, match="invalid run name"):
        create_run(tmp_path, "../evil", cfg)
    assert not (tmp_path.parent / "evil").exists()


def test_write_status_merges(tmp_path) -> None:
    run = create_run(tmp_path, "r", ExperimentConfig())
    run.write_status(state="running", epoch=1)
    run.write_status(progress=0.5)
    st = run.status()
    assert st["state"] == "running" and st["epoch"] == 1 and st["progress"] == 0.5 and st["name"] == "r"
    with pytest.raises(RunError, match="invalid run state"):
        run.write_status(state="exploded")


def test_metrics_append_and_torn_line(tmp_path) -> None:
    run = create_run(tmp_path, "r", ExperimentConfig())
    run.append_metrics({"epoch": 1, "train_loss": 1.0, "val": {"direction": 0.7}})
    run.append_metrics({"epoch": 2, "train_loss": 0.9, "val": {"direction": 0.6}})
    with open(run.metrics_path, "a") as fh:  # a crash mid-line
        fh.write('{"epoch": 3, "train_lo')
    df = run.metrics()
    assert df["epoch"].tolist() == [1, 2]
    assert df["val.direction"].tolist() == [0.7, 0.6]
    run.truncate_metrics(1)
    assert [r["epoch"] for r in run.metric_records()] == [1]
    assert run.metrics_path.read_text().endswith("\n")


def test_cancel_file(tmp_path) -> None:
    run = create_run(tmp_path, "r", ExperimentConfig())
    assert not run.cancel_requested()
    run.request_cancel()
    assert run.cancel_requested()
    run.clear_cancel()
    assert not run.cancel_requested()


def test_list_runs_newest_first_and_delete(tmp_path) -> None:
    a = create_run(tmp_path, "a", ExperimentConfig())
    b = create_run(tmp_path, "b", ExperimentConfig())
    a.write_status(created="2020-01-01T00:00:00+00:00")
    b.write_status(created="2021-01-01T00:00:00+00:00")
    (tmp_path / "not-a-run").mkdir()
    assert [r.name for r in list_runs(tmp_path)] == ["b", "a"]
    b.write_status(state="running", pid=os.getpid(), heartbeat=datetime.now(timezone.utc).isoformat())
    with pytest.raises(RunError, match="still running"):
        delete_run(tmp_path, "b")
    delete_run(tmp_path, "a")
    assert [r.name for r in list_runs(tmp_path)] == ["b"]
    with pytest.raises(RunError, match="no run named"):
        open_run(tmp_path, "a")
    assert list_runs(tmp_path / "missing") == []


def test_effective_state_stale() -> None:
    now = datetime.now(timezone.utc)
    fresh = {"state": "running", "pid": os.getpid(), "heartbeat": now.isoformat()}
    assert effective_state(fresh) == "running"
    old = dict(fresh, heartbeat=(now - timedelta(hours=1)).isoformat())
    assert effective_state(old) == STALE_STATE
    dead = dict(fresh, pid=2**22 + 12345)  # above the default pid_max: never a live process
    assert effective_state(dead) == STALE_STATE
    assert effective_state({"state": "done", "pid": 2**22 + 12345}) == "done"
    assert effective_state({}) == "queued"


def test_predictions_missing_is_run_error(tmp_path) -> None:
    run = RunDir(tmp_path / "nothing")
    with pytest.raises(RunError):
        run.config()
    run = create_run(tmp_path, "r", ExperimentConfig())
    with pytest.raises(RunError, match="no predictions"):
        run.predictions()
