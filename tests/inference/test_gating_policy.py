"""The one gating policy: rule choice, the threshold rule, the labels, the gating task, and
"can this be gated?" answered without exceptions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from finmt_core.errors import DataError
from finmt_core.inference.gating import GATE_LABELS, GatingPolicy, signal_gated
from finmt_core.tasks import make_task


def _hier(p_signal: list[float], p_up: list[float]) -> pd.DataFrame:
    s, u = np.asarray(p_signal), np.asarray(p_up)
    return pd.DataFrame({"signal_prob_Noise": 1 - s, "signal_prob_Signal": s, "direction_prob_Down": 1 - u,
                         "direction_prob_Up": u})


def test_rule_heads_and_gating_task_follow_the_columns() -> None:
    hier = GatingPolicy.for_columns(["signal_prob_Signal", "direction_prob_Up", "action_prob_Buy"])
    assert (hier.rule, hier.heads, hier.task, hier.hierarchical) == ("signal+direction", ("signal", "direction"),
                                                                     "direction", True)
    action = GatingPolicy.for_columns(["action_prob_Buy", "action_prob_Sell", "direction_prob_Up"])
    assert (action.rule, action.task, action.hierarchical) == ("action", "action", False)
    direction = GatingPolicy.for_columns(["direction_prob_Down", "direction_prob_Up"])
    assert (direction.rule, direction.task) == ("direction", "direction")


def test_tasks_give_the_same_policy_as_their_prediction_columns() -> None:
    tasks = [make_task("signal", 1), make_task("direction", 1, mask_by="signal"), make_task("return", 1)]
    cols = [f"{t.name}_prob_{c}" for t in tasks if t.kind == "classification" for c in t.classes]
    assert GatingPolicy.for_tasks(tasks) == GatingPolicy.for_columns(cols)
    assert GatingPolicy.for_tasks(tasks).can_gate


def test_a_run_without_gating_heads_says_so_without_raising() -> None:
    policy = GatingPolicy.for_tasks([make_task("return", 1), make_task("quantiles", 1)])
    assert not policy.can_gate and policy.rule is None and policy.task is None and policy.heads == ()
    assert "return, quantiles" in policy.reason
    frame = pd.DataFrame({"return_pred": [0.1, -0.2]})
    assert GatingPolicy.for_frame(frame).gate_if_possible(frame) is frame  # nothing added, no exception
    with pytest.raises(DataError, match="signal gating needs"):
        GatingPolicy.for_frame(frame).gate(frame)


def test_signal_direction_rule_on_hand_made_probabilities() -> None:
    df = _hier([0.9, 0.9, 0.4, 0.5], [0.8, 0.3, 0.99, 0.5])
    policy = GatingPolicy.for_frame(df)
    code, conf = policy.arrays(df, 0.5)
    assert code.dtype == np.int64 and code.tolist() == [1, -1, 0, 1]  # P(signal) == threshold fires; P(up) 0.5 -> Up
    np.testing.assert_allclose(conf, [0.9 * 0.8, 0.9 * 0.7, 0.6, 0.5 * 0.5])
    assert policy.arrays(df, 0.95)[0].tolist() == [0, 0, 0, 0]
    np.testing.assert_allclose(policy.probability(df), [0.9, 0.9, 0.4, 0.5])


def test_threshold_rule_accepts_0_and_1_and_refuses_outside() -> None:
    df = _hier([0.0, 0.3, 1.0], [0.2, 0.9, 0.6])
    policy = GatingPolicy.for_frame(df)
    assert policy.arrays(df, 0.0)[0].tolist() == [-1, 1, 1]  # 0: every row gets its side
    assert policy.arrays(df, 1.0)[0].tolist() == [0, 0, 1]  # 1: only certain signals
    for bad in (-0.01, 1.01):
        with pytest.raises(DataError, match=r"threshold must be in \[0, 1\]"):
            policy.arrays(df, bad)


def test_labels_are_down_neutral_up_by_code() -> None:
    assert GATE_LABELS == ("Down", "Neutral", "Up")
    assert list(GatingPolicy.label_codes(np.array([-1, 0, 1, 1]))) == ["Down", "Neutral", "Up", "Up"]
    g = signal_gated(_hier([0.9, 0.1], [0.2, 0.9]), 0.5)
    assert list(g["gate"]) == ["Down", "Neutral"] and g["gate_code"].tolist() == [-1, 0]


def test_arrays_work_on_a_plain_mapping() -> None:
    """The benchmark gates raw model outputs without building a frame."""
    df = _hier([0.7, 0.2], [0.4, 0.8])
    policy = GatingPolicy.for_frame(df)
    mapping = {c: df[c].to_numpy() for c in ("signal_prob_Signal", "direction_prob_Down", "direction_prob_Up")}
    assert GatingPolicy.for_frame(mapping) == policy
    for a, b in zip(policy.arrays(mapping, 0.5), policy.arrays(df, 0.5)):
        np.testing.assert_array_equal(a, b)


def test_action_rule_calls_the_winning_side_over_the_threshold() -> None:
    df = pd.DataFrame({"action_prob_Sell": [0.6, 0.2, 0.45], "action_prob_Hold": [0.1, 0.2, 0.1],
                       "action_prob_Buy": [0.3, 0.6, 0.45]})
    policy = GatingPolicy.for_frame(df)
    code, conf = policy.arrays(df, 0.5)
    assert code.tolist() == [-1, 1, 0]  # a tie is no call
    np.testing.assert_allclose(conf, [0.6, 0.6, 0.1])
