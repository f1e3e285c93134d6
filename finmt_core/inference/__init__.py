"""Inference on a trained run: predictions on new data, signal gating, uncertainty, what-if.

The pure-pandas gating helpers import without torch; :class:`Predictor` (torch) is loaded
on first access so ``from finmt_core.inference import signal_gated`` stays light.
"""

from __future__ import annotations

from typing import Any

from finmt_core.inference.gating import GatingPolicy, coverage_accuracy_curve, gated_accuracy, signal_gated

__all__ = ["GatingPolicy", "Predictor", "coverage_accuracy_curve", "gated_accuracy", "signal_gated"]


def __getattr__(name: str) -> Any:
    if name == "Predictor":
        from finmt_core.inference.predictor import Predictor

        return Predictor
    raise AttributeError(f"module 'finmt_core.inference' has no attribute {name!r}")
