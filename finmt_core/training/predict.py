"""Predict the usable validation and test rows and lay them out as predictions.parquet.

Columns (ARCHITECTURE.md): ``date``, ``ticker``, ``split``, then per task ``<task>_pred``,
``<task>_target`` (NaN where the target is invalid), ``<task>_prob_<Class>`` for
classification and ``<task>_q<NN>`` for quantile tasks (``<task>_pred`` is then the median,
or the middle quantile).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch

from finmt_core.tasks import Task

if TYPE_CHECKING:
    from finmt_core.data.prepare import PreparedData
    from finmt_core.models.base import MultiTaskModel

#: Rows per forward pass when predicting (graph models get whole dates: rows // N per batch).
PREDICT_BATCH_ROWS = 4096


def quantile_column(task: Task, q: float) -> str:
    return f"{task.name}_q{round(q * 100):02d}"


def median_index(task: Task) -> int:
    qs = np.asarray(task.quantiles, dtype=float)
    return int(np.argmin(np.abs(qs - 0.5)))


def outputs_to_numpy(task: Task, out: torch.Tensor) -> np.ndarray:
    """A model head's output in the estimator format: class probabilities ``[n, C]`` for
    classification (softmax of logits), ``[n]`` for regression, ``[n, Q]`` for quantiles."""
    out = out.detach().float()
    if task.kind == "classification":
        return torch.softmax(out, dim=-1).cpu().numpy()
    if task.kind == "quantile":
        return out.cpu().numpy()
    return out.reshape(-1).cpu().numpy()


@torch.no_grad()
def predict_rows(
    model: MultiTaskModel,
    prepared: PreparedData,
    date_idx: np.ndarray,
    ticker_idx: np.ndarray,
    device: torch.device,
    batch_rows: int = PREDICT_BATCH_ROWS,
) -> dict[str, np.ndarray]:
    """Model outputs for the given rows, in the given order (batched, eval mode, no_grad).

    Returns:
        task -> array in the estimator format (see :func:`outputs_to_numpy`), row-aligned with
        ``date_idx`` / ``ticker_idx``.
    """
    from finmt_core.data.tensors import make_inference_batches
    from finmt_core.training.device import to_device

    tasks: list[Task] = list(prepared.targets.tasks)
    kind = model.input_kind
    n_tickers = prepared.X.shape[1]
    model.eval()
    chunks: dict[str, list[np.ndarray]] = {t.name: [] for t in tasks}
    keys: list[np.ndarray] = []
    for batch in make_inference_batches(prepared, kind, date_idx, ticker_idx, batch_rows):
        outputs = model(to_device(batch, device))
        keys.append((batch["date_idx"] * n_tickers + batch["ticker_idx"]).numpy())
        for t in tasks:
            chunks[t.name].append(outputs_to_numpy(t, outputs[t.name]))
    if not keys:
        return {t.name: _empty(t) for t in tasks}
    got = np.concatenate(keys)
    want = np.asarray(date_idx, dtype=np.int64) * n_tickers + np.asarray(ticker_idx, dtype=np.int64)
    # Graph batches carry every ticker of each date: pick the requested rows, in order.
    order = pd.Index(got).get_indexer(want)
    if (order < 0).any():
        raise RuntimeError("the model's batches did not cover every requested row")
    return {name: np.concatenate(c)[order] for name, c in chunks.items()}


def _empty(task: Task) -> np.ndarray:
    if task.kind == "classification":
        return np.zeros((0, len(task.classes)), dtype=np.float32)
    if task.kind == "quantile":
        return np.zeros((0, len(task.quantiles)), dtype=np.float32)
    return np.zeros(0, dtype=np.float32)


def prediction_frame(
    prepared: PreparedData,
    preds: dict[str, np.ndarray],
    date_idx: np.ndarray,
    ticker_idx: np.ndarray,
    split: str,
) -> pd.DataFrame:
    """predictions.parquet rows for one segment from estimator-format predictions.

    ``ticker`` is categorical over the run's tickers (codes = ``ticker_idx``): parquet stores
    it as a dictionary and reads it back as categorical, so mapping a million rows back onto
    the (date x ticker) grid is a code lookup instead of hashing strings."""
    cols: dict[str, object] = {
        "date": prepared.dates[date_idx].values,
        "ticker": pd.Categorical.from_codes(np.asarray(ticker_idx, dtype=np.int64),
                                            categories=pd.Index([str(t) for t in prepared.tickers])),
        "split": np.full(len(date_idx), split, dtype=object),
    }
    for task in prepared.targets.tasks:
        p = np.asarray(preds[task.name])
        valid = prepared.targets.valid[task.name][date_idx, ticker_idx]
        target = prepared.targets.values[task.name][date_idx, ticker_idx].astype(np.float64)
        target = np.where(valid, target, np.nan)
        if task.kind == "classification":
            cols[f"{task.name}_pred"] = p.argmax(axis=1).astype(np.int64) if len(p) else np.zeros(0, np.int64)
            for c, cls in enumerate(task.classes):
                cols[f"{task.name}_prob_{cls}"] = p[:, c].astype(np.float64)
        elif task.kind == "quantile":
            cols[f"{task.name}_pred"] = p[:, median_index(task)].astype(np.float64)
            for j, q in enumerate(task.quantiles):
                cols[quantile_column(task, q)] = p[:, j].astype(np.float64)
        else:
            cols[f"{task.name}_pred"] = p.reshape(-1).astype(np.float64)
        cols[f"{task.name}_target"] = target
    return pd.DataFrame(cols)


def segment_predictions(predict_fn: Callable[[np.ndarray, np.ndarray], dict[str, np.ndarray]], prepared: PreparedData,
                        segments: tuple[str, ...] = ("val", "test")) -> pd.DataFrame:
    """Concatenate :func:`prediction_frame` over segments; ``predict_fn(date_idx, ticker_idx)``
    returns estimator-format predictions for those rows."""
    frames = []
    for seg in segments:
        d, n = prepared.rows(seg)
        frames.append(prediction_frame(prepared, predict_fn(d, n), d, n, seg))
    out = pd.concat(frames, ignore_index=True)
    out["date"] = pd.to_datetime(out["date"])
    return out
