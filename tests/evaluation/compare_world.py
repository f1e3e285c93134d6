"""Runs to compare, written by hand (no training): three seeds of one experiment and one run
with another learning rate, each with an evaluation.json whose numbers are known, so the
comparison's tables can be checked exactly. Imported as ``import compare_world``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dashboard"))

import handmade_runs  # tests/dashboard/handmade_runs.py

from finmt_core.config import ExperimentConfig
from finmt_core.tasks import Task

TASKS = [Task(target="direction", horizon=1), Task(target="return", horizon=1)]
#: name -> (train.seed, train.lr, model accuracy, model ic)
RUNS = {
    "cmp-s0": (0, 1e-3, 0.52, 0.03),
    "cmp-s1": (1, 1e-3, 0.54, 0.05),
    "cmp-s2": (2, 1e-3, 0.56, 0.04),
    "cmp-lr": (0, 3e-3, 0.50, -0.01),
}
BASE_ACCURACY = 0.51


def evaluation(name: str, accuracy: float, ic: float) -> dict:
    """An evaluation.json of the contract's layout with the given model numbers."""
    return {
        "run": {"name": name, "model": "lstm_transformer", "tasks": ["direction", "return"], "data": "synthetic",
                "state": "done", "n_test_rows": 180, "tickers": 6},
        "splits": {"train": ["2024-01-02", "2024-12-31"], "val": ["2025-01-02", "2025-02-12"],
                   "test": ["2025-02-13", "2025-03-26"]},
        "tasks": {"direction": {"n": 180.0, "accuracy": accuracy, "balanced_accuracy": accuracy, "f1_macro": 0.5},
                  "return": {"n": 180.0, "ic": ic, "mae": 0.01}},
        "baselines": {"naive_majority": {"direction": {"n": 180.0, "accuracy": BASE_ACCURACY, "balanced_accuracy": 0.5},
                                         "return": {"n": 180.0, "ic": None, "mae": 0.011}}},
        "backtest": {"settings": {"cost_bps": 10.0},
                     "metrics": {"net": {"sharpe": 10 * ic, "annual_return": ic, "max_drawdown": -0.05, "avg_turnover": 0.2},
                                 "benchmark": {"sharpe": 0.1, "annual_return": 0.01, "max_drawdown": -0.1, "avg_turnover": 0.0}}},
    }


def write_world(root: Path) -> dict[str, Path]:
    """Write the four runs under ``root``; returns name -> run directory."""
    out = {}
    for i, (name, (seed, lr, acc, ic)) in enumerate(RUNS.items()):
        path = handmade_runs.write_run(root, name, "lstm_transformer", TASKS, seed=i)
        data = ExperimentConfig.from_yaml(path / "config.yaml").model_dump(mode="json")
        data["train"]["seed"] = seed
        data["train"]["lr"] = lr
        (path / "config.yaml").write_text(ExperimentConfig.model_validate(data).to_yaml())
        (path / "evaluation.json").write_text(json.dumps(evaluation(name, acc, ic)))
        out[name] = path
    return out
