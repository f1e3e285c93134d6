"""Signal-gated decisions from class probabilities: Down / Neutral / Up with a confidence.

Works on any predictions frame with the contract's columns (``<task>_prob_<Class>``), from a
run's ``predictions.parquet`` or from :meth:`Predictor.predict`. The rule depends on the
heads the model has (first match wins):

1. ``signal`` + ``direction`` (the hierarchical TGCN seed): a call is made where
   ``P(Signal) >= threshold``; its side is the direction head's argmax and its confidence
   ``P(Signal) * P(side)`` (the direction head is trained on signal rows, so it models
   P(side | signal)). Elsewhere Neutral with confidence ``1 - P(Signal)``.
2. ``action`` (Sell/Hold/Buy): Up where ``P(Buy) >= threshold`` and it beats ``P(Sell)``,
   Down for Sell likewise, otherwise Neutral.
3. ``direction`` alone: Up/Down where the larger of ``P(Up), P(Down)`` is ``>= threshold``.

The threshold is chosen at inference time; nothing here was fitted.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from finmt_core.errors import DataError

LABELS = np.array(["Down", "Neutral", "Up"])


def _col(df: pd.DataFrame, task: str, cls: str) -> np.ndarray | None:
    c = f"{task}_prob_{cls}"
    return df[c].to_numpy(dtype=np.float64) if c in df.columns else None


def gating_rule(df: pd.DataFrame) -> str:
    """Which rule applies to this frame: ``"signal+direction"``, ``"action"`` or ``"direction"``."""
    if _col(df, "signal", "Signal") is not None and _col(df, "direction", "Up") is not None:
        return "signal+direction"
    if _col(df, "action", "Buy") is not None:
        return "action"
    if _col(df, "direction", "Up") is not None:
        return "direction"
    raise DataError(
        "signal gating needs class probabilities of a signal+direction, action or direction task "
        f"(columns like direction_prob_Up); this frame has {list(df.columns)[:12]}"
    )


def gate_arrays(df: pd.DataFrame, threshold: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """The gating of every row of ``df`` as arrays: ``code`` ``[n]`` int64 (-1 Down / 0
    Neutral / +1 Up) and ``confidence`` ``[n]`` float64 in [0, 1]. The array core of
    :func:`signal_gated`, for callers that need no frame (the backtest, accuracy curves)."""
    if not 0.0 <= threshold <= 1.0:
        raise DataError(f"signal gating threshold must be in [0, 1], got {threshold}")
    rule = gating_rule(df)
    if rule == "signal+direction":
        p_sig = _col(df, "signal", "Signal")
        p_up, p_dn = _col(df, "direction", "Up"), _col(df, "direction", "Down")
        p_dn = 1.0 - p_up if p_dn is None else p_dn
        side = np.where(p_up >= p_dn, 1, -1)
        call = p_sig >= threshold
        code = np.where(call, side, 0)
        conf = np.where(call, p_sig * np.maximum(p_up, p_dn), 1.0 - p_sig)
    elif rule == "action":
        p_buy, p_sell = _col(df, "action", "Buy"), _col(df, "action", "Sell")
        up = (p_buy >= threshold) & (p_buy > p_sell)
        down = (p_sell >= threshold) & (p_sell > p_buy)
        code = np.where(up, 1, np.where(down, -1, 0))
        hold = _col(df, "action", "Hold")
        conf = np.where(up, p_buy, np.where(down, p_sell, hold if hold is not None else 1 - p_buy - p_sell))
    else:
        p_up = _col(df, "direction", "Up")
        p_dn = _col(df, "direction", "Down")
        p_dn = 1.0 - p_up if p_dn is None else p_dn
        top = np.maximum(p_up, p_dn)
        code = np.where(top >= threshold, np.where(p_up >= p_dn, 1, -1), 0)
        conf = top
    return code.astype(np.int64), np.asarray(conf, dtype=np.float64)


def signal_gated(df: pd.DataFrame, threshold: float = 0.5) -> pd.DataFrame:
    """Gate every row of ``df``. Returns a frame on the same index with ``gate`` (Down /
    Neutral / Up), ``gate_code`` (-1 / 0 / +1) and ``confidence`` in [0, 1].

    ``gate`` is categorical: it compares equal to the strings, and building it from codes
    takes ~2 ms for a million rows where a string column takes ~0.5 s (pandas 3 stores
    strings as Arrow)."""
    code, conf = gate_arrays(df, threshold)
    gate = pd.Categorical.from_codes(code + 1, categories=list(LABELS))
    return pd.DataFrame({"gate": gate, "gate_code": code, "confidence": conf}, index=df.index)


def gate_probability(df: pd.DataFrame) -> np.ndarray:
    """``[n]`` the probability the gate compares with the threshold, per row: P(Signal) for the
    signal+direction rule, the larger of P(Buy) and P(Sell) for the action rule, the larger of
    P(Up) and P(Down) for the direction rule. A row gets a call iff this is >= the threshold
    (for the action rule, also the larger side must win), so a table of it reads consistently
    against the threshold, unlike ``confidence`` (P(Signal) x P(side) for calls)."""
    rule = gating_rule(df)
    if rule == "signal+direction":
        return np.asarray(_col(df, "signal", "Signal"), dtype=np.float64)
    if rule == "action":
        return np.maximum(_col(df, "action", "Buy"), _col(df, "action", "Sell")).astype(np.float64)
    p_up = _col(df, "direction", "Up")
    p_dn = _col(df, "direction", "Down")
    p_dn = 1.0 - p_up if p_dn is None else p_dn
    return np.maximum(p_up, p_dn).astype(np.float64)


def realised_direction(df: pd.DataFrame) -> np.ndarray:
    """``[n]`` realised sign (+1 / -1, NaN unknown) used to score gated calls: a
    ``fwd_return`` column when present (evaluation adds it), else the return target, else the
    direction target (which, with ``mask_by: signal``, is known only on signal rows)."""
    for col in ("fwd_return", "return_target", "quantiles_target", "relevance_target"):
        if col in df.columns:
            v = df[col].to_numpy(dtype=np.float64)
            return np.where(np.isfinite(v) & (v != 0), np.sign(v), np.nan)
    if "direction_target" in df.columns:
        v = df["direction_target"].to_numpy(dtype=np.float64)
        return np.where(np.isfinite(v), 2.0 * v - 1.0, np.nan)
    raise DataError("no realised outcome to score gated calls: need fwd_return, a return target or direction_target")


def gated_accuracy(df: pd.DataFrame, threshold: float) -> dict[str, float]:
    """Coverage (share of rows with a known outcome that get an Up/Down call) and accuracy of
    those calls at ``threshold``."""
    truth = realised_direction(df)
    code, _ = gate_arrays(df, threshold)
    known = np.isfinite(truth)
    called = known & (code != 0)
    n_known = int(known.sum())
    return {
        "threshold": float(threshold),
        "coverage": float(called.sum() / n_known) if n_known else float("nan"),
        "accuracy": float(np.mean(code[called] == truth[called])) if called.any() else float("nan"),
        "n_calls": float(called.sum()),
    }


def coverage_accuracy_curve(df: pd.DataFrame, thresholds: np.ndarray | None = None) -> pd.DataFrame:
    """Coverage and accuracy of gated calls over a grid of thresholds (default 0.5..0.95).

    Vectorised over thresholds x rows with one broadcast comparison."""
    ths = np.round(np.linspace(0.5, 0.95, 10), 4) if thresholds is None else np.asarray(thresholds, dtype=np.float64)
    truth = realised_direction(df)
    known = np.isfinite(truth)
    # the confidence that must clear the threshold, and the side, do not depend on it
    side, conf = gate_arrays(df, 0.0)
    rule = gating_rule(df)
    if rule == "signal+direction":
        score = _col(df, "signal", "Signal")
    elif rule == "action":
        score = np.where(side != 0, conf, -np.inf)
    else:
        score = conf
    hit = (side == truth) & known
    called = (score[None, :] >= ths[:, None]) & known[None, :] & (side[None, :] != 0)  # [K, n]
    n_called = called.sum(axis=1)
    n_known = max(int(known.sum()), 1)
    acc = np.divide((called & hit[None, :]).sum(axis=1), n_called, out=np.full(len(ths), np.nan), where=n_called > 0)
    return pd.DataFrame({"threshold": ths, "coverage": n_called / n_known, "accuracy": acc, "n_calls": n_called})
