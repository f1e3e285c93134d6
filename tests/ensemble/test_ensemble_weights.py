"""Stacking weights: non-negative, sum to one, never worse than equal weights or any member on
the fitting rows, and they find the informative member."""

from __future__ import annotations

import numpy as np
import pytest

from finmt_core.ensemble.weights import combine, fit_weights
from finmt_core.errors import DataError
from finmt_core.tasks import make_task

RNG = np.random.default_rng(0)
N = 2000


def _probs(logit: np.ndarray) -> np.ndarray:
    p = 1.0 / (1.0 + np.exp(-logit))
    return np.stack([1 - p, p], axis=1)


def test_classification_weights_favour_the_informative_member() -> None:
    x = RNG.normal(size=N)
    y = (x + RNG.normal(scale=0.8, size=N) > 0).astype(float)
    good, noise, flat = _probs(2 * x), _probs(RNG.normal(size=N)), np.full((N, 2), 0.5)
    valid = np.ones(N, dtype=bool)
    tw = fit_weights(make_task("direction", 1), [noise, good, flat], y, valid)
    assert (tw.weights >= 0).all() and tw.weights.sum() == pytest.approx(1.0)
    assert tw.weights[1] > 0.8
    assert tw.loss <= tw.equal_loss and tw.loss <= tw.member_losses.min() + 1e-12
    mixed = combine([noise, good, flat], tw.weights)
    np.testing.assert_allclose(mixed.sum(axis=1), 1.0)
    np.testing.assert_allclose(-np.log(mixed[np.arange(N), y.astype(int)]).mean(), tw.loss, rtol=1e-9)


def test_regression_weights_match_the_least_squares_mix() -> None:
    signal = RNG.normal(size=N)
    a = signal + RNG.normal(scale=1.0, size=N)  # two equally noisy, independent views: w = (0.5, 0.5)
    b = signal + RNG.normal(scale=1.0, size=N)
    valid = RNG.random(N) > 0.1
    tw = fit_weights(make_task("return", 1), [a, b], signal, valid)
    assert tw.weights == pytest.approx([0.5, 0.5], abs=0.05)
    assert tw.n_rows == int(valid.sum())
    assert tw.loss == pytest.approx(float(((combine([a, b], tw.weights) - signal)[valid] ** 2).mean()))
    assert tw.loss < tw.member_losses.min()  # averaging two independent errors halves the variance


def test_weights_do_not_depend_on_the_units_of_the_target() -> None:
    signal = RNG.normal(size=N)
    a = signal + RNG.normal(scale=0.5, size=N)  # a is 4x less noisy than b: w_a = 0.8 in closed form
    b = signal + RNG.normal(scale=1.0, size=N)
    valid = np.ones(N, dtype=bool)
    unit = fit_weights(make_task("return", 1), [a, b], signal, valid).weights
    daily = fit_weights(make_task("return", 1), [a * 0.01, b * 0.01], signal * 0.01, valid).weights  # returns ~1 %
    np.testing.assert_allclose(daily, unit, atol=1e-3)
    # the constrained least-squares optimum: w_a = <b - a, b - y> / |b - a|^2
    d = b - a
    w_a = float(np.clip(d @ (b - signal) / (d @ d), 0, 1))
    assert unit[0] == pytest.approx(w_a, abs=1e-3) and 0.7 < w_a < 0.9


def test_quantile_mix_stays_sorted_and_equal_method_is_uniform() -> None:
    task = make_task("quantiles", 1)
    y = RNG.normal(size=N)
    good = np.stack([np.full(N, q) for q in (-1.28, 0.0, 1.28)], axis=1)
    bad = good * 3 + 1
    tw = fit_weights(task, [bad, good], y, np.ones(N, dtype=bool))
    assert tw.weights[1] > 0.9 and tw.metric == "pinball"
    assert (np.diff(combine([bad, good], tw.weights), axis=1) >= 0).all()
    eq = fit_weights(task, [bad, good], y, np.ones(N, dtype=bool), method="equal")
    np.testing.assert_allclose(eq.weights, [0.5, 0.5])
    assert eq.loss == pytest.approx(eq.equal_loss) and tw.loss <= eq.loss


def test_no_valid_row_or_unknown_method_is_an_error() -> None:
    task = make_task("return", 1)
    with pytest.raises(DataError, match="no validation row"):
        fit_weights(task, [np.zeros(3), np.ones(3)], np.zeros(3), np.zeros(3, dtype=bool))
    with pytest.raises(DataError, match="method"):
        fit_weights(task, [np.zeros(3)], np.zeros(3), np.ones(3, dtype=bool), method="median")
