"""The feature registry: named, grouped feature definitions.

A feature is a function ``fn(inputs: FeatureInputs) -> ndarray`` returning float64 ``[D, N]``
(per-stock) or ``[D]`` (market-wide: the same value for every ticker on a date). It is
registered with the columns it needs, so features the panel cannot support are skipped with
a reason instead of failing::

    @feature("rsi_14", "trend", needs=CLOSE, description="...")
    def _rsi(x: FeatureInputs) -> np.ndarray: ...

Parameterised families (returns over several windows) call :func:`register_feature` once
per parameter. The registry is filled when the group modules (trend, volume, volatility,
context) are imported by the package ``__init__``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from finmt_core.data.containers import FEATURE_GROUPS

if TYPE_CHECKING:
    from finmt_core.data.features.inputs import FeatureInputs

FeatureFn = Callable[["FeatureInputs"], np.ndarray]

#: ``needs`` shorthands. ``sector`` is the per-ticker label, not a price column.
CLOSE: frozenset[str] = frozenset({"close"})
HL: frozenset[str] = frozenset({"close", "high", "low"})
OHLC: frozenset[str] = frozenset({"open", "high", "low", "close"})
OPEN: frozenset[str] = frozenset({"open", "close"})
VOLUME: frozenset[str] = frozenset({"close", "volume"})
SECTOR: frozenset[str] = frozenset({"close", "sector"})


@dataclass(frozen=True)
class FeatureSpec:
    """One registered feature.

    Attributes:
        name: unique feature name (column name in the FeatureFrame).
        group: one of :data:`~finmt_core.data.containers.FEATURE_GROUPS`.
        needs: panel columns the feature reads (``"sector"`` = the sector label).
        description: what it is, its window and units, in one line.
        fn: ``fn(inputs) -> [D, N]`` or ``[D]`` float64, causal, NaN where unknown.
        market: True when the value is the same for every ticker on a date.
        cross_sectional: True when a ticker's value also depends on the other tickers'
            data (ranks across the universe, sector or market-relative values). Every other
            non-market feature is a function of the ticker's own columns alone, which lets a
            what-if recompute it on that one ticker (tests check the flag).
    """

    name: str
    group: str
    needs: frozenset[str]
    description: str
    fn: FeatureFn
    market: bool = False
    cross_sectional: bool = False


_REGISTRY: dict[str, FeatureSpec] = {}


def register_feature(spec: FeatureSpec) -> FeatureSpec:
    """Add ``spec`` to the registry (names are unique; the group must be a known group)."""
    if spec.group not in FEATURE_GROUPS:
        raise ValueError(f"feature {spec.name!r}: group {spec.group!r} is not one of {FEATURE_GROUPS}")
    if spec.name in _REGISTRY:
        raise ValueError(f"feature {spec.name!r} is registered twice")
    _REGISTRY[spec.name] = spec
    return spec


def feature(name: str, group: str, *, needs: frozenset[str] = CLOSE, description: str,
            market: bool = False, cross_sectional: bool = False) -> Callable[[FeatureFn], FeatureFn]:
    """Decorator form of :func:`register_feature`; returns the function unchanged."""

    def wrap(fn: FeatureFn) -> FeatureFn:
        register_feature(FeatureSpec(name, group, frozenset(needs), description, fn, market, cross_sectional))
        return fn

    return wrap


def list_features() -> list[FeatureSpec]:
    """Every registered feature, grouped in :data:`FEATURE_GROUPS` order, then by registration.

    This is also the column order of a FeatureFrame, so each group's columns are contiguous.
    """
    order = {g: i for i, g in enumerate(FEATURE_GROUPS)}
    specs = list(_REGISTRY.values())
    return sorted(specs, key=lambda s: order[s.group])  # stable: keeps registration order


def get_feature(name: str) -> FeatureSpec:
    """The spec of a registered feature (KeyError naming the available ones otherwise)."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown feature {name!r}; registered: {sorted(_REGISTRY)}") from None
