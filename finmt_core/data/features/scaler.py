"""Robust per-feature standardisation fitted on train rows only.

Method: median / IQR. ``center`` = median, ``scale`` = IQR / 1.349 (the IQR of a normal
distribution is 1.349 σ, so for Gaussian data this equals the std). Medians and quartiles
ignore the fat tails of returns and volume that would inflate a mean/std; what is left of
the tails is clipped to ±``clip`` after scaling. A feature whose IQR is 0 (mostly constant)
falls back to its std, and to 1 when that is 0 too. Only train rows (given date indices,
mask True) are read, so validation and test data never influence the statistics.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from finmt_core.errors import DataError, RunError

#: IQR of the standard normal distribution: IQR / this = σ for Gaussian data.
NORMAL_IQR = 1.3489795003921634
#: Rows (of F features) :meth:`FeatureScaler.transform` handles per block (~3 MB at F = 48).
TRANSFORM_BLOCK_ROWS = 16_384


def exact_quartiles(cols: np.ndarray, qs: tuple[float, ...] = (0.25, 0.5, 0.75)) -> list[np.ndarray]:
    """``np.quantile(cols.astype(float64), q, axis=1)`` for each ``q`` (method "linear"), float64 ``[F]``.

    One partition of ``cols`` ``[F, R]`` in its own dtype (float32 here: half the memory of a
    float64 copy) at the order statistics the quantiles need; the converted values are exact,
    so interpolating them in float64 as numpy does (``a + (b - a) * t``, or
    ``b - (b - a) * (1 - t)`` from ``t >= 0.5`` on) gives numpy's float64 result.
    """
    n = cols.shape[1]
    where = []
    for q in qs:
        pos = (n - 1) * q
        lo = int(np.floor(pos))
        where.append((lo, min(lo + 1, n - 1), pos - lo))
    kth = sorted({k for lo, hi, _ in where for k in (lo, hi)})
    part = np.partition(cols, kth, axis=1)
    out = []
    for lo, hi, t in where:
        a, b = part[:, lo].astype(np.float64), part[:, hi].astype(np.float64)
        diff = b - a
        out.append(b - diff * (1 - t) if t >= 0.5 else a + diff * t)
    return out


class FeatureScaler:
    """Per-feature robust scaler (scikit-learn style: constructor stores parameters only).

    Args:
        clip: transformed values are clipped to ``[-clip, clip]``.
        max_rows: at most this many train rows (evenly spaced over the segment) are used to
            estimate the quartiles, which keeps ``fit`` fast on large panels.
    """

    def __init__(self, clip: float = 5.0, max_rows: int = 200_000) -> None:
        self.clip = clip
        self.max_rows = max_rows

    # ---- fitting -----------------------------------------------------------------------
    def fit(self, values: np.ndarray, mask: np.ndarray, date_idx: np.ndarray) -> FeatureScaler:
        """Fit median/IQR per feature on rows ``(d, n)`` with ``d in date_idx`` and ``mask[d, n]``.

        Args:
            values: ``[D, N, F]`` raw features (FeatureFrame.values).
            mask: ``[D, N]`` bool row validity (FeatureFrame.mask).
            date_idx: int indices of the train dates (Split.train). Only these rows are read.
        """
        if values.ndim != 3 or mask.shape != values.shape[:2]:
            raise DataError(f"FeatureScaler.fit expects values [D, N, F] and mask [D, N]; "
                            f"got {values.shape} and {mask.shape}")
        idx = np.asarray(date_idx, dtype=np.int64).ravel()
        n_dates, n_feat = values.shape[0], values.shape[2]
        if idx.size and (idx.min() < 0 or idx.max() >= n_dates):
            raise DataError(f"FeatureScaler.fit: date indices must lie in [0, {n_dates}); "
                            f"got range [{idx.min()}, {idx.max()}]")
        in_train = np.zeros(n_dates, dtype=bool)
        in_train[idx] = True
        flat = np.flatnonzero(mask & in_train[:, None])  # train rows, row-major (date, ticker)
        if flat.size > self.max_rows:
            # Evenly spaced over the whole train segment: deterministic, and the quartiles of
            # 200k rows are within ~0.5% of a std of the full-sample ones.
            flat = flat[np.linspace(0, flat.size - 1, self.max_rows).round().astype(np.int64)]
        # gathered in the features' own float32 (float64 copies of the sample cost more than
        # the quartiles themselves); the order statistics are exact either way
        rows = values.reshape(-1, n_feat)[flat]  # [R, F]
        finite = np.isfinite(rows).all(axis=1)
        if not finite.all():
            rows = rows[finite]
        if rows.shape[0] == 0:
            raise DataError(
                "FeatureScaler.fit: no valid training rows (all masked); the train segment is "
                "shorter than the feature warm-up. Use a longer history or a larger train fraction."
            )
        cols = np.ascontiguousarray(rows.T)  # [F, R]: each feature's sample contiguous
        q25, med, q75 = exact_quartiles(cols)
        scale = (q75 - q25) / NORMAL_IQR
        if not (scale > 0).all():  # the std fallback, only where the IQR is 0
            std = cols.std(axis=1, dtype=np.float64)
            scale = np.where(scale > 0, scale, np.where(std > 0, std, 1.0))
        self.center_ = med
        self.scale_ = scale
        self.n_rows_ = int(rows.shape[0])
        return self

    @property
    def is_fitted(self) -> bool:
        return hasattr(self, "center_")

    def _check_fitted(self) -> None:
        if not self.is_fitted:
            raise RunError("FeatureScaler is not fitted: call fit(values, mask, train_dates) or "
                           "load_state_dict(checkpoint['scaler']) before transform")

    # ---- transforming ------------------------------------------------------------------
    def transform(self, values: np.ndarray) -> np.ndarray:
        """Standardise ``[..., F]`` raw features -> float32, clipped to ±clip, NaN -> 0."""
        self._check_fitted()
        if values.shape[-1] != self.center_.shape[0]:
            raise DataError(f"FeatureScaler was fitted on {self.center_.shape[0]} features but got "
                            f"{values.shape[-1]}; use the same feature list as the fitted scaler")
        center, scale = self.center_.astype(np.float32), self.scale_.astype(np.float32)
        flat_in = values.reshape(-1, values.shape[-1])
        out = np.empty(flat_in.shape, dtype=np.float32)
        # In place, a block of rows at a time: the naive expression makes three temporaries the
        # size of the input (~1 GB each for 2,000 stocks x 2,520 days x 48 features), and at
        # that size fresh pages, not arithmetic, set the time.
        for s in range(0, flat_in.shape[0], TRANSFORM_BLOCK_ROWS):
            o = out[s:s + TRANSFORM_BLOCK_ROWS]
            np.subtract(flat_in[s:s + TRANSFORM_BLOCK_ROWS], center, out=o, casting="same_kind")
            o /= scale
            np.clip(o, -self.clip, self.clip, out=o)  # infinities become ±clip, NaN stays NaN
            o[np.isnan(o)] = 0.0
        return out.reshape(values.shape)

    def fit_transform(self, values: np.ndarray, mask: np.ndarray, date_idx: np.ndarray) -> np.ndarray:
        return self.fit(values, mask, date_idx).transform(values)

    # ---- checkpoints -------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Plain python types only (loadable with ``torch.load(weights_only=True)``)."""
        self._check_fitted()
        return {
            "method": "median_iqr",
            "clip": float(self.clip),
            "center": [float(v) for v in self.center_],
            "scale": [float(v) for v in self.scale_],
            "n_rows": self.n_rows_,
        }

    def load_state_dict(self, state: dict[str, Any]) -> FeatureScaler:
        """Restore a fitted scaler from :meth:`state_dict` output."""
        try:
            center = np.asarray(state["center"], dtype=np.float64)
            scale = np.asarray(state["scale"], dtype=np.float64)
            clip = float(state["clip"])
        except (KeyError, TypeError, ValueError) as exc:
            raise RunError(f"invalid scaler state in checkpoint ({exc!r}); expected keys "
                           "'center', 'scale', 'clip' as written by FeatureScaler.state_dict()") from exc
        if center.shape != scale.shape or center.ndim != 1 or not (scale > 0).all():
            raise RunError("invalid scaler state in checkpoint: 'center' and 'scale' must be equal-length "
                           "lists with positive scales")
        self.clip = clip
        self.center_ = center
        self.scale_ = scale
        self.n_rows_ = int(state.get("n_rows", 0))
        return self
