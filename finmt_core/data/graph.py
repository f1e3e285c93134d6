"""Stock graphs for graph models, fitted on the train dates only.

Three kinds (``GraphConfig.kind``):

- ``correlation``: Pearson correlation of daily log returns over the train dates
  (pairwise-complete: each pair uses the days both stocks traded), an edge from each node to
  its ``top_k`` most correlated peers by ``|corr|`` (or every pair with ``|corr| >= threshold``),
  symmetrised, weight ``|corr|``.
- ``sector``: every pair in the same sector, weight 1 (needs a ``sector`` column; without one
  the correlation graph is used and a note is logged).
- ``hybrid``: ``sector_weight * sector + (1 - sector_weight) * correlation`` on the union of
  both edge sets.

Output: both directions of every undirected edge, no self-loops (GCNConv adds its own), no
duplicates, weights in (0, 1]. Isolated nodes are allowed.
"""

from __future__ import annotations

import logging

import numpy as np

from finmt_core.config import GraphConfig
from finmt_core.data.containers import StockGraph
from finmt_core.data.dense import DensePanel
from finmt_core.errors import DataError

log = logging.getLogger(__name__)

#: Fewest overlapping return days for a pair's correlation to count.
MIN_OVERLAP = 20
#: Sector labels that mean "unknown" (no sector edges for those tickers).
_NO_SECTOR = {"", "unknown", "nan", "none", "null", "n/a", "na"}


def train_log_returns(close: np.ndarray, train_idx: np.ndarray) -> np.ndarray:
    """Daily log returns ``[R, N]`` that use train closes only.

    A return at date ``d`` needs closes ``d - 1`` and ``d``; it is kept only when both dates
    are train dates, so nothing outside ``train_idx`` enters the graph. NaN where a close is
    missing.
    """
    idx = np.unique(np.asarray(train_idx, dtype=np.int64))
    if idx.size < 2:
        return np.empty((0, close.shape[1]), dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        logc = np.log(close[idx])
    consecutive = np.diff(idx) == 1
    return (logc[1:] - logc[:-1])[consecutive]


def pairwise_corr(returns: np.ndarray, min_overlap: int = MIN_OVERLAP) -> np.ndarray:
    """Pairwise-complete Pearson correlation ``[N, N]`` of the columns of ``returns`` ``[R, N]``.

    Each pair uses only the rows where both columns are finite (as ``DataFrame.corr``), done
    with masked matrix products instead of a loop over pairs. NaN where the overlap is shorter
    than ``min_overlap`` or a series is constant over it.
    """
    m = np.isfinite(returns).astype(np.float64)
    counts = m.sum(axis=0)
    # Centre each column first: pairwise means stay close to 0, so the sums below do not cancel.
    col_mean = np.divide(np.where(m > 0, returns, 0.0).sum(axis=0), counts, out=np.zeros(m.shape[1]),
                         where=counts > 0)
    x = np.where(m > 0, returns - col_mean, 0.0)
    n = m.T @ m  # overlap counts
    sx = x.T @ m  # sx[i, j] = sum of x_i over the rows where both i and j are present
    sxx = (x * x).T @ m
    sxy = x.T @ x
    with np.errstate(divide="ignore", invalid="ignore"):
        cov = n * sxy - sx * sx.T
        var_i = n * sxx - sx * sx
        var_j = var_i.T
        corr = cov / np.sqrt(var_i * var_j)
        # A constant series over the overlap has variance 0 up to rounding: no correlation there.
        flat_i = ~(var_i > 1e-10 * n * sxx)
    bad = (n < max(min_overlap, 2)) | flat_i | flat_i.T
    corr[bad] = np.nan
    return np.clip(corr, -1.0, 1.0)


def correlation_adjacency(corr: np.ndarray, top_k: int, threshold: float | None) -> np.ndarray:
    """Symmetric ``[N, N]`` adjacency with ``|corr|`` weights (0 = no edge, zero diagonal)."""
    a = np.abs(corr)
    a = np.where(np.isfinite(a), a, 0.0)
    np.fill_diagonal(a, 0.0)
    n = a.shape[0]
    if threshold is not None:
        keep = a >= threshold
    else:
        k = min(top_k, n - 1)
        keep = np.zeros_like(a, dtype=bool)
        if k > 0:
            # k largest |corr| per row; zeros (NaN / no overlap) are dropped below.
            nbr = np.argpartition(-a, k - 1, axis=1)[:, :k]
            keep[np.arange(n)[:, None], nbr] = True
        keep |= keep.T  # an edge chosen by either end
    adj = np.where(keep & (a > 0), a, 0.0)
    np.fill_diagonal(adj, 0.0)
    return adj


def sector_adjacency(sector: list[str]) -> np.ndarray | None:
    """``[N, N]`` 0/1 adjacency: same (known) sector, no self-loops; None when no sector is known."""
    labels = np.array([str(s).strip() for s in sector], dtype=object)
    known = np.array([s.lower() not in _NO_SECTOR for s in labels])
    if not known.any():
        return None
    _, codes = np.unique(labels, return_inverse=True)
    same = (codes[:, None] == codes[None, :]) & known[:, None] & known[None, :]
    np.fill_diagonal(same, False)
    return same.astype(np.float64)


def _to_graph(adj: np.ndarray, kind: str, fit_dates: tuple | None) -> StockGraph:
    adj = np.clip(adj, 0.0, 1.0)
    # sorted by target, then source (unique; both directions since symmetric): the row order
    # of a CSR adjacency whose rows are targets, so models build it without sorting
    dst, src = np.nonzero(adj.T > 0)
    edge_index = np.stack([src, dst]).astype(np.int64)
    edge_weight = adj[src, dst].astype(np.float32)
    return StockGraph(edge_index=edge_index, edge_weight=edge_weight, n_nodes=adj.shape[0], kind=kind,
                      fit_dates=fit_dates)


def build_graph(dense: DensePanel, train_idx: np.ndarray, cfg: GraphConfig) -> StockGraph:
    """Build the stock graph from the train dates only.

    Args:
        dense: the dense panel (closes ``[D, N]``, optional per-ticker sectors).
        train_idx: date indices of the train segment; only closes at these dates are read.
        cfg: kind (correlation | sector | hybrid), ``top_k`` or ``threshold``, ``sector_weight``.

    Returns:
        :class:`StockGraph` with ``edge_index`` ``[2, E]`` int64 (both directions, sorted by
        target then source, no self-loops, no duplicates) and ``edge_weight`` ``[E]`` float32
        in (0, 1].
    """
    train_idx = np.asarray(train_idx, dtype=np.int64)
    n = len(dense.tickers)
    if train_idx.size == 0:
        raise DataError("cannot build the stock graph: the train segment has no dates; use more history")
    if train_idx.min() < 0 or train_idx.max() >= len(dense.dates):
        raise DataError(f"train_idx holds date indices outside 0..{len(dense.dates) - 1}")
    fit_dates = (dense.dates[int(train_idx.min())], dense.dates[int(train_idx.max())])
    kind = cfg.kind
    sector_adj = sector_adjacency(dense.sector) if dense.sector is not None and kind != "correlation" else None
    if kind in ("sector", "hybrid") and sector_adj is None:
        log.info("graph.kind=%s needs a sector column; the data has none, using the correlation graph", kind)
        kind = "correlation"

    corr_adj = None
    if kind in ("correlation", "hybrid"):
        returns = train_log_returns(dense.close, train_idx)
        corr_adj = correlation_adjacency(pairwise_corr(returns), cfg.top_k, cfg.threshold)

    if kind == "correlation":
        assert corr_adj is not None
        adj = corr_adj
    elif kind == "sector":
        assert sector_adj is not None
        adj = sector_adj
    else:
        assert sector_adj is not None and corr_adj is not None
        w = cfg.sector_weight
        adj = w * sector_adj + (1.0 - w) * corr_adj  # zero where neither graph has the edge
    graph = _to_graph(adj, kind, fit_dates)
    isolated = n - np.unique(graph.edge_index[0]).size
    log.debug("graph %s: %d nodes, %d directed edges, %d isolated", kind, n, graph.edge_index.shape[1], isolated)
    return graph
