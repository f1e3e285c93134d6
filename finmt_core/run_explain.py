"""Explanations of a run's model on its own data: compositions of :mod:`finmt_core.explain`
calls on a :class:`~finmt_core.run.Run` (its predictor, its data, its explanation batches).

The dashboard's Explain page caches these per run, checkpoint stamp, row and setting
(``dashboard/cache_explain.py``); nothing here writes anything.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from finmt_core.errors import RunError

if TYPE_CHECKING:
    from finmt_core.explain.attention import AttentionMap
    from finmt_core.explain.attribution import Attribution
    from finmt_core.models.base import MultiTaskModel
    from finmt_core.run import Run

#: Methods of :func:`attribution`.
ATTRIBUTION_METHODS = ("integrated_gradients", "saliency")


def _sample(run: Run, segment: str, n_rows: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Up to ``n_rows`` usable rows of ``segment`` drawn without replacement, in row order."""
    d, n = run.data().rows(segment)
    pick = np.sort(rng.choice(len(d), size=min(n_rows, len(d)), replace=False))
    return d[pick], n[pick]


def _model(run: Run) -> MultiTaskModel:
    """The run's network (RunError naming the SHAP view for an estimator run)."""
    pred = run.predictor()
    if pred.model is None:
        raise RunError(f"run {run.name!r} is a fitted estimator ({run.config().model.name}): it has no network to "
                       "explain with gradients or attention; see its SHAP values instead")
    return pred.network()


def attention(run: Run, day: Any, ticker: str) -> list[AttentionMap]:
    """Every AttentionMap of the model for one (date, ticker); [] for models without attention."""
    from finmt_core.explain import attention_maps

    ex = run.explain_batch(day, ticker)
    return attention_maps(_model(run), ex.batch, ex.prepared.info, tickers=list(ex.prepared.tickers),
                          edge_index=ex.prepared.graph.edge_index)


def attribution(run: Run, day: Any, ticker: str, task: str, method: str) -> Attribution:
    """Captum attribution (``method``: one of :data:`ATTRIBUTION_METHODS`) of one task's output
    for one (date, ticker)."""
    from finmt_core.explain import integrated_gradients, saliency

    ex = run.explain_batch(day, ticker)
    fn = integrated_gradients if method == "integrated_gradients" else saliency
    return fn(_model(run), ex.batch, run.config().task(task), ex.prepared.info, nodes=ex.nodes)


def shap_values(run: Run, task: str, n_rows: int = 64, seed: int = 0) -> pd.Series:
    """SHAP summary (mean |SHAP| per feature) on ``n_rows`` sampled test rows: TreeExplainer for
    a LightGBM run, expected-gradients SHAP for a (non-graph) net with as many sampled train
    rows as background."""
    from finmt_core.data.tensors import make_inference_batches
    from finmt_core.explain import gradient_shap, shap_summary, tree_shap

    pred, prepared = run.predictor(), run.data()
    t = run.config().task(task)
    rng = np.random.default_rng(seed)
    d, n = _sample(run, "test", n_rows, rng)
    if pred.estimator is not None:
        return shap_summary(tree_shap(pred.estimator, prepared, d, n, t))
    batch = next(make_inference_batches(prepared, pred.input_kind, d, n, len(d)))
    bd, bn = _sample(run, "train", n_rows, rng)
    background = next(make_inference_batches(prepared, pred.input_kind, bd, bn, len(bd)))
    return gradient_shap(_model(run), batch, background, t, prepared.info).by_feature()


def embeddings(run: Run, max_rows: int = 1500) -> pd.DataFrame:
    """2-D PCA of the model's embeddings on (a seeded sample of) up to ``max_rows`` test rows."""
    from finmt_core.explain import embedding_frame

    d, n = _sample(run, "test", max_rows, np.random.default_rng(0))
    return embedding_frame(_model(run), run.data(), d, n)
