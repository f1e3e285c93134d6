"""Inputs the benchmarks share: synthetic panels on disk, configs with every task, finished runs.

Fixtures are cached in the suite's scratch directory (``workdir``) so that a later case reuses
them. Panels are generated in a separate process: the generator's own memory peak must not
count in a measured case's ``ru_maxrss``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

SEED = 7  # one fixed seed for every generated market in the suite
SIGNAL = 0.5  # planted signal strength (a market a model can learn something from)

#: Every target family of the catalogue, at the horizons the seed designs use; ``direction``
#: is masked to ``signal`` rows as in the tgcn seed's hierarchical loss.
ALL_TASKS: list[dict[str, Any]] = [
    {"name": "action", "target": "action", "horizon": 5},
    {"name": "signal", "target": "signal", "horizon": 5},
    {"name": "direction", "target": "direction", "horizon": 5, "mask_by": "signal"},
    {"name": "return", "target": "return", "horizon": 5},
    {"name": "volatility", "target": "volatility", "horizon": 20},
    {"name": "regime", "target": "regime", "horizon": 20},
    {"name": "relevance_7d", "target": "relevance", "horizon": 7},
    {"name": "relevance_30d", "target": "relevance", "horizon": 30},
    {"name": "quantiles", "target": "quantiles", "horizon": 5},
]


def synthetic_parquet(workdir: str | Path, n_stocks: int, n_days: int, seed: int = SEED) -> Path:
    """Path of a parquet file holding ``synthetic_market(n_stocks, n_days, seed=seed)`` in long
    form (date, ticker, OHLCV, sector); generated once per suite, in a child process."""
    path = Path(workdir) / f"synthetic_{n_stocks}x{n_days}_s{seed}.parquet"
    if path.is_file():
        return path
    code = (
        "import sys\n"
        "from finmt_core.data.samples import synthetic_market\n"
        f"p = synthetic_market(n_stocks={n_stocks}, n_days={n_days}, seed={seed}, signal_strength={SIGNAL})\n"
        "p.reset_index().to_parquet(sys.argv[1] + '.tmp', index=False)\n"
    )
    subprocess.run([sys.executable, "-c", code, str(path)], check=True, capture_output=True, text=True)
    Path(str(path) + ".tmp").replace(path)
    return path


def all_tasks_config(window: int = 20, **overrides: Any) -> Any:
    """An ExperimentConfig with every task family (:data:`ALL_TASKS`) and ``data.window``."""
    from finmt_core.config import ExperimentConfig, merge

    base: dict[str, Any] = {"name": "bench", "tasks": ALL_TASKS, "data": {"window": window}}
    return ExperimentConfig.from_dict(merge(base, overrides), where="benchmark config")


def write_json(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload), encoding="utf-8")
