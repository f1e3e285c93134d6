"""GatingPolicy says in words what it does, and gated_calls shows only the heads it reads."""

from __future__ import annotations

import numpy as np
import pandas as pd

from finmt_core.evaluation.signal_hits import gated_calls
from finmt_core.inference.gating import GatingPolicy
from finmt_core.tasks import Task


def _frame() -> pd.DataFrame:
    return pd.DataFrame({
        "date": pd.to_datetime(["2024-01-02"] * 3), "ticker": ["A", "B", "C"],
        "signal_prob_NoSignal": [0.3, 0.8, 0.4], "signal_prob_Signal": [0.7, 0.2, 0.6],
        "direction_prob_Down": [0.1, 0.6, 0.7], "direction_prob_Up": [0.9, 0.4, 0.3],
        "action_prob_Sell": [0.1, 0.2, 0.3], "action_prob_Hold": [0.1, 0.2, 0.3], "action_prob_Buy": [0.8, 0.6, 0.4],
        "fwd_return": [0.01, -0.02, 0.03],
    })


def test_policy_text_per_rule_and_reason_when_it_cannot_gate() -> None:
    hier = GatingPolicy.for_tasks([Task(name="signal", target="signal"), Task(name="direction", target="direction")])
    assert hier.task == "direction" and hier.probability_text == "P(Signal)" and "P(Signal)" in hier.description
    action = GatingPolicy.for_tasks([Task(name="action", target="action")])
    assert action.task == "action" and action.probability_text == "max(P(Buy), P(Sell))"
    none = GatingPolicy.for_tasks([Task(name="return", target="return")])
    assert not none.can_gate and none.task is None and none.probability_text == ""
    assert none.description == none.reason and "return" in none.reason


def test_gated_calls_follow_the_given_policy_and_show_its_heads_only() -> None:
    df = _frame()
    own = gated_calls(df, 0.5)  # the frame's own policy: signal+direction (first rule that matches)
    assert list(own["gate"]) == ["Up", "Neutral", "Down"]
    np.testing.assert_allclose(own["confidence"], [0.7, 0.2, 0.6])
    assert {"signal P(Signal)", "direction P(Up)"} <= set(own.columns)
    assert not any(c.startswith("action") for c in own.columns)
    action = GatingPolicy.for_tasks([Task(name="action", target="action")])
    calls = gated_calls(df, 0.5, action)
    assert list(calls["gate"]) == ["Up", "Up", "Neutral"]
    np.testing.assert_allclose(calls["confidence"], [0.8, 0.6, 0.4])
    assert {"action P(Buy)", "action P(Sell)"} <= set(calls.columns)
    assert not any(c.startswith(("signal", "direction")) for c in calls.columns)
    assert list(calls["hit"]) == [True, False, None]
