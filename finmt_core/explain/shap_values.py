"""SHAP values: TreeExplainer for the LightGBM baseline, expected gradients (GradientSHAP)
for the neural models on a background sample of train rows.

For the nets we use Captum's ``GradientShap`` — the expected-gradients estimator that
``shap.GradientExplainer`` implements — because it runs the models' batch-dict forward
through the same input adapters as Integrated Gradients (see :mod:`.inputs`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import shap
import torch
from captum.attr import GradientShap
from torch import nn

from finmt_core.errors import ConfigError
from finmt_core.explain.attribution import Attribution, _collect, _select
from finmt_core.explain.inputs import attribution_inputs
from finmt_core.tasks import Task

if TYPE_CHECKING:
    from finmt_core.data.prepare import InputInfo, PreparedData
    from finmt_core.models.gbm import LightGBMBaseline

#: Random baselines drawn from the background per example, and background rows used.
SHAP_SAMPLES = 16
BACKGROUND_ROWS = 128


def tree_shap(estimator: LightGBMBaseline, prepared: PreparedData, date_idx: np.ndarray, ticker_idx: np.ndarray, task: Task) -> pd.DataFrame:
    """SHAP values of a fitted LightGBM baseline (``create_estimator("lightgbm", ...)``) for
    ``task`` on the given rows.

    Returns:
        ``[n, n_inputs]`` DataFrame (columns = ``estimator.feature_names_``: features at t and
        their lags). Classification: the SHAP values of the predicted class's raw score;
        quantile tasks: the median booster. ``df.attrs["expected_value"]`` holds the base value.
    """
    from finmt_core.models.gbm import lagged_features

    models = getattr(estimator, "models_", None)
    if models is None or task.name not in models:
        raise ConfigError(f"tree_shap needs a fitted LightGBM baseline with task {task.name!r}")
    booster = models[task.name]
    if task.kind == "quantile":
        booster = booster[min(range(len(task.quantiles)), key=lambda j: abs(task.quantiles[j] - 0.5))]
    if booster is None:
        raise ConfigError(f"the LightGBM model of {task.name!r} saw one class only in training; nothing to explain")
    x = lagged_features(prepared.X, np.asarray(date_idx), np.asarray(ticker_idx), estimator.cfg.lags)
    explainer = shap.TreeExplainer(booster)
    values = explainer.shap_values(x)
    expected = explainer.expected_value
    if isinstance(values, list):  # older shap: one array per class
        values = np.stack(values, axis=-1)
    if values.ndim == 3:  # [n, inputs, classes]: keep the predicted class
        cls = np.asarray(booster.predict(x)).reshape(len(x), -1).argmax(axis=1)  # Booster: [n, C] probs
        values = values[np.arange(len(x)), :, cls]
        expected = np.asarray(expected)[cls]
    out = pd.DataFrame(values, columns=list(estimator.feature_names_))
    out.attrs["expected_value"] = np.asarray(expected).tolist()
    return out


def shap_summary(values: pd.DataFrame, aggregate_lags: bool = True) -> pd.Series:
    """Mean |SHAP| per input (lags folded into their feature when ``aggregate_lags``), largest first."""
    mean_abs = values.abs().mean(axis=0)
    if aggregate_lags:
        mean_abs = mean_abs.groupby(mean_abs.index.str.replace(r"_lag\d+$", "", regex=True)).sum()
    return mean_abs.sort_values(ascending=False)


def gradient_shap(model: nn.Module, batch: dict[str, Any], background: dict[str, Any], task: Task, info: InputInfo, *,
                  n_samples: int = SHAP_SAMPLES, seed: int = 0) -> Attribution:
    """Expected-gradients SHAP values of ``task`` for the examples of ``batch``, with baselines
    drawn from ``background`` (a batch of train rows of the same input kind; not graphs)."""
    if model.input_kind == "graph":
        raise ConfigError("gradient SHAP over graph snapshots is not supported; use integrated_gradients with nodes=...")
    model.eval()
    spec = attribution_inputs(model, batch, task, info)
    base = attribution_inputs(model, background, task, info).inputs
    torch.manual_seed(seed)
    attrs = GradientShap(spec.forward).attribute(spec.inputs, baselines=base, target=spec.target, n_samples=n_samples,
                                                stdevs=0.0)
    with torch.no_grad():
        out = _select(spec.forward(*spec.inputs), spec.target)
    attrs = attrs if isinstance(attrs, tuple) else (attrs,)
    return _collect(model, info, task, "gradient_shap", attrs, out, None, None, graph=False)
