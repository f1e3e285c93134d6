"""Walk-forward runs and validation gates in the app: the Evaluation page shows every fold and
the mean ± std beside the baselines, the other pages say they show the last fold, the run
picker carries the gate badge, and the Train page offers folds and their scheme."""

from __future__ import annotations

from pathlib import Path

import pytest
from page_helpers import no_exception, texts

from finmt_core.config import ExperimentConfig
from finmt_core.evaluation.walk_forward import evaluate_walk_forward
from finmt_core.training.walk_forward import train_walk_forward

SYNTH = {"n_stocks": 6, "n_days": 330, "n_sectors": 2, "seed": 0, "signal_strength": 0.5}


@pytest.fixture(scope="module")
def wf_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One walk-forward run (3 folds of the momentum rule: fitted in a blink), evaluated."""
    root = tmp_path_factory.mktemp("wfruns")
    cfg = ExperimentConfig.from_dict({
        "name": "wf", "data": {"source": "synthetic", "synthetic": SYNTH, "window": 10},
        "split": {"folds": 3, "walk_forward": "rolling"},
        "tasks": [{"target": "direction"}, {"target": "return"}], "model": {"name": "naive_momentum"},
    })
    run = train_walk_forward(cfg, root, name="wf-mom")
    evaluate_walk_forward(run.path, baselines=("naive_majority", "naive_zero"), backtest=False)
    return root


def _sidebar_badges(at: object) -> list[str]:
    return [str(getattr(e, "proto", e)) for e in at.sidebar]  # type: ignore[attr-defined]


def test_evaluation_shows_folds_and_their_mean_beside_the_baselines(open_page, wf_root) -> None:
    at = open_page(wf_root, "evaluation", run="wf-mom")
    no_exception(at)
    text = texts(at)
    assert "Walk-forward folds" in text and "3 rolling folds" in text
    agg = at.dataframe[0].value
    assert {"model", "naive_majority"} <= set(agg.columns) and "±" in str(agg.loc["direction", "model"])
    per_fold = at.dataframe[1].value
    assert list(per_fold["fold"].unique()) == [0, 1, 2] and "naive_majority" in per_fold.columns
    assert "walk-forward run" in text and "fold2" in text  # the sections below: the last fold, said so
    badges = [b for b in _sidebar_badges(at) if "gates failed" in b or "gates passed" in b]
    assert len(badges) == 1  # the picker's gate badge (the last fold's verdict)


def test_other_pages_say_they_show_the_last_fold(open_page, wf_root) -> None:
    at = open_page(wf_root, "backtest", run="wf-mom")
    no_exception(at)
    assert "walk-forward run (3 folds)" in texts(at) and "last fold" in texts(at)


def test_train_page_offers_folds_and_scheme(open_page, wf_root) -> None:
    at = open_page(wf_root, "train")
    no_exception(at)
    assert at.number_input(key="train_folds").value == 1
    assert at.selectbox(key="train_scheme").options == ["expanding", "rolling"]


def test_curves_show_one_fold_at_a_time(open_page, wf_root) -> None:
    at = open_page(wf_root, "curves", run="wf-mom")
    no_exception(at)
    assert at.selectbox(key="curves_fold").value == 2 and "curves of fold 2" in texts(at)


@pytest.mark.slow
def test_train_page_launches_a_walk_forward_run_to_the_end(open_page, tmp_path) -> None:
    """The form's folds and scheme reach config.yaml; the background `finmt train` trains every fold."""
    import time

    from dashboard import jobs
    from finmt_core.training.runs import RunDir
    from finmt_core.training.walk_forward import fold_runs

    root = tmp_path / "runs"
    root.mkdir()
    at = open_page(root, "train")
    at.selectbox(key="train_preset").select("naive").run()
    at.selectbox(key="data").select("synthetic").run()
    at.number_input(key="train_folds").set_value(2)
    at.selectbox(key="train_scheme").select("rolling")
    at.button(key="launch").click().run()
    no_exception(at)
    (path,) = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
    run = RunDir(path)
    assert run.config().split.folds == 2 and run.config().split.walk_forward == "rolling"
    deadline = time.monotonic() + 300
    while jobs.job_view(run).active and time.monotonic() < deadline:
        time.sleep(0.5)
    assert run.status()["state"] == "done", jobs.log_tail(run, 30)
    assert [f.status()["state"] for f in fold_runs(run)] == ["done", "done"]
