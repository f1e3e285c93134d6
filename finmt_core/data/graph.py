"""Stock graphs for graph models, fitted on the train dates only.

Four kinds (``GraphConfig.kind``):

- ``correlation``: Pearson correlation of daily log returns over the train dates
  (pairwise-complete: each pair uses the days both stocks traded), an edge from each node to
  its ``top_k`` most correlated peers by ``|corr|`` (or every pair with ``|corr| >= threshold``),
  symmetrised, weight ``|corr|``.
- ``sector``: every pair in the same sector, weight 1 (needs a ``sector`` column; without one
  the correlation graph is used and a note is logged).
- ``hybrid``: ``sector_weight * sector + (1 - sector_weight) * correlation`` on the union of
  both edge sets.
- ``leadlag``: DIRECTED edges ``j -> i`` (source j = leader, target i = follower, PyG's
  ``[source, target]`` order, so messages flow leader -> follower) from the lagged
  cross-correlation ``corr(r_j[t-1], r_i[t])`` of daily log returns over the train dates
  (:func:`leadlag_corr`). Both sides use the return *relative to the cross-sectional mean of
  its date*, so the common market move (and its own autocorrelation) does not make every pair
  a "lead". Each follower keeps its ``top_k`` leaders by ``|corr|`` (or every leader with
  ``|corr| >= threshold``; lagged correlations are much smaller than same-day ones, so a
  threshold here is typically 0.05-0.2). Not symmetrised. Weight ``|corr|``; the sign is not
  stored in :class:`StockGraph` (``np.sign(leadlag_corr(...)[src, dst])`` recovers it).

Output: no self-loops (GCNConv adds its own), no duplicates, weights in (0, 1], sorted by
target then source (the CSR row order the tgcn model relies on). ``correlation`` / ``sector``
/ ``hybrid`` give both directions of every undirected edge; ``leadlag`` is directed. Isolated
nodes are allowed.
"""

from __future__ import annotations

import logging
import warnings

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


def _train_returns_by_date(close: np.ndarray, train_idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(returns [R, N], dates [R])``: daily log returns whose two closes are both train
    dates, with the date index of each return (its second close). NaN where a close is missing."""
    idx = np.unique(np.asarray(train_idx, dtype=np.int64))
    if idx.size < 2:
        return np.empty((0, close.shape[1]), dtype=np.float64), np.empty(0, dtype=np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        logc = np.log(close[idx])
    consecutive = np.diff(idx) == 1
    return (logc[1:] - logc[:-1])[consecutive], idx[1:][consecutive]


def train_log_returns(close: np.ndarray, train_idx: np.ndarray) -> np.ndarray:
    """Daily log returns ``[R, N]`` that use train closes only.

    A return at date ``d`` needs closes ``d - 1`` and ``d``; it is kept only when both dates
    are train dates, so nothing outside ``train_idx`` enters the graph. NaN where a close is
    missing.
    """
    return _train_returns_by_date(close, train_idx)[0]


def cross_corr(x: np.ndarray, y: np.ndarray, min_overlap: int = MIN_OVERLAP) -> np.ndarray:
    """Pairwise-complete Pearson correlation ``[Nx, Ny]`` between the columns of ``x`` ``[R, Nx]``
    and those of ``y`` ``[R, Ny]`` (same rows): ``out[j, i] = corr(x[:, j], y[:, i])``.

    Each pair uses only the rows where both columns are finite (as ``DataFrame.corr``), done
    with masked matrix products instead of a loop over pairs. NaN where the overlap is shorter
    than ``min_overlap`` or a series is constant over it.

    Columns without a missing row take one product: for a pair of complete columns the
    overlap is every row, so the masked sums reduce to ``xc.T @ yc`` and the column sums of
    squares (six ``[R, N]`` products become one when nothing is missing). Pairs with a gappy
    column go through the masked products, computed only for those rows / columns of the result.
    """
    fx, fy = np.isfinite(x), np.isfinite(y)
    cx, cy = fx.all(axis=0), fy.all(axis=0)  # complete columns
    if not (cx.any() and cy.any()) or x.shape[0] < max(min_overlap, 2):
        return _masked_corr(x, y, min_overlap)
    xc = x - x.mean(axis=0)
    yc = y - y.mean(axis=0)
    out = np.full((x.shape[1], y.shape[1]), np.nan)
    sxx = np.einsum("ij,ij->j", xc, xc)
    syy = np.einsum("ij,ij->j", yc, yc)
    ix, iy = np.flatnonzero(cx), np.flatnonzero(cy)
    with np.errstate(divide="ignore", invalid="ignore"):
        sub = (xc[:, ix].T @ yc[:, iy]) / np.sqrt(np.outer(sxx[ix], syy[iy]))
        # a constant column has a sum of squares of 0 up to rounding (as in the masked path)
        flat = ~(sxx[ix] > 1e-10 * np.abs(x[:, ix]).max(axis=0, initial=0.0) ** 2 * x.shape[0])
        flat_y = ~(syy[iy] > 1e-10 * np.abs(y[:, iy]).max(axis=0, initial=0.0) ** 2 * y.shape[0])
    sub[flat, :] = np.nan
    sub[:, flat_y] = np.nan
    out[np.ix_(ix, iy)] = np.clip(sub, -1.0, 1.0)
    gx, gy = np.flatnonzero(~cx), np.flatnonzero(~cy)
    if gx.size:  # rows of the result whose x column has gaps: against every y column
        out[gx, :] = _masked_corr(x[:, gx], y, min_overlap)
    if gy.size:  # columns whose y column has gaps: against the complete x columns
        out[np.ix_(ix, gy)] = _masked_corr(x[:, ix], y[:, gy], min_overlap)
    return out


def _masked_corr(x: np.ndarray, y: np.ndarray, min_overlap: int) -> np.ndarray:
    """:func:`cross_corr` by masked products for every pair (any pattern of missing rows)."""
    mx = np.isfinite(x).astype(np.float64)
    my = np.isfinite(y).astype(np.float64)
    # Centre each column first: pairwise means stay close to 0, so the sums below do not cancel.
    xc = np.where(mx > 0, x - _col_mean(x, mx), 0.0)
    yc = np.where(my > 0, y - _col_mean(y, my), 0.0)
    n = mx.T @ my  # overlap counts
    sx = xc.T @ my  # sx[j, i] = sum of x_j over the rows where both x_j and y_i are present
    sy = mx.T @ yc
    sxx = (xc * xc).T @ my
    syy = mx.T @ (yc * yc)
    sxy = xc.T @ yc
    with np.errstate(divide="ignore", invalid="ignore"):
        cov = n * sxy - sx * sy
        var_x = n * sxx - sx * sx
        var_y = n * syy - sy * sy
        corr = cov / np.sqrt(var_x * var_y)
        # A constant series over the overlap has variance 0 up to rounding: no correlation there.
        flat = ~(var_x > 1e-10 * n * sxx) | ~(var_y > 1e-10 * n * syy)
    corr[(n < max(min_overlap, 2)) | flat] = np.nan
    return np.clip(corr, -1.0, 1.0)


def _col_mean(a: np.ndarray, m: np.ndarray) -> np.ndarray:
    counts = m.sum(axis=0)
    return np.divide(np.where(m > 0, a, 0.0).sum(axis=0), counts, out=np.zeros(a.shape[1]), where=counts > 0)


def pairwise_corr(returns: np.ndarray, min_overlap: int = MIN_OVERLAP) -> np.ndarray:
    """Pairwise-complete Pearson correlation ``[N, N]`` of the columns of ``returns`` ``[R, N]``
    (:func:`cross_corr` of ``returns`` with itself)."""
    return cross_corr(returns, returns, min_overlap)


def leadlag_corr(close: np.ndarray, train_idx: np.ndarray, min_overlap: int = MIN_OVERLAP) -> np.ndarray:
    """Signed lagged correlation ``[N, N]``: ``out[j, i] = corr(r_j[t-1], r_i[t])`` (j leads i).

    ``r`` is the daily log return minus the cross-sectional mean return of its date (over the
    stocks with a return that day), so a market-wide move is not a lead of everyone on
    everyone. Only train closes are read: a pair ``(t-1, t)`` needs the closes of ``t-2``,
    ``t-1`` and ``t``, all train dates. Pairwise-complete as :func:`cross_corr`; NaN where
    the overlap is shorter than ``min_overlap``.

    Args:
        close: closes ``[D, N]`` (NaN = missing).
        train_idx: date indices of the train segment.
    """
    returns, dates = _train_returns_by_date(close, train_idx)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # "mean of empty slice": a date without returns
        rel = returns - np.nanmean(returns, axis=1, keepdims=True) if returns.size else returns
    pair = np.flatnonzero(np.diff(dates) == 1)  # row k = t - 1, row k + 1 = t
    return cross_corr(rel[pair], rel[pair + 1], min_overlap)


def _strongest(corr: np.ndarray, top_k: int, threshold: float | None, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """``(|corr| with NaN and the diagonal set to 0, keep mask)``: per row (``axis=1``) or per
    column (``axis=0``) the ``top_k`` largest ``|corr|``, or every entry ``>= threshold``."""
    a = np.abs(corr)
    a = np.where(np.isfinite(a), a, 0.0)
    np.fill_diagonal(a, 0.0)
    n = a.shape[0]
    if threshold is not None:
        return a, a >= threshold
    k = min(top_k, n - 1)
    keep = np.zeros_like(a, dtype=bool)
    if k > 0:  # zeros (NaN / no overlap) are dropped by the callers' a > 0
        if axis == 1:
            keep[np.arange(n)[:, None], np.argpartition(-a, k - 1, axis=1)[:, :k]] = True
        else:
            keep[np.argpartition(-a, k - 1, axis=0)[:k], np.arange(n)[None, :]] = True
    return a, keep


def leadlag_adjacency(corr: np.ndarray, top_k: int, threshold: float | None) -> np.ndarray:
    """Directed ``[N, N]`` adjacency ``adj[leader, follower] = |corr|`` (0 = no edge, zero
    diagonal): per follower (column) its ``top_k`` leaders by ``|corr|``, or every leader with
    ``|corr| >= threshold``."""
    a, keep = _strongest(corr, top_k, threshold, axis=0)
    adj = np.where(keep & (a > 0), a, 0.0)
    np.fill_diagonal(adj, 0.0)
    return adj


def correlation_adjacency(corr: np.ndarray, top_k: int, threshold: float | None) -> np.ndarray:
    """Symmetric ``[N, N]`` adjacency with ``|corr|`` weights (0 = no edge, zero diagonal)."""
    a, keep = _strongest(corr, top_k, threshold, axis=1)
    if threshold is None:
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
    """Edges ``src -> dst`` where ``adj[src, dst] > 0`` (symmetric or directed ``adj``)."""
    adj = np.clip(adj, 0.0, 1.0)
    # sorted by target, then source (unique): the row order of a CSR adjacency whose rows are
    # targets, so models build it without sorting
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
        cfg: kind (correlation | sector | hybrid | leadlag), ``top_k`` or ``threshold``,
            ``sector_weight`` (hybrid only).

    Returns:
        :class:`StockGraph` with ``edge_index`` ``[2, E]`` int64 (source, target; sorted by
        target then source, no self-loops, no duplicates; both directions of each edge except
        for ``leadlag``, which is directed leader -> follower) and ``edge_weight`` ``[E]``
        float32 in (0, 1].
    """
    train_idx = np.asarray(train_idx, dtype=np.int64)
    n = len(dense.tickers)
    if train_idx.size == 0:
        raise DataError("cannot build the stock graph: the train segment has no dates; use more history")
    if train_idx.min() < 0 or train_idx.max() >= len(dense.dates):
        raise DataError(f"train_idx holds date indices outside 0..{len(dense.dates) - 1}")
    fit_dates = (dense.dates[int(train_idx.min())], dense.dates[int(train_idx.max())])
    kind = cfg.kind
    sector_adj = sector_adjacency(dense.sector) if dense.sector is not None and kind in ("sector", "hybrid") else None
    if kind in ("sector", "hybrid") and sector_adj is None:
        log.info("graph.kind=%s needs a sector column; the data has none, using the correlation graph", kind)
        kind = "correlation"

    corr_adj = None
    if kind in ("correlation", "hybrid"):
        returns = train_log_returns(dense.close, train_idx)
        corr_adj = correlation_adjacency(pairwise_corr(returns), cfg.top_k, cfg.threshold)

    if kind == "leadlag":
        adj = leadlag_adjacency(leadlag_corr(dense.close, train_idx), cfg.top_k, cfg.threshold)
    elif kind == "correlation":
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
    isolated = n - np.unique(graph.edge_index).size
    log.debug("graph %s: %d nodes, %d directed edges, %d isolated", kind, n, graph.edge_index.shape[1], isolated)
    return graph
