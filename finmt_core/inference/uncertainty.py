"""MC-dropout uncertainty (Gal & Ghahramani 2016): keep dropout on at inference, sample S
forward passes, and summarise the spread.

Per task: regression — mean, std and the [5%, 95%] interval of the S samples; quantile — the
same for the median head plus the mean predicted quantiles; classification — the mean class
probabilities, the predictive entropy ``H[mean p]`` (total uncertainty, nats) and the mutual
information ``H[mean p] - mean H[p]`` (the part due to the model's uncertainty). A model
without active dropout gives zero spread (and zero mutual information).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch

from finmt_core.tasks import Task

if TYPE_CHECKING:
    from finmt_core.data.prepare import PreparedData
    from finmt_core.models.base import MultiTaskModel

#: Interval of the MC samples reported for regression outputs.
INTERVAL = (0.05, 0.95)
BATCH_ROWS = 4096


def entropy(p: np.ndarray) -> np.ndarray:
    """Shannon entropy (nats) over the last axis of probabilities ``[..., C]`` -> ``[...]``."""
    return -np.sum(p * np.log(np.clip(p, 1e-12, None)), axis=-1)


@torch.no_grad()
def mc_samples(model: MultiTaskModel, prepared: PreparedData, date_idx: np.ndarray, ticker_idx: np.ndarray, n_samples: int,
               seed: int = 0, device: torch.device | None = None) -> tuple[dict[str, np.ndarray], int]:
    """``({task: [S, n, ...] outputs in estimator format}, active dropout layers)`` with dropout on.

    The model is put back in eval mode afterwards.
    """
    from finmt_core.data.tensors import make_inference_batches
    from finmt_core.models import enable_mc_dropout
    from finmt_core.training.predict import outputs_to_numpy
    from finmt_core.training.trainer import to_device

    device = device or torch.device("cpu")
    tasks: list[Task] = list(model.tasks)
    n_tk = prepared.X.shape[1]
    active = enable_mc_dropout(model)
    gen_state = torch.get_rng_state()
    torch.manual_seed(seed)
    try:
        chunks: dict[str, list[np.ndarray]] = {t.name: [] for t in tasks}
        keys = []
        for batch in make_inference_batches(prepared, model.input_kind, date_idx, ticker_idx, BATCH_ROWS):
            b = to_device(batch, device)
            keys.append((batch["date_idx"] * n_tk + batch["ticker_idx"]).numpy())
            draws: dict[str, list[np.ndarray]] = {t.name: [] for t in tasks}
            for _ in range(n_samples):  # S stochastic passes of the same batch
                out = model(b)
                for t in tasks:
                    draws[t.name].append(outputs_to_numpy(t, out[t.name]))
            for t in tasks:
                chunks[t.name].append(np.stack(draws[t.name]))  # [S, b, ...]
    finally:
        model.eval()
        torch.set_rng_state(gen_state)
    order = pd.Index(np.concatenate(keys)).get_indexer(np.asarray(date_idx) * n_tk + np.asarray(ticker_idx))
    return {k: np.concatenate(v, axis=1)[:, order] for k, v in chunks.items()}, active


def summarise(task: Task, samples: np.ndarray) -> dict[str, np.ndarray]:
    """Columns summarising ``[S, n, ...]`` MC samples of one task (see module doc)."""
    lo, hi = INTERVAL
    out: dict[str, np.ndarray] = {}
    if task.kind == "classification":
        mean = samples.mean(axis=0)
        for c, cls in enumerate(task.classes):
            out[f"{task.name}_prob_{cls}"] = mean[:, c]
            out[f"{task.name}_prob_{cls}_std"] = samples[:, :, c].std(axis=0)
        h = entropy(mean)
        out[f"{task.name}_entropy"] = h
        out[f"{task.name}_mutual_info"] = np.maximum(h - entropy(samples).mean(axis=0), 0.0)
        out[f"{task.name}_pred"] = mean.argmax(axis=1)
        return out
    if task.kind == "quantile":
        qs = np.asarray(task.quantiles)
        mid = int(np.argmin(np.abs(qs - 0.5)))
        for j, q in enumerate(qs):
            out[f"{task.name}_q{round(q * 100):02d}"] = samples[:, :, j].mean(axis=0)
        samples = samples[:, :, mid]
    out[f"{task.name}_mean"] = samples.mean(axis=0)
    out[f"{task.name}_std"] = samples.std(axis=0)
    out[f"{task.name}_lo"] = np.quantile(samples, lo, axis=0)
    out[f"{task.name}_hi"] = np.quantile(samples, hi, axis=0)
    return out


def mc_dropout(model: MultiTaskModel, prepared: PreparedData, date_idx: np.ndarray, ticker_idx: np.ndarray, tasks: list[Task],
               n_samples: int = 30, seed: int = 0, device: torch.device | None = None) -> pd.DataFrame:
    """One row per (date, ticker): MC-dropout summaries of every task. ``attrs["active_dropout"]``
    is the number of dropout layers sampled (0 = deterministic: every spread is 0)."""
    samples, active = mc_samples(model, prepared, date_idx, ticker_idx, n_samples, seed, device)
    cols: dict[str, Any] = {"date": prepared.dates[date_idx], "ticker": np.asarray(prepared.tickers, dtype=object)[ticker_idx]}
    for t in tasks:
        cols.update(summarise(t, samples[t.name]))
    df = pd.DataFrame(cols)
    df.attrs["active_dropout"] = active
    df.attrs["n_samples"] = n_samples
    return df
