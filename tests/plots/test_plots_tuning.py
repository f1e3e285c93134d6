from __future__ import annotations

import pandas as pd

from finmt_core.plots.tuning import param_importances, tuning_history


def test_tuning_history_traces() -> None:
    trials = pd.DataFrame({"number": [0, 1, 2, 3], "value": [0.9, 0.7, None, 0.8],
                           "state": ["COMPLETE", "COMPLETE", "PRUNED", "COMPLETE"]})
    fig = tuning_history(trials)
    names = [t.name for t in fig.data]
    assert names == ["trial", "best so far", "pruned"]
    assert list(fig.data[1].y) == [0.9, 0.7, 0.7]
    assert list(fig.data[2].x) == [2]


def test_empty_inputs_explain_themselves() -> None:
    assert "no trials" in tuning_history(pd.DataFrame()).layout.annotations[0].text
    fig = param_importances({})
    assert "two completed trials" in fig.layout.annotations[0].text
    bars = param_importances({"train.lr": 0.7, "loss.weighting": 0.3})
    assert list(bars.data[0].y) == ["loss.weighting", "train.lr"]
