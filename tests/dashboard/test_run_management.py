"""Run management on Home: tags and notes, search and filters kept in the URL, rename, trash and
restore; read-only in viewer mode; the default run of a page is never a trial or a failed run."""

from __future__ import annotations

from pathlib import Path

import handmade_runs
import pytest
from page_helpers import no_exception

from dashboard import run_actions, state
from finmt_core.training.run_admin import list_trash, read_meta
from finmt_core.training.runs import RunDir, list_runs


@pytest.fixture
def managed_root(tmp_path: Path) -> Path:
    """Finished runs plus, created last (so newest), a tuning trial and a failed run."""
    root = tmp_path / "runs"
    for i, (name, run_state) in enumerate((("base-a", "done"), ("base-b", "done"), ("study-t0001", "done"),
                                           ("broken", "failed"))):
        handmade_runs.write_run(root, name, "tgcn", handmade_runs.TGCN_TASKS, state=run_state, epochs_done=1, seed=i)
        RunDir(root / name).write_status(created=f"2026-01-0{i + 1}T00:00:00+00:00")
    return root


def _runs_shown(at: object) -> list[str]:
    return list(at.dataframe[0].value["run"])  # type: ignore[attr-defined]


def test_tags_notes_search_and_filters(open_page, managed_root):
    at = open_page(managed_root, "home")
    no_exception(at)
    assert "study-t0001" not in _runs_shown(at)  # trials are hidden unless asked for
    at.selectbox(key="manage_run").select("base-a").run()
    at.text_input(key="manage_tags.base-a").input("baseline, seed-1")
    at.text_area(key="manage_notes.base-a").input("the reference run")
    at.button(key="run_save").click().run()
    no_exception(at)
    assert read_meta(RunDir(managed_root / "base-a")).tags == ("baseline", "seed-1")
    at.multiselect(key="tags").select("baseline").run()
    assert _runs_shown(at) == ["base-a"] and at.query_params["tags"] == "baseline"
    at.multiselect(key="tags").unselect("baseline").run()
    at.text_input(key="q").input("reference").run()  # notes are searched too
    assert _runs_shown(at) == ["base-a"] and at.query_params["q"] == "reference"
    at.text_input(key="q").input("").run()
    at.toggle(key="trials").set_value(True).run()
    assert "study-t0001" in _runs_shown(at)


def test_filters_come_from_the_link(open_page, managed_root):
    at = open_page(managed_root, "home", q="base", states="done", trials="1")
    no_exception(at)
    assert sorted(_runs_shown(at)) == ["base-a", "base-b"]
    assert at.text_input(key="q").value == "base" and at.toggle(key="trials").value is True


def test_rename_trash_and_restore_from_home(open_page, managed_root):
    at = open_page(managed_root, "home")
    at.selectbox(key="manage_run").select("base-b").run()
    at.text_input(key="manage_name.base-b").input("base-renamed")
    at.button(key="run_rename").click().run()
    no_exception(at)
    assert (managed_root / "base-renamed").is_dir() and not (managed_root / "base-b").exists()
    assert at.selectbox(key="manage_run").value == "base-renamed"
    at.button(key="run_trash").click().run()
    no_exception(at)
    assert "base-renamed" not in {r.name for r in list_runs(managed_root)}
    entry = list_trash(managed_root)[0]
    at.button(key=f"restore.{entry.path.name}").click().run()
    no_exception(at)
    assert (managed_root / "base-renamed").is_dir() and list_trash(managed_root) == []


def test_management_is_refused_and_hidden_in_viewer_mode(open_page, managed_root, monkeypatch):
    monkeypatch.setenv(state.VIEWER_ENV, "1")
    run = RunDir(managed_root / "base-a")
    with pytest.raises(state.ReadOnlyError, match="viewer mode"):
        run_actions.save_labels(run, "x", "y")
    with pytest.raises(state.ReadOnlyError, match="viewer mode"):
        run_actions.rename(managed_root, "base-a", "other")
    with pytest.raises(state.ReadOnlyError, match="viewer mode"):
        run_actions.trash(managed_root, "base-a")
    with pytest.raises(state.ReadOnlyError, match="viewer mode"):
        run_actions.restore(managed_root, "base-a~20260101-000000")
    at = open_page(managed_root, "home")
    no_exception(at)
    assert not [b for b in at.button if b.key in ("run_save", "run_rename", "run_trash")]
    assert run.exists() and read_meta(run).tags == ()


def test_pages_open_on_the_newest_finished_non_trial_run(open_page, managed_root):
    at = open_page(managed_root, "curves")
    no_exception(at)
    assert at.selectbox(key="run").value == "base-b"  # not the newer trial, not the failed run
