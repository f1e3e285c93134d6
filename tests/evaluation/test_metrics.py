"""Metrics against scikit-learn / scipy on random inputs, and the IC against a hand computation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve

from finmt_core.errors import DataError
from finmt_core.evaluation import metrics as M
from finmt_core.tasks import make_task


def _probs(rng: np.random.Generator, n: int, c: int) -> np.ndarray:
    z = rng.normal(size=(n, c))
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("c", [2, 3, 4])
def test_classification_matches_sklearn(c: int) -> None:
    rng = np.random.default_rng(c)
    y = rng.integers(0, c, 400)
    p = _probs(rng, 400, c)
    pred = p.argmax(1)
    classes = [f"k{i}" for i in range(c)]
    m = M.classification_metrics(y, p, classes)
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert m["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(y, pred))
    assert m["mcc"] == pytest.approx(skm.matthews_corrcoef(y, pred))
    assert m["log_loss"] == pytest.approx(skm.log_loss(y, p), rel=1e-6)
    auc = skm.roc_auc_score(y, p[:, 1]) if c == 2 else skm.roc_auc_score(y, p, multi_class="ovr")
    assert m["roc_auc"] == pytest.approx(auc)
    prec, rec, f1, _ = skm.precision_recall_fscore_support(y, pred, labels=range(c), zero_division=0)
    for i, name in enumerate(classes):
        assert m[f"precision_{name}"] == pytest.approx(prec[i])
        assert m[f"recall_{name}"] == pytest.approx(rec[i])
        assert m[f"f1_{name}"] == pytest.approx(f1[i])
    assert m["base_rate"] == pytest.approx(np.bincount(y).max() / len(y))


def test_classification_absent_class_and_bad_shape() -> None:
    y = np.array([0, 0, 1, 1, 0])
    p = np.array([[0.6, 0.3, 0.1]] * 5)
    m = M.classification_metrics(y, p, ["a", "b", "c"])
    assert np.isfinite(m["roc_auc"])  # averaged over the classes that are present
    assert m["top_pred_share"] == 1.0
    with pytest.raises(DataError, match="probs must be"):
        M.classification_metrics(y, p[:, :2], ["a", "b", "c"])
    with pytest.raises(DataError, match="no rows"):
        M.classification_metrics(y[:0], p[:0], ["a", "b", "c"])


def test_confusion_and_normalised() -> None:
    y = np.array([0, 0, 1, 2, 2, 2])
    pr = np.array([0, 1, 1, 2, 0, 2])
    cm = M.confusion(y, pr, 3)
    np.testing.assert_array_equal(cm, skm.confusion_matrix(y, pr))
    cmn = M.confusion(y, pr, 3, normalize=True)
    np.testing.assert_allclose(cmn.sum(axis=1), 1.0)


def test_reliability_matches_calibration_curve() -> None:
    rng = np.random.default_rng(0)
    p1 = rng.uniform(size=500)
    y = (rng.uniform(size=500) < p1).astype(int)
    table = M.reliability_bins(y, np.c_[1 - p1, p1], n_bins=10)
    frac, mean = calibration_curve(y, p1, n_bins=10, strategy="uniform")
    ok = table["count"] > 0
    np.testing.assert_allclose(table.loc[ok, "frac_pos"], frac)
    np.testing.assert_allclose(table.loc[ok, "mean_pred"], mean)
    assert table["count"].sum() == 500
    assert 0 <= table.attrs["ece"] < 0.15


def test_regression_matches_sklearn() -> None:
    rng = np.random.default_rng(1)
    y = rng.normal(size=300)
    p = 0.5 * y + rng.normal(size=300)
    m = M.regression_metrics(y, p, tolerance=0.3)
    assert m["mae"] == pytest.approx(skm.mean_absolute_error(y, p))
    assert m["rmse"] == pytest.approx(np.sqrt(skm.mean_squared_error(y, p)))
    assert m["r2"] == pytest.approx(skm.r2_score(y, p))
    assert m["directional_accuracy"] == pytest.approx(np.mean(np.sign(y) == np.sign(p)))
    assert m["hit_ratio"] == pytest.approx(np.mean(np.abs(y - p) <= 0.3))


def test_ic_against_hand_computation() -> None:
    rng = np.random.default_rng(2)
    dates = np.repeat(pd.date_range("2020-01-01", periods=6).to_numpy(), 7)
    y = rng.normal(size=len(dates))
    p = y + rng.normal(size=len(dates))
    # drop rows to make cross-sections uneven, and make one date too small to count
    keep = np.ones(len(dates), dtype=bool)
    keep[[0, 1, 2, 3, 4]] = False  # first date keeps 2 rows < MIN_IC_OBS
    keep[10] = False
    dates, y, p = dates[keep], y[keep], p[keep]
    ic = M.per_date_ic(dates, y, p)
    ric = M.per_date_ic(dates, y, p, method="spearman")
    hand, hand_rank = [], []
    for d in np.unique(dates):  # the reference: a plain loop with scipy
        s = dates == d
        if s.sum() >= M.MIN_IC_OBS:
            hand.append(stats.pearsonr(p[s], y[s])[0])
            hand_rank.append(stats.spearmanr(p[s], y[s])[0])
    assert len(ic) == 5
    np.testing.assert_allclose(ic.to_numpy(), hand, rtol=1e-10)
    np.testing.assert_allclose(ric.to_numpy(), hand_rank, rtol=1e-10)
    m = M.regression_metrics(y, p, dates)
    assert m["ic"] == pytest.approx(np.mean(hand))
    assert m["icir"] == pytest.approx(np.mean(hand) / np.std(hand, ddof=1))
    assert m["rank_ic"] == pytest.approx(np.mean(hand_rank))


def test_ic_constant_prediction_is_dropped() -> None:
    dates = np.repeat(np.array(["2020-01-01", "2020-01-02"], dtype="datetime64[ns]"), 4)
    y = np.arange(8.0)
    p = np.r_[np.ones(4), np.arange(4.0)]
    ic = M.per_date_ic(dates, y, p)
    assert len(ic) == 1 and ic.iloc[0] == pytest.approx(1.0)


def test_quantile_metrics() -> None:
    rng = np.random.default_rng(3)
    y = rng.normal(size=1000)
    q = np.c_[np.full(1000, -1.2816), np.zeros(1000), np.full(1000, 1.2816)]
    m = M.quantile_metrics(y, q, (0.1, 0.5, 0.9))
    assert m["pinball_q10"] == pytest.approx(skm.mean_pinball_loss(y, q[:, 0], alpha=0.1))
    assert m["coverage_nominal"] == pytest.approx(0.8)
    assert abs(m["coverage"] - 0.8) < 0.05
    assert m["crossing_rate"] == 0.0
    assert m["median_mae"] == pytest.approx(np.mean(np.abs(y)))


def test_score_task_dispatch() -> None:
    rng = np.random.default_rng(4)
    t = make_task("direction")
    y = rng.integers(0, 2, 50)
    out = M.score_task(t, y, _probs(rng, 50, 2))
    assert "precision_Up" in out
    out = M.score_task(make_task("return"), rng.normal(size=50), rng.normal(size=50))
    assert "mae" in out and "ic" not in out


def test_ic_of_a_constant_with_rounding_noise_is_undefined() -> None:
    dates = np.repeat(np.array(["2020-01-01", "2020-01-02"], dtype="datetime64[ns]"), 5)
    p = np.full(10, 0.1) + np.r_[np.zeros(5), np.arange(5) * 1e-19]  # float noise around a constant
    assert M.per_date_ic(dates, np.arange(10.0), p).empty
    m = M.regression_metrics(np.arange(10.0), p, dates)
    assert np.isnan(m["ic"]) and m["ic_dates"] == 0


def test_a_zero_forecast_has_no_directional_accuracy() -> None:
    y = np.array([0.01, -0.02, 0.03, 0.0])
    m = M.regression_metrics(y, np.zeros(4))  # the naive_zero baseline
    assert np.isnan(m["directional_accuracy"])  # not applicable (None in evaluation.json), not 0.0
    assert M.regression_metrics(y, np.array([0.0, -1.0, 1.0, 1.0]))["directional_accuracy"] == pytest.approx(2 / 3)
