"""Is an attention map nearly uniform? A flat map drawn on its own min..max colour scale looks
full of structure that is not there; this says when to draw it from 0 instead."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: a map whose weights all lie within this share of the uniform weight of each other is "flat"
FLAT_SPREAD = 0.25


@dataclass(frozen=True)
class Flatness:
    """A nearly uniform attention map: its smallest and largest weight, the top of an honest
    colour scale (starting at 0) and the uniform weight ``1 / columns``."""

    low: float
    high: float
    scale_top: float
    uniform: float


def flat_map(values: np.ndarray, spread: float = FLAT_SPREAD) -> Flatness | None:
    """:class:`Flatness` when ``values`` ``[rows, cols]`` holds row-normalised (softmax)
    weights that all lie within ``spread x 1/cols`` of each other; None otherwise (not a
    softmax map, negative weights, fewer than 2 columns or finite values, or real structure)."""
    values = np.asarray(values, dtype=np.float64)
    finite = values[np.isfinite(values)]
    if finite.size < 2 or values.ndim != 2 or values.shape[1] < 2 or finite.min() < 0:
        return None
    if not np.allclose(np.nansum(values, axis=1), 1.0, atol=0.05):  # not a softmax over columns
        return None
    uniform = 1.0 / values.shape[1]
    lo, hi = float(finite.min()), float(finite.max())
    if hi - lo >= spread * uniform:
        return None
    return Flatness(lo, hi, max(2.0 * uniform, hi), uniform)
