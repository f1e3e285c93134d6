"""Stock graphs: train-only fit, symmetric (leadlag: directed), no self-loops/duplicates, weights in (0, 1]."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from finmt_core.config import GraphConfig
from finmt_core.data.containers import StockGraph
from finmt_core.data.dense import DensePanel
from finmt_core.data.graph import build_graph, cross_corr, leadlag_corr, pairwise_corr, train_log_returns


def _dense(n_days: int = 200, n: int = 8, sectors: bool = True, seed: int = 0) -> DensePanel:
    """Two sectors whose members share a sector factor; one gap per stock."""
    rng = np.random.default_rng(seed)
    sector = np.array([i % 2 for i in range(n)])
    factor = rng.normal(0, 0.01, size=(n_days, 2))
    rets = factor[:, sector] + rng.normal(0, 0.006, size=(n_days, n))
    close = 100 * np.exp(np.cumsum(rets, axis=0))
    close[rng.integers(0, n_days, size=n), np.arange(n)] = np.nan
    return DensePanel(
        dates=pd.bdate_range("2020-01-01", periods=n_days),
        tickers=[f"T{i}" for i in range(n)],
        columns={"close": close},
        sector=[f"S{s}" for s in sector] if sectors else None,
    )


def _check(graph: StockGraph, n: int, symmetric: bool = True) -> None:
    ei, w = graph.edge_index, graph.edge_weight
    assert ei.dtype == np.int64 and ei.shape[0] == 2 and w.dtype == np.float32
    assert ei.shape[1] == w.shape[0]
    assert graph.n_nodes == n
    if ei.shape[1]:
        assert ei.min() >= 0 and ei.max() < n
    assert not np.any(ei[0] == ei[1]), "self-loops"
    pairs = set(zip(ei[0].tolist(), ei[1].tolist()))
    assert len(pairs) == ei.shape[1], "duplicate edges"
    weights = dict(zip(zip(ei[0].tolist(), ei[1].tolist()), w.tolist()))
    for (a, b), wt in weights.items():
        if symmetric:
            assert (b, a) in pairs and weights[(b, a)] == pytest.approx(wt), "not symmetric"
    assert np.all(w > 0) and np.all(w <= 1)
    # sorted by target, then source: the CSR row order the tgcn model relies on
    order = np.lexsort((ei[0], ei[1]))
    np.testing.assert_array_equal(order, np.arange(ei.shape[1]))


TRAIN = np.arange(10, 120)


@pytest.mark.parametrize("kind", ["correlation", "sector", "hybrid", "leadlag"])
@pytest.mark.parametrize(("top_k", "threshold"), [(1, None), (3, None), (50, None), (5, 0.3)])
def test_graph_properties(kind, top_k, threshold) -> None:
    dense = _dense()
    graph = build_graph(dense, TRAIN, GraphConfig(kind=kind, top_k=top_k, threshold=threshold))
    _check(graph, 8, symmetric=kind != "leadlag")
    assert graph.kind == kind
    assert graph.fit_dates == (dense.dates[10], dense.dates[119])


def test_graph_ignores_data_outside_train() -> None:
    dense = _dense()
    ref = build_graph(dense, TRAIN, GraphConfig(kind="hybrid"))
    close = dense.close.copy()
    rng = np.random.default_rng(5)
    outside = np.r_[0:10, 120:200]
    close[outside] *= np.exp(rng.normal(0, 0.2, size=close[outside].shape))
    changed = DensePanel(dense.dates, dense.tickers, {"close": close}, dense.sector)
    for kind in ("correlation", "hybrid", "leadlag"):
        a = build_graph(dense, TRAIN, GraphConfig(kind=kind))
        b = build_graph(changed, TRAIN, GraphConfig(kind=kind))
        np.testing.assert_array_equal(a.edge_index, b.edge_index)
        np.testing.assert_array_equal(a.edge_weight, b.edge_weight)
    # ... while changing the train closes does change it
    close2 = dense.close.copy()
    close2[TRAIN] *= np.exp(rng.normal(0, 0.2, size=close2[TRAIN].shape))
    moved = build_graph(DensePanel(dense.dates, dense.tickers, {"close": close2}, dense.sector), TRAIN,
                        GraphConfig(kind="correlation"))
    assert moved.edge_index.shape != ref.edge_index.shape or not np.allclose(
        moved.edge_weight, build_graph(dense, TRAIN, GraphConfig(kind="correlation")).edge_weight)


def test_train_log_returns_use_consecutive_train_dates_only() -> None:
    close = np.exp(np.arange(10.0))[:, None] * np.ones((1, 2))
    r = train_log_returns(close, np.array([2, 3, 4, 7, 8]))
    np.testing.assert_allclose(r, np.ones((3, 2)))  # 3-2, 4-3, 8-7; not 7-4


def test_pairwise_corr_matches_pandas_with_gaps() -> None:
    rng = np.random.default_rng(1)
    r = rng.normal(size=(150, 5))
    r[:, 1] += r[:, 0]
    r[rng.random(r.shape) < 0.25] = np.nan
    r[:, 4] = 0.5  # constant: no correlation
    ours = pairwise_corr(r, min_overlap=20)
    ref = pd.DataFrame(r).corr(min_periods=20).to_numpy()
    np.testing.assert_allclose(ours, ref, atol=1e-10, equal_nan=True)
    assert np.isnan(ours[4]).all()


def test_correlation_top_k_picks_strongest_peer() -> None:
    dense = _dense()
    graph = build_graph(dense, TRAIN, GraphConfig(kind="correlation", top_k=1))
    # with a strong sector factor each stock's best peer is in its own sector
    src, dst = graph.edge_index
    assert np.all(src % 2 == dst % 2)
    assert graph.edge_index.shape[1] >= 8  # every node picked one peer (symmetrised)


def test_threshold_keeps_exactly_strong_pairs() -> None:
    dense = _dense()
    graph = build_graph(dense, TRAIN, GraphConfig(kind="correlation", threshold=0.5))
    corr = np.abs(pairwise_corr(train_log_returns(dense.close, TRAIN)))
    np.fill_diagonal(corr, 0)
    expected = set(zip(*np.nonzero(corr >= 0.5)))
    assert set(zip(*graph.edge_index.tolist())) == {(int(a), int(b)) for a, b in expected}
    np.testing.assert_allclose(graph.edge_weight, corr[graph.edge_index[0], graph.edge_index[1]], rtol=1e-6)


def test_sector_graph_fully_connects_sectors() -> None:
    graph = build_graph(_dense(), TRAIN, GraphConfig(kind="sector"))
    assert graph.edge_index.shape[1] == 2 * 4 * 3  # two sectors of 4: 4*3 directed edges each
    assert np.all(graph.edge_weight == 1.0)
    src, dst = graph.edge_index
    assert np.all(src % 2 == dst % 2)


def test_hybrid_weights_mix_sector_and_correlation() -> None:
    dense = _dense()
    cfg = GraphConfig(kind="hybrid", top_k=2, sector_weight=0.3)
    hyb = build_graph(dense, TRAIN, cfg)
    corr = build_graph(dense, TRAIN, GraphConfig(kind="correlation", top_k=2))
    sec = build_graph(dense, TRAIN, GraphConfig(kind="sector"))
    cw = dict(zip(zip(*corr.edge_index.tolist()), corr.edge_weight.tolist()))
    sw = dict(zip(zip(*sec.edge_index.tolist()), sec.edge_weight.tolist()))
    got = dict(zip(zip(*hyb.edge_index.tolist()), hyb.edge_weight.tolist()))
    assert set(got) == set(cw) | set(sw)
    for e, w in got.items():
        assert w == pytest.approx(0.3 * sw.get(e, 0.0) + 0.7 * cw.get(e, 0.0), rel=1e-6)


def test_no_sector_falls_back_to_correlation(caplog) -> None:
    dense = _dense(sectors=False)
    with caplog.at_level(logging.INFO, logger="finmt_core.data.graph"):
        graph = build_graph(dense, TRAIN, GraphConfig(kind="sector"))
    assert graph.kind == "correlation"
    assert "sector" in caplog.text
    _check(graph, 8)


def test_unknown_sectors_and_short_history_give_isolated_nodes() -> None:
    dense = _dense()
    dense.sector = ["S0", "unknown", "S0", "", "S1", "nan", "S1", "S2"]
    sec = build_graph(dense, TRAIN, GraphConfig(kind="sector"))
    assert set(np.unique(sec.edge_index).tolist()) == {0, 2, 4, 6}
    _check(sec, 8)
    # 5 train dates: too few overlapping returns for any correlation -> no edges at all
    short = build_graph(dense, np.arange(10, 15), GraphConfig(kind="correlation"))
    assert short.edge_index.shape == (2, 0) and short.edge_weight.shape == (0,)


def test_single_ticker_graph_is_empty() -> None:
    d = _dense(n=1, sectors=True)
    g = build_graph(d, TRAIN, GraphConfig(kind="hybrid"))
    assert g.edge_index.shape == (2, 0)
    _check(g, 1)


# ---- leadlag ------------------------------------------------------------------------------
def _leadlag_dense(n_days: int = 400, n: int = 6, seed: int = 0) -> DensePanel:
    """Stock 0 leads stock 1 (``r1[t] = 0.8 r0[t-1] + noise``); a strong common market factor;
    the rest noise; a few missing closes."""
    rng = np.random.default_rng(seed)
    market = rng.normal(0, 0.01, size=(n_days, 1))
    rets = market + rng.normal(0, 0.01, size=(n_days, n))
    rets[1:, 1] += 0.8 * (rets[:-1, 0] - market[:-1, 0])
    close = 100 * np.exp(np.cumsum(rets, axis=0))
    close[rng.integers(0, n_days, size=4), rng.integers(0, n, size=4)] = np.nan
    return DensePanel(dates=pd.bdate_range("2020-01-01", periods=n_days), tickers=[f"T{i}" for i in range(n)],
                      columns={"close": close}, sector=None)


LL_TRAIN = np.r_[5:150, 152:300]  # one gap: no lagged pair may span it


def test_leadlag_graph_has_the_planted_leader_edge() -> None:
    dense = _leadlag_dense()
    graph = build_graph(dense, LL_TRAIN, GraphConfig(kind="leadlag", top_k=2))
    _check(graph, 6, symmetric=False)
    assert graph.kind == "leadlag"
    edges = dict(zip(zip(*graph.edge_index.tolist()), graph.edge_weight.tolist()))
    top = max(edges, key=edges.get)
    assert top == (0, 1)  # source = leader, target = follower
    assert edges[(0, 1)] > 0.4
    assert edges.get((1, 0), 0.0) < 0.25  # no reverse lead of that size
    # every follower has exactly top_k leaders (all pairs have enough overlap)
    np.testing.assert_array_equal(np.bincount(graph.edge_index[1], minlength=6), np.full(6, 2))


def test_leadlag_corr_matches_a_pairwise_reference() -> None:
    dense = _leadlag_dense(n=4)
    ours = leadlag_corr(dense.close, LL_TRAIN)
    assert ours.shape == (4, 4) and ours.dtype == np.float64
    idx = np.unique(LL_TRAIN)
    with np.errstate(invalid="ignore"):
        r = pd.DataFrame(np.log(dense.close)).diff()  # r[d] = log c[d] - log c[d - 1]
    ok = np.isin(np.arange(len(r)), idx) & np.isin(np.arange(len(r)) - 1, idx)
    r[~ok] = np.nan  # only returns whose two closes are train dates
    rel = r.sub(r.mean(axis=1), axis=0)  # relative to the date's cross-sectional mean
    lag_ok = ok & np.roll(ok, 1)  # t and t - 1 both have train returns
    lead = rel.shift(1)[lag_ok]
    follow = rel[lag_ok]
    for j in range(4):
        for i in range(4):
            ref = lead[j].corr(follow[i], min_periods=20)
            assert ours[j, i] == pytest.approx(ref, abs=1e-10), (j, i)
    assert ours[0, 1] > 0.3 and abs(ours[1, 0]) < 0.2


def test_leadlag_threshold_keeps_exactly_strong_leaders() -> None:
    dense = _leadlag_dense()
    graph = build_graph(dense, LL_TRAIN, GraphConfig(kind="leadlag", threshold=0.1))
    corr = np.abs(leadlag_corr(dense.close, LL_TRAIN))
    np.fill_diagonal(corr, 0)
    expected = {(int(a), int(b)) for a, b in zip(*np.nonzero(corr >= 0.1))}
    assert (0, 1) in expected
    assert set(zip(*graph.edge_index.tolist())) == expected
    np.testing.assert_allclose(graph.edge_weight, corr[graph.edge_index[0], graph.edge_index[1]], rtol=1e-6)


def test_leadlag_market_move_is_not_a_lead() -> None:
    """An autocorrelated market makes every raw lagged pair look like a lead; returns
    relative to the date's cross-sectional mean do not."""
    rng = np.random.default_rng(3)
    n_days, n = 500, 8
    market = np.zeros(n_days)
    for t in range(1, n_days):  # AR(1) market: momentum shared by every stock
        market[t] = 0.6 * market[t - 1] + rng.normal(0, 0.015)
    rets = market[:, None] + rng.normal(0, 0.005, size=(n_days, n))
    close = 100 * np.exp(np.cumsum(rets, axis=0))
    raw_r = np.diff(np.log(close), axis=0)
    raw = cross_corr(raw_r[:-1], raw_r[1:])
    off = ~np.eye(n, dtype=bool)
    assert raw[off].min() > 0.3  # every pair a "lead" without the adjustment
    rel = leadlag_corr(close, np.arange(n_days))
    assert np.abs(rel[off]).max() < 0.2
    graph = build_graph(DensePanel(pd.bdate_range("2020-01-01", periods=n_days), [f"T{i}" for i in range(n)],
                                   {"close": close}, None), np.arange(n_days), GraphConfig(kind="leadlag", threshold=0.2))
    assert graph.edge_index.shape == (2, 0)


def test_cross_corr_of_a_matrix_with_itself_is_pairwise_corr() -> None:
    rng = np.random.default_rng(2)
    r = rng.normal(size=(80, 4))
    r[rng.random(r.shape) < 0.2] = np.nan
    np.testing.assert_allclose(cross_corr(r, r), pairwise_corr(r), equal_nan=True)
    x, y = r[:, :2], r[:, 2:]
    ref = pd.concat([pd.DataFrame(x), pd.DataFrame(y, columns=[2, 3])], axis=1).corr(min_periods=20).to_numpy()
    np.testing.assert_allclose(cross_corr(x, y), ref[:2, 2:], atol=1e-10, equal_nan=True)


def test_cross_corr_mixes_complete_and_gappy_columns_like_pandas() -> None:
    # complete columns take the one-product path, gappy ones the masked path: both agree with
    # pandas, a constant complete column and a too-short overlap give NaN
    rng = np.random.default_rng(3)
    x = rng.normal(size=(120, 6))
    x[:, 1] += x[:, 0]
    x[:, 2] = 0.25  # constant, complete
    x[rng.random(120) < 0.3, 3] = np.nan  # gappy
    x[:110, 4] = np.nan  # overlap of 10 rows < 20
    y = np.roll(x, 1, axis=0)
    y[rng.random(120) < 0.2, 0] = np.nan
    ref = pd.concat([pd.DataFrame(x), pd.DataFrame(y, columns=range(6, 12))], axis=1).corr(min_periods=20).to_numpy()
    ours = cross_corr(x, y)
    np.testing.assert_allclose(ours, ref[:6, 6:], atol=1e-10, equal_nan=True)
    assert np.isnan(ours[2]).all() and np.isnan(ours[4]).all() and np.isfinite(ours[0, [0, 1, 3, 5]]).all()
    complete = np.nan_to_num(x[:, [0, 1, 5]])
    np.testing.assert_allclose(cross_corr(complete, complete), np.corrcoef(complete.T), atol=1e-12)


def test_leadlag_short_history_gives_no_edges() -> None:
    graph = build_graph(_leadlag_dense(), np.arange(10, 20), GraphConfig(kind="leadlag"))
    assert graph.edge_index.shape == (2, 0) and graph.edge_weight.shape == (0,)
