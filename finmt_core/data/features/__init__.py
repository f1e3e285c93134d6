"""Named, grouped, causal features on the dense (date x ticker) grid.

``compute_features(panel) -> FeatureFrame``; ``list_features()`` describes the registry;
``FeatureScaler`` standardises with statistics fitted on train rows only.
"""

from __future__ import annotations

# Importing the group modules fills the registry (trend, volume, volatility, context order).
from finmt_core.data.features import context, trend, volatility, volume  # noqa: F401
from finmt_core.data.features.compute import compute_features
from finmt_core.data.features.registry import (
    FeatureSpec,
    feature,
    get_feature,
    list_features,
    register_feature,
)
from finmt_core.data.features.scaler import FeatureScaler

__all__ = [
    "FeatureScaler",
    "FeatureSpec",
    "compute_features",
    "feature",
    "get_feature",
    "list_features",
    "register_feature",
]
