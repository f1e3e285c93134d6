"""A finmt run -> TensorBoard event files (``finmt export RUN --to tensorboard --out DIR``).

Scalars: every metrics.jsonl column at ``step = epoch`` with its logged wall time, tags with
``/`` for TensorBoard's grouping (``val/direction``, ``val_metrics/direction/accuracy``);
test metrics of evaluation.json at step 0 (``test/<task>/<metric>``, ``test/baseline/...``,
``test/backtest/...``); the config as text. Written with ``torch.utils.tensorboard``
(needs the ``tensorboard`` package: ``pip install 'finmt[tensorboard]'``).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from finmt_core.errors import ConfigError
from finmt_core.export import epoch_scalars, evaluation_or_none, evaluation_scalars
from finmt_core.training.runs import RunDir

log = logging.getLogger(__name__)


@dataclass
class TensorBoardExport:
    """The log directory written and how many scalar points it holds."""

    logdir: Path
    n_scalars: int
    tags: list[str]


def tag(name: str) -> str:
    """A dotted metrics-log name as a TensorBoard tag (``val.direction`` -> ``val/direction``)."""
    return name.replace(".", "/")


def export_tensorboard(run: RunDir, logdir: str | Path) -> TensorBoardExport:
    """Write ``run``'s curves and test metrics as event files under ``logdir`` (created).

    Raises:
        ConfigError: the ``tensorboard`` package is missing.
    """
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise ConfigError("TensorBoard is not installed: pip install 'finmt[tensorboard]' (the tensorboard "
                          "package), then run the export again") from None
    logdir = Path(logdir)
    logdir.mkdir(parents=True, exist_ok=True)
    scalars = epoch_scalars(run)
    stamps = scalars.pop("timestamp_ms") if "timestamp_ms" in scalars else None
    now = time.time()
    tags: list[str] = []
    n = 0
    writer = SummaryWriter(log_dir=str(logdir))
    try:
        for col in scalars.columns:
            series = scalars[col].dropna()
            tags.append(tag(col))
            for epoch, value in series.items():
                wall = float(stamps.loc[epoch]) / 1000.0 if stamps is not None and stamps.loc[epoch] > 0 else now
                writer.add_scalar(tag(col), float(value), global_step=int(epoch), walltime=wall)
                n += 1
        ev = evaluation_or_none(run)
        for key, value in (evaluation_scalars(ev) if ev is not None else {}).items():
            writer.add_scalar(tag(key), value, global_step=0, walltime=now)
            tags.append(tag(key))
            n += 1
        if run.config_path.is_file():
            # markdown code block so TensorBoard's text tab keeps the YAML layout
            writer.add_text("config", "```yaml\n" + run.config_path.read_text(encoding="utf-8") + "\n```", 0)
    finally:
        writer.close()
    log.info("wrote %d scalars of %s to %s", n, run.name, logdir)
    return TensorBoardExport(logdir, n, tags)
