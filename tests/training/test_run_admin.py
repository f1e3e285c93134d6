"""Run management in finmt_core: tags and notes, rename, trash and restore, the default run."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dashboard"))
import handmade_runs  # tests/dashboard/handmade_runs.py

from finmt_core.errors import RunError
from finmt_core.training import run_admin as ra
from finmt_core.training.runs import RunDir, list_runs


def _run(root: Path, name: str, state: str = "done") -> RunDir:
    return RunDir(handmade_runs.write_run(root, name, "tgcn", handmade_runs.TGCN_TASKS, state=state, epochs_done=1))


def test_tags_and_notes_round_trip_and_bad_tags_are_refused(tmp_path: Path) -> None:
    run = _run(tmp_path, "a")
    assert ra.read_meta(run) == ra.RunMeta()
    meta = ra.write_meta(run, tags="baseline, seed-1, baseline", notes="  first try  ")
    assert meta.tags == ("baseline", "seed-1") and meta.notes == "first try"
    assert ra.read_meta(run) == meta
    assert ra.write_meta(run, notes="second").tags == ("baseline", "seed-1")  # None keeps the tags
    with pytest.raises(RunError, match=r"invalid tag '\.\./x'"):
        ra.write_meta(run, tags=["ok", "../x"])
    (run.path / ra.META_FILE).write_text("{not json")
    assert ra.read_meta(run) == ra.RunMeta()  # damaged labels read as none, never an exception


def test_rename_moves_the_folder_and_refuses_taken_or_invalid_names(tmp_path: Path) -> None:
    _run(tmp_path, "old")
    _run(tmp_path, "taken")
    renamed = ra.rename_run(tmp_path, "old", "new-name")
    assert renamed.path == tmp_path / "new-name" and not (tmp_path / "old").exists()
    assert renamed.status()["name"] == "new-name"
    with pytest.raises(RunError, match="already exists"):
        ra.rename_run(tmp_path, "new-name", "taken")
    with pytest.raises(RunError, match="invalid run name"):
        ra.rename_run(tmp_path, "new-name", "../escape")


def test_trash_and_restore_is_undoable_and_refuses_a_live_run(tmp_path: Path) -> None:
    _run(tmp_path, "keep")
    _run(tmp_path, "gone")
    running = _run(tmp_path, "live", state="running")
    running.write_status(heartbeat=ra.datetime.now(ra.timezone.utc).isoformat())
    entry = ra.trash_run(tmp_path, "gone")
    assert {r.name for r in list_runs(tmp_path)} == {"keep", "live"}
    assert [e.name for e in ra.list_trash(tmp_path)] == ["gone"] and entry.path.is_dir()
    with pytest.raises(RunError, match="while it trains"):
        ra.trash_run(tmp_path, "live")
    restored = ra.restore_run(tmp_path, entry.path.name)
    assert restored.name == "gone" and restored.exists() and ra.list_trash(tmp_path) == []
    ra.trash_run(tmp_path, "gone")
    _run(tmp_path, "gone")  # a new run took the name meanwhile
    with pytest.raises(RunError, match="exists again"):
        ra.restore_run(tmp_path, ra.list_trash(tmp_path)[0].path.name)


def test_default_run_is_the_newest_finished_non_trial(tmp_path: Path) -> None:
    for name, state in (("older-done", "done"), ("newer-done", "done"), ("study-t0003", "done"),
                        ("newest-failed", "failed")):
        _run(tmp_path, name, state=state)
        RunDir(tmp_path / name).write_status(created=f"2026-01-0{len(list_runs(tmp_path))}T00:00:00+00:00")
        time.sleep(0.01)
    runs = list_runs(tmp_path)
    assert runs[0].name == "newest-failed" and ra.is_trial(RunDir(tmp_path / "study-t0003"))
    assert ra.default_run(runs).name == "newer-done"
    assert ra.default_run([RunDir(tmp_path / "study-t0003")]).name == "study-t0003"  # nothing else to show
    assert ra.default_run([]) is None
