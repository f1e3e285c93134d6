"""Viewer mode (``FINMT_VIEWER=1``, ``finmt dashboard --viewer``): every page opens read-only.

One runs folder holds what makes each mutating control appear in editor mode (a running job
to cancel, a stopped one with a checkpoint to resume, an un-evaluated finished run, a tuning
study with a best trial); each page is checked in editor mode (the control is there, so its
absence below means something) and in viewer mode (it is not). The functions behind the
controls refuse when called directly.
"""

from __future__ import annotations

from pathlib import Path

import handmade_runs
import pytest
from page_helpers import no_exception, texts

from dashboard import demo, jobs, state, tuning_jobs
from finmt_core.config import load_preset
from finmt_core.training.runs import RunDir, list_runs, now_iso

#: page -> what mutates there: (AppTest element kind, key or label) pairs
MUTATING = {
    "home": [("page_link", "Train a model"), ("button", "run_save"), ("button", "run_rename"), ("button", "run_trash")],
    "data": [("file_uploader", "upload"), ("text_input", "date_format")],
    "train": [("button", "launch"), ("selectbox", "train_preset"), ("button", "cancel.vw-running"),
              ("button", "resume.vw-stopped")],
    "tuning": [("button", "tune_start"), ("button", "tune_evaluate")],
    "evaluation": [("button", "evaluate")],
}
#: labels of controls that change runs or start work; none may show anywhere in viewer mode
MUTATING_LABELS = ("Launch training", "Cancel", "Resume", "Start", "Save for training", "Evaluate now",
                   "Evaluate the best trial on its test segment", "Save tags and notes", "Rename", "Move to trash",
                   "Restore")
REPO = Path(__file__).resolve().parents[2]
PAGES_DIR = REPO / "pages"


@pytest.fixture(scope="module")
def viewer_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Hand-written runs: finished (one of them never evaluated), failed, cancelled, a running
    job and a stopped job with a checkpoint, plus a two-trial Optuna study."""
    import optuna

    from finmt_core.tuning.study import default_storage

    root = tmp_path_factory.mktemp("viewer-runs")
    handmade_runs.write_fixture_runs(root)
    handmade_runs.write_run(root, "vw-running", "tgcn", handmade_runs.TGCN_TASKS, state="running", epochs_done=1)
    stopped = handmade_runs.write_run(root, "vw-stopped", "tgcn", handmade_runs.TGCN_TASKS, state="cancelled",
                                      epochs_done=2)
    RunDir(stopped).last_checkpoint.parent.mkdir(parents=True, exist_ok=True)
    RunDir(stopped).last_checkpoint.write_bytes(b"")  # can_resume only looks for the file
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name="tune-vw", storage=default_storage(root))
    lr = optuna.distributions.FloatDistribution(1e-4, 1e-1, log=True)
    for value, run in ((0.6, "fx-seq"), (0.5, "fx-tgcn")):
        study.add_trial(optuna.trial.create_trial(params={"lr": value / 100}, distributions={"lr": lr}, value=value,
                                                  user_attrs={"run": run}))
    return root


def _present(at: object, kind: str, name: str) -> bool:
    """Whether the page shows a ``kind`` element with key ``name`` (page links: with that label)."""
    elements = at.get(kind)  # type: ignore[attr-defined]
    if kind == "page_link":
        return any(getattr(e, "label", None) == name for e in elements)
    return any(getattr(e, "key", None) == name for e in elements)


def _open(open_page, root: Path, page: str) -> object:
    RunDir(root / "vw-running").write_status(heartbeat=now_iso())  # still running (not stale)
    params = {"run": "fx-tgcn"} if page == "evaluation" else {}  # fx-tgcn has no evaluation.json
    at = open_page(root, page, **params)
    no_exception(at)
    return at


@pytest.mark.parametrize("page", list(MUTATING))
def test_editor_mode_shows_the_mutating_controls(open_page, viewer_root, page, monkeypatch):
    """The fixture is right: in editor mode every control the viewer test looks for is there."""
    monkeypatch.delenv(state.VIEWER_ENV, raising=False)
    at = _open(open_page, viewer_root, page)
    missing = [(kind, name) for kind, name in MUTATING[page] if not _present(at, kind, name)]
    assert not missing, missing


@pytest.mark.parametrize("page", sorted(p.stem for p in PAGES_DIR.glob("*.py")))
def test_viewer_mode_leaves_out_every_mutating_control(open_page, viewer_root, page, monkeypatch, request):
    monkeypatch.setenv(state.VIEWER_ENV, "1")
    at = _open(open_page, viewer_root, page)
    shown = [(kind, name) for kind, name in MUTATING.get(page, []) if _present(at, kind, name)]
    assert not shown, shown
    assert not at.get("file_uploader")
    labels = [b.label for b in at.button]
    assert not [x for x in labels if x in MUTATING_LABELS], labels


def test_viewer_mode_explains_itself_on_train_and_tuning(open_page, viewer_root, monkeypatch):
    monkeypatch.setenv(state.VIEWER_ENV, "1")
    for page in ("train", "tuning"):
        at = _open(open_page, viewer_root, page)
        assert "viewer mode" in "\n".join(str(i.value) for i in at.info), page
    train = _open(open_page, viewer_root, "train")
    assert "vw-running" in texts(train) and "vw-stopped" in texts(train)  # jobs are still listed


def test_job_functions_refuse_in_viewer_mode(tmp_path, monkeypatch):
    monkeypatch.setenv(state.VIEWER_ENV, "1")
    running = RunDir(handmade_runs.write_run(tmp_path, "running", "tgcn", handmade_runs.TGCN_TASKS,
                                             state="running", epochs_done=1))
    stopped = RunDir(handmade_runs.write_run(tmp_path, "stopped", "tgcn", handmade_runs.TGCN_TASKS,
                                             state="cancelled", epochs_done=1))
    with pytest.raises(state.ReadOnlyError, match="viewer mode"):
        jobs.launch(load_preset("naive"), tmp_path, "new-run")
    with pytest.raises(state.ReadOnlyError, match="viewer mode"):
        jobs.cancel(running)
    with pytest.raises(state.ReadOnlyError, match="viewer mode"):
        jobs.resume(stopped)
    with pytest.raises(state.ReadOnlyError, match="viewer mode"):
        tuning_jobs.launch_tuning("naive", "demo", 1, 1, "tune-x", tmp_path)
    assert {r.name for r in list_runs(tmp_path)} == {"running", "stopped"}
    assert not running.cancel_requested() and not list(tmp_path.glob("*.tune.log"))
    assert isinstance(state.ReadOnlyError("x"), PermissionError)


def test_first_start_demo_does_not_train_in_viewer_mode(empty_root, monkeypatch):
    """An empty runs folder served read-only stays empty: no demo set starts."""
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv(state.VIEWER_ENV, "1")
    monkeypatch.setenv(state.DEMO_ENV, "1")
    monkeypatch.setenv(state.RUNS_ENV, str(empty_root))
    assert not state.demo_enabled()
    assert not demo.ensure_started(empty_root, enabled=True)
    at = AppTest.from_file(str(REPO / "dashboard" / "app.py"), default_timeout=120).run()
    no_exception(at)
    assert "No runs yet" in texts(at)
    assert not list(empty_root.iterdir())  # no lock file, no demo state, no runs
    assert not _present(at, "page_link", "Train a model")
