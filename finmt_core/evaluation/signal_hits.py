"""Gated calls scored against what happened: one row per (date, ticker) with the call, the
probability the gate tested, the realised side and whether the call was right.

The calls come from a :class:`~finmt_core.inference.gating.GatingPolicy` (the run's, or the
frame's own; the rule depends on the heads); the realised side from :func:`~finmt_core.inference.gating.realised_direction`
(a ``fwd_return`` column when present, else the stored targets). Nothing here is fitted: the
threshold is the viewer's.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from finmt_core.inference.gating import GatingPolicy, realised_direction
from finmt_core.inference.output_columns import probability_columns, probability_header

#: thresholds of the coverage-accuracy curve a person scans: 0 to 0.95 in steps of 0.05
CURVE_THRESHOLDS = np.round(np.linspace(0.0, 0.95, 20), 3)
#: realised sign -> side (a zero or unknown return is "unknown")
OUTCOME = {1.0: "Up", -1.0: "Down"}


def gated_calls(df: pd.DataFrame, threshold: float, policy: GatingPolicy | None = None) -> pd.DataFrame:
    """Every row of ``df`` gated at ``threshold`` and scored.

    Args:
        df: predictions with ``date``, ``ticker`` and the gating heads' ``<task>_prob_<Class>``
            columns (a run's predictions.parquet rows, optionally with ``fwd_return``).
        threshold: gate threshold in [0, 1].
        policy: the gating policy (a run's ``Run.gating``); default: the frame's own columns'.

    Returns:
        ``[n rows]`` frame on a 0..n-1 index: ``date``, ``ticker``, ``gate`` (Down / Neutral /
        Up), ``gate_code`` (-1 / 0 / +1), ``confidence`` (the probability the gate compares
        with the threshold, so every call sits at or above it and every Neutral row below),
        ``realised`` (Up / Down / unknown), ``hit`` (True / False for a call with a known
        outcome, None for Neutral rows and unknown outcomes) and ``<task> P(<Class>)`` for
        each head the policy reads (``policy.heads``).

    Raises:
        DataError: the frame has no gating heads, or no outcome column to score against.
    """
    rows = df.reset_index(drop=True)
    policy = GatingPolicy.for_frame(rows) if policy is None else policy
    calls = pd.concat([rows[["date", "ticker"]], policy.gate(rows, threshold)], axis=1)
    calls["confidence"] = policy.probability(rows)
    truth = realised_direction(rows)
    calls["realised"] = pd.Series(truth).map(OUTCOME).fillna("unknown").to_numpy()
    code = calls["gate_code"].to_numpy()
    calls["hit"] = np.where(np.isnan(truth) | (code == 0), None, code == truth)
    for col in probability_columns(rows.columns, policy.heads):
        calls[probability_header(col, policy.heads)] = rows[col].to_numpy()
    return calls


def hit_summary(calls: pd.DataFrame) -> dict[str, float]:
    """Counts of a :func:`gated_calls` frame (or a slice of it, e.g. one ticker): ``n_calls``
    (Up/Down calls), ``n_known`` (calls with a known outcome), ``n_hits`` (right ones) and
    ``hit_rate`` = n_hits / n_known (NaN without a known outcome)."""
    called = calls[calls["gate_code"] != 0]
    known = called["hit"].dropna().astype(bool)
    n_known, n_hits = len(known), int(known.sum())
    return {"n_calls": float(len(called)), "n_known": float(n_known), "n_hits": float(n_hits),
            "hit_rate": n_hits / n_known if n_known else float("nan")}


def calls_up_to(calls: pd.DataFrame, day: pd.Timestamp, n_dates: int = 60) -> pd.DataFrame:
    """The rows of ``calls`` on the last ``n_dates`` dates up to and including ``day``."""
    dates = np.sort(calls["date"].unique())
    window = dates[dates <= np.datetime64(pd.Timestamp(day))][-n_dates:]
    return calls[calls["date"].isin(window)]
