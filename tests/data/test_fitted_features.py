"""Fitted features: the lead-lag peers' return, fitted on train dates only."""

from __future__ import annotations

import numpy as np
import pandas as pd

from finmt_core.config import ExperimentConfig
from finmt_core.data.dense import to_dense
from finmt_core.data.features import compute_features
from finmt_core.data.features.fitted import add_fitted_features, lagged_corr, peer_weights, relative_returns
from finmt_core.data.prepare import prepare


def _leader_panel(n_days: int = 600, n: int = 6, b: float = 0.6, seed: int = 0) -> pd.DataFrame:
    """Stock 1 follows stock 0 with a one-day lag (r1[t] = b * r0[t-1] + noise); others are noise."""
    rng = np.random.default_rng(seed)
    r = rng.normal(0, 0.01, (n_days, n))
    r[1:, 1] += b * r[:-1, 0]
    close = 40.0 * np.exp(np.cumsum(r, axis=0))
    dates = pd.bdate_range("2020-01-01", periods=n_days)
    idx = pd.MultiIndex.from_product([dates, [f"T{i}" for i in range(n)]], names=["date", "ticker"])
    return pd.DataFrame({"close": close.ravel()}, index=idx)


def test_lagged_corr_finds_the_leader_and_only_it() -> None:
    dense = to_dense(_leader_panel())
    c, pairs = lagged_corr(dense.close, np.arange(400))
    assert pairs == 400 - 2  # a pair (t-1, t) needs the closes of t-2, t-1 and t
    assert np.argmax(np.abs(c[1])) == 0 and c[1, 0] > 0.3  # 0 -> 1
    assert abs(c[0, 1]) < 0.15  # not 1 -> 0
    w = peer_weights(c, pairs)
    assert w[1, 0] == c[1, 0]
    assert np.count_nonzero(w) <= 3  # noise pairs rarely clear 3 standard errors
    assert np.all(np.diag(w) == 0)


def test_feature_is_causal_and_fitted_on_train_dates_only() -> None:
    panel = _leader_panel()
    dense = to_dense(panel)
    frame = compute_features(dense, ["ret_1"])
    train = np.arange(300)
    a = add_fitted_features(frame, dense, train)
    assert a.names[-1] == "peer_ret_1" and a.fitted == ["peer_ret_1"] and "peer_ret_1" in a.groups["context"]
    # the future after the train dates moves neither the weights nor past values
    close2 = dense.close.copy()
    close2[450:] *= np.exp(np.random.default_rng(5).normal(0, 0.05, close2[450:].shape)).cumprod(axis=0)
    dense2 = type(dense)(dates=dense.dates, tickers=dense.tickers, columns=dict(dense.columns, close=close2),
                         sector=dense.sector, extra=list(dense.extra))
    b = add_fitted_features(compute_features(dense2, ["ret_1"]), dense2, train)
    np.testing.assert_array_equal(a.values[:450, :, -1], b.values[:450, :, -1])
    # the follower's feature predicts its next-day relative return
    feat = a.values[:, 1, -1].astype(np.float64)
    nxt = np.roll(relative_returns(dense.close)[:, 1], -1)
    ok = np.isfinite(feat) & np.isfinite(nxt)
    ok[:1] = ok[-1:] = False
    assert np.corrcoef(feat[ok], nxt[ok])[0, 1] > 0.3


def test_prepare_adds_it_and_respects_data_features() -> None:
    panel = _leader_panel(n_days=300)
    cfg = ExperimentConfig(data={"window": 5}, tasks=[{"target": "direction"}])
    prep = prepare(panel, cfg)
    assert "peer_ret_1" in prep.info.feature_names
    assert prep.X.shape[2] == len(prep.info.feature_names)
    only = ExperimentConfig(data={"window": 5, "features": ["ret_1", "peer_ret_1"]}, tasks=[{"target": "direction"}])
    assert prepare(panel, only).info.feature_names == ["ret_1", "peer_ret_1"]
    without = ExperimentConfig(data={"window": 5, "features": ["ret_1"]}, tasks=[{"target": "direction"}])
    assert prepare(panel, without).info.feature_names == ["ret_1"]


def test_context_response_feature_recovers_the_planted_context_effect() -> None:
    from finmt_core.data.samples import synthetic_market_with_oracle

    panel, oracle = synthetic_market_with_oracle(n_stocks=24, n_days=700, n_sectors=4, seed=2, signal_strength=0.0,
                                                 context=1.5)
    cfg = ExperimentConfig(data={"window": 10}, tasks=[{"target": "direction"}])
    prep = prepare(panel, cfg)
    assert {"extra_macro", "ctx_macro"} <= set(prep.info.feature_names)
    assert "ctx_macro" in prep.frame.fitted
    f = prep.frame.values[:, :, prep.info.feature_names.index("ctx_macro")].astype(np.float64)
    o = oracle["h1"].to_numpy().reshape(f.shape)
    ok = np.isfinite(f) & np.isfinite(o)
    assert np.corrcoef(f[ok], o[ok])[0, 1] > 0.8
    # no market-wide extra column, no context feature; a random walk's slopes stay (almost) all 0
    rw, _ = synthetic_market_with_oracle(n_stocks=24, n_days=700, n_sectors=4, seed=2, signal_strength=0.0)
    assert not [n for n in prepare(rw, cfg).info.feature_names if n.startswith("ctx_")]
    rng = np.random.default_rng(0)
    noise = rw.copy()
    noise["macro"] = np.repeat(rng.normal(size=700), 24)
    nf = prepare(noise, cfg)
    g = nf.frame.values[:, :, nf.info.feature_names.index("ctx_macro")]
    assert np.mean(np.nanmax(np.abs(g), axis=0) > 0) <= 0.1  # at most a stock or two by chance
