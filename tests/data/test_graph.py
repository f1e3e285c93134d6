"""Stock graphs: train-only fit, symmetric, no self-loops/duplicates, weights in (0, 1]."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from finmt_core.config import GraphConfig
from finmt_core.data.containers import StockGraph
from finmt_core.data.dense import DensePanel
from finmt_core.data.graph import build_graph, pairwise_corr, train_log_returns


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


def _check(graph: StockGraph, n: int) -> None:
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
        assert (b, a) in pairs and weights[(b, a)] == pytest.approx(wt), "not symmetric"
    assert np.all(w > 0) and np.all(w <= 1)


TRAIN = np.arange(10, 120)


@pytest.mark.parametrize("kind", ["correlation", "sector", "hybrid"])
@pytest.mark.parametrize(("top_k", "threshold"), [(1, None), (3, None), (50, None), (5, 0.3)])
def test_graph_properties(kind, top_k, threshold) -> None:
    dense = _dense()
    graph = build_graph(dense, TRAIN, GraphConfig(kind=kind, top_k=top_k, threshold=threshold))
    _check(graph, 8)
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
    for kind in ("correlation", "hybrid"):
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
