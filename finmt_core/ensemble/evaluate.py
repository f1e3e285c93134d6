"""An ensemble's members (and their equal-weight mix) as extra baselines of its evaluation.

Each member's own test predictions (its predictions.parquet) are aligned to the ensemble's
test rows, so ``evaluation.json`` scores the ensemble, every member, the equal-weight
ensemble and the usual estimator baselines on exactly the same rows. Baseline names:
``member:<run name>`` and ``equal_weights``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from finmt_core.config import ExperimentConfig

log = logging.getLogger(__name__)

MEMBER_PREFIX = "member:"
EQUAL_WEIGHTS = "equal_weights"


def member_baselines(config: ExperimentConfig, test: pd.DataFrame) -> tuple[dict[str, dict[str, np.ndarray]], list[str]]:
    """``({baseline name: {task: estimator-format predictions over the rows of test}}, notes)``.

    ``test`` is the ensemble's test rows (date, ticker columns). A member that lacks some of
    those rows is left out with a note (never scored on fewer rows than the ensemble).
    """
    from finmt_core.ensemble.weights import combine
    from finmt_core.evaluation.baselines import single_task_predictions

    params = config.model.params
    root = Path(str(params.get("runs_root", "")))
    dates = pd.to_datetime(test["date"]).to_numpy()
    tickers = test["ticker"].astype(str).to_numpy()
    out: dict[str, dict[str, np.ndarray]] = {}
    notes: list[str] = []
    for name in params.get("members", []):
        preds: dict[str, np.ndarray] = {}
        for t in config.tasks:
            p = single_task_predictions(t, root / name, dates, tickers)
            if p is None:
                notes.append(f"ensemble member {name} does not cover the test rows of {t.name}; not shown beside it")
                continue
            preds[t.name] = p
        if preds:
            out[f"{MEMBER_PREFIX}{name}"] = preds
    members = [v for k, v in out.items() if k.startswith(MEMBER_PREFIX)]
    if len(members) == len(params.get("members", [])) >= 2:  # every member covers the rows
        out[EQUAL_WEIGHTS] = {t.name: combine([m[t.name] for m in members], np.full(len(members), 1.0 / len(members)))
                              for t in config.tasks if all(t.name in m for m in members)}
    return out, notes
