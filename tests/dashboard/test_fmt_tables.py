"""Tables worded for people (dashboard/fmt.py)."""

from __future__ import annotations

from dashboard import fmt


def test_labelled_metrics_side_by_side():
    labels = {"total_return": ("Total return", "{:.1%}"), "sharpe": ("Sharpe", "{:.2f}"),
              "profit_factor": ("Profit factor", "{:.2f}"), "calmar": ("Calmar", "{:.2f}")}
    table = fmt.labelled_metrics({"net": {"sharpe": 1.234, "total_return": 0.1, "profit_factor": float("inf")},
                                  "bench": {"sharpe": None}}, labels)
    assert list(table.index) == ["Total return", "Sharpe", "Profit factor"]  # calmar: nobody has it
    assert table.loc["Total return", "net"] == "10.0%" and table.loc["Sharpe", "bench"] == fmt.DASH
    assert table.loc["Profit factor", "net"] == "inf"
