"""evaluate_run on real run directories: the JSON contract, same-row baselines, single-task
siblings, collapse warnings; walk-forward on an estimator preset."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
import run_factory

from finmt_core.evaluation.evaluate import evaluate_run, headline_frame, load_evaluation, metric_table
from finmt_core.evaluation.walk_forward import aggregate_frame, walk_forward_evaluate

BASELINES = ("naive_majority", "naive_momentum", "naive_zero", "lightgbm")
#: one thread and few rounds: LightGBM's OpenMP threads crawl on a busy 2-core machine
FAST = {"lightgbm": {"n_jobs": 1, "n_estimators": 30}}


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    root = tmp_path_factory.mktemp("runs")
    run = run_factory.make_run(root, "mt", "lstm_transformer")
    run_factory.make_run(root, "mt-return", "lstm_transformer", tasks=[{"target": "return"}], seed=1)
    return run, evaluate_run(run.path, baseline_params=FAST)


def test_json_contract(evaluated: tuple) -> None:
    run, ev = evaluated
    for key in ("run", "splits", "tasks", "baselines", "significance", "signal_gated", "breakdowns", "warnings", "backtest"):
        assert key in ev
    assert set(ev["splits"]) == {"train", "val", "test"}
    assert ev["splits"]["train"][1] < ev["splits"]["val"][0] <= ev["splits"]["val"][1] < ev["splits"]["test"][0]
    assert set(ev["tasks"]) == {"signal", "direction", "return", "quantiles"}
    assert load_evaluation(run.path) == json.loads(json.dumps(ev))  # written, atomic, valid JSON (no NaN)
    assert "NaN" not in run.evaluation_path.read_text()
    g = ev["signal_gated"]
    assert g["threshold"] == 0.5 and 0 <= g["coverage"] <= 1 and set(g["baselines"]) <= set(BASELINES)


def test_baselines_on_exactly_the_same_rows(evaluated: tuple) -> None:
    _, ev = evaluated
    assert set(BASELINES) <= set(ev["baselines"])
    for task, m in ev["tasks"].items():
        for name in BASELINES:
            assert ev["baselines"][name][task]["n"] == m["n"], (name, task)
    # majority = the train base rate: one class for every row
    assert ev["baselines"]["naive_majority"]["signal"]["top_pred_share"] == 1.0
    stored = pd.read_parquet(evaluated[0].predictions_path)
    test = stored[(stored["split"] == "test") & stored["direction_target"].notna()]
    assert ev["tasks"]["direction"]["n"] == len(test)
    assert ev["tasks"]["direction"]["accuracy"] == pytest.approx(np.mean(test["direction_pred"] == test["direction_target"]))


def test_single_task_sibling_is_a_baseline(evaluated: tuple) -> None:
    _, ev = evaluated
    assert ev["run"]["single_task_runs"] == {"return": "mt-return"}
    assert ev["baselines"]["single_task"]["return"]["n"] == ev["tasks"]["return"]["n"]
    assert "single_task" in ev["significance"]["return"]["vs"]


def test_significance_breakdowns_and_tables(evaluated: tuple) -> None:
    _, ev = evaluated
    s = ev["significance"]["direction"]
    assert s["metric"] == "accuracy" and s["model"]["ci_low"] <= s["model"]["value"] <= s["model"]["ci_high"]
    assert set(s["vs"]) >= set(BASELINES)
    assert ev["significance"]["return"]["metric"] == "ic"
    b = ev["breakdowns"]
    assert set(b["ticker"]["direction"]) == {f"S{i:03d}" for i in range(8)}
    assert sum(v["n"] for v in b["regime"]["return"].values()) <= ev["tasks"]["return"]["n"]
    assert b["cross_task_correlation"]["return"]["return"] == pytest.approx(1.0)
    table = metric_table(ev)
    assert {"model", *BASELINES} <= set(table["name"])
    head = headline_frame(ev)
    assert list(head["metric"]) == ["accuracy", "accuracy", "ic", "pinball"]
    assert {"net", "gross", "benchmark"} == set(ev["backtest"]["metrics"])


def test_collapse_and_no_edge_warnings(evaluated: tuple, tmp_path) -> None:
    run, _ = evaluated
    bad = tmp_path / "collapsed"
    shutil.copytree(run.path, bad)
    df = pd.read_parquet(bad / "predictions.parquet")
    df["return_pred"] = 1e-3 + 1e-9 * np.arange(len(df))  # near-constant regression head
    df["signal_prob_Signal"], df["signal_prob_Noise"] = 0.9, 0.1  # one class for every row
    df.to_parquet(bad / "predictions.parquet", index=False)
    ev = evaluate_run(bad, write=False, baselines=("naive_majority",), backtest=False)
    text = "\n".join(ev["warnings"])
    assert "return: collapsed" in text and "signal: collapsed" in text
    assert not (bad / "evaluation.json").exists() or (bad / "evaluation.json").read_bytes() == (run.path / "evaluation.json").read_bytes()


def test_walk_forward_on_an_estimator(tmp_path) -> None:
    cfg = run_factory.config("wf", "naive_momentum", tasks=[{"target": "direction"}, {"target": "return"}])
    res = walk_forward_evaluate(cfg, tmp_path, folds=2, baselines=("naive_majority",))
    assert res["n_folds"] == 2 and [f["run"] for f in res["folds"]] == ["wf-fold0", "wf-fold1"]
    assert res["folds"][0]["splits"]["test"][1] < res["folds"][1]["splits"]["test"][0]  # disjoint test blocks
    acc = res["aggregate"]["tasks"]["direction"]["accuracy"]
    vals = [f["tasks"]["direction"]["accuracy"] for f in res["folds"]]
    assert acc["mean"] == pytest.approx(np.mean(vals)) and acc["std"] == pytest.approx(np.std(vals, ddof=1))
    assert "naive_majority" in res["aggregate"]["baselines"]
    assert "±" in aggregate_frame(res, "accuracy").loc["direction", "model"]


def test_random_walk_scores_at_chance(tmp_path) -> None:
    """Honesty check: on a zero-drift random walk a fitted model must not look skilful."""
    walk = {**run_factory.SYNTHETIC, "seed": 1, "signal_strength": 0.0}
    run = run_factory.make_run(tmp_path, "rw", "lightgbm", params={"n_jobs": 1, "n_estimators": 30},
                               tasks=[{"target": "direction"}, {"target": "return"}], synthetic=walk)
    ev = evaluate_run(run.path, baselines=("naive_majority", "naive_momentum"), backtest=False)
    acc = ev["significance"]["direction"]["model"]
    assert acc["ci_low"] <= 0.5 <= acc["ci_high"]
    ic = ev["significance"]["return"]["model"]
    assert ic["ci_low"] <= 0.0 <= ic["ci_high"]
    assert any("does NOT beat" in w or "within noise" in w for w in ev["warnings"] if w.startswith("direction"))


def test_p_value_tests_the_edge_over_the_best_baseline(evaluated: tuple) -> None:
    _, ev = evaluated
    for task, s in ev["significance"].items():
        assert "p_value" not in s["model"], task  # no test of "accuracy = 0"
        best = s["vs_best_baseline"]
        finite = {k: e["value"] for k, e in s["vs"].items() if e.get("value") is not None}
        assert best["baseline"] == min(finite, key=finite.get), task
        assert best["value"] == s["vs"][best["baseline"]]["value"] and 0.0 <= best["p_value"] <= 1.0
        assert s["vs"][best["baseline"]]["p_value"] == best["p_value"]
    # a zero forecast calls no direction: not applicable, not 0.0
    assert ev["baselines"]["naive_zero"]["return"]["directional_accuracy"] is None


def test_cli_text_names_the_edge_over_the_best_baseline(evaluated: tuple) -> None:
    from finmt_core.commands.evaluate import format_evaluation

    _, ev = evaluated
    best = ev["significance"]["direction"]["vs_best_baseline"]
    assert f"direction: edge over the best baseline ({best['baseline']}) {best['value']:+.4f}" in format_evaluation(ev)
