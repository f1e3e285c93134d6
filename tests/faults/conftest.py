"""Fixtures of the fault-injection suite (tests marked ``faults``): the
helper modules of tests/dashboard and tests/faults on sys.path."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
for folder in (HERE, HERE.parent / "dashboard"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))


@pytest.fixture
def linux_fds() -> None:
    """The write-layer hooks name files through /proc/self/fd (Linux)."""
    if not Path("/proc/self/fd").is_dir():
        pytest.skip("needs /proc/self/fd (Linux) to see which file a write goes to")


# ---- hand-damaged copies of a finished run (shared by the CLI and page tests) -------------------
CHEAP_BASELINES = ("naive_majority", "naive_momentum", "naive_zero")


def _truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def _foreign_predictions(path: Path) -> None:
    import pandas as pd

    df = pd.read_parquet(path)
    df.rename(columns=lambda c: c.replace("direction_", "dir_") if c.startswith("direction_") else c).to_parquet(path)


#: damage name -> what is done to a copy of the finished run
DAMAGES = {
    "pred-truncated": lambda p: _truncate(p / "predictions.parquet"),
    "pred-columns": lambda p: _foreign_predictions(p / "predictions.parquet"),
    "ckpt-best": lambda p: _truncate(p / "checkpoints" / "best.pt", 0.3),
    "config": lambda p: (p / "config.yaml").write_bytes(b"model: {name: [\xff\xfe"),
    "evaluation": lambda p: _truncate(p / "evaluation.json"),
    "status": lambda p: (p / "status.json").write_bytes(b'{"state": "do\x00'),
    "metrics": lambda p: (p / "metrics.jsonl").write_bytes(b'{"epoch": 1, "val_loss": 1.0}\n\xff\xfe garbage\n{"epo'),
}


@pytest.fixture(scope="session")
def damaged_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A runs folder with one finished, evaluated run (``ok``: real checkpoints and predictions
    on the tiny synthetic market, from tests/run_factory.py) and one copy per entry of
    :data:`DAMAGES`, named after it; ``panel.parquet`` beside them is the run's data."""
    import shutil

    import run_factory

    from finmt_core.data.samples import synthetic_market
    from finmt_core.evaluation.evaluate import evaluate_run

    root = tmp_path_factory.mktemp("damaged")
    base = run_factory.make_run(root, "ok", "lstm_transformer",
                                tasks=[{"target": "direction"}, {"target": "return"}])
    evaluate_run(base.path, baselines=CHEAP_BASELINES, backtest=False)
    for name, damage in DAMAGES.items():
        shutil.copytree(base.path, root / name)
        damage(root / name)
    synthetic_market(**run_factory.SYNTHETIC).to_parquet(root.parent / f"{root.name}-panel.parquet")
    return root

