"""Walk-forward training (split.folds > 1): one run directory with one run per fold, disjoint
test blocks, each fold trained only on dates before its test block, aggregate = mean of the
folds, and a resume that continues with the unfinished fold."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from finmt_core.cli import app
from finmt_core.config import ExperimentConfig
from finmt_core.errors import ConfigError
from finmt_core.evaluation.walk_forward import evaluate_walk_forward
from finmt_core.training.callbacks import Callback
from finmt_core.training.pipeline import train_run
from finmt_core.training.runs import RunDir
from finmt_core.training.walk_forward import analysis_run, fold_run, train_walk_forward, walk_forward_parent

SYNTH = {"n_stocks": 6, "n_days": 330, "n_sectors": 2, "seed": 0, "signal_strength": 0.5}
TINY = {"lstm_hidden": 8, "d_model": 8, "depth": 1, "heads": 2, "head_hidden": 8, "dropout": 0.1}


def wf_config(folds: int = 3, scheme: str = "expanding") -> ExperimentConfig:
    return ExperimentConfig.from_dict({
        "name": "wf", "data": {"source": "synthetic", "synthetic": SYNTH, "window": 10},
        "split": {"folds": folds, "walk_forward": scheme},
        "tasks": [{"target": "direction"}, {"target": "return", "loss": "mse"}],
        "model": {"name": "lstm_transformer", "params": TINY},
        "train": {"epochs": 2, "batch_size": 128, "device": "cpu", "heartbeat_s": 0.05, "num_workers": 0},
    })


class StopInFold(Callback):
    """After epoch 1 of fold ``fold``: crash (an exception, as a dying process leaves it) or ask
    the walk-forward run to cancel."""

    def __init__(self, parent: RunDir, fold: int, crash: bool) -> None:
        self.parent, self.fold, self.crash = parent, fold, crash

    def on_epoch_end(self, trainer: Any, record: dict[str, Any]) -> None:
        if trainer.run is not None and trainer.run.name == f"fold{self.fold}" and record["epoch"] == 1:
            if self.crash:
                raise RuntimeError("simulated crash")
            self.parent.request_cancel()


@pytest.fixture(scope="module")
def wf(tmp_path_factory) -> tuple[RunDir, dict[str, Any], dict[str, Any]]:
    """A 3-fold run that crashes inside fold 1, is resumed, is cancelled inside fold 2, is
    resumed to the end, and is evaluated."""
    root = tmp_path_factory.mktemp("wf")
    parent = RunDir(root / "wf")
    with pytest.raises(RuntimeError, match="simulated crash"):
        train_walk_forward(wf_config(), root, name="wf", callbacks=[StopInFold(parent, 1, crash=True)])
    crashed = {"parent": parent.status(), "fold0": fold_run(parent, 0).status(), "fold1": fold_run(parent, 1).status(),
               "fold2_exists": fold_run(parent, 2).exists(), "fold0_metrics": fold_run(parent, 0).metrics_path.read_bytes()}
    stopped = train_walk_forward(None, root, name="wf", resume=True, callbacks=[StopInFold(parent, 2, crash=False)])
    cancelled = {"parent": stopped.status(), "fold1": fold_run(parent, 1).status(), "fold2": fold_run(parent, 2).status()}
    run = train_walk_forward(None, root, name="wf", resume=True)
    ev = evaluate_walk_forward(run.path, baselines=("naive_majority", "naive_momentum"), backtest=False)
    return run, {"crashed": crashed, "cancelled": cancelled}, ev


def test_resume_continues_with_the_unfinished_fold(wf) -> None:
    run, before, _ = wf
    crashed, cancelled = before["crashed"], before["cancelled"]
    assert crashed["parent"]["state"] == "failed" and "simulated crash" in crashed["parent"]["error"]
    assert crashed["fold0"]["state"] == "done" and crashed["fold1"]["state"] == "failed" and not crashed["fold2_exists"]
    assert cancelled["fold1"]["state"] == "done" and cancelled["fold2"]["state"] == "cancelled"
    assert cancelled["parent"]["state"] == "cancelled" and "fold 3/3" in cancelled["parent"]["message"]
    assert run.status()["state"] == "done" and run.status()["progress"] == 1.0
    f0 = fold_run(run, 0)
    assert f0.status()["finished"] == crashed["fold0"]["finished"]  # a finished fold is not trained again
    assert f0.metrics_path.read_bytes() == crashed["fold0_metrics"]
    for k in (1, 2):  # continued from epoch 1 of the stopped fold, no epoch twice
        assert list(fold_run(run, k).metrics()["epoch"]) == [1, 2]
    assert all(fold_run(run, k).status()["state"] == "done" for k in range(3))


def test_folds_do_not_overlap_and_train_only_before_their_test_block(wf) -> None:
    run, _, ev = wf
    folds = ev["walk_forward"]["folds"]
    assert [f["run"] for f in folds] == ["fold0", "fold1", "fold2"]
    test_dates = []
    for k, f in enumerate(folds):
        sp = f["splits"]
        assert sp["train"][1] < sp["val"][0] <= sp["val"][1] < sp["test"][0]
        preds = fold_run(run, k).predictions()
        test_dates.append(set(pd.to_datetime(preds.loc[preds["split"] == "test", "date"])))
        # the fold never saw a date after its test block: its panel ends there
        panel = pd.read_parquet(fold_run(run, k).panel_path)
        assert str(panel.index.get_level_values("date").max().date()) == sp["test"][1]
        assert max(test_dates[-1]) <= pd.Timestamp(sp["test"][1])
    for a in range(3):
        for b in range(a + 1, 3):
            assert not test_dates[a] & test_dates[b]
    assert max(test_dates[0]) < min(test_dates[1]) and max(test_dates[1]) < min(test_dates[2])
    assert folds[0]["splits"]["test"][1] < folds[1]["splits"]["test"][0] and folds[1]["splits"]["test"][1] < folds[2]["splits"]["test"][0]


def test_aggregate_is_the_mean_of_the_folds(wf) -> None:
    run, _, ev = wf
    agg = ev["walk_forward"]["aggregate"]
    vals = [f["tasks"]["direction"]["accuracy"] for f in ev["walk_forward"]["folds"]]
    assert agg["tasks"]["direction"]["accuracy"]["mean"] == pytest.approx(np.mean(vals))
    assert agg["tasks"]["direction"]["accuracy"]["std"] == pytest.approx(np.std(vals, ddof=1))
    assert ev["tasks"]["direction"]["accuracy"] == pytest.approx(np.mean(vals))  # what run lists and comparisons read
    base = [f["baselines"]["naive_momentum"]["return"]["ic"] for f in ev["walk_forward"]["folds"]]
    assert agg["baselines"]["naive_momentum"]["return"]["ic"]["mean"] == pytest.approx(np.mean(base))
    assert RunDir(run.path).evaluation()["walk_forward"]["n_folds"] == 3  # written to the run's evaluation.json
    assert [f["fold"] for f in ev["gates"]["folds"]] == [0, 1, 2] and ev["gates"]["segment"] == "val"


def test_analysis_pages_use_the_last_fold(wf) -> None:
    run, _, _ = wf
    last = analysis_run(run)
    assert last.path == fold_run(run, 2).path
    assert walk_forward_parent(last).path == run.path and walk_forward_parent(run) is None


def test_train_run_refuses_folds_instead_of_ignoring_them(tmp_path) -> None:
    with pytest.raises(ConfigError, match=r"split\.folds = 3 asks for walk-forward"):
        train_run(wf_config(), tmp_path)
    assert not any(tmp_path.iterdir())


def test_cli_trains_folds_and_refuses_too_short_data(tmp_path) -> None:
    cfg = wf_config(folds=1).model_dump(mode="json")
    cfg["model"] = {"name": "naive_momentum", "params": {}}
    path = tmp_path / "wf.yaml"
    path.write_text(yaml.safe_dump(cfg))
    res = CliRunner().invoke(app, ["train", "--config", str(path), "--runs-dir", str(tmp_path / "runs"), "--name", "m",
                                   "--folds", "2", "--fold-scheme", "rolling"])
    assert res.exit_code == 0, res.output
    assert "fold 0: done" in res.output and "fold 1: done" in res.output and "finmt evaluate m" in res.output
    split = RunDir(tmp_path / "runs" / "m").config().split
    assert split.folds == 2 and split.walk_forward == "rolling"
    listed = CliRunner().invoke(app, ["runs", "--runs-dir", str(tmp_path / "runs")])
    assert "naive_momentum (2 folds)" in listed.output
    bad = CliRunner().invoke(app, ["train", "--config", str(path), "--runs-dir", str(tmp_path / "runs"), "--fold-scheme", "weekly"])
    assert bad.exit_code == 2 and "--fold-scheme must be one of expanding, rolling" in bad.output
    cfg["split"]["folds"] = 20
    cfg["data"]["synthetic"]["n_days"] = 60
    path.write_text(yaml.safe_dump(cfg))
    res = CliRunner().invoke(app, ["train", "--config", str(path), "--runs-dir", str(tmp_path / "runs"), "--name", "short"])
    assert res.exit_code == 2 and "error:" in res.output
    assert not (tmp_path / "runs" / "short").exists()  # nothing written


def test_serve_names_a_walk_forward_run_by_its_own_name(wf) -> None:
    pytest.importorskip("fastapi", reason="finmt_core.serve imports FastAPI (the serve extra)")
    from finmt_core.serve import ModelService

    run, _, _ = wf
    service = ModelService.load([analysis_run(run).path])
    assert list(service.runs) == ["wf"]


def test_comparison_reads_the_means_over_folds(wf) -> None:
    from finmt_core.evaluation.compare_runs import metrics_table

    run, _, ev = wf
    table = metrics_table([run], metrics=("accuracy",))
    assert table.loc[("direction", "accuracy", "model"), "wf"] == pytest.approx(
        ev["walk_forward"]["aggregate"]["tasks"]["direction"]["accuracy"]["mean"])
    assert ("direction", "accuracy", "naive_majority") in table.index
