"""``finmt_core.run.Run``: one typed object for a run — its files, cached data and predictor,
backtest, evaluation, explanation batches and gating policy (on tiny real run directories)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import run_factory

from finmt_core.errors import RunError
from finmt_core.run import Run
from finmt_core.training.runs import RunDir


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("runs")
    run_factory.make_run(root, "hier", "lstm_transformer")  # signal + direction + return + quantiles
    run_factory.make_run(root, "plain", "naive_zero", tasks=[{"target": "return"}])
    return root


@pytest.fixture(scope="module")
def hier(root: Path) -> Run:
    return Run.open(root, "hier")


def test_finding_a_run(root: Path, hier: Run) -> None:
    assert Run.resolve("hier", root).path == hier.path  # by name under the root
    assert Run.resolve(str(hier.path), root / "elsewhere").path == hier.path  # by directory
    assert Run.of(RunDir(hier.path)).path == hier.path and Run.of(hier) is hier
    assert isinstance(hier, RunDir)  # every RunDir reader takes a Run
    with pytest.raises(RunError, match="no run named 'nope'"):
        Run.open(root, "nope")


def test_predictions_by_split_and_reread_when_the_file_changes(tmp_path: Path) -> None:
    run = Run(run_factory.make_run(tmp_path, "p", "naive_zero", tasks=[{"target": "return"}]).path)
    full = run.predictions()
    test = run.predictions("test")
    assert set(test["split"]) == {"test"} and list(test.index) == list(range(len(test)))
    assert len(test) + len(run.predictions("val")) == len(full)
    full["scratch"] = 1.0  # a caller's change does not leak into the next read
    assert "scratch" not in run.predictions().columns
    run.write_predictions(test.head(5))
    assert len(run.predictions()) == 5  # a new version of the file is read again
    assert run.write_status(message="checked")["message"] == "checked"  # RunDir's own file lock still works


def test_data_and_predictor_are_built_once_and_shared(hier: Run) -> None:
    prepared = hier.data()
    assert hier.data() is prepared and hier.panel() is hier.panel()
    pred = hier.predictor()
    assert hier.predictor() is pred
    assert pred.run_data() is prepared  # the predictor reads the Run's data, not a second copy
    assert prepared.X.shape[:2] == (len(prepared.dates), len(prepared.tickers))


def test_gating_policy_of_the_runs_tasks(root: Path, hier: Run) -> None:
    assert hier.gating.can_gate and hier.gating.hierarchical and hier.gating.task == "direction"
    rows = hier.predictions("test").head(20)
    scored = hier.with_outcome(rows)
    aux = hier.data().targets.aux[f"fwd_return_{hier.config().task('direction').horizon}"]
    d = hier.data().dates.get_indexer(pd.DatetimeIndex(rows["date"]))
    n = pd.Index(hier.data().tickers).get_indexer(rows["ticker"].astype(str))
    np.testing.assert_allclose(scored["fwd_return"].to_numpy(), aux[d, n], equal_nan=True)
    plain = Run.open(root, "plain")
    assert not plain.gating.can_gate and "return" in plain.gating.reason
    assert plain.with_outcome(rows) is rows  # nothing to score gated calls of


def test_backtest_matches_the_library_on_the_same_rows(hier: Run) -> None:
    from finmt_core.evaluation.run_backtest import backtest_predictions

    got = hier.backtest("test", strategy="top_k", k=2, cost_bps=5.0)
    prepared = hier.data()
    want = backtest_predictions(hier.predictions("test"), list(hier.config().tasks), prepared.dense.close,
                                prepared.dates, list(prepared.tickers), strategy="top_k", k=2, cost_bps=5.0)
    assert got.settings == want.settings
    assert got.metrics["net"]["sharpe"] == pytest.approx(want.metrics["net"]["sharpe"], nan_ok=True)
    assert hier.backtest("val").settings["strategy"] == "signal_gated"  # auto: the run can be gated


def test_explanation_batches(hier: Run) -> None:
    test = hier.predictions("test")
    day, ticker = pd.Timestamp(test["date"].iloc[-1]), str(test["ticker"].iloc[-1])
    one = hier.explain_batch(day, ticker)
    info = hier.data().info
    assert one.batch["x"].shape == (1, info.window, info.n_features) and one.nodes is None
    assert hier.data().dates[one.date_idx[0]] == day and hier.data().tickers[one.ticker_idx[0]] == ticker
    sample = hier.explain_sample(5)
    assert len(sample.date_idx) == 5 and sample.batch["x"].shape[0] == 5
    assert np.all(np.diff(sample.date_idx) >= 0)  # evenly spaced over the (date-ordered) test rows


def test_evaluate_without_writing(root: Path) -> None:
    plain = Run.open(root, "plain")
    ev = plain.evaluate(write=False, baselines=("naive_zero", "naive_majority"), backtest=False)
    assert set(ev["tasks"]) == {"return"} and ev["signal_gated"] is None
    assert not plain.evaluation_path.exists() and plain.evaluation_file() is None
