"""Inference charts read output names through finmt_core.inference.output_columns."""

from __future__ import annotations

import numpy as np
import pandas as pd

from finmt_core.plots.inference import prediction_history, whatif_before_after


def _frame() -> pd.DataFrame:
    dates = pd.bdate_range("2024-01-01", periods=6)
    rng = np.random.default_rng(0)
    up = rng.uniform(0.2, 0.8, 6)
    return pd.DataFrame({
        "date": dates, "ticker": "AAA", "split": ["val"] * 3 + ["test"] * 3,
        "vol_regime_prob_Low": 1 - up, "vol_regime_prob_High": up, "vol_regime_target": [0, 1, 1, 0, 1, 0],
        "vol_pred": rng.normal(0, 0.01, 6),
        "quantiles_q10": -0.02, "quantiles_q5": -0.03, "quantiles_q90": 0.02, "quantiles_pred": 0.0,
    })


def test_history_of_a_classification_task_with_an_underscored_name() -> None:
    fig = prediction_history(_frame(), "AAA", "vol_regime")
    names = [t.name for t in fig.data]
    assert names[:2] == ["P(Low)", "P(High)"]
    assert list(fig.layout.yaxis2.ticktext) == ["Low", "High"]  # the realised class on the right axis


def test_history_of_a_task_whose_name_prefixes_another_is_its_own_prediction() -> None:
    fig = prediction_history(_frame(), "AAA", "vol")  # not vol_regime's probabilities
    assert [t.name for t in fig.data] == ["predicted"]


def test_quantile_band_runs_from_the_lowest_to_the_highest_level() -> None:
    fig = prediction_history(_frame(), "AAA", "quantiles")
    assert "q05–q90" in [t.name for t in fig.data]  # q5 < q10 by level, not by string


def test_whatif_panels_by_output_kind() -> None:
    table = pd.DataFrame({"before": [0.4, 0.01, 0.3, 0.6, 1.0], "after": [0.5, 0.02, 0.2, 0.7, 1.0]},
                         index=["direction_prob_Up", "return_pred", "direction_entropy", "gate_probability", "gate_code"])
    fig = whatif_before_after(table)
    titles = [a.text for a in fig.layout.annotations]
    assert titles == ["probabilities", "values (log return)", "entropy (nats)"]
    xs = sorted(x for t in fig.data for x in t.x)
    assert "gate_code" not in xs and "gate_probability" in xs
