"""Reading a run's metrics log as a person looks at it: which validation metrics were logged,
the column of a loss, one column overlaid across runs, and the headline numbers of a run.

Works on :meth:`RunDir.metrics` frames: one row per epoch, nested records flattened with
``.`` (``train_loss``, ``val_loss``, ``train.<task>``, ``val.<task>``,
``val_metrics.<task>.<metric>``, ``val_score``, ``samples_per_s``; see docs/ARCHITECTURE.md).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

VAL_METRICS = "val_metrics."
SIDES = ("val", "train")


def val_metric_names(metrics: pd.DataFrame) -> list[str]:
    """The validation metrics logged for any task (``accuracy``, ``ic``, ...), sorted."""
    return sorted({str(c).rsplit(".", 1)[-1] for c in metrics.columns if str(c).startswith(VAL_METRICS)})


def loss_column(side: str | None = "val", task: str | None = None) -> str:
    """The column of a loss: ``val_loss`` / ``train_loss`` (the fixed-weight total) when
    ``task`` is None or ``"total"``, else ``val.<task>`` / ``train.<task>``. ``side`` None = val."""
    side = side or "val"
    if side not in SIDES:
        raise ValueError(f"side must be one of {SIDES}, got {side!r}")
    return f"{side}_loss" if task in (None, "total") else f"{side}.{task}"


def overlay(metrics_by_run: Mapping[str, pd.DataFrame], column: str) -> pd.DataFrame:
    """One column per run (the runs that logged ``column``), one row per epoch: the last
    value logged for each epoch (a resumed epoch counts once). Empty when no run has it."""
    curves = {name: m.groupby("epoch")[column].last() for name, m in metrics_by_run.items()
              if column in m and "epoch" in m}
    return pd.concat(curves, axis=1) if curves else pd.DataFrame()


def last_values(metrics_by_run: Mapping[str, pd.DataFrame], column: str) -> pd.Series:
    """The last finite value of ``column`` per run (runs without one are left out); named
    ``last <column>``."""
    last = {name: values.iloc[-1] for name, m in metrics_by_run.items() if column in m
            and len(values := pd.to_numeric(m[column], errors="coerce").dropna())}
    return pd.Series(last, name=f"last {column}", dtype=np.float64)


def run_summary(metrics: pd.DataFrame) -> dict[str, float | None]:
    """Headline numbers of one run's log: ``epochs`` (rows), ``best_val_score`` (the highest
    validation score, None when not logged), ``best_val_loss`` (lowest validation loss, None
    when not logged) and ``samples_per_s`` (the last epoch's throughput, None when not logged)."""
    def best(column: str, how: str) -> float | None:
        if column not in metrics or not metrics[column].notna().any():
            return None
        return float(getattr(metrics[column], how)())

    sps = metrics["samples_per_s"].iloc[-1] if "samples_per_s" in metrics and len(metrics) else None
    return {"epochs": float(len(metrics)), "best_val_score": best("val_score", "max"),
            "best_val_loss": best("val_loss", "min"),
            "samples_per_s": float(sps) if sps is not None and pd.notna(sps) else None}
