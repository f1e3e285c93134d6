"""The learning report: scoring against the oracle, and the command end to end."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from finmt_core.cli import app
from finmt_core.evaluation.learning import directional_score, per_date_ic, score_run
from finmt_core.tasks import make_task


def _frame(n_dates: int = 200, n: int = 30, seed: int = 0) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2020-01-01", periods=n_dates)
    tickers = [f"S{i:02d}" for i in range(n)]
    idx = pd.MultiIndex.from_product([dates, tickers], names=["date", "ticker"])
    oracle = pd.Series(rng.normal(0, 0.005, len(idx)), index=idx)
    realised = oracle + pd.Series(rng.normal(0, 0.015, len(idx)), index=idx)
    pred = pd.DataFrame({"date": idx.get_level_values(0), "ticker": idx.get_level_values(1), "split": "test"})
    return pred, oracle, realised


def test_a_model_that_knows_the_oracle_gets_all_of_its_edge() -> None:
    pred, oracle, realised = _frame()
    pred["return_pred"] = oracle.to_numpy()
    s = score_run(pred, oracle, realised, [make_task("return")], 1)
    assert s["share_of_edge"] == pytest.approx(1.0) and s["ic_ratio"] == pytest.approx(1.0)
    assert s["oracle_accuracy"] > 0.55 and s["rows"] == len(pred)


def test_noise_gets_none_of_it_and_a_flipped_oracle_loses_it() -> None:
    pred, oracle, realised = _frame()
    pred["direction_prob_Up"] = np.random.default_rng(9).uniform(size=len(pred))
    pred["direction_prob_Down"] = 1 - pred["direction_prob_Up"]
    s = score_run(pred, oracle, realised, [make_task("direction")], 1)
    assert abs(s["share_of_edge"]) < 0.15 and abs(s["ic"]) < 0.02
    pred["direction_prob_Up"] = 0.5 - oracle.to_numpy()
    s = score_run(pred, oracle, realised, [make_task("direction")], 1)
    assert s["share_of_edge"] == pytest.approx(-1.0) and s["ic_ratio"] == pytest.approx(-1.0)


def test_score_source_order_and_horizon() -> None:
    pred, _, _ = _frame(5, 4)
    for c in ("action_prob_Sell", "action_prob_Hold", "action_prob_Buy", "return_pred"):
        pred[c] = 0.1
    tasks = [make_task("action"), make_task("return"), make_task("direction", 5)]
    assert directional_score(pred, tasks, 1)[1] == "return_pred"
    assert directional_score(pred, [make_task("action")], 1)[1] == "action P(Buy)-P(Sell)"


def test_per_date_ic_is_the_mean_spearman_per_date() -> None:
    dates = np.repeat([1, 2], 4)
    s = np.array([1, 2, 3, 4, 1, 2, 3, 4.0])
    o = np.array([10, 20, 30, 40, 4, 3, 2, 1.0])
    assert per_date_ic(s, o, dates) == pytest.approx(0.0)  # +1 and -1


@pytest.mark.slow
def test_learning_command_recovers_the_planted_edge_and_not_noise(tmp_path) -> None:
    out = tmp_path / "r.json"
    res = CliRunner().invoke(app, ["learning", "--preset", "lightgbm", "--market", "planted,random_walk",
                                   "--n-stocks", "24", "--n-days", "700", "--json", str(out)])
    assert res.exit_code == 0, res.output
    rows = {r["market"]: r for r in json.loads(out.read_text())["rows"]}
    assert rows["planted"]["share_of_edge"] > 0.5 and rows["planted"]["ic_ratio"] > 0.5
    assert abs(rows["random_walk"]["accuracy"] - 0.5) < 0.03 and abs(rows["random_walk"]["ic"]) < 0.03
    assert "| lightgbm | planted |" in res.output
