"""Fixtures of the model tests (helpers live in model_inputs.py)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from model_inputs import make_batch, make_info

from finmt_core.data.prepare import InputInfo


@pytest.fixture
def info() -> InputInfo:
    return make_info()


@pytest.fixture
def batch_maker() -> Callable[..., dict]:
    return make_batch
