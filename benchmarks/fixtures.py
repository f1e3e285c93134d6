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
GICS_SECTORS = 11  # a large universe is split like the 11 GICS sectors of the S&P 500


def sectors_for(n_stocks: int) -> int:
    """Sector count of a generated universe: 11 for large ones (about 45 stocks each for 500,
    as in the S&P 500), ~10 stocks per sector for small ones, at least 2."""
    return max(2, min(GICS_SECTORS, n_stocks // 10))

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
    """Path of a parquet file holding ``synthetic_market(n_stocks, n_days, sectors_for(n_stocks),
    seed)`` in long form (date, ticker, OHLCV, sector); generated once per suite, in a child process."""
    path = Path(workdir) / f"synthetic_{n_stocks}x{n_days}_s{seed}.parquet"
    if path.is_file():
        return path
    code = (
        "import sys\n"
        "from finmt_core.data.samples import synthetic_market\n"
        f"p = synthetic_market(n_stocks={n_stocks}, n_days={n_days}, n_sectors={sectors_for(n_stocks)}, seed={seed},"
        f" signal_strength={SIGNAL})\n"
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


def preset_names(requested: list[str] | None) -> list[str]:
    """``requested`` or every preset in ``configs/`` (read without importing torch)."""
    from finmt_core.config import list_presets

    if requested:
        return list(requested)
    from finmt_core.config import load_preset

    # ensemble presets combine trained runs: no single model to time
    return [p for p in list_presets() if load_preset(p).model.name != "ensemble"]


def preset_prepared(workdir: str | Path, preset: str, n_stocks: int, n_days: int,
                    train: dict[str, Any] | None = None) -> tuple[Any, Any]:
    """``(config, prepared)``: the preset's config at its default sizes (model, tasks, window,
    batch size), CPU, run on the synthetic ``n_stocks x n_days`` market instead of its data."""
    from finmt_core.config import load_preset
    from finmt_core.data.panel import load_panel
    from finmt_core.data.prepare import prepare

    overrides: dict[str, Any] = {"train": {"device": "cpu", **(train or {})}}
    config = load_preset(preset, overrides)
    panel = load_panel(synthetic_parquet(workdir, n_stocks, n_days))
    return config, prepare(panel, config)


def finished_run(workdir: str | Path, preset: str, n_stocks: int, n_days: int, epochs: int = 1,
                 evaluate: bool = True) -> Path:
    """A finished (and, with ``evaluate``, evaluated) run of ``preset`` on the synthetic market,
    made once per suite through the real CLI in child processes: ``finmt train`` (``epochs``
    epochs, CPU) then ``evaluate_run`` (what ``finmt evaluate`` runs)."""
    root = Path(workdir) / "runs"
    name = f"bench-{preset}-{n_stocks}x{n_days}"
    run = root / name
    status = run / "status.json"
    done = status.is_file() and json.loads(status.read_text(encoding="utf-8")).get("state") == "done"
    if done and (not evaluate or (run / "evaluation.json").is_file()):
        return run
    data = synthetic_parquet(workdir, n_stocks, n_days)
    cli = [sys.executable, "-m", "finmt_core.cli"]
    train = [*cli, "train", "--data", str(data), "--preset", preset, "--epochs", str(epochs),
             "--runs-dir", str(root), "--name", name, "--device", "cpu"]
    if not done:
        proc = subprocess.run(train, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"could not train the benchmark run {name}: {proc.stderr.strip()[-500:]}")
    if not evaluate:
        return run
    # the library call behind `finmt evaluate` (evaluation.json with baselines and backtest)
    code = "import sys\nfrom finmt_core.evaluation.evaluate import evaluate_run\nevaluate_run(sys.argv[1])\n"
    proc = subprocess.run([sys.executable, "-c", code, str(run)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"could not evaluate the benchmark run {name}: {proc.stderr.strip()[-500:]}")
    return run
