"""Model embeddings (``forward(batch, explain=True)["embedding"]`` and, for the dual tower,
``"embedding/context"`` / ``"embedding/stock"``) and their 2-D projection for plotting."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch
from sklearn.decomposition import PCA

from finmt_core.errors import DataError

if TYPE_CHECKING:
    from finmt_core.data.prepare import PreparedData
    from finmt_core.models.base import MultiTaskModel

EMBEDDING_KEYS = ("embedding", "embedding/context", "embedding/stock")


@torch.no_grad()
def collect_embeddings(model: MultiTaskModel, prepared: PreparedData, date_idx: np.ndarray, ticker_idx: np.ndarray,
                       batch_rows: int = 2048) -> dict[str, np.ndarray]:
    """Embeddings ``{key: [n, D]}`` of the given rows (in their order), batched."""
    from finmt_core.data.tensors import make_inference_batches

    model.eval()
    n_tk = prepared.X.shape[1]
    chunks: dict[str, list[np.ndarray]] = {}
    keys = []
    for batch in make_inference_batches(prepared, model.input_kind, date_idx, ticker_idx, batch_rows):
        out = model(batch, explain=True)
        keys.append((batch["date_idx"] * n_tk + batch["ticker_idx"]).numpy())
        for k in EMBEDDING_KEYS:
            if k in out:
                chunks.setdefault(k, []).append(out[k].float().cpu().numpy())
    if not keys:
        return {}
    order = pd.Index(np.concatenate(keys)).get_indexer(np.asarray(date_idx) * n_tk + np.asarray(ticker_idx))
    return {k: np.concatenate(v)[order] for k, v in chunks.items()}


def project_2d(embedding: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """PCA to two components: ``([n, 2] coordinates, [2] explained variance ratio)``."""
    e = np.asarray(embedding, dtype=np.float64)
    if e.ndim != 2 or len(e) < 2:
        raise DataError(f"need at least 2 embeddings [n, D] to project, got shape {e.shape}")
    k = min(2, e.shape[1])
    pca = PCA(n_components=k, random_state=seed).fit(e)
    xy = pca.transform(e)
    if k == 1:
        xy = np.c_[xy, np.zeros(len(xy))]
    ratio = np.r_[pca.explained_variance_ratio_, np.zeros(2 - k)]
    return xy, ratio


def embedding_frame(model: MultiTaskModel, prepared: PreparedData, date_idx: np.ndarray, ticker_idx: np.ndarray,
                    key: str = "embedding") -> pd.DataFrame:
    """Rows ``x, y, date, ticker, sector, label`` of the 2-D projected embeddings (for
    ``plots.embedding_scatter``); ``attrs["explained_variance"]`` holds the PCA ratios."""
    emb = collect_embeddings(model, prepared, date_idx, ticker_idx)
    if key not in emb:
        raise DataError(f"model gives no {key!r} on the explain path; available: {sorted(emb)}")
    xy, ratio = project_2d(emb[key])
    tickers = np.asarray(prepared.tickers, dtype=object)[ticker_idx]
    sectors = np.asarray(prepared.dense.sector, dtype=object)[ticker_idx] if prepared.dense.sector else np.full(len(xy), "all")
    dates = prepared.dates[date_idx]
    df = pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1], "date": dates, "ticker": tickers, "sector": sectors,
                       "label": pd.Series(tickers).astype(str).to_numpy() + " " + dates.strftime("%Y-%m-%d").to_numpy()})
    df.attrs["explained_variance"] = ratio.tolist()
    return df
