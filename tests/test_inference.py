"""Inference: signal gating on hand-made probabilities, coverage/accuracy, (and below, the
Predictor on a tiny trained run: MC dropout, latest-date predictions, what-if)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from finmt_core.errors import DataError
from finmt_core.inference import coverage_accuracy_curve, gated_accuracy, signal_gated


def _softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.fixture()
def hier() -> pd.DataFrame:
    """Four rows of hand-made signal and direction logits."""
    sig = _softmax(np.array([[0.0, 2.0], [2.0, 0.0], [0.0, 1.0], [0.0, 3.0]]))  # P(Signal) .88 .12 .73 .95
    dire = _softmax(np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 0.0], [0.0, 0.5]]))  # Up, Down, Down, Up
    return pd.DataFrame({
        "signal_prob_Noise": sig[:, 0], "signal_prob_Signal": sig[:, 1],
        "direction_prob_Down": dire[:, 0], "direction_prob_Up": dire[:, 1],
        "return_target": [0.01, -0.02, 0.03, 0.02],
    })


def test_signal_gated_hierarchical(hier: pd.DataFrame) -> None:
    g = signal_gated(hier, threshold=0.5)
    assert list(g["gate"]) == ["Up", "Neutral", "Down", "Up"]
    assert list(g["gate_code"]) == [1, 0, -1, 1]
    p_sig = hier["signal_prob_Signal"].to_numpy()
    p_side = np.maximum(hier["direction_prob_Up"], hier["direction_prob_Down"]).to_numpy()
    np.testing.assert_allclose(g["confidence"], np.where([1, 0, 1, 1], p_sig * p_side, 1 - p_sig))
    strict = signal_gated(hier, threshold=0.9)
    assert list(strict["gate"]) == ["Neutral", "Neutral", "Neutral", "Up"]


def test_gated_accuracy_and_curve(hier: pd.DataFrame) -> None:
    acc = gated_accuracy(hier, 0.5)
    # calls: Up (+.01 right), Down (+.03 wrong), Up (+.02 right) -> 3 of 4 rows, 2 of 3 right
    assert acc["coverage"] == pytest.approx(0.75) and acc["accuracy"] == pytest.approx(2 / 3)
    curve = coverage_accuracy_curve(hier, np.array([0.5, 0.8, 0.9, 0.99]))
    np.testing.assert_allclose(curve["coverage"], [0.75, 0.5, 0.25, 0.0])
    np.testing.assert_allclose(curve["accuracy"].to_numpy()[:3], [2 / 3, 1.0, 1.0])
    assert np.isnan(curve["accuracy"].iloc[3])
    for th in (0.5, 0.8, 0.9):  # the vectorised curve agrees with gating at each threshold
        row = curve[curve["threshold"] == th].iloc[0]
        assert row["coverage"] == pytest.approx(gated_accuracy(hier, th)["coverage"])


def test_action_and_direction_rules() -> None:
    act = pd.DataFrame({"action_prob_Sell": [0.7, 0.2, 0.3], "action_prob_Hold": [0.2, 0.2, 0.4], "action_prob_Buy": [0.1, 0.6, 0.3]})
    g = signal_gated(act, 0.5)
    assert list(g["gate"]) == ["Down", "Up", "Neutral"]
    np.testing.assert_allclose(g["confidence"], [0.7, 0.6, 0.4])
    d = pd.DataFrame({"direction_prob_Down": [0.45, 0.8], "direction_prob_Up": [0.55, 0.2], "direction_target": [1.0, np.nan]})
    g = signal_gated(d, 0.6)
    assert list(g["gate"]) == ["Neutral", "Down"]
    assert gated_accuracy(d, 0.5)["coverage"] == 1.0  # one row with a known outcome, called


def test_gating_errors() -> None:
    with pytest.raises(DataError, match="signal gating needs"):
        signal_gated(pd.DataFrame({"return_pred": [0.1]}))
    with pytest.raises(DataError, match="threshold"):
        signal_gated(pd.DataFrame({"direction_prob_Up": [0.5]}), 1.5)
