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


# ---- the Predictor on real run directories ------------------------------------------------------
import run_factory  # noqa: E402  (tests/ helper; see its docstring)

from finmt_core.inference import Predictor  # noqa: E402


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("runs")
    return {
        "net": run_factory.make_run(root, "lt", "lstm_transformer"),
        "no_dropout": run_factory.make_run(
            root, "lt0", "lstm_transformer", params={**run_factory.SMALL_PARAMS["lstm_transformer"], "dropout": 0.0}),
        "gbm": run_factory.make_run(root, "mom", "naive_momentum", tasks=[{"target": "direction"}, {"target": "return"}]),
    }


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    from finmt_core.data.samples import synthetic_market

    return synthetic_market(**run_factory.SYNTHETIC)


def _extend(panel: pd.DataFrame, days: int) -> pd.DataFrame:
    """``days`` new trading days after the panel's end (prices drift 0.1% a day)."""
    last = panel.index.get_level_values("date").max()
    new_dates = pd.bdate_range(last + pd.offsets.BDay(1), periods=days)
    base = panel.xs(last, level="date")
    frames = []
    for i, d in enumerate(new_dates):  # a few synthetic days, not the panel
        f = base.copy()
        for c in ("open", "high", "low", "close"):
            if c in f:
                f[c] = f[c] * 1.001 ** (i + 1)
        frames.append(f.assign(date=d).set_index("date", append=True).swaplevel())
    out = pd.concat([panel, *frames]).sort_index()
    out.attrs = dict(panel.attrs)
    return out


def test_predict_matches_stored_predictions_and_reads_only(runs: dict, panel: pd.DataFrame) -> None:
    run = runs["net"]
    before = run_factory.snapshot(run)
    p = Predictor.from_run(run.path)
    stored = run.predictions()
    test = stored[stored["split"] == "test"]
    df = p.predict(panel, dates=sorted(test["date"].unique()))
    m = test.merge(df, on=["date", "ticker"], suffixes=("", "_new"))
    assert len(m) == len(test)
    for col in ("direction_prob_Up", "return_pred", "quantiles_q90"):
        np.testing.assert_allclose(m[col], m[f"{col}_new"], atol=1e-5)
    assert run_factory.snapshot(run) == before


def test_predict_latest_date_of_new_data(runs: dict, panel: pd.DataFrame) -> None:
    p = Predictor.from_run(runs["net"].path)
    longer = _extend(panel, 3)
    df = p.predict(longer, dates="latest")
    assert (df["date"] == longer.index.get_level_values("date").max()).all()
    assert len(df) == panel.index.get_level_values("ticker").nunique()
    assert df["direction_target"].isna().all() and df["return_target"].isna().all()  # the future is unknown
    np.testing.assert_allclose(df[["signal_prob_Noise", "signal_prob_Signal"]].sum(axis=1), 1.0, rtol=1e-5)
    gated = p.signal_gated(df, threshold=0.5)
    assert set(gated["gate"]) <= {"Down", "Neutral", "Up"}
    with pytest.raises(DataError, match="dates not in the panel"):
        p.predict(panel, dates="1990-01-01")


def test_mc_dropout_spread(runs: dict, panel: pd.DataFrame) -> None:
    u = Predictor.from_run(runs["net"].path).predict_uncertainty(panel, dates="latest", n_samples=8)
    assert u.attrs["active_dropout"] > 0
    assert (u["return_std"] > 0).all() and (u["return_hi"] >= u["return_lo"]).all()
    assert (u["direction_entropy"] > 0).all() and (u["direction_mutual_info"] >= 0).all()
    u0 = Predictor.from_run(runs["no_dropout"].path).predict_uncertainty(panel, dates="latest", n_samples=4)
    assert u0.attrs["active_dropout"] == 0
    assert (u0["return_std"] == 0).all() and np.allclose(u0["direction_mutual_info"], 0, atol=1e-6)


def test_what_if_changes_predictions_and_touches_nothing(runs: dict, panel: pd.DataFrame) -> None:
    run = runs["net"]
    before = run_factory.snapshot(run)
    p = Predictor.from_run(run.path)
    prepared = p.prepare(panel)
    x_before = prepared.X.copy()
    res = p.what_if(panel, "S003", shocks={"return": -0.15})
    assert res.ticker == "S003" and res.date == prepared.dates[-1]
    assert np.abs(res.table["difference"]).max() > 1e-4
    # the gate's own number: P(Signal) itself, not the call's confidence P(Signal) x P(side)
    assert "gate_probability" in res.table.index and "gate_confidence" not in res.table.index
    np.testing.assert_allclose(res.table.loc["gate_probability", ["before", "after"]].to_numpy(float),
                               res.table.loc["signal_prob_Signal", ["before", "after"]].to_numpy(float))
    assert res.features.loc["ret_1", "difference"] == pytest.approx(-0.15, abs=1e-5)  # the shocked close moved ret_1
    assert res.features.loc["mkt_ret_1", "difference"] == 0.0  # market features stay
    calm = p.what_if(panel, "S003", shocks={"volatility": 0.5, "volume": 3.0})
    assert calm.features.loc["vol_20", "difference"] < 0 and calm.features.loc["volume_z_20", "difference"] > 0
    np.testing.assert_array_equal(prepared.X, x_before)  # the window was restored
    assert run_factory.snapshot(run) == before
    same = p.what_if(panel, "S003", shocks={})
    assert np.all(same.table["difference"] == 0)
    edited = p.what_if(panel, "S001", shocks={"rsi_14": 95.0})
    assert edited.features.loc["rsi_14", "after"] == 95.0
    with pytest.raises(DataError, match="unknown what-if shock"):
        p.what_if(panel, "S003", shocks={"sentiment": 1.0})
    with pytest.raises(DataError, match="market-wide"):
        p.what_if(panel, "S003", shocks={"mkt_ret_1": 0.1})
    with pytest.raises(DataError, match="not in the panel"):
        p.what_if(panel, "NOPE")


def test_what_if_with_mc_dropout_intervals(runs: dict, panel: pd.DataFrame) -> None:
    run = runs["net"]
    before = run_factory.snapshot(run)
    p = Predictor.from_run(run.path)
    x_before = p.prepare(panel).X.copy()
    res = p.what_if(panel, "S003", shocks={"return": -0.1}, mc_samples=12)
    t = res.table
    assert res.mc_samples == 12 and not res.notes
    for side in ("before", "after"):  # dropout on: every regression interval has spread
        assert t.loc["return_pred", f"{side}_hi"] > t.loc["return_pred", f"{side}_lo"]
        assert t.loc["direction_prob_Up", f"{side}_hi"] >= t.loc["direction_prob_Up", f"{side}_mean"] >= t.loc[
            "direction_prob_Up", f"{side}_lo"]
        assert 0 < t.loc["direction_entropy", f"{side}_mean"] <= np.log(2) + 1e-9
    assert t.loc["direction_entropy", "before"] == pytest.approx(-np.sum(
        t.loc[["direction_prob_Down", "direction_prob_Up"], "before"] * np.log(t.loc[["direction_prob_Down", "direction_prob_Up"], "before"])))
    assert (t.loc["return_pred", "after_mean"] != t.loc["return_pred", "before_mean"])
    np.testing.assert_array_equal(p.prepare(panel).X, x_before)
    assert run_factory.snapshot(run) == before
    # the point columns are the fast path's, and the default adds no MC columns
    point = p.what_if(panel, "S003", shocks={"return": -0.1})
    assert "before_mean" not in point.table.columns and point.mc_samples == 0
    np.testing.assert_allclose(point.table.loc[point.table.index, "after"], t.loc[point.table.index, "after"])
    # no dropout / estimator: a note instead of zero-width intervals
    nd = Predictor.from_run(runs["no_dropout"].path).what_if(panel, "S003", mc_samples=4)
    assert nd.mc_samples == 0 and "before_mean" not in nd.table.columns and "no active dropout" in nd.notes[0]
    est = Predictor.from_run(runs["gbm"].path).what_if(panel, "S003", mc_samples=4)
    assert est.mc_samples == 0 and "estimator" in est.notes[0]


def test_estimator_run_predictor(runs: dict, panel: pd.DataFrame) -> None:
    p = Predictor.from_run(runs["gbm"].path)
    assert p.model is None
    df = p.predict(panel, dates="latest")
    assert {"direction_prob_Up", "return_pred"} <= set(df.columns)
    stored = runs["gbm"].predictions()
    last_test = stored[stored["date"] == stored["date"].max()].sort_values("ticker")
    again = p.predict(panel, dates=[last_test["date"].iloc[0]]).sort_values("ticker")
    np.testing.assert_allclose(again["direction_prob_Up"], last_test["direction_prob_Up"])


def test_gate_column_is_categorical_and_matches_arrays(hier: pd.DataFrame) -> None:
    from finmt_core.inference.gating import gate_arrays

    g = signal_gated(hier, 0.5)
    assert isinstance(g["gate"].dtype, pd.CategoricalDtype)
    assert list(g["gate"].cat.categories) == ["Down", "Neutral", "Up"]
    assert (g["gate"] == "Up").tolist() == [True, False, False, True]
    code, conf = gate_arrays(hier, 0.5)
    np.testing.assert_array_equal(code, g["gate_code"])
    np.testing.assert_allclose(conf, g["confidence"])


def test_what_if_features_equal_a_full_recompute(runs: dict, panel: pd.DataFrame) -> None:
    """Own-column features on the one ticker + cross-sectional ones on the universe give exactly
    what recomputing every feature on the whole shocked slice gives."""
    from finmt_core.data.features import compute_features
    from finmt_core.inference import whatif as W

    p = Predictor.from_run(runs["net"].path)
    prepared = p.prepare(panel)
    n = prepared.tickers.index("S002")
    d = int(np.flatnonzero(prepared.has_window()[:, n])[-1])
    w0 = d - prepared.info.window + 1
    s = max(0, w0 - 1 - W.LOOKBACK)
    shocks = {"return": 0.04, "volatility": 1.7, "volume": 0.5}
    frame = prepared.frame
    own = [f for f in frame.names if f not in set(frame.market) and f not in frame.fitted]  # fitted: kept as is
    ref_slice, shocked = W._slice(prepared.dense, s, d + 1), W._slice(prepared.dense, s, d + 1)
    W._shock_prices(shocked, n, w0 - s, shocks)
    full_before = compute_features(ref_slice, own)
    full_after = compute_features(shocked, own)
    expected = frame.values[w0:d + 1, n, :].astype(np.float64)
    delta = full_after.values[w0 - s:, n, :].astype(np.float64) - full_before.values[w0 - s:, n, :]
    expected[:, frame.index_of(full_after.names)] += np.nan_to_num(delta)
    got = W.shocked_window(prepared, n, d, shocks, {})
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)
    solo, cross = W._split_features(frame.names, frame.market)
    assert "cs_rank_ret_5" in cross and "ret_1" in solo and not set(solo) & set(frame.market)
