"""Warnings an evaluation must say out loud: collapsed heads and models that do not beat
their baselines (or beat them only within noise)."""

from __future__ import annotations

from typing import Any

import numpy as np

from finmt_core.evaluation.metrics import HEADLINE
from finmt_core.tasks import Task

#: A regression head whose prediction std is below this share of the target std has collapsed.
COLLAPSE_STD_RATIO = 0.01
#: A classification head predicting one class for more than this share of rows has collapsed.
COLLAPSE_CLASS_SHARE = 0.95


def collapse_warnings(task: Task, metrics: dict[str, float]) -> list[str]:
    """Near-constant predictions: regression std < 1% of the target's, or one class > 95%."""
    out = []
    if task.kind == "classification":
        share = metrics.get("top_pred_share", np.nan)
        if share > COLLAPSE_CLASS_SHARE:
            out.append(f"{task.name}: collapsed — one class takes {share:.1%} of the test predictions "
                       "(the head learned the base rate; try class weights, focal loss or anti_collapse)")
    else:
        p = metrics.get("pred_std", metrics.get("median_pred_std", np.nan))
        t = metrics.get("target_std", metrics.get("median_target_std", np.nan))
        if np.isfinite(p) and np.isfinite(t) and t > 0 and p < COLLAPSE_STD_RATIO * t:
            out.append(f"{task.name}: collapsed — prediction std {p:.3g} is {p / t:.2%} of the target std {t:.3g} "
                       "(near-constant output; try loss.anti_collapse > 0 or a different loss)")
    return out


def baseline_warnings(task: Task, metrics: dict[str, float], baselines: dict[str, dict[str, dict[str, float]]],
                      significance: dict[str, Any] | None) -> list[str]:
    """Say plainly when the model does not beat its best baseline on the task's headline
    metric, or beats it by less than the noise (95% interval of the edge includes 0)."""
    metric, higher = HEADLINE[task.kind]
    mine = metrics.get(metric, np.nan)
    scored = {name: b[task.name][metric] for name, b in baselines.items()
              if task.name in b and np.isfinite(b[task.name].get(metric, np.nan))}
    if not scored or not np.isfinite(mine):
        return []
    best = max(scored, key=scored.__getitem__) if higher else min(scored, key=scored.__getitem__)
    n = int(metrics.get("n", 0))
    if (mine <= scored[best]) if higher else (mine >= scored[best]):
        return [f"{task.name}: the model does NOT beat its best baseline — {metric} {mine:.4g} vs {best} "
                f"{scored[best]:.4g} on the same {n} test rows"]
    edge = (significance or {}).get("vs", {}).get(best, {})
    lo, hi = edge.get("ci_low", np.nan), edge.get("ci_high", np.nan)
    if np.isfinite(lo) and lo <= 0 <= hi:
        return [f"{task.name}: the edge over {best} ({metric} {mine:.4g} vs {scored[best]:.4g}) is within noise: "
                f"95% interval of the edge [{lo:.3g}, {hi:.3g}] includes 0 ({int(edge.get('n_dates', 0))} test dates)"]
    return []
