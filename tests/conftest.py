"""Shared fixtures: tiny deterministic panels and configs (fast on a 2-core CPU)."""

from __future__ import annotations

import pandas as pd
import pytest


@pytest.fixture(scope="session")
def tiny_panel() -> pd.DataFrame:
    """8 stocks x 300 days of the synthetic market with a planted signal (seed 0)."""
    from finmt_core.data.samples import synthetic_market

    return synthetic_market(n_stocks=8, n_days=300, n_sectors=2, seed=0, signal_strength=0.5)


@pytest.fixture(scope="session")
def random_walk_panel() -> pd.DataFrame:
    """A pure zero-drift random walk (signal_strength=0): every model must score at chance."""
    from finmt_core.data.samples import synthetic_market

    return synthetic_market(n_stocks=8, n_days=300, n_sectors=2, seed=1, signal_strength=0.0)
