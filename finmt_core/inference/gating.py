"""Signal-gated decisions from class probabilities: Down / Neutral / Up with a confidence.

One policy object, :class:`GatingPolicy`, owns everything about gating: which rule applies,
which task is the gating task, the threshold rule, the Down/Neutral/Up labels, and whether a
run (or a predictions frame) can be gated at all — asked with :attr:`GatingPolicy.can_gate`,
never by catching an exception. It works on any predictions frame with the contract's
columns (``<task>_prob_<Class>``), from a run's ``predictions.parquet``, from
:meth:`Predictor.predict`, or on plain ``{column: array}`` mappings (the benchmark gates raw
model outputs that way). The rule depends on the heads the model has (first match wins):

1. ``signal`` + ``direction`` (the hierarchical TGCN seed): a call is made where
   ``P(Signal) >= threshold``; its side is the direction head's argmax and its confidence
   ``P(Signal) * P(side)`` (the direction head is trained on signal rows, so it models
   P(side | signal)). Elsewhere Neutral with confidence ``1 - P(Signal)``.
2. ``action`` (Sell/Hold/Buy): Up where ``P(Buy) >= threshold`` and it beats ``P(Sell)``,
   Down for Sell likewise, otherwise Neutral.
3. ``direction`` alone: Up/Down where the larger of ``P(Up), P(Down)`` is ``>= threshold``.

Threshold rule: any value in ``[0, 1]``. 0 is accepted on purpose: it is the "call every row"
end of the coverage/accuracy curve (the backtest's sizing reads the confidences at 0, and
``finmt predict --threshold 0`` has always been allowed); a threshold above 1 would call no
row and is refused as a mistake. The threshold is chosen at inference time; nothing here was
fitted.

The module functions (:func:`signal_gated`, :func:`gate_arrays`, ...) are the policy of the
frame's own columns, kept for callers that hold only a frame.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np
import pandas as pd

from finmt_core.errors import DataError

if TYPE_CHECKING:
    from finmt_core.tasks import Task

#: The gate's labels by ``code + 1``: code -1 = Down, 0 = Neutral, +1 = Up.
GATE_LABELS: tuple[str, str, str] = ("Down", "Neutral", "Up")
#: The same labels as an array (indexed by ``code + 1``).
LABELS = np.array(GATE_LABELS)
#: The rules, in order of preference.
RULES: tuple[str, ...] = ("signal+direction", "action", "direction")
#: Per rule: the heads it reads and the gating task (whose classes give the call's side, and
#: whose horizon the calls are scored over).
_RULE_HEADS: dict[str, tuple[tuple[str, ...], str]] = {
    "signal+direction": (("signal", "direction"), "direction"),
    "action": (("action",), "action"),
    "direction": (("direction",), "direction"),
}
#: Per rule: the rule in words, and the probability it compares with the threshold (for people).
_RULE_TEXT: dict[str, tuple[str, str]] = {
    "signal+direction": ("a call where P(Signal) ≥ threshold; its side from the direction head", "P(Signal)"),
    "action": ("Up where P(Buy) ≥ threshold, Down where P(Sell) ≥ threshold, otherwise Neutral",
               "max(P(Buy), P(Sell))"),
    "direction": ("Up/Down where the larger of P(Up), P(Down) ≥ threshold", "max(P(Up), P(Down))"),
}
#: The probability column whose presence makes a head usable for gating.
_KEY_COLUMNS = {"signal": "signal_prob_Signal", "direction": "direction_prob_Up", "action": "action_prob_Buy"}

#: A predictions frame, or a ``{column: [n] array}`` mapping with the same column names.
Columns: TypeAlias = "pd.DataFrame | Mapping[str, Any]"


def _col(cols: Columns, task: str, cls: str) -> np.ndarray | None:
    """``[n]`` float64 probability column ``<task>_prob_<cls>``, or None when absent."""
    c = f"{task}_prob_{cls}"
    return np.asarray(cols[c], dtype=np.float64) if c in cols else None


def _need(cols: Columns, task: str, cls: str) -> np.ndarray:
    """``[n]`` float64 probability column ``<task>_prob_<cls>``; DataError naming it when absent."""
    p = _col(cols, task, cls)
    if p is None:
        raise DataError(f"signal gating needs the column {task}_prob_{cls}; the predictions lack it")
    return p


def check_threshold(threshold: float) -> float:
    """``threshold`` as a float; DataError outside ``[0, 1]`` (see the module doc for why 0 is allowed)."""
    if not 0.0 <= threshold <= 1.0:
        raise DataError(f"signal gating threshold must be in [0, 1], got {threshold}")
    return float(threshold)


@dataclass(frozen=True)
class GatingPolicy:
    """How (and whether) predictions are gated into Down / Neutral / Up calls.

    Attributes:
        rule: one of :data:`RULES`, or None when nothing can be gated.
        reason: why not (empty when ``rule`` is set): a sentence a person can act on.

    Build with :meth:`for_tasks` (a run's config) or :meth:`for_columns` / :meth:`for_frame`.
    """

    rule: str | None
    reason: str = ""

    # ---- construction -------------------------------------------------------------------------
    @classmethod
    def for_columns(cls, columns: Iterable[str]) -> GatingPolicy:
        """The policy of a frame with these columns (first matching rule of :data:`RULES`)."""
        cols = [str(c) for c in columns]
        present = set(cols)
        have = {head for head, key in _KEY_COLUMNS.items() if key in present}
        for rule in RULES:
            if set(_RULE_HEADS[rule][0]) <= have:
                return cls(rule)
        return cls(None, "signal gating needs class probabilities of a signal+direction, action or direction task "
                         f"(columns like direction_prob_Up); this frame has {cols[:12]}")

    @classmethod
    def for_frame(cls, df: Columns) -> GatingPolicy:
        """The policy of a predictions frame (or ``{column: array}`` mapping)."""
        return cls.for_columns(df.columns if isinstance(df, pd.DataFrame) else list(df.keys()))

    @classmethod
    def for_tasks(cls, tasks: Sequence[Task]) -> GatingPolicy:
        """The policy of a run's tasks: the columns its predictions will have."""
        cols = [f"{t.name}_prob_{c}" for t in tasks if t.kind == "classification" for c in t.classes]
        policy = cls.for_columns(cols)
        if policy.rule is None:
            names = ", ".join(t.name for t in tasks) or "none"
            return cls(None, f"signal gating needs a signal + direction, an action or a direction task; "
                             f"this run's tasks are {names}")
        return policy

    # ---- what it is ---------------------------------------------------------------------------
    @property
    def can_gate(self) -> bool:
        """True when a rule applies (the frame or run has gating heads)."""
        return self.rule is not None

    @property
    def hierarchical(self) -> bool:
        """True for the seed's signal + direction rule (the one ``evaluation.json`` reports)."""
        return self.rule == "signal+direction"

    @property
    def heads(self) -> tuple[str, ...]:
        """The task names whose probabilities the rule reads (empty when it cannot gate)."""
        return _RULE_HEADS[self.rule][0] if self.rule else ()

    @property
    def task(self) -> str | None:
        """The gating task: the head that gives a call its side (``direction`` or ``action``);
        its horizon is the one the calls are scored over. None when it cannot gate."""
        return _RULE_HEADS[self.rule][1] if self.rule else None

    @property
    def description(self) -> str:
        """The rule in words (the reason it cannot gate, when it cannot)."""
        return _RULE_TEXT[self.rule][0] if self.rule else self.reason

    @property
    def probability_text(self) -> str:
        """What :meth:`probability` is, in words (e.g. "P(Signal)"); empty when it cannot gate."""
        return _RULE_TEXT[self.rule][1] if self.rule else ""

    labels = GATE_LABELS

    def require(self) -> str:
        """The rule; DataError (with :attr:`reason`) when it cannot gate."""
        if self.rule is None:
            raise DataError(self.reason)
        return self.rule

    # ---- deciding -------------------------------------------------------------------------------
    def arrays(self, cols: Columns, threshold: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
        """The gating of every row as arrays: ``code`` ``[n]`` int64 (-1 Down / 0 Neutral /
        +1 Up) and ``confidence`` ``[n]`` float64 in [0, 1]."""
        threshold = check_threshold(threshold)
        rule = self.require()
        if rule == "signal+direction":
            p_sig, (p_up, p_dn) = _need(cols, "signal", "Signal"), self._up_down(cols)
            side = np.where(p_up >= p_dn, 1, -1)
            call = p_sig >= threshold
            code = np.where(call, side, 0)
            conf = np.where(call, p_sig * np.maximum(p_up, p_dn), 1.0 - p_sig)
        elif rule == "action":
            p_buy, p_sell = _need(cols, "action", "Buy"), _need(cols, "action", "Sell")
            up = (p_buy >= threshold) & (p_buy > p_sell)
            down = (p_sell >= threshold) & (p_sell > p_buy)
            code = np.where(up, 1, np.where(down, -1, 0))
            hold = _col(cols, "action", "Hold")
            conf = np.where(up, p_buy, np.where(down, p_sell, hold if hold is not None else 1 - p_buy - p_sell))
        else:
            p_up, p_dn = self._up_down(cols)
            top = np.maximum(p_up, p_dn)
            code = np.where(top >= threshold, np.where(p_up >= p_dn, 1, -1), 0)
            conf = top
        return code.astype(np.int64), np.asarray(conf, dtype=np.float64)

    @staticmethod
    def _up_down(cols: Columns) -> tuple[np.ndarray, np.ndarray]:
        p_up = _need(cols, "direction", "Up")
        p_dn = _col(cols, "direction", "Down")
        return p_up, (1.0 - p_up if p_dn is None else p_dn)

    @staticmethod
    def label_codes(code: np.ndarray) -> pd.Categorical:
        """Codes ``[n]`` (-1 / 0 / +1) as a categorical of :data:`GATE_LABELS` (compares equal
        to the strings; ~2 ms per million rows where a string column takes ~0.5 s)."""
        return pd.Categorical.from_codes(np.asarray(code, dtype=np.int64) + 1, categories=list(GATE_LABELS))

    def gate(self, df: pd.DataFrame, threshold: float = 0.5) -> pd.DataFrame:
        """Gate every row of ``df``: a frame on its index with ``gate`` (Down / Neutral / Up,
        categorical), ``gate_code`` (-1 / 0 / +1) and ``confidence`` in [0, 1]."""
        code, conf = self.arrays(df, threshold)
        return pd.DataFrame({"gate": self.label_codes(code), "gate_code": code, "confidence": conf}, index=df.index)

    def gate_if_possible(self, df: pd.DataFrame, threshold: float = 0.5) -> pd.DataFrame:
        """``df`` with the gate's columns added when this policy can gate, else ``df`` as it is
        (what ``finmt predict`` and ``finmt serve`` answer)."""
        if not self.can_gate:
            return df
        return pd.concat([df, self.gate(df, threshold)], axis=1)

    def probability(self, cols: Columns) -> np.ndarray:
        """``[n]`` the probability compared with the threshold, per row: P(Signal) for the
        signal+direction rule, the larger of P(Buy) and P(Sell) for the action rule, the larger
        of P(Up) and P(Down) for the direction rule. A row gets a call iff this is >= the
        threshold (for the action rule, also the larger side must win), so a table of it reads
        consistently against the threshold, unlike ``confidence``."""
        rule = self.require()
        if rule == "signal+direction":
            return _need(cols, "signal", "Signal")
        if rule == "action":
            return np.maximum(_need(cols, "action", "Buy"), _need(cols, "action", "Sell"))
        return np.maximum(*self._up_down(cols)).astype(np.float64)

    # ---- scoring --------------------------------------------------------------------------------
    def accuracy(self, df: pd.DataFrame, threshold: float) -> dict[str, float]:
        """Coverage (share of rows with a known outcome that get an Up/Down call) and accuracy
        of those calls at ``threshold``."""
        truth = realised_direction(df)
        code, _ = self.arrays(df, threshold)
        known = np.isfinite(truth)
        called = known & (code != 0)
        n_known = int(known.sum())
        return {
            "threshold": float(threshold),
            "coverage": float(called.sum() / n_known) if n_known else float("nan"),
            "accuracy": float(np.mean(code[called] == truth[called])) if called.any() else float("nan"),
            "n_calls": float(called.sum()),
        }

    def curve(self, df: pd.DataFrame, thresholds: np.ndarray | None = None) -> pd.DataFrame:
        """Coverage and accuracy of gated calls over a grid of thresholds (default 0.5..0.95),
        vectorised over thresholds x rows with one broadcast comparison."""
        ths = np.round(np.linspace(0.5, 0.95, 10), 4) if thresholds is None else np.asarray(thresholds, dtype=np.float64)
        truth = realised_direction(df)
        known = np.isfinite(truth)
        # the confidence that must clear the threshold, and the side, do not depend on it
        side, conf = self.arrays(df, 0.0)
        if self.rule == "signal+direction":
            score = _need(df, "signal", "Signal")
        elif self.rule == "action":
            score = np.where(side != 0, conf, -np.inf)
        else:
            score = conf
        hit = (side == truth) & known
        called = (score[None, :] >= ths[:, None]) & known[None, :] & (side[None, :] != 0)  # [K, n]
        n_called = called.sum(axis=1)
        n_known = max(int(known.sum()), 1)
        acc = np.divide((called & hit[None, :]).sum(axis=1), n_called, out=np.full(len(ths), np.nan), where=n_called > 0)
        return pd.DataFrame({"threshold": ths, "coverage": n_called / n_known, "accuracy": acc, "n_calls": n_called})


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


# ---- the policy of a frame's own columns (for callers that hold only a frame) ------------------
def gating_rule(df: pd.DataFrame) -> str:
    """Which rule applies to this frame (DataError when none; ask
    ``GatingPolicy.for_frame(df).can_gate`` to check without an exception)."""
    return GatingPolicy.for_frame(df).require()


def gate_arrays(df: Columns, threshold: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """:meth:`GatingPolicy.arrays` of the frame's own policy."""
    check_threshold(threshold)
    return GatingPolicy.for_frame(df).arrays(df, threshold)


def signal_gated(df: pd.DataFrame, threshold: float = 0.5) -> pd.DataFrame:
    """:meth:`GatingPolicy.gate` of the frame's own policy: ``gate``, ``gate_code``, ``confidence``."""
    check_threshold(threshold)
    return GatingPolicy.for_frame(df).gate(df, threshold)


def gate_probability(df: Columns) -> np.ndarray:
    """:meth:`GatingPolicy.probability` of the frame's own policy."""
    return GatingPolicy.for_frame(df).probability(df)


def gated_accuracy(df: pd.DataFrame, threshold: float) -> dict[str, float]:
    """:meth:`GatingPolicy.accuracy` of the frame's own policy."""
    return GatingPolicy.for_frame(df).accuracy(df, threshold)


def coverage_accuracy_curve(df: pd.DataFrame, thresholds: np.ndarray | None = None) -> pd.DataFrame:
    """:meth:`GatingPolicy.curve` of the frame's own policy."""
    return GatingPolicy.for_frame(df).curve(df, thresholds)
