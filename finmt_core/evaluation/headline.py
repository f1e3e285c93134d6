"""A run's headline: per task its headline metric (accuracy, IC or pinball loss) for the model
and for the best baseline on the same test rows, read from evaluation.json."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from finmt_core.evaluation.evaluate import headline_frame
from finmt_core.evaluation.metrics import HEADLINE

#: headline metric -> True when higher is better
HIGHER_IS_BETTER: dict[str, bool] = {metric: higher for metric, higher in HEADLINE.values()}


def headline_scores(evaluation: dict[str, Any] | None) -> pd.DataFrame:
    """One row per task the model was scored on.

    Args:
        evaluation: the parsed evaluation.json (None or empty: no rows).

    Returns:
        Columns ``task``, ``metric`` (the task kind's headline metric), ``model`` (its value),
        ``best_baseline`` (the best baseline value on the same rows: the max for a
        higher-is-better metric, the min for a loss; NaN when no baseline has one). Tasks
        without a model value are left out.
    """
    columns = ["task", "metric", "model", "best_baseline"]
    if not evaluation:
        return pd.DataFrame(columns=columns)
    rows = []
    for row in headline_frame(evaluation).to_dict("records"):
        task, metric, model = row.pop("task"), row.pop("metric"), row.pop("model", None)
        if model is None or pd.isna(model):
            continue
        base = np.array([v for v in row.values() if pd.notna(v)], dtype=np.float64)
        best = (base.max() if HIGHER_IS_BETTER.get(metric, True) else base.min()) if base.size else np.nan
        rows.append({"task": task, "metric": metric, "model": float(model), "best_baseline": float(best)})
    return pd.DataFrame(rows, columns=columns)
