"""`finmt evaluate | backtest | predict | report` end to end on a LightGBM run (fast baselines)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import run_factory
from typer.testing import CliRunner

from finmt_core.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def gbm(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from finmt_core.data.samples import synthetic_market

    root = tmp_path_factory.mktemp("runs")
    run_factory.make_run(root, "gbm", "lightgbm", params={"n_jobs": 1, "n_estimators": 20},
                         tasks=[{"target": "signal"}, {"target": "direction", "mask_by": "signal"}, {"target": "return"}])
    panel = root / "panel.parquet"
    synthetic_market(**run_factory.SYNTHETIC).to_parquet(panel)
    return root, panel


def _ok(args: list[str]):
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    return res


def test_evaluate_json_and_table(gbm: tuple[Path, Path]) -> None:
    root, _ = gbm
    ev = json.loads(_ok(["evaluate", "gbm", "--runs-dir", str(root), "--json"]).stdout)
    assert {"run", "splits", "tasks", "baselines", "signal_gated", "warnings"} <= set(ev)
    assert "lightgbm" not in ev["baselines"]  # a LightGBM run is not its own baseline
    assert (root / "gbm" / "evaluation.json").is_file()
    text = _ok(["evaluate", str(root / "gbm"), "--no-backtest"]).stdout
    assert "naive_majority" in text and "signal-gated @ 0.5" in text


def test_backtest_json_and_out(gbm: tuple[Path, Path], tmp_path: Path) -> None:
    root, _ = gbm
    out = tmp_path / "equity.csv"
    res = json.loads(_ok(["backtest", "gbm", "--runs-dir", str(root), "--strategy", "top_k", "--k", "2",
                          "--cost-bps", "10", "--json", "--out", str(out)]).stdout)
    assert res["settings"]["strategy"] == "top_k" and res["settings"]["k"] == 2
    assert set(res["metrics"]) == {"net", "gross", "benchmark"}
    assert res["metrics"]["net"]["total_return"] <= res["metrics"]["gross"]["total_return"]
    assert {"equity_net", "drawdown_net", "turnover"} <= set(pd.read_csv(out).columns)
    bad = runner.invoke(app, ["backtest", "gbm", "--runs-dir", str(root), "--strategy", "moon"])
    assert bad.exit_code == 2 and "unknown backtest strategy" in bad.output


def test_predict_and_report(gbm: tuple[Path, Path], tmp_path: Path) -> None:
    root, panel = gbm
    out = tmp_path / "pred.parquet"
    _ok(["predict", "gbm", "--runs-dir", str(root), "--data", str(panel), "--threshold", "0.55", "--out", str(out)])
    df = pd.read_parquet(out)
    assert len(df) == 8 and df["date"].nunique() == 1 and set(df["gate"]) <= {"Up", "Down", "Neutral"}
    bad = runner.invoke(app, ["predict", "gbm", "--runs-dir", str(root), "--data", str(panel), "--out", str(tmp_path / "x.txt")])
    assert bad.exit_code == 2 and ".csv or .parquet" in bad.output
    html = tmp_path / "r.html"
    assert "wrote" in _ok(["report", "gbm", "--runs-dir", str(root), "--out", str(html)]).stdout
    assert "mean |SHAP|" in html.read_text()


def test_unknown_run_is_a_clear_error(gbm: tuple[Path, Path]) -> None:
    res = runner.invoke(app, ["evaluate", "nope", "--runs-dir", str(gbm[0])])
    assert res.exit_code == 2 and "no run named 'nope'" in res.output
