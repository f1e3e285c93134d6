"""Metrics per task kind, on flat arrays of rows (one row = one (date, ticker)).

Classification, regression and quantile metrics come from scikit-learn / scipy where an
implementation exists; the finance-specific ones (information coefficient, directional
accuracy, reliability bins) are vectorised here. Every function returns plain Python floats
so the result can go straight into ``evaluation.json``.

Shapes:
    y_true: ``[n]`` (class index for classification, target value otherwise)
    probs:  ``[n, C]`` class probabilities (rows sum to 1)
    pred:   ``[n]`` regression prediction
    qpred:  ``[n, Q]`` quantile predictions, ascending in the quantile level
    dates:  ``[n]`` datetime64 (date of each row; used for per-date statistics)
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from finmt_core.errors import DataError
from finmt_core.tasks import Task

log = logging.getLogger(__name__)

#: Smallest cross-section (tickers on one date) for which a per-date IC is computed.
MIN_IC_OBS = 3


def _f(x: Any) -> float:
    """A JSON-safe float (NaN stays NaN; the JSON writer turns it into null)."""
    try:
        return float(x)
    except (TypeError, ValueError):
        return float("nan")


def _check_rows(name: str, *arrays: np.ndarray) -> int:
    n = len(arrays[0])
    if any(len(a) != n for a in arrays):
        raise DataError(f"{name}: inputs have different lengths {[len(a) for a in arrays]}; pass one row per (date, ticker)")
    if n == 0:
        raise DataError(f"{name}: no rows to score (is the test segment empty or every target missing?)")
    return n


# ---- classification -------------------------------------------------------------------------
def classification_metrics(y_true: np.ndarray, probs: np.ndarray, classes: Sequence[str]) -> dict[str, float]:
    """Accuracy, balanced accuracy, MCC, log-loss, ROC-AUC (one-vs-rest, macro), per-class
    precision/recall/F1, macro F1, the majority-class base rate and the share of the most
    predicted class (for collapse checks).

    ROC-AUC per class is defined only when the class has both positives and negatives among
    ``y_true``; the macro average is over those classes (NaN if none).
    """
    y = np.asarray(y_true).astype(np.int64)
    p = np.asarray(probs, dtype=np.float64)
    n = _check_rows("classification_metrics", y, p)
    c = len(classes)
    if p.ndim != 2 or p.shape[1] != c:
        raise DataError(f"classification_metrics: probs must be [n, {c}] for classes {list(classes)}, got {p.shape}")
    p = np.clip(p, 1e-12, None)
    p = p / p.sum(axis=1, keepdims=True)
    labels = list(range(c))
    pred = p.argmax(axis=1)
    out: dict[str, float] = {
        "n": float(n),
        "accuracy": _f(skm.accuracy_score(y, pred)),
        "balanced_accuracy": _f(skm.balanced_accuracy_score(y, pred)) if len(np.unique(y)) > 1 else _f(skm.accuracy_score(y, pred)),
        "mcc": _f(skm.matthews_corrcoef(y, pred)),
        "log_loss": _f(skm.log_loss(y, p, labels=labels)),
        "f1_macro": _f(skm.f1_score(y, pred, labels=labels, average="macro", zero_division=0)),
    }
    aucs = per_class_auc(y, p)
    defined = [a for a in aucs if np.isfinite(a)]
    out["roc_auc"] = _f(np.mean(defined)) if defined else float("nan")
    prec, rec, f1, _ = skm.precision_recall_fscore_support(y, pred, labels=labels, zero_division=0)
    for i, name in enumerate(classes):
        out[f"precision_{name}"] = _f(prec[i])
        out[f"recall_{name}"] = _f(rec[i])
        out[f"f1_{name}"] = _f(f1[i])
    counts = np.bincount(y, minlength=c)
    out["base_rate"] = _f(counts.max() / n)
    out["top_pred_share"] = _f(np.bincount(pred, minlength=c).max() / n)
    return out


def per_class_auc(y_true: np.ndarray, probs: np.ndarray) -> list[float]:
    """One-vs-rest ROC-AUC of each class (NaN where the class is absent or the only one)."""
    y = np.asarray(y_true).astype(np.int64)
    out = []
    for k in range(probs.shape[1]):  # loop over classes (few), not rows
        pos = y == k
        out.append(_f(skm.roc_auc_score(pos, probs[:, k])) if 0 < pos.sum() < len(y) else float("nan"))
    return out


def confusion(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int, normalize: bool = False) -> np.ndarray:
    """``[C, C]`` confusion matrix, rows = true class, columns = predicted class.

    ``normalize=True`` divides each row by its count (rows of absent classes stay 0).
    """
    m = skm.confusion_matrix(np.asarray(y_true).astype(int), np.asarray(y_pred).astype(int), labels=list(range(n_classes)))
    if not normalize:
        return m
    rows = m.sum(axis=1, keepdims=True)
    return np.divide(m, rows, out=np.zeros(m.shape, dtype=np.float64), where=rows > 0)


def reliability_bins(y_true: np.ndarray, probs: np.ndarray, n_bins: int = 10) -> pd.DataFrame:
    """Reliability (calibration) table with uniform bins.

    Binary tasks bin ``P(class 1)`` against the frequency of class 1; multi-class tasks bin
    the top-class confidence against top-class correctness. Returns one row per bin:
    ``bin_lo, bin_hi, mean_pred, frac_pos, count`` (empty bins have NaN means). The expected
    calibration error is ``df.attrs["ece"]`` (count-weighted |mean_pred - frac_pos|).
    """
    y = np.asarray(y_true).astype(np.int64)
    p = np.asarray(probs, dtype=np.float64)
    if p.shape[1] == 2:
        conf, hit = p[:, 1], (y == 1).astype(np.float64)
    else:
        conf, hit = p.max(axis=1), (p.argmax(axis=1) == y).astype(np.float64)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    # same binning as sklearn.calibration.calibration_curve(strategy="uniform")
    idx = np.searchsorted(edges[1:-1], conf, side="right")
    count = np.bincount(idx, minlength=n_bins).astype(np.float64)
    s_pred = np.bincount(idx, weights=conf, minlength=n_bins)
    s_hit = np.bincount(idx, weights=hit, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_pred, frac_pos = s_pred / count, s_hit / count
    df = pd.DataFrame({"bin_lo": edges[:-1], "bin_hi": edges[1:], "mean_pred": mean_pred, "frac_pos": frac_pos, "count": count})
    ok = count > 0
    df.attrs["ece"] = float(np.sum(count[ok] * np.abs(mean_pred[ok] - frac_pos[ok])) / max(count.sum(), 1.0))
    return df


# ---- regression -----------------------------------------------------------------------------
def per_date_ic(dates: np.ndarray, y_true: np.ndarray, pred: np.ndarray, method: str = "pearson") -> pd.Series:
    """Cross-sectional correlation of prediction and target on each date, vectorised with groupby.

    ``method="pearson"`` is the information coefficient (IC), ``"spearman"`` the rank IC
    (Pearson correlation of within-date average ranks). Dates with fewer than
    :data:`MIN_IC_OBS` rows or a constant prediction/target are dropped. Returns a Series
    indexed by date, sorted.
    """
    if method not in ("pearson", "spearman"):
        raise DataError(f"per_date_ic: method must be 'pearson' or 'spearman', got {method!r}")
    _check_rows("per_date_ic", dates, y_true, pred)
    df = pd.DataFrame({"d": np.asarray(dates), "a": np.asarray(pred, dtype=np.float64), "b": np.asarray(y_true, dtype=np.float64)})
    df = df[np.isfinite(df["a"]) & np.isfinite(df["b"])]
    g = df.groupby("d", sort=True)
    if method == "spearman":
        df = df.assign(a=g["a"].rank(method="average"), b=g["b"].rank(method="average"))
        g = df.groupby("d", sort=True)
    a = df["a"] - g["a"].transform("mean")
    b = df["b"] - g["b"].transform("mean")
    s = pd.DataFrame({"d": df["d"], "ab": a * b, "aa": a * a, "bb": b * b, "n": 1.0,
                      "ra": df["a"] ** 2, "rb": df["b"] ** 2}).groupby("d", sort=True).sum()
    # a cross-section is constant when its spread is rounding noise relative to its level
    varies = (s["aa"] > 1e-20 * s["ra"]) & (s["bb"] > 1e-20 * s["rb"]) & (s["aa"] > 0) & (s["bb"] > 0)
    ic = (s["ab"] / np.sqrt(s["aa"] * s["bb"])).where(varies & (s["n"] >= MIN_IC_OBS))
    ic.index.name = "date"
    return ic.dropna().rename(f"ic_{method}")


def ic_summary(ic: pd.Series) -> dict[str, float]:
    """Mean IC, its std over dates, ICIR (mean / std, per date, not annualised) and the
    t-statistic ``mean / (std / sqrt(n_dates))``."""
    n = len(ic)
    mean = _f(ic.mean()) if n else float("nan")
    std = _f(ic.std(ddof=1)) if n > 1 else float("nan")
    icir = mean / std if n > 1 and std > 0 else float("nan")
    return {"mean": mean, "std": std, "icir": icir, "t": icir * np.sqrt(n) if np.isfinite(icir) else float("nan"), "n_dates": float(n)}


def regression_metrics(
    y_true: np.ndarray, pred: np.ndarray, dates: np.ndarray | None = None, tolerance: float | None = None
) -> dict[str, float]:
    """MAE, RMSE, R², directional accuracy, hit ratio within ``±tolerance`` and, with
    ``dates``, IC / rank IC / ICIR.

    Directional accuracy counts rows where ``sign(pred) == sign(y_true)`` among rows with a
    non-zero target; it is NaN (not applicable) when every prediction is exactly 0, as the
    ``naive_zero`` baseline's: a zero forecast calls no direction. The tolerance band defaults to half the target's standard deviation
    (reported as ``hit_tolerance``). ``pred_std`` / ``target_std`` feed the collapse check.
    """
    y = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(pred, dtype=np.float64)
    n = _check_rows("regression_metrics", y, p)
    nz = y != 0
    tol = 0.5 * float(np.std(y)) if tolerance is None else float(tolerance)
    out = {
        "n": float(n),
        "mae": _f(skm.mean_absolute_error(y, p)),
        "rmse": _f(np.sqrt(skm.mean_squared_error(y, p))),
        "r2": _f(skm.r2_score(y, p)) if n > 1 else float("nan"),
        "directional_accuracy": _f(np.mean(np.sign(p[nz]) == np.sign(y[nz]))) if nz.any() and p.any() else float("nan"),
        "hit_ratio": _f(np.mean(np.abs(p - y) <= tol)),
        "hit_tolerance": tol,
        "pred_std": _f(np.std(p)),
        "target_std": _f(np.std(y)),
    }
    if dates is not None:
        ic = ic_summary(per_date_ic(dates, y, p, "pearson"))
        ric = ic_summary(per_date_ic(dates, y, p, "spearman"))
        out.update(ic=ic["mean"], ic_std=ic["std"], icir=ic["icir"], ic_t=ic["t"], rank_ic=ric["mean"], rank_icir=ric["icir"])
        out["ic_dates"] = ic["n_dates"]
    return out


# ---- quantile -------------------------------------------------------------------------------
def quantile_metrics(
    y_true: np.ndarray, qpred: np.ndarray, quantiles: Sequence[float], dates: np.ndarray | None = None
) -> dict[str, float]:
    """Pinball loss per quantile and on average, coverage of the outermost interval against
    its nominal level, the crossing rate, and regression metrics of the median (or the
    middle quantile) as a point forecast."""
    y = np.asarray(y_true, dtype=np.float64)
    q = np.asarray(qpred, dtype=np.float64)
    _check_rows("quantile_metrics", y, q)
    levels = [float(a) for a in quantiles]
    if q.ndim != 2 or q.shape[1] != len(levels):
        raise DataError(f"quantile_metrics: qpred must be [n, {len(levels)}] for quantiles {levels}, got {q.shape}")
    out: dict[str, float] = {}
    losses = []
    for j, a in enumerate(levels):
        loss = _f(skm.mean_pinball_loss(y, q[:, j], alpha=a))
        out[f"pinball_q{round(a * 100):02d}"] = loss
        losses.append(loss)
    out["pinball"] = _f(np.mean(losses))
    lo, hi = q[:, 0], q[:, -1]
    out["coverage"] = _f(np.mean((y >= lo) & (y <= hi)))
    out["coverage_nominal"] = levels[-1] - levels[0]
    out["interval_width"] = _f(np.mean(hi - lo))
    out["crossing_rate"] = _f(np.mean(np.any(np.diff(q, axis=1) < 0, axis=1))) if q.shape[1] > 1 else 0.0
    mid = int(np.argmin(np.abs(np.asarray(levels) - 0.5)))
    for k, v in regression_metrics(y, q[:, mid], dates).items():
        if k != "n":
            out[f"median_{k}"] = v
    out["n"] = float(len(y))
    return out


# ---- one task -------------------------------------------------------------------------------
def score_task(task: Task, y_true: np.ndarray, pred: np.ndarray, dates: np.ndarray | None = None) -> dict[str, float]:
    """Metrics of one task from its targets and predictions in the estimator format
    (classification probs ``[n, C]``, regression ``[n]``, quantile ``[n, Q]``)."""
    if task.kind == "classification":
        return classification_metrics(y_true, pred, task.classes)
    if task.kind == "quantile":
        return quantile_metrics(y_true, pred, task.quantiles, dates)
    return regression_metrics(y_true, pred, dates)


#: the headline metric of each task kind, and whether higher is better
HEADLINE: dict[str, tuple[str, bool]] = {
    "classification": ("accuracy", True),
    "regression": ("ic", True),
    "quantile": ("pinball", False),
}
