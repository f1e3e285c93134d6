"""Fixtures of the training tests."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(scope="session", autouse=True)
def _one_thread():
    """One intra-op thread: the tensors here are tiny and the CI machine has 2 shared cores,
    where two spinning OpenMP threads per process slow training down many times over.
    Session scope so that module-scoped fixtures (trained runs) get it too."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
