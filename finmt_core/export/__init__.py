"""Export a run to the tools teams already use.

* :mod:`.mlflow_export` — an MLflow run: flattened params, per-epoch metrics with steps, test
  metrics, artifacts (``pip install 'finmt[mlflow]'``).
* :mod:`.tensorboard_export` — TensorBoard event files (``pip install 'finmt[tensorboard]'``).
* :mod:`.alphalens_export` — predictions as alphalens' ``factor_data`` (no alphalens needed).
* :mod:`.returns_export` — the backtest's daily returns for quantstats / pyfolio.

Shared here: the scalars every tracker receives (:func:`epoch_scalars`, :func:`evaluation_scalars`) and
:func:`write_frame`.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from finmt_core.io_safety import safe_csv_frame
from finmt_core.training.runs import RunDir, atomic_write_bytes

#: metrics-log columns that are not scalars of an epoch (``epoch`` is the step itself).
NOT_SCALARS = ("epoch", "time", "host", "device")
#: export targets of ``finmt export --to``.
TARGETS = ("mlflow", "tensorboard", "alphalens", "returns")


def epoch_scalars(run: RunDir) -> pd.DataFrame:
    """The run's metrics log as numbers: index ``epoch`` (int, the step), one float column per
    logged scalar (dotted names: ``val.direction``, ``lr.default``); ``time`` is kept as
    ``timestamp_ms`` (int64 milliseconds since the epoch, 0 when unknown) if logged."""
    m = run.metrics()
    if m.empty or "epoch" not in m:
        return pd.DataFrame(index=pd.Index([], name="epoch", dtype="int64"))
    out = m.drop(columns=[c for c in m.columns if c in NOT_SCALARS]).apply(pd.to_numeric, errors="coerce")
    out = out.loc[:, out.notna().any()].astype(float)
    out.index = pd.Index(m["epoch"].astype("int64"), name="epoch")
    if "time" in m:
        t = pd.to_datetime(m["time"], utc=True, errors="coerce")
        ms = (t.astype("int64") // 1_000_000).where(t.notna(), 0)
        out["timestamp_ms"] = ms.to_numpy(dtype=np.int64)
    return out


def evaluation_scalars(evaluation: dict[str, Any]) -> dict[str, float]:
    """Flat ``{name: value}`` of an evaluation.json: ``test.<task>.<metric>``,
    ``test.baseline.<name>.<task>.<metric>`` (same rows), ``test.backtest.<net|gross|benchmark>.<metric>``;
    missing values (null) are left out."""
    out: dict[str, float] = {}

    def add(prefix: str, tasks: dict[str, Any] | None) -> None:
        for task, ms in (tasks or {}).items():
            for metric, v in (ms or {}).items():
                if isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v):
                    out[f"{prefix}.{task}.{metric}"] = float(v)

    add("test", evaluation.get("tasks"))
    for name, tasks in (evaluation.get("baselines") or {}).items():
        add(f"test.baseline.{name}", tasks)
    add("test.backtest", ((evaluation.get("backtest") or {}).get("metrics")))
    return out


def evaluation_or_none(run: RunDir) -> dict[str, Any] | None:
    """evaluation.json when the run was evaluated, else None."""
    return run.evaluation() if run.evaluation_path.is_file() else None


def write_frame(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write atomically as parquet (``.parquet``) or CSV (anything else; text cells neutralised
    against spreadsheet formula injection)."""
    path = Path(path)
    buf = io.BytesIO()
    if path.suffix.lower() == ".parquet":
        frame.to_parquet(buf)
    else:
        safe_csv_frame(frame.reset_index()).to_csv(buf, index=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, buf.getvalue())
    return path
