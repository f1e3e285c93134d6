"""``finmt export``: MLflow (read back with MlflowClient from a local file store), TensorBoard
(read back with EventAccumulator), alphalens factor_data layout and daily returns, on a real
tiny run (tests/run_factory.py) with a known evaluation.json."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "evaluation"))

import compare_world  # tests/evaluation/compare_world.py
import run_factory  # tests/run_factory.py

from finmt_core.cli import app
from finmt_core.training.runs import RunDir

TASKS = [{"target": "direction"}, {"target": "return"}]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> RunDir:
    root = tmp_path_factory.mktemp("export")
    rd = run_factory.make_run(root, "rf-export", tasks=TASKS)
    (rd.path / "evaluation.json").write_text(json.dumps(compare_world.evaluation("rf-export", 0.53, 0.02)))
    return rd


def test_mlflow_round_trip(run: RunDir, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("mlflow", reason="MLflow is an optional extra: pip install 'finmt[mlflow]'")
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 keeps the file store behind this switch
    monkeypatch.chdir(tmp_path)
    uri = (tmp_path / "mlruns").as_uri()
    res = CliRunner().invoke(app, ["export", str(run.path), "--to", "mlflow", "--tracking-uri", uri, "--experiment", "t"])
    assert res.exit_code == 0, res.output
    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name("t")
    (logged,) = client.search_runs([exp.experiment_id])
    assert logged.info.run_name == "rf-export" and logged.info.status == "FINISHED"
    assert logged.data.params["train.lr"] == str(run.config().train.lr)
    assert logged.data.params["tasks.direction.target"] == "direction"
    history = client.get_metric_history(logged.info.run_id, "val_loss")
    assert [m.step for m in history] == [1, 2]
    assert [m.value for m in history] == pytest.approx(run.metrics()["val_loss"].tolist())
    assert logged.data.metrics["test.direction.accuracy"] == pytest.approx(0.53)
    assert logged.data.metrics["test.baseline.naive_majority.direction.accuracy"] == pytest.approx(compare_world.BASE_ACCURACY)
    assert logged.data.metrics["test.backtest.net.sharpe"] == pytest.approx(0.2)
    artifacts = {a.path for a in client.list_artifacts(logged.info.run_id)}
    assert {"config.yaml", "evaluation.json", "metrics.jsonl"} <= artifacts


def test_mlflow_unusable_store_is_a_clear_error(run: RunDir, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("mlflow", reason="MLflow is an optional extra: pip install 'finmt[mlflow]'")
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    res = CliRunner().invoke(app, ["export", str(run.path), "--to", "mlflow", "--tracking-uri", (tmp_path / "m").as_uri()])
    assert res.exit_code == 2 and "error: MLflow cannot open the tracking store" in res.output


def test_tensorboard_event_files_read_back(run: RunDir, tmp_path: Path) -> None:
    pytest.importorskip("tensorboard", reason="TensorBoard is an optional extra: pip install 'finmt[tensorboard]'")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    logdir = tmp_path / "tb"
    res = CliRunner().invoke(app, ["export", str(run.path), "--to", "tensorboard", "--out", str(logdir)])
    assert res.exit_code == 0, res.output
    acc = EventAccumulator(str(logdir))
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    assert {"val_loss", "train_loss", "val/direction", "lr/default", "test/direction/accuracy"} <= tags
    events = acc.Scalars("val_loss")
    assert [e.step for e in events] == [1, 2]
    assert [e.value for e in events] == pytest.approx(run.metrics()["val_loss"].tolist(), rel=1e-6)
    assert acc.Scalars("test/return/ic")[0].value == pytest.approx(0.02)


def test_alphalens_factor_data_layout(run: RunDir, tmp_path: Path) -> None:
    out = tmp_path / "fd.parquet"
    res = CliRunner().invoke(app, ["export", str(run.path), "--to", "alphalens", "--out", str(out), "--periods", "1,5"])
    assert res.exit_code == 0, res.output
    fd = pd.read_parquet(out)
    assert fd.index.names == ["date", "asset"] and isinstance(fd.index.get_level_values("date"), pd.DatetimeIndex)
    assert list(fd.columns) == ["1D", "5D", "factor", "factor_quantile", "group"]
    assert fd[["1D", "5D", "factor"]].dtypes.eq(np.float64).all() and fd["factor_quantile"].dtype == np.int64
    assert fd.notna().all().all() and fd.index.is_unique
    q = fd["factor_quantile"]
    assert q.between(1, 5).all() and set(q) == {1, 2, 3, 4, 5}
    # within a date the quantile grows with the factor
    ranks = fd.groupby(level="date")[["factor", "factor_quantile"]].corr(method="spearman").xs("factor", level=1)
    assert (ranks["factor_quantile"] > 0.8).all()
    preds = run.predictions()
    test = preds[preds["split"] == "test"].set_index(["date", "ticker"])
    assert fd.index.get_level_values("date").min() >= test.index.get_level_values("date").min()
    row = fd.index[0]
    assert fd.loc[row, "factor"] == pytest.approx(float(test.loc[row, "return_pred"]))
    from finmt_core.training import load_run_data

    panel, _ = load_run_data(run)
    close = panel["close"].unstack("ticker")
    d = close.index.get_loc(row[0])
    assert fd.loc[row, "5D"] == pytest.approx(close[row[1]].iloc[d + 5] / close[row[1]].iloc[d] - 1.0)


def test_daily_returns_csv_for_quantstats(run: RunDir, tmp_path: Path) -> None:
    out = tmp_path / "returns.csv"
    res = CliRunner().invoke(app, ["export", str(run.path), "--to", "returns", "--out", str(out), "--cost-bps", "5"])
    assert res.exit_code == 0, res.output
    back = pd.read_csv(out, index_col="date", parse_dates=True)
    assert isinstance(back.index, pd.DatetimeIndex) and back.index.is_monotonic_increasing
    assert list(back.columns) == ["strategy", "strategy_gross", "benchmark"]
    assert back.dtypes.eq(np.float64).all() and back.notna().all().all()
    assert (back["strategy"] <= back["strategy_gross"] + 1e-12).all()  # costs only subtract
    test_dates = pd.to_datetime(run.predictions().query("split == 'test'")["date"].unique())
    assert set(back.index) <= set(test_dates)


def test_export_rejects_bad_options(run: RunDir) -> None:
    runner = CliRunner()
    res = runner.invoke(app, ["export", str(run.path), "--to", "wandb"])
    assert res.exit_code == 2 and "not one of mlflow, tensorboard, alphalens, returns" in res.output
    res = runner.invoke(app, ["export", str(run.path), "--to", "alphalens", "--periods", "1,x"])
    assert res.exit_code == 2 and "--periods" in res.output
    res = runner.invoke(app, ["export", str(run.path), "--to", "alphalens", "--factor", "nope"])
    assert res.exit_code == 2 and "factor column 'nope'" in res.output


def test_missing_optional_packages_name_the_extra(run: RunDir, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "mlflow", None)  # import mlflow -> ImportError
    monkeypatch.setitem(sys.modules, "mlflow.tracking", None)
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    runner = CliRunner()
    res = runner.invoke(app, ["export", str(run.path), "--to", "mlflow"])
    assert res.exit_code == 2 and "pip install 'finmt[mlflow]'" in res.output
    res = runner.invoke(app, ["export", str(run.path), "--to", "tensorboard", "--out", str(tmp_path / "tb")])
    assert res.exit_code == 2 and "pip install 'finmt[tensorboard]'" in res.output


def test_default_factor_prefers_a_return_prediction_then_p_up() -> None:
    from finmt_core.errors import DataError
    from finmt_core.export.alphalens_export import default_factor, factor_quantiles
    from finmt_core.tasks import Task

    direction, ret = Task(target="direction", horizon=1), Task(target="return", horizon=1)
    cols = ["date", "ticker", "direction_pred", "direction_prob_Down", "direction_prob_Up", "return_pred"]
    assert default_factor([direction, ret], cols) == "return_pred"
    assert default_factor([direction], cols) == "direction_prob_Up"
    with pytest.raises(DataError, match="pass --factor"):
        default_factor([], cols)
    q = factor_quantiles(pd.Series([0.3, 0.1, 0.2, 0.4, 5.0, 1.0]), pd.Series(["a", "a", "a", "a", "b", "b"]), 2)
    assert q.tolist() == [2, 1, 1, 2, 2, 1]
