"""Run comparison (finmt_core/evaluation/compare_runs.py) and ``finmt compare`` on hand-written
runs whose evaluation numbers are known (tests/evaluation/compare_world.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parent))

import compare_world  # tests/evaluation/compare_world.py

from finmt_core.cli import app
from finmt_core.errors import RunError
from finmt_core.evaluation.compare_runs import (
    compare_runs,
    config_diff,
    curve_columns,
    flatten_config,
    fmt_mean_std,
    metrics_table,
    seed_groups,
)
from finmt_core.training.runs import RunDir


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("compare")
    compare_world.write_world(root)
    return root


def _runs(root: Path, *names: str) -> list[RunDir]:
    return [RunDir(root / n) for n in (names or compare_world.RUNS)]


def test_flatten_config_keys_tasks_by_name() -> None:
    flat = flatten_config({"name": "x", "train": {"lr": 0.1, "seed": 2}, "tasks": [{"name": "direction", "horizon": 1}],
                           "model": {"params": {"kernels": [3, 5]}}})
    assert flat == {"name": "x", "train.lr": 0.1, "train.seed": 2, "tasks.direction.name": "direction",
                    "tasks.direction.horizon": 1, "model.params.kernels": "[3, 5]"}


def test_config_diff_keeps_only_differing_keys(world: Path) -> None:
    diff = config_diff(_runs(world))
    assert sorted(diff.index) == ["train.lr", "train.seed"]
    assert list(diff.columns) == list(compare_world.RUNS)
    assert diff.loc["train.seed"].tolist() == [0, 1, 2, 0]
    assert diff.loc["train.lr", "cmp-lr"] == pytest.approx(3e-3)


def test_metrics_table_puts_model_beside_baselines(world: Path) -> None:
    table = metrics_table(_runs(world))
    assert table.loc[("direction", "accuracy", "model"), "cmp-s1"] == pytest.approx(0.54)
    assert table.loc[("direction", "accuracy", "naive_majority")].tolist() == pytest.approx([0.51] * 4)
    assert np.isnan(table.loc[("return", "ic", "naive_majority"), "cmp-s0"])  # null in the file stays missing
    assert table.loc[("backtest", "sharpe", "benchmark"), "cmp-lr"] == pytest.approx(0.1)
    assert ("direction", "n", "model") in table.index and ("direction", "n", "naive_majority") not in table.index
    # the model row comes first within each (task, metric)
    sources = table.xs(("direction", "accuracy"), level=("task", "metric")).index.tolist()
    assert sources[0] == "model"
    only = metrics_table(_runs(world), metrics=["mae"])
    assert set(only.index.get_level_values("metric")) == {"mae", "sharpe", "annual_return", "max_drawdown", "avg_turnover"}


def test_available_metrics_lists_defaults_first(world: Path) -> None:
    from finmt_core.evaluation.compare_runs import available_metrics

    assert available_metrics(_runs(world)) == ["n", "accuracy", "balanced_accuracy", "ic", "mae", "f1_macro"]


def test_seed_groups_mean_std_n(world: Path) -> None:
    groups = seed_groups(_runs(world)).set_index("group")
    assert set(groups.index) == {"train.lr=0.001", "train.lr=0.003"}
    three = groups.loc["train.lr=0.001"]
    assert three["n"] == 3 and three["runs"] == "cmp-s0, cmp-s1, cmp-s2"
    assert three["direction/accuracy mean"] == pytest.approx(0.54)
    assert three["direction/accuracy std"] == pytest.approx(0.02)  # ddof 1 of 0.52, 0.54, 0.56
    assert three["direction/accuracy"] == "0.5400 ± 0.0200 (n=3)"
    assert groups.loc["train.lr=0.003", "return/ic"] == "-0.0100 (n=1)"
    assert "direction/n" not in groups.columns  # a row count is not averaged
    per_run = seed_groups(_runs(world), by=[])
    assert len(per_run) == 4 and set(per_run["n"]) == {1}


def test_fmt_mean_std_edge_cases() -> None:
    assert fmt_mean_std(float("nan"), float("nan"), 0) == "–"
    assert fmt_mean_std(0.5, float("nan"), 1) == "0.5000 (n=1)"


def test_compare_runs_warns_about_unevaluated_and_different_rows(world: Path, tmp_path: Path) -> None:
    import shutil

    for n in ("cmp-s0", "cmp-s1", "cmp-s2"):
        shutil.copytree(world / n, tmp_path / n)
    (tmp_path / "cmp-s2" / "evaluation.json").unlink()
    ev = json.loads((tmp_path / "cmp-s1" / "evaluation.json").read_text())
    ev["run"]["n_test_rows"] = 99
    (tmp_path / "cmp-s1" / "evaluation.json").write_text(json.dumps(ev))
    result = compare_runs(_runs(tmp_path, "cmp-s0", "cmp-s1", "cmp-s2"))
    assert any("cmp-s2: not evaluated" in w for w in result.warnings)
    assert any("not scored on the same test rows" in w for w in result.warnings)
    assert result.metrics["cmp-s2"].isna().all()
    json.dumps(result.to_dict(), allow_nan=False)  # JSON-ready: NaN became null


def test_compare_runs_rejects_one_or_repeated_runs(world: Path) -> None:
    with pytest.raises(RunError, match="at least two runs"):
        compare_runs(_runs(world, "cmp-s0"))
    with pytest.raises(RunError, match="named twice"):
        compare_runs(_runs(world, "cmp-s0", "cmp-s0"))


def test_curve_columns_lists_logged_numbers(world: Path) -> None:
    cols = curve_columns({n: RunDir(world / n).metrics() for n in ("cmp-s0", "cmp-s1")})
    assert cols[:2] == ["val_loss", "train_loss"]
    assert "val.direction" in cols and "val_metrics.direction.accuracy" in cols and "epoch" not in cols


def test_cli_compare_text_and_json(world: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(app, ["compare", "cmp-s0", "cmp-s1", "cmp-s2", "cmp-lr", "--runs-dir", str(world)])
    assert res.exit_code == 0, res.output
    assert "train.lr" in res.output and "0.5400 ± 0.0200 (n=3)" in res.output and "naive_majority" in res.output
    res = runner.invoke(app, ["compare", "cmp-s0", "cmp-s1", "--runs-dir", str(world), "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["runs"] == ["cmp-s0", "cmp-s1"]
    assert data["config_diff"]["train.seed"] == {"cmp-s0": 0, "cmp-s1": 1}
    acc = next(r for r in data["metrics"] if (r["task"], r["metric"], r["source"]) == ("direction", "accuracy", "model"))
    assert acc["cmp-s0"] == pytest.approx(0.52)
    res = runner.invoke(app, ["compare", "cmp-s0", "nope", "--runs-dir", str(world)])
    assert res.exit_code == 2 and "error:" in res.output


def test_config_diff_collapses_tasks_a_run_lacks_and_leads_with_the_model(world: Path, tmp_path: Path) -> None:
    import shutil

    from finmt_core.config import ExperimentConfig

    shutil.copytree(world / "cmp-s0", tmp_path / "cmp-s0")
    other = tmp_path / "other"
    shutil.copytree(world / "cmp-s1", other)
    data = ExperimentConfig.from_yaml(other / "config.yaml").model_dump(mode="json")
    data["model"]["name"] = "cnn_lstm"
    data["tasks"] = [t for t in data["tasks"] if t["name"] == "direction"]
    (other / "config.yaml").write_text(ExperimentConfig.model_validate(data).to_yaml())
    diff = config_diff(_runs(tmp_path, "cmp-s0", "other"))
    assert list(diff.index[:2]) == ["model.name", "train.seed"]  # what a reader looks for first
    assert diff.loc["tasks.return"].tolist() == ["return, h=1, regression", None]  # one row, not one per setting
    assert not any(k.startswith("tasks.return.") for k in diff.index)
    assert not any(k.startswith("tasks.direction") for k in diff.index)  # both have it, the same way
