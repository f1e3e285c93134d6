"""A run's metrics log read for people (finmt_core.training.metrics_log)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from finmt_core.training.metrics_log import last_values, loss_column, overlay, run_summary, val_metric_names


def _log(values: list[float], score: bool = True) -> pd.DataFrame:
    frame = pd.DataFrame({"epoch": list(range(1, len(values) + 1)), "val_loss": values,
                          "train.direction": values, "val_metrics.direction.accuracy": [0.5] * len(values),
                          "val_metrics.return.ic": [0.01] * len(values), "samples_per_s": [100.0] * len(values)})
    if score:
        frame["val_score"] = [0.01, 0.03, 0.02][: len(values)]
    return frame


def test_metric_names_and_loss_columns():
    assert val_metric_names(_log([1.0, 0.9])) == ["accuracy", "ic"]
    assert loss_column("val") == loss_column(None, "total") == "val_loss"
    assert loss_column("train", "direction") == "train.direction"
    with pytest.raises(ValueError, match="side"):
        loss_column("test")


def test_overlay_keeps_the_last_line_of_a_resumed_epoch():
    resumed = pd.DataFrame({"epoch": [1, 2, 2, 3], "val_loss": [1.0, 0.9, 0.8, 0.7]})
    curves = overlay({"a": resumed, "b": _log([1.2, 1.1]), "c": pd.DataFrame({"epoch": [1]})}, "val_loss")
    assert list(curves.columns) == ["a", "b"]
    assert curves.loc[2, "a"] == 0.8 and np.isnan(curves.loc[3, "b"])
    assert overlay({"c": pd.DataFrame({"epoch": [1]})}, "val_loss").empty


def test_last_values_and_summary():
    last = last_values({"a": _log([1.0, 0.9]), "b": pd.DataFrame({"val_loss": [np.nan]})}, "val_loss")
    assert last.to_dict() == {"a": 0.9} and last.name == "last val_loss"
    summary = run_summary(_log([1.0, 0.8, 0.9]))
    assert summary == {"epochs": 3.0, "best_val_score": 0.03, "best_val_loss": 0.8, "samples_per_s": 100.0}
    empty = run_summary(pd.DataFrame(columns=["epoch", "train_loss", "val_loss"]))
    assert empty["best_val_score"] is None and empty["best_val_loss"] is None and empty["samples_per_s"] is None
