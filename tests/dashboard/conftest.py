"""Fixtures of the dashboard tests: a runs folder with finished, failed and cancelled runs,
an empty one, and an AppTest opener that goes through the real router (dashboard/app.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import handmade_runs  # tests/dashboard/handmade_runs.py

REPO = Path(__file__).resolve().parents[2]
#: baselines fitted by the fixture's evaluation (LightGBM is left out to keep the suite fast).
CHEAP_BASELINES = ("naive_majority", "naive_momentum", "naive_zero")


@pytest.fixture(scope="session")
def runs_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Hand-written runs (fx-*) plus real tiny runs from tests/run_factory.py (rf-*: genuine
    checkpoints and predictions on the tiny synthetic market), the rf runs evaluated."""
    import run_factory

    from finmt_core.evaluation.evaluate import evaluate_run

    root = tmp_path_factory.mktemp("runs")
    handmade_runs.write_fixture_runs(root)
    for name, model in (("rf-tgcn", "tgcn"), ("rf-seq", "lstm_transformer")):
        run = run_factory.make_run(root, name, model)
        evaluate_run(run.path, baselines=CHEAP_BASELINES, backtest=True)
    return root


@pytest.fixture
def empty_root(tmp_path: Path) -> Path:
    root = tmp_path / "runs"
    root.mkdir()
    return root

