"""Cached explanations of a run's model: compositions of ``finmt_core.explain`` calls on the
run's own data, cached per run (and its checkpoint stamp), row and setting."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from dashboard.cache import Stamp, model_stamp, predictor, run_data
from finmt_core.training.runs import RunDir


def _row_batch(run: RunDir, day: pd.Timestamp, ticker: str) -> tuple[Any, Any, dict[str, Any], Any]:
    """(predictor, prepared, batch, nodes) for one (date, ticker) of the run's own data.

    ``nodes`` is the batch row of the ticker for graph models (whose batch holds the whole
    date), else None."""
    import numpy as np
    import torch

    from finmt_core.data.tensors import make_inference_batches

    pred = predictor(run)
    _, prepared = run_data(run)
    d, n = pred.select_rows(prepared, dates=[day], tickers=[ticker])
    batch = next(make_inference_batches(prepared, pred.input_kind, d, n, 4096))
    nodes = None
    if pred.input_kind == "graph":
        nodes = torch.as_tensor(np.flatnonzero(batch["ticker_idx"].numpy() == n[0]))
    return pred, prepared, batch, nodes


@st.cache_data(show_spinner="Reading attention…", max_entries=64)
def _attention(path: str, key: tuple[Stamp, Stamp, Stamp], day: pd.Timestamp, ticker: str) -> list[Any]:
    from finmt_core.explain import attention_maps

    pred, prepared, batch, _ = _row_batch(RunDir(path), day, ticker)
    return attention_maps(pred.model, batch, prepared.info, tickers=list(prepared.tickers),
                          edge_index=prepared.graph.edge_index)


def attention(run: RunDir, day: pd.Timestamp, ticker: str) -> list[Any]:
    """Every AttentionMap of the model for one (date, ticker); [] for models without attention."""
    return _attention(str(run.path), model_stamp(run), day, ticker)


@st.cache_data(show_spinner="Computing attributions…", max_entries=64)
def _attribution(path: str, key: tuple[Stamp, Stamp, Stamp], day: pd.Timestamp, ticker: str, task: str,
                 method: str) -> Any:
    from finmt_core.explain import integrated_gradients, saliency

    run = RunDir(path)
    pred, prepared, batch, nodes = _row_batch(run, day, ticker)
    fn = integrated_gradients if method == "integrated_gradients" else saliency
    return fn(pred.model, batch, run.config().task(task), prepared.info, nodes=nodes)


def attribution(run: RunDir, day: pd.Timestamp, ticker: str, task: str, method: str) -> Any:
    """Captum Attribution of one task's output for one (date, ticker)."""
    return _attribution(str(run.path), model_stamp(run), day, ticker, task, method)


@st.cache_data(show_spinner="Computing SHAP values…", max_entries=16)
def _shap(path: str, key: tuple[Stamp, Stamp, Stamp], task: str, n_rows: int, seed: int) -> Any:
    """SHAP summary (mean |SHAP| per feature) on a sample of test rows: TreeExplainer for a
    LightGBM run, expected-gradients SHAP for a (non-graph) net with train rows as background."""
    import numpy as np

    from finmt_core.data.tensors import make_inference_batches
    from finmt_core.explain import gradient_shap, shap_summary, tree_shap

    run = RunDir(path)
    pred = predictor(run)
    _, prepared = run_data(run)
    t = run.config().task(task)
    rng = np.random.default_rng(seed)

    def sample(segment: str) -> tuple[Any, Any]:
        d, n = prepared.rows(segment)
        pick = np.sort(rng.choice(len(d), size=min(n_rows, len(d)), replace=False))
        return d[pick], n[pick]

    d, n = sample("test")
    if pred.estimator is not None:
        return shap_summary(tree_shap(pred.estimator, prepared, d, n, t))
    batch = next(make_inference_batches(prepared, pred.input_kind, d, n, len(d)))
    bd, bn = sample("train")
    background = next(make_inference_batches(prepared, pred.input_kind, bd, bn, len(bd)))
    return gradient_shap(pred.model, batch, background, t, prepared.info).by_feature()


def shap_values(run: RunDir, task: str, n_rows: int = 64, seed: int = 0) -> Any:
    return _shap(str(run.path), model_stamp(run), task, n_rows, seed)


@st.cache_data(show_spinner="Projecting embeddings…", max_entries=16)
def _embeddings(path: str, key: tuple[Stamp, Stamp, Stamp], max_rows: int) -> pd.DataFrame:
    import numpy as np

    from finmt_core.explain import embedding_frame

    run = RunDir(path)
    pred = predictor(run)
    _, prepared = run_data(run)
    d, n = prepared.rows("test")
    pick = np.sort(np.random.default_rng(0).choice(len(d), size=min(max_rows, len(d)), replace=False))
    return embedding_frame(pred.model, prepared, d[pick], n[pick])


def embeddings(run: RunDir, max_rows: int = 1500) -> pd.DataFrame:
    """2-D PCA of the model's embeddings on (a sample of) the test rows."""
    return _embeddings(str(run.path), model_stamp(run), max_rows)
