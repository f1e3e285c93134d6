"""directional_score picks a quantile task's median column by its parsed level, not by suffix."""

from __future__ import annotations

import pandas as pd

from finmt_core.evaluation.learning import directional_score
from finmt_core.tasks import make_task


def test_median_column_by_level_not_by_a_similar_suffix() -> None:
    task = make_task("quantiles")  # levels 10, 50, 90
    # q150 ends like q50 and comes first: a suffix match would take it
    pred = pd.DataFrame({"quantiles_q150": [-1.0], "quantiles_q10": [0.1], "quantiles_q50": [0.5],
                         "quantiles_q90": [0.9]})
    score, col = directional_score(pred, [task], task.horizon)
    assert col == "quantiles_q50" and score.iloc[0] == 0.5
