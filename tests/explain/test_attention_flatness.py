"""Nearly uniform attention maps are recognised (finmt_core.explain.flatness)."""

from __future__ import annotations

import numpy as np
import pytest

from finmt_core.explain.flatness import flat_map


def test_a_nearly_uniform_softmax_map_is_flat():
    values = np.full((3, 4), 0.25)
    values[0] = [0.26, 0.24, 0.25, 0.25]
    flat = flat_map(values)
    assert flat is not None
    assert (flat.low, flat.high, flat.uniform) == pytest.approx((0.24, 0.26, 0.25))
    assert flat.scale_top == pytest.approx(0.5)  # 2 x uniform: the colours start at 0 and look as flat as they are


@pytest.mark.parametrize("values", [
    np.array([[0.7, 0.1, 0.1, 0.1]]),            # real structure
    np.array([[0.5, 0.5, 0.5, 0.5]]),            # rows do not sum to 1: not a softmax map
    np.array([[1.0]]),                            # one column
    np.array([[-0.1, 0.6, 0.25, 0.25]]),          # negative weights
    np.full((2, 2, 2), 0.5),                      # not a matrix
])
def test_other_maps_are_not_flat(values):
    assert flat_map(values) is None
