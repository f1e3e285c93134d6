"""``compute_features``: a Panel (or DensePanel) -> a :class:`FeatureFrame`.

Runs every requested registered feature on the dense ``[D, N]`` float64 arrays (one
vectorised computation per feature and block of :data:`TICKER_BLOCK` tickers; the only Python
loops are over the registry and the blocks), casts to
float32 ``[D, N, F]`` and builds the validity mask. Features whose columns the panel lacks
are skipped, recorded in ``FeatureFrame.skipped`` with the reason, and logged.
"""

from __future__ import annotations

import difflib
import logging
import time
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from finmt_core.data.containers import FEATURE_GROUPS, FeatureFrame
from finmt_core.data.dense import DensePanel, to_dense
from finmt_core.data.features.inputs import FeatureInputs
from finmt_core.data.features.registry import FeatureFn, FeatureSpec, list_features
from finmt_core.errors import ConfigError, DataError

logger = logging.getLogger(__name__)

EXTRA_PREFIX = "extra_"
#: Tickers per block for the features computed from a ticker's own columns.
TICKER_BLOCK = 256
#: Tickers per block written into the ``[D, N, F]`` output: a block's ``[F, nb, D]`` staging
#: array (~8 MB at 51 features x 2,520 days) is reused by every block, so the only large
#: fresh allocation is the output itself. 16 measured fastest of 4 / 16 / 64.
WRITE_BLOCK = 16

#: ``allocate(shape, dtype) -> array`` for the ``[D, N, F]`` output (default ``np.empty``; prepare
#: passes an on-disk allocator for panels larger than memory, :mod:`finmt_core.data.disk_arrays`).
Allocator = Callable[[tuple[int, ...], np.dtype], np.ndarray]
#: ``release(values, t0, t1)``: the writer is done with tickers ``t0:t1`` (an on-disk output
#: drops their pages from memory; default: nothing).
Releaser = Callable[[np.ndarray, int, int], None]


def _any_finite(a: np.ndarray) -> bool:
    """``np.isfinite(a).any()``, from a slice of the first rows when one is finite there
    (the usual case: no full pass over the column)."""
    head = a[: max(1, min(len(a), 64))]
    return bool(np.isfinite(head).any()) or bool(np.isfinite(a).any())


def _as_dense(panel_or_dense: pd.DataFrame | DensePanel) -> DensePanel:
    """Accept a Panel (MultiIndex (date, ticker) DataFrame) or a DensePanel; check the basics."""
    if isinstance(panel_or_dense, DensePanel):
        dense = panel_or_dense
    elif isinstance(panel_or_dense, pd.DataFrame):
        names = list(panel_or_dense.index.names)
        if names != ["date", "ticker"] or "close" not in panel_or_dense.columns:
            raise DataError(
                "compute_features expects a Panel: a DataFrame indexed by (date, ticker) with a "
                f"'close' column; got index levels {names} and columns {list(panel_or_dense.columns)}. "
                "Load the data with finmt_core.data.panel.load_panel(...) first."
            )
        dense = to_dense(panel_or_dense)
    else:
        raise DataError(
            f"compute_features expects a Panel DataFrame or a DensePanel, got {type(panel_or_dense).__name__}"
        )
    if "close" not in dense.columns:
        raise DataError("the panel has no 'close' column; close prices are required for features")
    close = dense.close
    if close.size == 0 or not _any_finite(close):
        raise DataError("the panel has no finite close prices; check the 'close' column of the input")
    bad = np.less_equal(close, 0.0)  # a finite non-positive price (-inf is not one)
    if bad.any() and (bad := bad & np.isfinite(close)).any():
        d, n = np.argwhere(bad)[0]
        raise DataError(
            f"close prices must be > 0; found {close[d, n]!r} for ticker {dense.tickers[n]!r} on "
            f"{dense.dates[d].date()} ({int(bad.sum())} such values). Remove or correct those rows."
        )
    return dense


def _missing_reason(spec: FeatureSpec, dense: DensePanel, has_data: dict[str, bool]) -> str | None:
    """Why ``spec`` cannot be computed on ``dense`` (None when it can).

    ``has_data``: column -> it has at least one finite value (computed once per column).
    """
    absent: list[str] = []
    empty: list[str] = []
    for col in sorted(spec.needs):
        if col == "sector":
            if dense.sector is None:
                absent.append(col)
        elif col not in dense.columns:
            absent.append(col)
        elif not has_data[col]:
            empty.append(col)
    if absent:
        return f"needs {', '.join(absent)}; the panel has no such column"
    if empty:
        return f"needs {', '.join(empty)}; the column is entirely missing"
    return None


def _extra_specs(dense: DensePanel) -> list[FeatureSpec]:
    """``extra_<name>`` context features: the panel's extra numeric columns, as they are.

    A column with one value per date across all tickers (an index level, a rate) is marked
    market-wide (only decidable with two or more tickers).
    """
    specs = []
    for col in dense.extra:
        a = dense.columns[col]
        ok = np.isfinite(a)
        hi = np.where(ok, a, -np.inf).max(axis=1)
        lo = np.where(ok, a, np.inf).min(axis=1)
        rows = ok.any(axis=1)
        # With one ticker every column is trivially "the same for all tickers": not evidence.
        market = bool(a.shape[1] > 1 and rows.any() and np.all(hi[rows] == lo[rows]))
        specs.append(FeatureSpec(
            f"{EXTRA_PREFIX}{col}", "context", frozenset({"close", col}),
            f"extra panel column {col!r}, as given", _column_getter(col), market=market))
    return specs


def _column_getter(col: str) -> FeatureFn:
    def get(x: FeatureInputs) -> np.ndarray:
        return x.col(col)

    return get


def _ticker_block(dense: DensePanel, b0: int, b1: int) -> DensePanel:
    """Tickers ``b0:b1`` of ``dense`` (column views; FeatureInputs makes its own copies)."""
    return DensePanel(dates=dense.dates, tickers=list(dense.tickers[b0:b1]),
                      columns={c: a[:, b0:b1] for c, a in dense.columns.items()},
                      sector=list(dense.sector[b0:b1]) if dense.sector is not None else None,
                      extra=list(dense.extra))


def _fill(dense: DensePanel, usable: list[FeatureSpec], n_dates: int, n_tickers: int,
          append: Sequence[np.ndarray] = (), allocate: Allocator | None = None,
          release: Releaser | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(values [D, N, F + len(append)] float32, mask [D, N] bool)`` of the ``usable`` features,
    then the ``append`` planes (``[D, N]`` float32 each, computed elsewhere) as the last columns.

    Features that need every ticker (market, cross-sectional) run first on the whole grid;
    the others run per block of :data:`TICKER_BLOCK` tickers (small intermediates). Each
    block of :data:`WRITE_BLOCK` tickers is staged ticker-major in one reused ``[F, nb, D]``
    float32 array: the features are column-major ``[D, n]`` float64 (each ticker's history
    contiguous), so staging is a contiguous cast per feature, the mask is taken there, and
    one transpose per block writes the output slice; rows of absent closes are then blanked
    in the output (``F`` contiguous values each). Building the whole ``[F, D, N]`` array and
    transposing it at the end touched twice the memory; fresh pages cost up to ~1.5 s/GB on
    this VM under load.
    """
    n_own = len(usable)
    n_feat = n_own + len(append)
    present = np.isfinite(dense.close)
    blocked = n_tickers > TICKER_BLOCK
    whole: dict[int, np.ndarray] = {}  # feature index -> [D, N] (or market [D]) float32 whole-grid features
    shared: FeatureInputs | None = None  # the whole grid's inputs: per-ticker arrays seed the blocks
    if blocked:
        inputs = shared = FeatureInputs(dense)
        for j, spec in enumerate(usable):
            if spec.market or spec.cross_sectional:
                arr = np.asarray(spec.fn(inputs), dtype=np.float64)
                if arr.ndim == 1:  # market-wide: one column, broadcast when staged
                    whole[j] = arr.astype(np.float32)
                else:  # float32 in the layout it came in (a cast, no transpose)
                    whole[j] = np.asarray(arr, dtype=np.float32, order="K")
        shared.keep_per_ticker()  # what the ticker blocks reuse (close, logs, returns, vols)
        del inputs
    shape = (n_dates, n_tickers, n_feat)
    values = np.empty(shape, dtype=np.float32) if allocate is None else allocate(shape, np.dtype(np.float32))
    mask = np.empty((n_dates, n_tickers), dtype=bool)
    stage = np.empty((n_feat, min(WRITE_BLOCK, n_tickers), n_dates), dtype=np.float32)
    for c0 in range(0, n_tickers, TICKER_BLOCK if blocked else n_tickers):
        c1 = min(c0 + TICKER_BLOCK, n_tickers) if blocked else n_tickers
        chunk = (FeatureInputs(_ticker_block(dense, c0, c1), seed=shared.ticker_slices(c0, c1))
                 if shared is not None else FeatureInputs(dense))
        own = {j: spec.fn(chunk) for j, spec in enumerate(usable) if j not in whole}
        own.update({n_own + k: plane[:, c0:c1] for k, plane in enumerate(append)})
        for b0 in range(c0, c1, WRITE_BLOCK):
            b1 = min(b0 + WRITE_BLOCK, c1)
            part = stage[:, : b1 - b0]  # [F, nb, D]
            mask_t = present[:, b0:b1].T.copy()  # [nb, D]
            for j in range(n_feat):
                if j in whole:
                    w = whole[j]
                    part[j] = w[None, :] if w.ndim == 1 else w[:, b0:b1].T
                else:
                    arr = own[j]
                    part[j] = arr[None, :] if arr.ndim == 1 else arr[:, b0 - c0 : b1 - c0].T
                mask_t &= np.isfinite(part[j])
            out = values[:, b0:b1]
            out[...] = part.transpose(2, 1, 0)
            absent = ~present[:, b0:b1]
            if absent.any():  # no feature value is carried into a gap day
                out[absent] = np.nan
            mask[:, b0:b1] = mask_t.T
        if release is not None:
            release(values, c0, c1)
        del own, chunk
    return values, mask


def _select(specs: list[FeatureSpec], features: list[str] | None) -> list[FeatureSpec]:
    """The specs named in ``features`` (all when None), in canonical (group) order."""
    if features is None:
        return specs
    known = {s.name for s in specs}
    unknown = [f for f in features if f not in known]
    if unknown:
        hints = []
        for name in unknown:
            close = difflib.get_close_matches(name, sorted(known), n=1)
            hints.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise ConfigError(
            f"unknown feature(s) in data.features: {', '.join(hints)}. "
            f"Available: {', '.join(s.name for s in specs)}"
        )
    wanted = set(features)
    return [s for s in specs if s.name in wanted]


def plan_features(dense: DensePanel, features: list[str] | None = None) -> tuple[list[FeatureSpec], dict[str, str]]:
    """``(usable specs in column order, skipped name -> reason)``: what :func:`compute_features`
    computes on ``dense`` for ``features`` (None = all), without computing anything.

    Raises:
        ConfigError: ``features`` names an unknown feature.
    """
    specs = _select(list_features() + _extra_specs(dense), features)
    skipped: dict[str, str] = {}
    usable: list[FeatureSpec] = []
    has_data = {c: _any_finite(a) for c, a in dense.columns.items()}
    for spec in specs:
        reason = _missing_reason(spec, dense, has_data)
        if reason is None:
            usable.append(spec)
        else:
            skipped[spec.name] = reason
    return usable, skipped


def compute_features(panel_or_dense: pd.DataFrame | DensePanel,
                     features: list[str] | None = None, *,
                     append: dict[str, np.ndarray] | None = None,
                     allocate: Allocator | None = None,
                     release: Releaser | None = None) -> FeatureFrame:
    """Compute the registered features of a panel on its dense (date x ticker) grid.

    Args:
        panel_or_dense: a Panel (``load_panel`` output) or the DensePanel made from it.
        features: feature names to compute (``list_features()`` names or ``extra_<col>``);
            None = every feature the panel's columns support. Output columns follow the
            canonical group order (trend, volume, volatility, context), not the list order.
        append: name -> ``[D, N]`` float32 plane computed elsewhere (the fitted features of
            ``prepare``), written as the last columns (group ``context``, NaN where the close
            is missing, counted in the mask) in the same pass: no second ``[D, N, F]`` copy.
        allocate: ``(shape, dtype) -> array`` for ``values`` (default ``np.empty``), e.g. an
            on-disk array (:func:`finmt_core.data.disk_arrays.disk_array`).
        release: called as ``release(values, t0, t1)`` after each block of tickers is written.

    Returns:
        FeatureFrame with ``values`` ``[D, N, F]`` float32 (raw, unscaled; NaN where unknown,
        including every row whose close is missing) and ``mask`` ``[D, N]`` = close present
        and all F features finite.

    Raises:
        DataError: the input is not a Panel/DensePanel, has no usable close, non-positive
            prices, or none of the requested features can be computed.
        ConfigError: ``features`` names an unknown feature.
    """
    t0 = time.perf_counter()
    dense = _as_dense(panel_or_dense)
    usable, skipped = plan_features(dense, features)
    if skipped:
        logger.info("skipped %d feature(s): %s", len(skipped),
                    "; ".join(f"{k} ({v})" for k, v in skipped.items()))
    if not usable:
        raise DataError(
            f"none of the requested features can be computed on this panel: {skipped}. "
            "Request close-only features (e.g. ret_1, vol_20) or supply the missing columns."
        )

    n_dates, n_tickers = dense.close.shape
    append = append or {}
    for name, plane in append.items():
        if plane.shape != (n_dates, n_tickers):
            raise DataError(f"compute_features: appended feature {name!r} has shape {plane.shape}, "
                            f"expected the panel's grid {(n_dates, n_tickers)}")
    values, mask = _fill(dense, usable, n_dates, n_tickers, list(append.values()), allocate, release)

    if not mask.any():
        logger.warning("no (date, ticker) row has all %d features: %d dates may be shorter than the "
                       "features' warm-up (up to 60 days) or a feature column is mostly missing",
                       len(usable), n_dates)
    names = [s.name for s in usable] + list(append)
    groups = {g: [s.name for s in usable if s.group == g] for g in FEATURE_GROUPS}
    groups.setdefault("context", []).extend(append)
    market = [s.name for s in usable if s.market]
    logger.debug("computed %d features on %d dates x %d tickers in %.2fs (%.1f%% rows valid)",
                 len(names), n_dates, n_tickers, time.perf_counter() - t0, 100.0 * mask.mean())
    return FeatureFrame(values=values, mask=mask, dates=dense.dates, tickers=list(dense.tickers),
                        names=names, groups=groups, market=market, skipped=skipped)
