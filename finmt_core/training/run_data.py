"""The panel a run trains on, and the data it saw: :func:`load_source_panel` (a config's data
source), :func:`run_panel` (a run's own copy, or its regenerated demo/synthetic market) and
:func:`load_run_data` (a run directory -> ``(panel, PreparedData)`` exactly as trained)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from finmt_core.config import ExperimentConfig
from finmt_core.errors import RunError
from finmt_core.training.checkpoint import load_checkpoint
from finmt_core.training.runs import RunDir

if TYPE_CHECKING:
    from finmt_core.data.prepare import PreparedData

#: data sources regenerated from the config (no panel.parquet copy needed)
SHORTCUTS = ("demo", "synthetic")


def is_shortcut(source: str) -> bool:
    """Whether ``data.source`` names a bundled/generated market rather than a file."""
    return source.strip().lower() in SHORTCUTS


def load_source_panel(config: ExperimentConfig) -> pd.DataFrame:
    """The panel named by ``config.data.source`` (synthetic uses ``data.synthetic`` kwargs)."""
    from finmt_core.data.panel import load_panel

    src = config.data.source
    if src.strip().lower() == "synthetic":
        from finmt_core.data.samples import synthetic_market

        return synthetic_market(**config.data.synthetic)
    return load_panel(src, date_format=config.data.date_format)


def run_panel(run: RunDir, config: ExperimentConfig) -> pd.DataFrame:
    """The run's panel: its ``panel.parquet`` copy, else its (still present) data source."""
    if run.panel_path.is_file():
        from finmt_core.data.panel import load_panel

        return load_panel(run.panel_path, name=f"{run.name}/panel.parquet")
    if not is_shortcut(config.data.source) and not Path(config.data.source).exists():
        raise RunError(f"run {run.name!r} has no panel.parquet and its data source {config.data.source!r} is gone")
    return load_source_panel(config)


def panel_copy(panel: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``panel`` fit for parquet (its attrs reduced to the JSON-able ``source``)."""
    out = panel.copy()
    out.attrs = {"source": str(panel.attrs.get("source", ""))}  # attrs must be JSON for parquet
    return out


def load_run_data(run_dir: str | Path | RunDir) -> tuple[pd.DataFrame, PreparedData]:
    """Rebuild ``(panel, PreparedData)`` exactly as the run saw them.

    Demo/synthetic data is regenerated deterministically from the config; file and upload runs
    read their copy ``panel.parquet``. The feature scaler comes from ``best.pt`` when there is
    one (identical to refitting on the train segment, but immune to later code changes).
    """
    from finmt_core.data.prepare import prepare

    run = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
    config = run.config()
    panel = run_panel(run, config)
    scaler = None
    for path in (run.best_checkpoint, run.last_checkpoint):
        if path.is_file():
            scaler = load_checkpoint(path).get("scaler")
            break
    return panel, prepare(panel, config, scaler_state=scaler)


__all__ = ["SHORTCUTS", "is_shortcut", "load_run_data", "load_source_panel", "panel_copy", "run_panel"]
