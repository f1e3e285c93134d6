"""The run-directory contract: names, atomic writes, status merging, metrics log, listing."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone

import pytest

from finmt_core.config import ExperimentConfig
from finmt_core.errors import RunError
from finmt_core.training.run_admin import delete_run
from finmt_core.training.runs import (
    STALE_STATE,
    RunDir,
    atomic_write_json,
    atomic_write_text,
    create_run,
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


# ---- damaged files, the training lock, temp files, a full disk (issue 16) -------------------
def test_damaged_status_is_listed_as_damaged_and_rewritten_by_the_next_write(tmp_path) -> None:
    run = create_run(tmp_path, "r", ExperimentConfig())
    run.status_path.write_bytes(b'{"state": "runn\xff')
    st = run.status()
    assert st["state"] == "damaged" and "status.json is damaged" in st["error"] and "--resume r" in st["error"]
    assert run.effective_state() == "damaged"
    assert [r.name for r in list_runs(tmp_path)] == ["r"]  # not vanished from the list
    run.write_status(state="running", epoch=2)
    assert run.status() == {"name": "r", "state": "running", "epoch": 2}
    run.status_path.write_text("[1, 2]")  # valid JSON, but not a status
    assert run.status()["state"] == "damaged"


def test_damaged_metrics_lines_are_skipped_and_resume_truncation_dedupes(tmp_path, caplog) -> None:
    run = create_run(tmp_path, "r", ExperimentConfig())
    lines = [b'{"epoch": 1, "val_loss": 0.9}', b'{"epoch": 2, "val_lo\xff\xfe', b'{"epoch": "two"}', b"[3]",
             b'{"epoch": 2, "val_loss": 0.8}', b'{"epoch": 3, "val_loss": 0.7}', b'{"epoch": 2, "val_loss": 0.75}']
    run.metrics_path.write_bytes(b"\n".join(lines) + b"\n")
    assert [r["epoch"] for r in run.metric_records()] == [1, 2, 3, 2]
    assert "skipping damaged line 2 of" in caplog.text
    run.truncate_metrics(2)  # what a resume from epoch 2 does
    recs = run.metric_records()
    assert [(r["epoch"], r["val_loss"]) for r in recs] == [(1, 0.9), (2, 0.75)]  # one line per epoch, the later one


def test_torn_last_line_does_not_swallow_the_next_append(tmp_path) -> None:
    run = create_run(tmp_path, "r", ExperimentConfig())
    run.append_metrics({"epoch": 1})
    with open(run.metrics_path, "a") as fh:
        fh.write('{"epoch": 2, "tr')  # killed mid-line
    run.append_metrics({"epoch": 2})
    assert [r["epoch"] for r in run.metric_records()] == [1, 2]


def test_damaged_or_foreign_predictions_are_one_line_run_errors(tmp_path) -> None:
    import pandas as pd

    cfg = ExperimentConfig.model_validate({"tasks": [{"target": "direction"}]})
    run = create_run(tmp_path, "r", cfg)
    run.predictions_path.write_bytes(b"PAR1 truncated")
    with pytest.raises(RunError) as err:
        run.predictions()
    msg = str(err.value)
    assert "predictions.parquet is damaged" in msg and "finmt train --resume r" in msg and "\n" not in msg
    run.write_predictions(pd.DataFrame({"date": [1], "ticker": ["A"], "split": ["test"], "direction_pred": [1]}))
    with pytest.raises(RunError, match=r"lacks the column\(s\) direction_target, direction_prob_Down"):
        run.predictions()


def test_damaged_evaluation_and_config_name_the_file_and_the_fix(tmp_path) -> None:
    run = create_run(tmp_path, "r", ExperimentConfig())
    run.evaluation_path.write_text('{"run": {"name": "r"}, "tasks": {')
    with pytest.raises(RunError, match=r"evaluation.json is damaged .*finmt evaluate r"):
        run.evaluation()
    run.config_path.write_bytes(b"model: [unclosed\n\xff")
    with pytest.raises(RunError, match=r"the config of run 'r' cannot be read .*Repair .*config.yaml"):
        run.config()


def test_training_lock_refuses_a_second_trainer_and_names_the_holder(tmp_path) -> None:
    run = create_run(tmp_path, "r", ExperimentConfig())
    assert run.training_holder() is None
    with run.training_lock():
        assert run.training_holder() == f"process {os.getpid()}"
        with pytest.raises(RunError, match=rf"run 'r' is being trained by process {os.getpid()}; wait .* or cancel it"), \
                run.training_lock():
            pass
    assert run.training_holder() is None
    with run.training_lock():  # released: it can be taken again
        pass


def test_stale_temp_files_are_removed_and_live_ones_kept(tmp_path) -> None:
    run = create_run(tmp_path, "r", ExperimentConfig())
    dead = run.checkpoints_dir / ".last.pt.4194999.0123456789ab.tmp"  # above pid_max: a dead writer
    live = run.path / f".status.json.{os.getppid()}.0123456789ab.tmp"
    other = run.path / ".notes.tmp"  # not ours: left alone
    for p in (dead, live, other):
        p.write_bytes(b"half")
    removed = run.clean_temp_files()
    assert removed == [dead] and not dead.exists() and live.exists() and other.exists()


def test_queued_demo_run_whose_process_died_is_cancelled() -> None:
    status = {"state": "queued", "launcher": "demo", "pid": 2**22 + 12345}
    assert effective_state(status) == "cancelled"
    assert effective_state(dict(status, pid=os.getpid())) == "queued"  # the demo process still lives
    assert effective_state(dict(status, launcher="dashboard")) == "queued"  # jobs.job_view shows its log


def _full_disk_after(monkeypatch, n_ok: int) -> list[int]:
    """Let ``n_ok`` writes through, then fail every write with ENOSPC after writing half."""
    import errno

    from finmt_core.training import atomic

    calls = [0]
    real = atomic._write_fd

    def fake(fd: int, data: bytes) -> None:
        calls[0] += 1
        if calls[0] > n_ok:
            real(fd, bytes(data[: len(data) // 2]))
            raise OSError(errno.ENOSPC, "No space left on device")
        real(fd, data)

    monkeypatch.setattr(atomic, "_write_fd", fake)
    return calls


def test_full_disk_keeps_every_file_as_it_was(tmp_path, monkeypatch) -> None:
    from finmt_core.training.atomic import DiskFullError

    run = create_run(tmp_path, "r", ExperimentConfig())
    run.append_metrics({"epoch": 1})
    before = {p.name: p.read_bytes() for p in run.path.iterdir() if p.is_file()}
    _full_disk_after(monkeypatch, 0)
    with pytest.raises(DiskFullError, match=r"no space left on device while writing .*status\.json") as err:
        run.write_status(state="running")
    assert isinstance(err.value, RunError) and isinstance(err.value, OSError) and err.value.errno == 28
    with pytest.raises(DiskFullError, match=r"metrics\.jsonl"):
        run.append_metrics({"epoch": 2})
    after = {p.name: p.read_bytes() for p in run.path.iterdir() if p.is_file()}
    assert after == before  # no half line, no temp file, status.json unchanged
    with pytest.raises(DiskFullError):
        create_run(tmp_path, "s", ExperimentConfig())
    assert not (tmp_path / "s").exists()  # no half-made run directory
