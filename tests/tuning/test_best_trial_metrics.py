"""The best trial's metric table (finmt_core.tuning.results)."""

from __future__ import annotations

import numpy as np

from finmt_core.tuning.results import best_trial_metrics


def test_best_trial_metrics_puts_the_model_beside_its_baselines():
    result = {
        "tasks": {"direction": {"accuracy": 0.55, "n": 100, "note": "text"}, "return": {"ic": 0.03}},
        "baselines": {"naive_majority": {"direction": {"accuracy": 0.51}},
                      "naive_zero": {"return": {"ic": None, "mse": 0.2}}},
    }
    table = best_trial_metrics(result)
    assert list(table.columns) == ["model", "naive_majority", "naive_zero"]
    assert table.index.names == ["task", "metric"]
    assert table.loc[("direction", "accuracy"), "model"] == 0.55
    assert table.loc[("direction", "accuracy"), "naive_majority"] == 0.51
    assert table.loc[("direction", "n"), "model"] == 100.0
    assert np.isnan(table.loc[("return", "ic"), "naive_zero"])  # None is not a number: left out
    assert ("direction", "note") not in table.index
    assert table.loc[("return", "mse"), "naive_zero"] == 0.2


def test_best_trial_metrics_of_an_empty_result_is_an_empty_table():
    table = best_trial_metrics({})
    assert table.empty and table.index.names == ["task", "metric"]
