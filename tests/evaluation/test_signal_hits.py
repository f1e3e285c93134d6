"""Gated calls scored against the realised side (finmt_core.evaluation.signal_hits)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from finmt_core.errors import DataError
from finmt_core.evaluation.signal_hits import calls_up_to, gated_calls, hit_summary


def _frame() -> pd.DataFrame:
    dates = pd.to_datetime(["2024-01-02", "2024-01-02", "2024-01-03", "2024-01-03", "2024-01-04"])
    return pd.DataFrame({
        "date": dates, "ticker": ["A", "B", "A", "B", "A"],
        "direction_prob_Down": [0.2, 0.7, 0.45, 0.1, 0.4],
        "direction_prob_Up": [0.8, 0.3, 0.55, 0.9, 0.6],
        "return_pred": [0.01, -0.01, 0.0, 0.02, 0.01],
        "fwd_return": [0.02, 0.01, -0.01, np.nan, 0.03],
    })


def test_calls_hits_and_realised_side():
    calls = gated_calls(_frame(), threshold=0.6)
    assert list(calls["gate"]) == ["Up", "Down", "Neutral", "Up", "Up"]
    assert list(calls["realised"]) == ["Up", "Up", "Down", "unknown", "Up"]
    # right, wrong, no call, unknown outcome, right
    assert list(calls["hit"]) == [True, False, None, None, True]
    np.testing.assert_allclose(calls["confidence"], [0.8, 0.7, 0.55, 0.9, 0.6])
    assert {"direction P(Down)", "direction P(Up)"} <= set(calls.columns)
    assert "return_pred" not in calls.columns


def test_hit_summary_counts_calls_with_a_known_outcome():
    calls = gated_calls(_frame(), threshold=0.6)
    assert hit_summary(calls) == {"n_calls": 4.0, "n_known": 3.0, "n_hits": 2.0, "hit_rate": pytest.approx(2 / 3)}
    none = hit_summary(calls[calls["ticker"] == "B"].iloc[1:])
    assert none["n_calls"] == 1.0 and none["n_known"] == 0.0 and np.isnan(none["hit_rate"])


def test_calls_up_to_keeps_the_last_dates_before_the_day():
    calls = gated_calls(_frame(), threshold=0.5)
    recent = calls_up_to(calls, pd.Timestamp("2024-01-03"), n_dates=1)
    assert set(recent["date"]) == {pd.Timestamp("2024-01-03")} and len(recent) == 2


def test_no_gating_heads_is_a_data_error():
    with pytest.raises(DataError, match="signal gating"):
        gated_calls(_frame()[["date", "ticker", "return_pred", "fwd_return"]], 0.5)


def test_curve_thresholds_step_by_five_points():
    from finmt_core.evaluation.signal_hits import CURVE_THRESHOLDS

    assert len(CURVE_THRESHOLDS) == 20 and CURVE_THRESHOLDS[0] == 0.0 and CURVE_THRESHOLDS[-1] == 0.95
    np.testing.assert_allclose(np.diff(CURVE_THRESHOLDS), 0.05)
