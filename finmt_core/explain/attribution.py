"""Captum attributions per task head: Integrated Gradients and saliency over the model's
(time x feature) inputs, aggregated by feature, feature group and time step.

Baseline for IG: all-zero inputs, which for standardised features (train mean 0) is "an
average day" — the attribution of a cell is its contribution relative to average inputs.
IG satisfies completeness: per example, the attributions sum to ``F(x) - F(baseline)``
(``Attribution.delta`` is Captum's measured gap).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch
from captum.attr import IntegratedGradients, Saliency
from torch import Tensor, nn

from finmt_core.explain.inputs import attribution_inputs
from finmt_core.tasks import Task

if TYPE_CHECKING:
    from finmt_core.data.prepare import InputInfo

#: IG integration steps (Gauss-Legendre) and examples per internal batch.
IG_STEPS = 32
INTERNAL_BATCH = 256


@dataclass
class Attribution:
    """Attributions of one task's output for a set of examples.

    Attributes:
        method: ``"integrated_gradients" | "saliency" | "gradient_shap"``.
        task: the explained task.
        values: ``[B, T, F]`` for window/image/graph inputs (graph: summed over nodes), or
            ``[B, K]`` for tower inputs (context then stock columns).
        feature_names: names of the F (or K) feature columns.
        feature_groups: feature name -> group (trend, volume, volatility, context).
        time_labels: ``["t-T+1", ..., "t"]`` (None for tower inputs).
        output, baseline_output: ``[B]`` explained output at the inputs / at the baseline.
        delta: ``[B]`` completeness gap of IG (sum of attributions - output difference).
    """

    method: str
    task: str
    values: np.ndarray
    feature_names: list[str]
    feature_groups: dict[str, str]
    time_labels: list[str] | None
    output: np.ndarray
    baseline_output: np.ndarray | None = None
    delta: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def per_feature(self) -> np.ndarray:
        """``[B, F]``: attributions summed over time steps."""
        return self.values.sum(axis=1) if self.values.ndim == 3 else self.values

    def by_feature(self, absolute: bool = True) -> pd.Series:
        """Mean over examples of each feature's (absolute) attribution, largest first."""
        v = self.per_feature()
        s = pd.Series((np.abs(v) if absolute else v).mean(axis=0), index=self.feature_names, name=self.method)
        return s.reindex(s.abs().sort_values(ascending=False).index)

    def by_group(self, absolute: bool = True) -> pd.Series:
        """Feature attributions summed per feature group (signed per example first, then
        the mean of the absolute group total when ``absolute``)."""
        v = pd.DataFrame(self.per_feature(), columns=self.feature_names)
        g = v.T.groupby(pd.Series(self.feature_groups)).sum().T  # [B, groups]
        out = (g.abs() if absolute else g).mean(axis=0)
        return out.sort_values(ascending=False).rename(self.method)

    def by_time(self) -> pd.Series:
        """Mean absolute attribution per time step (empty for tower inputs)."""
        if self.values.ndim != 3 or self.time_labels is None:
            return pd.Series(dtype=np.float64)
        return pd.Series(np.abs(self.values).sum(axis=2).mean(axis=0), index=self.time_labels, name=self.method)

    def heatmap(self) -> np.ndarray:
        """``[F, T]`` mean absolute attribution per (feature, time step), for a heatmap."""
        if self.values.ndim != 3:
            return np.abs(self.values).mean(axis=0)[:, None]
        return np.abs(self.values).mean(axis=0).T


def _feature_layout(model: nn.Module, info: InputInfo) -> tuple[list[str], dict[str, str], list[str] | None]:
    names = list(info.feature_names)
    group_of = {names[i]: g for g, idx in info.groups.items() for i in idx}
    if model.input_kind == "tower":
        ctx = [names[i] for i in info.context_idx]
        cols = ctx + [f"{n} (5d mean)" for n in ctx] + [names[i] for i in info.stock_idx]
        groups = {c: group_of.get(c.replace(" (5d mean)", ""), "context") for c in cols}
        return cols, groups, None
    t = info.window
    return names, {n: group_of.get(n, "other") for n in names}, [f"t-{t - 1 - i}" if i < t - 1 else "t" for i in range(t)]


def _collect(model: nn.Module, info: InputInfo, task: Task, method: str, attrs: tuple[Tensor, ...], output: Tensor,
             baseline_output: Tensor | None, delta: Tensor | None, graph: bool) -> Attribution:
    if model.input_kind == "tower":
        values = torch.cat([a.detach() for a in attrs], dim=1).cpu().numpy()
    else:
        values = attrs[0].detach().cpu().numpy()
        if graph:  # [1, M, T, F] -> per explained output: sum over all nodes' inputs
            values = values.sum(axis=1)
    names, groups, times = _feature_layout(model, info)
    return Attribution(
        method=method, task=task.name, values=values.astype(np.float64), feature_names=names, feature_groups=groups,
        time_labels=times, output=output.detach().cpu().numpy().reshape(-1).astype(np.float64),
        baseline_output=None if baseline_output is None else baseline_output.detach().cpu().numpy().reshape(-1),
        delta=None if delta is None else delta.detach().cpu().numpy().reshape(-1),
    )


def _select(out: Tensor, target: Tensor | None) -> Tensor:
    return out if target is None else out.gather(1, target.view(-1, 1)).squeeze(1)


def integrated_gradients(model: nn.Module, batch: dict[str, Any], task: Task, info: InputInfo, *, nodes: Tensor | None = None,
                         target: Tensor | None = None, n_steps: int = IG_STEPS) -> Attribution:
    """Integrated Gradients of ``task``'s output (predicted-class probability, regression
    value or median quantile) w.r.t. the model's inputs, from an all-zero baseline.

    Args:
        batch: a batch dict of the model's input kind (e.g. from ``make_inference_batches``).
        nodes: graph models: node rows of the batch to explain (outputs summed).
        target: classification: class per example (default: the predicted class).
    """
    model.eval()
    spec = attribution_inputs(model, batch, task, info, nodes=nodes, target=target)
    base = tuple(torch.zeros_like(x) for x in spec.inputs)
    ig = IntegratedGradients(spec.forward)
    attrs, delta = ig.attribute(spec.inputs, baselines=base, target=spec.target, n_steps=n_steps,
                                internal_batch_size=INTERNAL_BATCH if model.input_kind != "graph" else max(1, n_steps // 4),
                                return_convergence_delta=True)
    with torch.no_grad():
        out = _select(spec.forward(*spec.inputs), spec.target)
        out0 = _select(spec.forward(*base), spec.target)
    return _collect(model, info, task, "integrated_gradients", tuple(attrs), out, out0, delta, model.input_kind == "graph")


def saliency(model: nn.Module, batch: dict[str, Any], task: Task, info: InputInfo, *, nodes: Tensor | None = None,
             target: Tensor | None = None) -> Attribution:
    """Absolute input gradients of ``task``'s output (Simonyan et al. 2014)."""
    model.eval()
    spec = attribution_inputs(model, batch, task, info, nodes=nodes, target=target)
    attrs = Saliency(spec.forward).attribute(spec.inputs, target=spec.target, abs=True)
    with torch.no_grad():
        out = _select(spec.forward(*spec.inputs), spec.target)
    return _collect(model, info, task, "saliency", tuple(attrs), out, None, None, model.input_kind == "graph")
