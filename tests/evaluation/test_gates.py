"""Validation gates: a collapsed model fails and says why, a planted signal passes, test rows
are never read, ``finmt evaluate --strict`` turns a failed gate into exit 1."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import run_factory
from typer.testing import CliRunner

from finmt_core.cli import app
from finmt_core.config import ExperimentConfig
from finmt_core.errors import ConfigError, RunError
from finmt_core.evaluation.evaluate import evaluate_run
from finmt_core.evaluation.gates import gate_summary, judge_gates

N_DATES, N_TICKERS = 40, 10


def _config(**gates: object) -> ExperimentConfig:
    return ExperimentConfig.from_dict({"tasks": [{"target": "direction"}, {"target": "return"}], "gates": gates})


def _frame(direction_prob_up: np.ndarray, ret_pred: np.ndarray, y_dir: np.ndarray, y_ret: np.ndarray,
           split: str = "val") -> pd.DataFrame:
    dates = np.repeat(pd.bdate_range("2020-01-01", periods=N_DATES), N_TICKERS)
    tickers = np.tile([f"T{i}" for i in range(N_TICKERS)], N_DATES)
    return pd.DataFrame({"date": dates, "ticker": tickers, "split": split,
                         "direction_pred": (direction_prob_up > 0.5).astype(float), "direction_target": y_dir,
                         "direction_prob_Down": 1 - direction_prob_up, "direction_prob_Up": direction_prob_up,
                         "return_pred": ret_pred, "return_target": y_ret})


@pytest.fixture(scope="module")
def market() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    y_ret = rng.normal(0.0, 0.02, N_DATES * N_TICKERS)
    return (y_ret > 0).astype(float), y_ret


def _momentum_like(y_ret: np.ndarray) -> dict[str, dict[str, np.ndarray]]:
    """A weak baseline: noise uncorrelated with the target (same rows)."""
    rng = np.random.default_rng(1)
    p = rng.normal(0.0, 0.02, len(y_ret))
    up = 1 / (1 + np.exp(-p / 0.02))
    return {"noise": {"direction": np.c_[1 - up, up], "return": p}}


def test_constant_predictor_fails_and_says_which_gate_and_why(market) -> None:
    y_dir, y_ret = market
    val = _frame(np.full(len(y_ret), 0.9), np.full(len(y_ret), 0.001), y_dir, y_ret)
    res = judge_gates(_config(), val, _momentum_like(y_ret))
    assert res["passed"] is False and res["segment"] == "val"
    by = {(t, g["gate"]): g for t, tg in res["tasks"].items() for g in tg["gates"]}
    assert by[("return", "prediction_variance")]["passed"] is False and by[("return", "prediction_variance")]["value"] < 1e-20
    assert by[("return", "r2")]["passed"] is False and by[("return", "r2")]["value"] < 0  # constant != mean
    assert by[("direction", "class_share")]["passed"] is False and by[("direction", "class_share")]["value"] == 1.0
    assert by[("direction", "positive_bias")]["passed"] is False  # always "Up"
    reason = by[("return", "prediction_variance")]["reason"]
    assert "must be > 0.005" in reason and "best baseline noise" in reason  # value vs threshold vs baseline
    assert any(m.startswith("return: prediction_variance failed") and "400 validation rows" in m for m in res["failed"])
    assert gate_summary(res)[0] == "failed"


def test_planted_signal_passes_the_accuracy_gates(market) -> None:
    y_dir, y_ret = market
    rng = np.random.default_rng(2)
    pred = 0.5 * y_ret + rng.normal(0.0, 0.005, len(y_ret))  # a planted, noisy signal: R² ~ 0.7
    up = 1 / (1 + np.exp(-pred / 0.01))
    res = judge_gates(_config(), _frame(up, pred, y_dir, y_ret), _momentum_like(y_ret))
    by = {(t, g["gate"]): g for t, tg in res["tasks"].items() for g in tg["gates"]}
    assert by[("direction", "directional_accuracy")]["passed"] and by[("direction", "directional_accuracy")]["value"] > 0.6
    assert by[("return", "directional_accuracy")]["passed"]
    assert by[("return", "r2")]["passed"] and by[("return", "positive_bias")]["passed"]
    assert res["passed"] is True and res["failed"] == []
    assert by[("direction", "beats_best_baseline")]["passed"] and by[("return", "beats_best_baseline")]["passed"]
    assert by[("direction", "beats_best_baseline")]["baseline"] == "noise"


def test_thresholds_are_configurable_per_task(market) -> None:
    y_dir, y_ret = market
    val = _frame(np.full(len(y_ret), 0.9), np.full(len(y_ret), 0.001), y_dir, y_ret)
    cfg = _config(tasks={"return": {"r2_min": None, "pred_var_ratio_min": None}})
    gates = {g["gate"] for g in judge_gates(cfg, val, {})["tasks"]["return"]["gates"]}
    assert "r2" not in gates and "prediction_variance" not in gates and "directional_accuracy" in gates
    off = judge_gates(_config(enabled=False), val, {})
    assert off["passed"] is None and gate_summary(off)[0] == "off"
    with pytest.raises(ConfigError, match="not tasks of this config"):
        _config(tasks={"volatility": {"r2_min": 0.1}})
    with pytest.raises(ConfigError, match="r2_max"):
        _config(tasks={"return": {"r2_max": 0.1}})


def test_gates_refuse_test_rows(market) -> None:
    y_dir, y_ret = market
    both = pd.concat([_frame(np.full(len(y_ret), 0.6), y_ret, y_dir, y_ret),
                      _frame(np.full(len(y_ret), 0.6), y_ret, y_dir, y_ret, split="test")])
    with pytest.raises(RunError, match="validation rows only"):
        judge_gates(_config(), both, {})


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    root = tmp_path_factory.mktemp("gates")
    run = run_factory.make_run(root, "g", "lstm_transformer", tasks=[{"target": "direction"}, {"target": "return"}])
    ev = evaluate_run(run.path, baselines=("naive_majority", "naive_momentum"), backtest=False)
    return root, run, ev


def test_evaluation_json_records_gates_from_validation_rows_only(evaluated) -> None:
    _, run, ev = evaluated
    assert ev["gates"]["segment"] == "val" and set(ev["gates"]["tasks"]) == {"direction", "return"}
    preds = run.predictions()
    n_val = int(preds.loc[preds["split"] == "val", "return_target"].notna().sum())
    assert ev["gates"]["tasks"]["return"]["n_rows"] == n_val
    # scramble every test prediction: the test metrics move, the gates do not
    test = preds["split"] == "test"
    preds.loc[test, "return_pred"] = -preds.loc[test, "return_pred"] * 7 + 0.3
    preds.loc[test, ["direction_prob_Down", "direction_prob_Up"]] = preds.loc[test, ["direction_prob_Up", "direction_prob_Down"]].to_numpy()
    run.write_predictions(preds)
    again = evaluate_run(run.path, baselines=("naive_majority", "naive_momentum"), backtest=False, write=False)
    assert again["tasks"]["return"]["mae"] != ev["tasks"]["return"]["mae"]
    assert again["gates"] == ev["gates"]


def test_cli_prints_gates_and_strict_fails_on_a_failed_gate(evaluated) -> None:
    root, run, ev = evaluated
    assert ev["gates"]["passed"] is False  # an untrained model: at least one gate fails
    args = ["evaluate", run.name, "--runs-dir", str(root), "--no-backtest"]
    plain = CliRunner().invoke(app, args)
    assert plain.exit_code == 0, plain.output
    assert "gates (FAILED)" in plain.output and "FAIL  " in plain.output
    strict = CliRunner().invoke(app, [*args, "--strict"])
    assert strict.exit_code == 1 and "validation gates failed" in strict.output


def test_each_task_kind_gets_the_gates_that_apply(market) -> None:
    from finmt_core.evaluation.frames import output_columns

    _, y_ret = market
    cfg = ExperimentConfig.from_dict({"tasks": [{"target": "volatility"}, {"target": "quantiles"}, {"target": "signal"}]})
    rng = np.random.default_rng(3)
    n = len(y_ret)
    cols: dict[str, object] = {"date": np.repeat(pd.bdate_range("2020-01-01", periods=N_DATES), N_TICKERS),
                               "ticker": np.tile([f"T{i}" for i in range(N_TICKERS)], N_DATES), "split": "val"}
    for task in cfg.tasks:
        if task.kind == "classification":
            y = rng.integers(0, 2, n).astype(float)
            p = rng.uniform(0.2, 0.8, n)
            out = np.c_[1 - p, p]
        elif task.kind == "quantile":
            y = y_ret
            out = np.sort(np.c_[y_ret - 0.02, y_ret * 0.5, y_ret + 0.02] + rng.normal(0, 0.005, (n, 3)), axis=1)
        else:
            y = np.abs(y_ret) + 0.01
            out = (y + rng.normal(0, 0.002, n))[:, None]
        cols[f"{task.name}_target"] = y
        cols.update(dict(zip(output_columns(task), out.T)))
    res = judge_gates(cfg, pd.DataFrame(cols), {})
    names = {t: [g["gate"] for g in tg["gates"]] for t, tg in res["tasks"].items()}
    assert names["volatility"] == ["r2", "prediction_variance", "beats_best_baseline"]  # no direction to call
    assert names["quantiles"] == ["r2", "prediction_variance", "directional_accuracy", "positive_bias", "beats_best_baseline"]
    assert names["signal"] == ["class_share", "beats_best_baseline"]
    # no baseline on these rows: the model cannot show that it beats one, and says so
    assert all(not g["passed"] and "no baseline" in g["reason"]
               for tg in res["tasks"].values() for g in tg["gates"] if g["gate"] == "beats_best_baseline")
    vol = {g["gate"]: g for g in res["tasks"]["volatility"]["gates"]}
    assert vol["r2"]["passed"] and vol["prediction_variance"]["passed"]


def test_report_lists_the_gates(evaluated, tmp_path) -> None:
    from finmt_core.report import build_report

    _, run, ev = evaluated  # evaluation.json written by the fixture (gates never depend on test rows)
    html = build_report(run.path, tmp_path / "r.html", explain=False).read_text()
    assert "Validation gates: " in html and "validation segment, never test" in html
    assert html.count(">FAIL<") == sum(not g["passed"] for t in ev["gates"]["tasks"].values() for g in t["gates"])
