"""Output names parsed once (finmt_core.inference.output_columns): task, kind, label, format."""

from __future__ import annotations

import numpy as np
import pytest

from finmt_core.inference.gating import LABELS
from finmt_core.inference.output_columns import (
    gate_call,
    output_label,
    output_labels,
    parse_output,
    probability_columns,
    probability_header,
    shown_outputs,
)


@pytest.mark.parametrize(("name", "kind", "task", "label"), [
    ("direction_prob_Up", "probability", "direction", "direction: P(Up)"),
    ("return_pred", "prediction", "return", "return"),
    ("quantiles_q10", "quantile", "quantiles", "quantiles q10"),
    ("quantiles_q05", "quantile", "quantiles", "quantiles q05"),
    ("direction_entropy", "entropy", "direction", "direction entropy"),
    ("return_target", "target", "return", "return target"),
    ("gate_probability", "gate_probability", None, "gate: probability it tests"),
    ("gate_code", "gate_code", None, "gate: call"),
])
def test_parse_reads_task_kind_and_label(name, kind, task, label):
    out = parse_output(name)
    assert (out.kind, out.task, out.label) == (kind, task, label)


def test_task_names_with_underscores_are_read_with_the_run_tasks():
    tasks = ["vol", "vol_regime", "quality_score"]
    assert parse_output("vol_regime_prob_High", tasks).task == "vol_regime"
    assert parse_output("vol_regime_q10", tasks).task == "vol_regime"
    assert parse_output("quality_score_pred", tasks).task == "quality_score"
    out = parse_output("vol_regime_q90", tasks)
    assert (out.kind, out.level, out.label) == ("quantile", 90, "vol regime q90")
    # without the task names "_q" inside a name is not mistaken for a quantile
    assert parse_output("quality_score_pred").task == "quality_score"


def test_probability_and_number_formats():
    assert parse_output("direction_prob_Up").number_format.format(0.51234) == "0.512"
    assert parse_output("gate_probability").is_probability
    assert parse_output("return_pred").number_format.format(0.01) == "+0.0100"
    assert output_label("signal_prob_Signal") == "signal: P(Signal)"


def test_shown_outputs_follow_task_order_and_drop_code_and_entropy():
    names = ["return_pred", "gate_code", "direction_prob_Up", "gate_probability", "direction_entropy",
             "direction_prob_Down", "quantiles_q90", "quantiles_q10"]
    shown = shown_outputs(names, ["direction", "return", "quantiles"])
    assert shown == ["direction_prob_Down", "direction_prob_Up", "return_pred", "quantiles_q10", "quantiles_q90",
                     "gate_probability"]


def test_gate_call_uses_the_gating_labels():
    assert [gate_call(c) for c in (-1.0, 0.0, 1.0)] == list(LABELS)
    assert gate_call(np.nan) is None and gate_call(None) is None and gate_call(2.0) is None


def test_probability_columns_and_headers():
    cols = ["date", "direction_prob_Down", "direction_prob_Up", "regime_prob_Bull", "signal_prob_Signal", "return_pred"]
    assert probability_columns(cols, ["signal", "direction"]) == ["direction_prob_Down", "direction_prob_Up",
                                                                   "signal_prob_Signal"]
    assert probability_header("direction_prob_Up") == "direction P(Up)"
    assert output_labels(["return_pred", "direction_prob_Up"]) == {"return_pred": "return",
                                                                    "direction_prob_Up": "direction: P(Up)"}
