"""Shared fixtures: tiny deterministic panels and configs (fast on a 2-core CPU)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest

#: the dashboard's router (pages are opened through it, as a user's browser does)
APP = Path(__file__).resolve().parents[1] / "dashboard" / "app.py"


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """One intra-op torch thread for the whole suite: the tensors here are tiny and the CI machine
    has 2 shared cores, where two spinning OpenMP threads per process slow training many times
    over. Session scope so that module-scoped fixtures (trained runs) get it too. Code under test
    that spawns processes (finmt train children, torchrun) sets its own threads."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


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


@pytest.fixture
def open_page(monkeypatch: pytest.MonkeyPatch) -> Callable[..., object]:
    """``open_page(root, "signals", run="rf-tgcn")`` -> an AppTest of that page through the real
    router, on the runs folder ``root`` (no first-start demo)."""
    from streamlit.testing.v1 import AppTest

    def _open(root: Path, page: str, timeout: float = 180, **params: str) -> AppTest:
        monkeypatch.setenv("FINMT_RUNS_DIR", str(root))
        monkeypatch.setenv("FINMT_DEMO", "0")
        at = AppTest.from_file(str(APP), default_timeout=timeout)
        at.query_params.update(params)
        at.run()
        if page != "home":
            at.switch_page(f"../pages/{page}.py")
            at.run()
        return at

    return _open
