"""A run's headline beside its best baseline (finmt_core.evaluation.headline)."""

from __future__ import annotations

import numpy as np

from finmt_core.evaluation.headline import headline_scores


def test_best_baseline_respects_the_metric_direction():
    evaluation = {
        "tasks": {"direction": {"accuracy": 0.53, "n": 10}, "quantiles": {"pinball": 0.20}, "return": {"ic": 0.02}},
        "baselines": {"naive_majority": {"direction": {"accuracy": 0.51}, "quantiles": {"pinball": 0.25}},
                      "lightgbm": {"direction": {"accuracy": 0.52}, "quantiles": {"pinball": 0.22}}},
    }
    head = headline_scores(evaluation).set_index("task")
    assert head.loc["direction", "metric"] == "accuracy" and head.loc["direction", "best_baseline"] == 0.52
    assert head.loc["quantiles", "metric"] == "pinball" and head.loc["quantiles", "best_baseline"] == 0.22  # lower wins
    assert head.loc["return", "model"] == 0.02 and np.isnan(head.loc["return", "best_baseline"])


def test_no_evaluation_has_no_headline():
    assert headline_scores(None).empty and list(headline_scores({}).columns) == ["task", "metric", "model",
                                                                                 "best_baseline"]
