"""What the run commands share: the RUN argument's help, JSON text, and writing a frame to a file."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pandas as pd

from finmt_core.errors import DataError

RUN_HELP = "Run directory path, or a run name under --runs-dir."


def dumps(obj: Any) -> str:
    """``obj`` as indented JSON (NaN refused: pass it through ``json_safe`` first)."""
    return json.dumps(obj, indent=2, default=str, allow_nan=False)


def write_frame(df: pd.DataFrame, out: Path) -> None:
    """Write ``df`` atomically to ``out`` (``.csv`` with formula-safe cells, or ``.parquet``);
    DataError for any other suffix."""
    from finmt_core.training.runs import atomic_write_bytes

    name = out.name.lower()
    if name.endswith(".parquet"):
        buf = io.BytesIO()
        df.to_parquet(buf, index=False)
        atomic_write_bytes(out, buf.getvalue())
    elif name.endswith(".csv"):
        from finmt_core.io_safety import safe_csv_frame  # tickers come from users' files

        atomic_write_bytes(out, safe_csv_frame(df).to_csv(index=False).encode("utf-8"))
    else:
        raise DataError(f"--out must end in .csv or .parquet, got {out}")
