"""Everything between a Panel and the torch datasets, in one call: :func:`prepare`.

``panel -> to_dense -> compute_features -> build_targets -> make_split -> build_graph (train)
-> FeatureScaler (fit on train rows) -> X [D, N, F] float32``. The result,
:class:`PreparedData`, is what datasets, baselines, evaluation and inference read; its
:class:`InputInfo` is what a model sizes itself from (and is stored in checkpoints).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from finmt_core.config import ExperimentConfig
from finmt_core.data.containers import FEATURE_GROUPS, FeatureFrame, Split, StockGraph, Targets
from finmt_core.data.dense import DensePanel, to_dense
from finmt_core.data.disk_arrays import is_disk
from finmt_core.data.feature_store import FeatureStorage
from finmt_core.data.features import FeatureScaler, compute_features
from finmt_core.data.features.compute import plan_features
from finmt_core.data.features.fitted import fitted_planes, is_fitted
from finmt_core.data.graph import build_graph
from finmt_core.data.labels import build_targets
from finmt_core.data.panel import check_history
from finmt_core.data.splits import make_split
from finmt_core.errors import ConfigError, DataError

log = logging.getLogger(__name__)

#: Feature groups that become image channels, in channel order. Stock-level context features
#: (cross-sectional ranks, relative and peer returns, extra panel columns) are extra rows of a
#: channel (:func:`image_rows`); market-wide ones (the same for every stock on a date) are not.
IMAGE_GROUPS: tuple[str, ...] = ("trend", "volume", "volatility")
#: Stock-level context features filed under the volatility channel (risk measures); every other
#: stock-level context feature is a row of the trend channel (the first channel if it is absent).
CONTEXT_IMAGE_CHANNEL: dict[str, str] = {"cs_rank_vol_20": "volatility", "corr_mkt_60": "volatility",
                                         "beta_60": "volatility"}
#: Image resizing of new runs (:mod:`finmt_core.data.images`); checkpoints without the field
#: were trained on "bilinear" images and keep them.
IMAGE_RESIZE = "nearest"


@dataclass
class InputInfo:
    """What a model needs to size itself; stored in checkpoints as plain python types.

    Attributes:
        n_features: F, feature columns of ``X``.
        window: T, trading days per input window.
        feature_names: the F names, in column order.
        groups: group -> feature column indices (non-empty groups only).
        image_groups: channel order of feature images (non-empty of trend, volume, volatility).
        image_size: H = W of feature images.
        n_nodes: N, tickers (graph nodes).
        context_idx: columns of market-wide features (dual-tower context tower).
        stock_idx: columns of per-stock features (dual-tower stock tower).
        tickers: the N ticker names in ``ticker_idx`` order (the vocabulary of a model's
            ticker embedding); None in checkpoints written before it was stored.
        image_rows: channel -> feature columns of its image rows (:func:`image_rows`); None in
            checkpoints written before it was stored: then each channel's rows are its group.
        image_resize: how images are resized to ``image_size`` (``nearest`` | ``bilinear``,
            :mod:`finmt_core.data.images`); ``bilinear`` in checkpoints written before it was stored.
    """

    n_features: int
    window: int
    feature_names: list[str]
    groups: dict[str, list[int]]
    image_groups: list[str]
    image_size: int
    n_nodes: int
    context_idx: list[int]
    stock_idx: list[int]
    tickers: list[str] | None = None
    image_rows: dict[str, list[int]] | None = None
    image_resize: str = "bilinear"

    @property
    def context_dim(self) -> int:
        """Width of the ``tower`` batch's ``context``: market features at t + their 5-day mean."""
        return 2 * len(self.context_idx)

    @property
    def stock_dim(self) -> int:
        """Width of the ``tower`` batch's ``stock``."""
        return len(self.stock_idx)

    @property
    def image_channels(self) -> int:
        return len(self.image_groups)

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_features": int(self.n_features),
            "window": int(self.window),
            "feature_names": [str(n) for n in self.feature_names],
            "groups": {str(g): [int(i) for i in idx] for g, idx in self.groups.items()},
            "image_groups": [str(g) for g in self.image_groups],
            "image_size": int(self.image_size),
            "n_nodes": int(self.n_nodes),
            "context_idx": [int(i) for i in self.context_idx],
            "stock_idx": [int(i) for i in self.stock_idx],
            "tickers": None if self.tickers is None else [str(t) for t in self.tickers],
            "image_rows": None if self.image_rows is None
            else {str(g): [int(i) for i in idx] for g, idx in self.image_rows.items()},
            "image_resize": str(self.image_resize),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> InputInfo:
        try:
            tickers, rows = d.get("tickers"), d.get("image_rows")
            info = cls(
                n_features=int(d["n_features"]),
                window=int(d["window"]),
                feature_names=[str(n) for n in d["feature_names"]],
                groups={str(g): [int(i) for i in idx] for g, idx in d["groups"].items()},
                image_groups=[str(g) for g in d["image_groups"]],
                image_size=int(d["image_size"]),
                n_nodes=int(d["n_nodes"]),
                context_idx=[int(i) for i in d["context_idx"]],
                stock_idx=[int(i) for i in d["stock_idx"]],
                tickers=None if tickers is None else [str(t) for t in tickers],
                image_rows=None if rows is None else {str(g): [int(i) for i in idx] for g, idx in rows.items()},
                image_resize=str(d.get("image_resize", "bilinear")),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise DataError(f"input_info in the checkpoint is incomplete or malformed ({exc!r})") from None
        if info.tickers is not None and len(info.tickers) != info.n_nodes:
            raise DataError(f"input_info in the checkpoint lists {len(info.tickers)} tickers for n_nodes={info.n_nodes}")
        return info


@dataclass
class PreparedData:
    """A panel turned into scaled arrays, targets, a split and a graph.

    Attributes:
        X: ``[D, N, F]`` float32 (float16 with ``data.storage_dtype: float16``), features
            standardised with train statistics, NaN -> 0.
        The other fields are the intermediate products (see ARCHITECTURE.md).
    """

    config: ExperimentConfig
    dense: DensePanel
    frame: FeatureFrame
    targets: Targets
    split: Split
    graph: StockGraph
    scaler: FeatureScaler
    X: np.ndarray
    info: InputInfo
    #: lazily built derived arrays (usable-row masks, torch views); not copied by dataclasses.replace
    _cache: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def storage(self) -> str:
        """``"disk"`` when ``X`` is a memory-mapped scratch file (``data.storage``), else ``"memory"``."""
        return "disk" if is_disk(self.X) else "memory"

    # ---- rows -----------------------------------------------------------------------------
    @property
    def dates(self) -> pd.DatetimeIndex:
        return self.frame.dates

    @property
    def tickers(self) -> list[str]:
        return self.frame.tickers

    def has_window(self) -> np.ndarray:
        """``[D, N]`` bool: the row has features (mask) and a full input window behind it."""
        if "has_window" not in self._cache:
            ok = self.frame.mask.copy()
            ok[: self.info.window - 1] = False
            self._cache["has_window"] = ok
        return self._cache["has_window"]

    def usable(self) -> np.ndarray:
        """``[D, N]`` bool: :meth:`has_window` and at least one task target valid."""
        if "usable" not in self._cache:
            any_valid = np.logical_or.reduce([self.targets.valid[t.name] for t in self.targets.tasks])
            self._cache["usable"] = self.has_window() & any_valid
        return self._cache["usable"]

    def _segment_dates(self, segment: str | np.ndarray | None) -> np.ndarray | None:
        if segment is None:
            return None
        if isinstance(segment, str):
            return self.split.segment(segment)
        return np.asarray(segment, dtype=np.int64)

    @staticmethod
    def _rows_in(grid: np.ndarray, dates: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        if dates is not None:
            keep = np.zeros(grid.shape[0], dtype=bool)
            keep[dates] = True
            grid = grid & keep[:, None]
        d, n = np.nonzero(grid)  # sorted by date, then ticker
        return d.astype(np.int64), n.astype(np.int64)

    def rows(self, segment: str | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Usable rows ``(date_idx, ticker_idx)`` (int64, sorted by date then ticker) of a segment.

        ``segment`` is ``"train" | "val" | "test"`` or an array of date indices. A row is usable
        when its features exist, it has a full window and at least one task target is valid.
        """
        return self._rows_in(self.usable(), self._segment_dates(segment))

    def rows_all(self, segment: str | np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Every row with features and a full window, targets or not (inference on the latest dates)."""
        return self._rows_in(self.has_window(), self._segment_dates(segment))


# ---- prepare ------------------------------------------------------------------------------
def _select_tickers(panel: pd.DataFrame, tickers: list[str] | None) -> pd.DataFrame:
    if not tickers:
        return panel
    tickers = [str(t) for t in tickers]  # YAML may read a ticker like 1234 as a number
    have = panel.index.get_level_values("ticker")
    known = set(have.unique().astype(str))
    missing = [t for t in tickers if t not in known]
    if missing:
        sample = ", ".join(sorted(known)[:10])
        raise DataError(
            f"data.tickers names tickers not in the data: {missing}. Available ({len(known)}): {sample}"
            f"{' ...' if len(known) > 10 else ''}. Fix data.tickers or leave it empty for all tickers."
        )
    return panel[have.isin(list(tickers))]


def _check_history(panel: pd.DataFrame, window: int, horizon: int) -> None:
    """The loader's history check (a clear DataError when too short); notes thin tickers."""
    short = check_history(panel, window, horizon)
    if short:
        log.warning("%d ticker(s) have fewer than window + horizon = %d prices and give few or no rows: %s",
                    len(short), window + horizon, ", ".join(short[:10]) + (" ..." if len(short) > 10 else ""))


def image_rows(groups: dict[str, list[int]], names: list[str], market: set[str]) -> dict[str, list[int]]:
    """Feature columns of each image channel: the group's own features, then the stock-level
    context features filed under it (:data:`CONTEXT_IMAGE_CHANNEL`, else the trend channel).

    Market-wide features are left out: identical for every stock on a date, they carry no
    cross-sectional information and would be flat rows. Empty when no image group exists.
    """
    channels = [g for g in IMAGE_GROUPS if g in groups]
    if not channels:
        return {}
    rows = {g: list(groups[g]) for g in channels}
    default = "trend" if "trend" in rows else channels[0]
    for i in groups.get("context", []):
        if names[i] not in market:
            channel = CONTEXT_IMAGE_CHANNEL.get(names[i], default)
            rows[channel if channel in rows else default].append(i)
    return rows


def make_input_info(frame: FeatureFrame, window: int, image_size: int) -> InputInfo:
    """Column indices of groups, image channels and dual-tower inputs for ``frame``."""
    pos = {name: i for i, name in enumerate(frame.names)}
    groups: dict[str, list[int]] = {}
    order = list(FEATURE_GROUPS) + sorted(g for g in frame.groups if g not in FEATURE_GROUPS)
    for g in order:
        idx = [pos[n] for n in frame.groups.get(g, []) if n in pos]
        if idx:
            groups[g] = idx
    market = set(frame.market)
    return InputInfo(
        n_features=len(frame.names),
        window=window,
        feature_names=list(frame.names),
        groups=groups,
        image_groups=[g for g in IMAGE_GROUPS if g in groups],
        image_size=image_size,
        n_nodes=len(frame.tickers),
        context_idx=[pos[n] for n in frame.names if n in market],
        stock_idx=[pos[n] for n in frame.names if n not in market],
        tickers=[str(t) for t in frame.tickers],
        image_rows=image_rows(groups, list(frame.names), market),
        image_resize=IMAGE_RESIZE,
    )


def _check_given_split(split: Split, n_dates: int, window: int, horizon: int) -> None:
    """A split passed in (a walk-forward fold, a run's stored split) must fit this data and config."""
    used = np.concatenate([split.train, split.val, split.test])
    if used.size and (used.min() < window - 1 or used.max() >= n_dates):
        raise DataError(
            f"the given split uses date indices {int(used.min())}..{int(used.max())}, but this data has "
            f"{n_dates} dates and the first usable row is {window - 1} (window {window}); rebuild the split "
            "from these dates with min_index = window - 1"
        )
    if split.embargo < horizon:
        raise ConfigError(
            f"the given split has embargo {split.embargo} < the longest task horizon {horizon}: labels "
            f"would leak across segments. Rebuild it with embargo >= {horizon}."
        )


def _check_segments(prep: PreparedData) -> None:
    empty = [s for s in ("train", "val", "test") if prep.rows(s)[0].size == 0]
    if empty:
        raise DataError(
            f"no usable rows (features, a full {prep.info.window}-day window and a known target) in "
            f"segment(s) {', '.join(empty)}. Use more history, a shorter data.window or shorter "
            "task horizons, or move the split boundaries."
        )


def prepare(
    panel: pd.DataFrame,
    config: ExperimentConfig,
    split: Split | None = None,
    scaler_state: dict[str, Any] | None = None,
) -> PreparedData:
    """Turn a validated Panel into :class:`PreparedData` for ``config``.

    Args:
        panel: a Panel from ``load_panel`` (MultiIndex (date, ticker)).
        config: the experiment config (data.window/features/tickers/image_size, tasks, split, graph).
        split: a ready split (e.g. one walk-forward fold); default ``make_split`` with
            ``min_index = window - 1`` and ``embargo = config.embargo``.
        scaler_state: a saved ``FeatureScaler.state_dict()`` (inference); default fit on the
            train rows.

    Raises:
        DataError: unknown tickers, too little history, a segment without usable rows.
    """
    window = config.data.window
    panel = _select_tickers(panel, config.data.tickers)
    _check_history(panel, window, config.max_horizon)
    dense = to_dense(panel)
    wanted = config.data.features
    registry_names = None if wanted is None else [f for f in wanted if not is_fitted(f)]
    if split is None:
        split = make_split(dense.dates, config.split, config.embargo, min_index=window - 1)
    else:
        _check_given_split(split, len(dense.dates), window, config.max_horizon)
    # fitted features (train dates only) first, so that compute_features writes every column in
    # one pass into one array (appending them afterwards copied the whole [D, N, F] array)
    usable, _ = plan_features(dense, registry_names)
    planes = fitted_planes(dense, split.train, [s.name for s in usable if s.market], wanted)
    storage = FeatureStorage.choose(config.data.storage, config.data.storage_dir,
                                    (len(dense.dates), len(dense.tickers), len(usable) + len(planes)))
    frame = compute_features(dense, registry_names, append=planes,
                             allocate=storage.allocate, release=storage.release)
    if planes:
        frame = replace(frame, fitted=[*frame.fitted, *planes])
    del planes
    targets = build_targets(dense, config.tasks)
    graph = build_graph(dense, split.train, config.graph)

    if scaler_state is not None:
        scaler = FeatureScaler()
        scaler.load_state_dict(scaler_state)
    else:
        scaler = storage.fit_scaler(frame.values, frame.mask, split.train)
    # transform raises DataError when a loaded scaler was fitted on another feature count
    X = storage.scale(scaler, frame.values, config.data.storage_dtype)
    info = make_input_info(frame, window, config.data.image_size)
    prep = PreparedData(config=config, dense=dense, frame=frame, targets=targets, split=split, graph=graph,
                        scaler=scaler, X=X, info=info)
    if scaler_state is None:  # inference may run on data whose segments are empty
        _check_segments(prep)
    log.info("prepared %d dates x %d tickers x %d features; rows train/val/test = %d/%d/%d",
             *X.shape, *(prep.rows(s)[0].size for s in ("train", "val", "test")))
    return prep
