"""Differentiable views of a model's inputs, shared by the gradient explainers.

Captum perturbs input tensors and calls a forward function on them; every model reads a
batch dict. :func:`attribution_inputs` picks the tensors to attribute to for the model's
input kind and returns a function rebuilding the batch from (scaled copies of) them:

- ``window`` / ``flat``: ``x`` ``[B, T, F]``;
- ``image``: ``x`` ``[B, T, F]``; the image is rebuilt from it (bilinear resize is
  differentiable), so attributions land on (time, feature) cells, not pixels;
- ``tower``: ``context`` ``[B, 2 Fc]`` and ``stock`` ``[B, Fs]``;
- ``graph``: ``x`` ``[1, M, T, F]`` (the M = G*N nodes as one example); Captum's step copies
  ``[S, M, T, F]`` become S disjoint copies of the graph in one forward pass.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from finmt_core.errors import ConfigError
from finmt_core.tasks import Task

if TYPE_CHECKING:
    from finmt_core.data.prepare import InputInfo


@dataclass
class AttributionInputs:
    """What to attribute to and how to get the model's output from it.

    Attributes:
        inputs: the tensors Captum perturbs (leading dim = examples).
        forward: ``(*inputs) -> [examples]`` or ``[examples, C]`` output of one task.
        target: class index per example for classification (``[examples]``) or None.
    """

    inputs: tuple[Tensor, ...]
    forward: Callable[..., Tensor]
    target: Tensor | None


def task_output(task: Task, out: Tensor) -> Tensor:
    """The differentiable scalar(s) explained for a task: class probabilities ``[n, C]``
    (pick one with ``target``), the regression value ``[n]`` or the median quantile ``[n]``."""
    if task.kind == "classification":
        return torch.softmax(out, dim=-1)
    if task.kind == "quantile":
        mid = min(range(len(task.quantiles)), key=lambda j: abs(task.quantiles[j] - 0.5))
        return out[:, mid]
    return out.reshape(-1)


def attribution_inputs(model: nn.Module, batch: dict[str, Any], task: Task, info: InputInfo,
                       nodes: Tensor | None = None, target: Tensor | None = None) -> AttributionInputs:
    """Inputs and forward function for explaining ``task`` on ``batch``.

    Args:
        nodes: graph models only: the node rows (of the batch's G*N) whose outputs are summed
            into the explained output (one row for a per-stock explanation).
        target: classification class per example (default: the predicted class).
    """
    kind = model.input_kind
    fwd: Callable[..., Tensor]  # the explained output of the inputs (one signature per input kind)
    inputs: tuple[Tensor, ...]
    if kind in ("window", "flat", "image"):
        builder = None
        if kind == "image":
            from finmt_core.data.images import ImageBuilder

            builder = ImageBuilder(info.groups, info.image_groups, info.image_size, info.window)

        def fwd_window(x: Tensor) -> Tensor:
            b = {"x": x} if builder is None else {"x": x, "image": builder(x)}
            return task_output(task, model(b)[task.name])

        fwd, inputs = fwd_window, (batch["x"].detach().float(),)
    elif kind == "tower":
        extra = {k: v for k, v in batch.items() if k == "x"}

        def fwd_tower(context: Tensor, stock: Tensor) -> Tensor:
            b = {"context": context, "stock": stock}
            if extra:  # a tower model that also reads the window: hold it fixed, repeated
                b["x"] = extra["x"].repeat(context.shape[0] // extra["x"].shape[0], 1, 1)
            return task_output(task, model(b)[task.name])

        fwd, inputs = fwd_tower, (batch["context"].detach().float(), batch["stock"].detach().float())
    elif kind == "graph":
        if nodes is None:
            raise ConfigError("graph attributions need the node rows to explain (nodes=...)")
        ei, ew, mask = batch["edge_index"], batch["edge_weight"], batch.get("node_mask")
        m = batch["x"].shape[0]

        def fwd_graph(xs: Tensor) -> Tensor:
            s = xs.shape[0]
            offs = (torch.arange(s) * m).repeat_interleave(ei.shape[1])
            b = {"x": xs.reshape(s * m, *xs.shape[2:]), "edge_index": ei.repeat(1, s) + offs, "edge_weight": ew.repeat(s),
                 "n_graphs": int(batch.get("n_graphs", 1)) * s}
            if mask is not None:
                b["node_mask"] = mask.repeat(s)
            out = task_output(task, model(b)[task.name])
            out = out.reshape(s, m, *out.shape[1:])[:, nodes]  # [S, k(, C)]
            return out.sum(dim=1)

        fwd, inputs = fwd_graph, (batch["x"].detach().float().unsqueeze(0),)
    else:
        raise ConfigError(f"no attribution path for input kind {kind!r}")
    if task.kind == "classification" and target is None:
        with torch.no_grad():
            target = fwd(*inputs).argmax(dim=-1)
    return AttributionInputs(inputs=inputs, forward=fwd, target=target if task.kind == "classification" else None)
