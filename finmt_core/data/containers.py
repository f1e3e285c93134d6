"""The typed containers that flow through the data layer.

``Panel`` (a validated long DataFrame) -> :class:`FeatureFrame` + :class:`Targets` ->
:class:`StockGraph` + :class:`Split` -> torch datasets. All arrays are dense over the full
(date x ticker) grid so that windows, images and graph snapshots are cheap index gathers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from finmt_core.tasks import Task

#: Columns a Panel may carry besides extra numeric context columns.
PRICE_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close", "volume")
#: Feature groups, in the channel order used by feature images.
FEATURE_GROUPS: tuple[str, ...] = ("trend", "volume", "volatility", "context")


@dataclass
class FeatureFrame:
    """Features on the dense (date x ticker) grid.

    Attributes:
        values: ``[D, N, F]`` float32. Raw (unscaled) feature values; NaN where unknown.
        mask: ``[D, N]`` bool. True where the ticker has a price on that date and every
            feature is finite (warm-up periods and gaps are False).
        dates: the D trading dates (sorted, unique).
        tickers: the N tickers (sorted).
        names: the F feature names, in column order.
        groups: group name -> feature names (keys from :data:`FEATURE_GROUPS`; a group may be
            empty, e.g. ``volume`` on close-only data).
        market: names of features that are the same for every ticker on a date (market
            return, breadth, ...): the dual-tower context tower reads these.
        skipped: feature name -> reason it was not computed (e.g. ``"needs high/low"``).
        fitted: names of features whose parameters were fitted on the train dates
            (:mod:`finmt_core.data.features.fitted`); not in the feature registry.
    """

    values: np.ndarray
    mask: np.ndarray
    dates: pd.DatetimeIndex
    tickers: list[str]
    names: list[str]
    groups: dict[str, list[str]]
    market: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    fitted: list[str] = field(default_factory=list)

    @property
    def shape(self) -> tuple[int, int, int]:
        d, n, f = self.values.shape
        return d, n, f

    def index_of(self, names: list[str]) -> np.ndarray:
        """Column indices of ``names`` (raises KeyError naming the missing feature)."""
        pos = {n: i for i, n in enumerate(self.names)}
        missing = [n for n in names if n not in pos]
        if missing:
            raise KeyError(f"features not in this frame: {missing}")
        return np.array([pos[n] for n in names], dtype=np.int64)


@dataclass
class Targets:
    """Per-task targets on the same (date x ticker) grid as a FeatureFrame.

    Attributes:
        tasks: the task specs, in head order.
        values: task name -> ``[D, N]`` float32 (class index stored as float for
            classification; forward log return for quantile tasks).
        valid: task name -> ``[D, N]`` bool: target known (window inside the data, prices
            present) and, for tasks with ``mask_by``, the masking task's target == 1.
        aux: named ``[D, N]`` arrays the labels were built from and evaluation needs
            (``"fwd_return_<h>"``: forward log return over h days; ``"vol"``: rolling daily vol
            known at t). Read-only helpers for baselines and backtests.
        train_values: task name -> ``[D, N]`` float32 training target of tasks with a
            cross-sectional ``normalize`` (same validity as ``values``); models train on
            :meth:`training`, evaluation scores against ``values``.
    """

    tasks: list[Task]
    values: dict[str, np.ndarray]
    valid: dict[str, np.ndarray]
    aux: dict[str, np.ndarray] = field(default_factory=dict)
    train_values: dict[str, np.ndarray] = field(default_factory=dict)

    def training(self, name: str) -> np.ndarray:
        """``[D, N]`` the target a model trains on: the normalised one where the task has
        ``normalize``, else the raw ``values[name]``."""
        return self.train_values.get(name, self.values[name])

    def task(self, name: str) -> Task:
        for t in self.tasks:
            if t.name == name:
                return t
        raise KeyError(f"no task named {name!r}; tasks are {[t.name for t in self.tasks]}")


@dataclass
class StockGraph:
    """A stock graph for torch-geometric.

    Attributes:
        edge_index: ``[2, E]`` int64 ``[source, target]``, sorted by target, no self-loops
            (GCNConv adds its own); both directions of every edge for the undirected kinds,
            leader -> follower only for ``leadlag``.
        edge_weight: ``[E]`` float32 in (0, 1].
        n_nodes: N (tickers, in FeatureFrame order).
        kind: ``"correlation" | "sector" | "hybrid" | "leadlag"``.
        fit_dates: (first, last) date of the segment the graph was fitted on (train only).
    """

    edge_index: np.ndarray
    edge_weight: np.ndarray
    n_nodes: int
    kind: str
    fit_dates: tuple[pd.Timestamp, pd.Timestamp] | None = None


@dataclass
class Split:
    """Row-date index arrays of one train/val/test split (indices into FeatureFrame.dates).

    Segments are disjoint and separated by at least ``embargo`` trading days, so a label
    window that starts in one segment never reaches into the next.
    """

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    embargo: int
    fold: int = 0

    def segment(self, name: str) -> np.ndarray:
        if name not in ("train", "val", "test"):
            raise KeyError(f"unknown split segment {name!r}")
        return getattr(self, name)
