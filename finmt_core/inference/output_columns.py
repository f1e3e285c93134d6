"""What a prediction output's name means: its task, its kind, how a person reads it.

Output names follow the predictions contract (docs/ARCHITECTURE.md, ``predictions.parquet``)
and the what-if table (:class:`finmt_core.inference.whatif.WhatIfResult`):

* ``<task>_prob_<Class>`` -- a class probability in [0, 1] (``direction_prob_Up``);
* ``<task>_pred`` -- the point prediction (log return, z-score, ...);
* ``<task>_q<NN>`` -- a quantile prediction, ``NN`` = level in percent (``quantiles_q10``);
* ``<task>_target`` -- the realised target; ``<task>_entropy`` -- predictive entropy (nats);
* ``gate_probability`` -- the probability the signal gate compares with its threshold;
* ``gate_code`` -- the gated call as a number (-1 Down / 0 Neutral / +1 Up).

Task names may hold underscores (``vol_regime``): with the run's task names given, the
longest matching task name wins, so ``vol_regime_q10`` is never read as task ``vol``.
The page code asks here instead of splitting strings itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from finmt_core.inference.gating import LABELS

GATE_PROBABILITY = "gate_probability"
GATE_CODE = "gate_code"
PROB = "_prob_"

OutputKind = Literal["probability", "prediction", "quantile", "target", "entropy", "gate_probability",
                     "gate_code", "other"]

#: sort position of an output that belongs to no task of the run (the gate outputs): last
_NO_TASK = "~gate"
_QUANTILE = re.compile(r"^(?P<task>.+)_q(?P<level>\d+)$")
_SUFFIX_KINDS: tuple[tuple[str, OutputKind], ...] = (
    ("_pred", "prediction"), ("_target", "target"), ("_entropy", "entropy"))


@dataclass(frozen=True)
class Output:
    """One parsed output name.

    Attributes:
        name: the column / row name as stored.
        kind: what the value is (see the module docstring).
        task: the task it belongs to; None for the gate outputs and unknown names.
        cls: the class of a probability (``"Up"``), else None.
        level: the quantile level in percent (10 for ``q10``), else None.
    """

    name: str
    kind: OutputKind
    task: str | None = None
    cls: str | None = None
    level: int | None = None

    @property
    def is_probability(self) -> bool:
        """True for values in [0, 1]: class probabilities and the gate probability."""
        return self.kind in ("probability", "gate_probability")

    @property
    def label(self) -> str:
        """The name a person reads: ``direction: P(Up)``, ``return``, ``quantiles q10``,
        ``direction entropy``, ``gate: probability it tests``."""
        if self.kind == "gate_probability":
            return "gate: probability it tests"
        if self.kind == "gate_code":
            return "gate: call"
        if self.kind == "probability":
            return f"{self.task}: P({self.cls})"
        task = (self.task or self.name).replace("_", " ")
        if self.kind == "quantile":
            return f"{task} q{self.level:02d}"
        if self.kind == "prediction":
            return task
        if self.kind in ("entropy", "target"):
            return f"{task} {self.kind}"
        return self.name.replace("_", " ")

    @property
    def number_format(self) -> str:
        """A ``str.format`` spec for the value: 3 decimals for probabilities, a signed
        4-decimal number for everything else (returns, z-scores, entropies)."""
        return "{:.3f}" if self.is_probability else "{:+.4f}"


def parse_output(name: str, tasks: Iterable[str] | None = None) -> Output:
    """Parse one output name (see the module docstring).

    Args:
        name: the column or what-if row name.
        tasks: the run's task names; when given, the longest task name that prefixes
            ``name`` decides the task (names with underscores are read right). Without them
            the suffix rules alone decide.
    """
    name = str(name)
    if name == GATE_PROBABILITY:
        return Output(name, "gate_probability")
    if name == GATE_CODE:
        return Output(name, "gate_code")
    known = sorted((t for t in (tasks or ()) if name.startswith(f"{t}_")), key=len, reverse=True)
    if known:
        task, rest = known[0], name[len(known[0]):]
        if rest.startswith(PROB) and len(rest) > len(PROB):
            return Output(name, "probability", task, cls=rest[len(PROB):])
        if re.fullmatch(r"_q\d+", rest):
            return Output(name, "quantile", task, level=int(rest[2:]))
        kind = dict(_SUFFIX_KINDS).get(rest)
        return Output(name, kind or "other", task)
    if PROB in name:
        task, cls = name.split(PROB, 1)
        return Output(name, "probability", task, cls=cls)
    for suffix, kind in _SUFFIX_KINDS:
        if name.endswith(suffix) and len(name) > len(suffix):
            return Output(name, kind, name[: -len(suffix)])
    quantile = _QUANTILE.match(name)
    if quantile:
        return Output(name, "quantile", quantile["task"], level=int(quantile["level"]))
    return Output(name, "other")


def output_label(name: str, tasks: Iterable[str] | None = None) -> str:
    """:attr:`Output.label` of ``name``."""
    return parse_output(name, tasks).label


def output_labels(names: Iterable[str], tasks: Iterable[str] | None = None) -> dict[str, str]:
    """name -> :attr:`Output.label` for every name (e.g. a chart's axis labels)."""
    task_list = list(tasks or ())
    return {str(n): output_label(str(n), task_list) for n in names}


def shown_outputs(names: Iterable[str], tasks: Sequence[str]) -> list[str]:
    """The outputs a person compares, in the run's task order: ``gate_code`` (shown as the
    call, :func:`gate_call`) and the ``*_entropy`` rows (an uncertainty, not a prediction) are
    left out; outputs of the same task keep their name order; the gate probability comes last.

    Args:
        names: output names (the what-if table's index).
        tasks: the run's task names in config order.
    """
    order = {t: i for i, t in enumerate(tasks)}
    parsed = [parse_output(str(n), tasks) for n in names]
    kept = [o for o in parsed if o.kind not in ("gate_code", "entropy")]
    return [o.name for o in sorted(kept, key=lambda o: (order.get(o.task or _NO_TASK, len(order)), o.name))]


def gate_call(code: float | None) -> str | None:
    """``-1`` -> ``"Down"``, ``0`` -> ``"Neutral"``, ``1`` -> ``"Up"`` (the gating labels);
    None for anything else (NaN, a missing row)."""
    if code is None or not np.isfinite(code) or float(code) not in (-1.0, 0.0, 1.0):
        return None
    return str(LABELS[int(code) + 1])


def probability_columns(columns: Iterable[str], tasks: Iterable[str]) -> list[str]:
    """The ``<task>_prob_<Class>`` columns of ``columns`` whose task is one of ``tasks``, in
    column order (e.g. the gating heads' probabilities beside the calls)."""
    wanted = list(tasks)
    return [str(c) for c in columns
            if (o := parse_output(str(c), wanted)).kind == "probability" and o.task in wanted]


def probability_header(column: str, tasks: Iterable[str] | None = None) -> str:
    """``direction_prob_Up`` -> ``direction P(Up)`` (a table header)."""
    out = parse_output(column, tasks)
    return f"{out.task} P({out.cls})" if out.kind == "probability" else column
