"""Attention maps as labelled arrays, from ``model(batch, explain=True)``.

Keys the models return and what they become here (averaged over the batch's examples):

==========================  ================================  ================================
model key                   model                             map
==========================  ================================  ================================
``attention/cross_modal``   finnex_cnn ``[B, C, C]``          channel x channel (image groups)
``attention/modality``      finnex_cnn ``[B, C]``             fusion weight per channel
``attention/layers``        finnex_vit ``[B, L, H, P+1, P+1]`` attention rollout: CLS -> patch
                                                              grid (feature rows x time blocks)
``attention/layers``        lstm_transformer ``[B, L, H, T, T]`` last step's rollout over time +
                                                              last layer's time x time map
``attention/temporal``      cnn_lstm ``[B, T]``               LSTM attention over time steps
``attention/cross``         cnn_lstm ``[B, T]``               fusion query over CNN time steps
``attention/scales``        cnn_lstm ``[B, S]``               weight per kernel size
``attention/edges``         tgcn (GAT) ``[G*E, heads]``       per-edge weight (mean of heads and
                                                              dates), with ``edge_index``
==========================  ================================  ================================

Rollout (Abnar & Zuidema 2020): per layer average heads, add the identity (residual) and
renormalise rows, then multiply the layers' matrices.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

if TYPE_CHECKING:
    from finmt_core.data.prepare import InputInfo


@dataclass
class AttentionMap:
    """A 2-D attention array ``values`` ``[len(y_labels), len(x_labels)]`` with axis labels."""

    name: str
    values: np.ndarray
    x_labels: list[str]
    y_labels: list[str]
    x_title: str = ""
    y_title: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def rollout(layers: np.ndarray) -> np.ndarray:
    """Attention rollout of ``[..., L, H, S, S]`` -> ``[..., S, S]`` (batched over the
    leading dims; the only loop is over the L layers)."""
    a = layers.mean(axis=-3)  # [..., L, S, S]
    eye = np.eye(a.shape[-1])
    a = a + eye
    a = a / a.sum(axis=-1, keepdims=True)
    out = np.broadcast_to(eye, a.shape[:-3] + eye.shape)
    for i in range(a.shape[-3]):
        out = a[..., i, :, :] @ out
    return out


def _time_labels(t: int) -> list[str]:
    return [f"t-{t - 1 - i}" if i < t - 1 else "t" for i in range(t)]


def _np(x: torch.Tensor) -> np.ndarray:
    return x.detach().float().cpu().numpy()


def _vit(layers: np.ndarray, info: InputInfo) -> list[AttentionMap]:
    """Rollout per example (averaged), CLS row -> the square patch grid of the image."""
    roll = rollout(layers).mean(axis=0)  # [P+1, P+1], averaged over examples
    cls = roll[0, 1:]
    g = math.isqrt(cls.size)
    grid = cls.reshape(g, g) if g * g == cls.size else cls[None, :]
    return [AttentionMap(
        "vit_rollout", grid / max(grid.sum(), 1e-12),
        x_labels=[f"time block {j + 1}" for j in range(grid.shape[1])],
        y_labels=[f"feature rows {i + 1}" for i in range(grid.shape[0])],
        x_title="patch column (time)", y_title="patch row (features)",
        extra={"channels": list(info.image_groups)},
    )]


def _temporal_layers(layers: np.ndarray) -> list[AttentionMap]:
    t = layers.shape[-1]
    labels = _time_labels(t)
    roll = rollout(layers).mean(axis=0)
    last = layers[:, -1].mean(axis=(0, 1))  # last layer, heads and examples averaged
    return [
        AttentionMap("temporal_rollout", roll[-1:, :], labels, ["t (last step)"], "attended time step", ""),
        AttentionMap("last_layer", last, labels, labels, "key (attended)", "query"),
    ]


def attention_maps(model: nn.Module, batch: dict[str, Any], info: InputInfo, tickers: list[str] | None = None,
                   edge_index: np.ndarray | None = None) -> list[AttentionMap]:
    """Every attention map the model returns on its explain path, labelled.

    Args:
        batch: a batch of the model's input kind (graph: whole dates).
        info: InputInfo (feature names, groups, window).
        tickers, edge_index: graph models: node labels and the ``[2, E]`` graph of one date
            (``prepared.graph.edge_index``) for the edge list of ``attention/edges``.
    Returns:
        A list of :class:`AttentionMap` (empty when the model has no attention).
    """
    model.eval()
    with torch.no_grad():
        out = model(batch, explain=True)
    maps: list[AttentionMap] = []
    groups = list(info.image_groups)
    for key, val in out.items():
        if not key.startswith("attention/"):
            continue
        a = _np(val)
        what = key.split("/", 1)[1]
        if what == "cross_modal":
            maps.append(AttentionMap("cross_modal", a.mean(axis=0), groups, groups, "attended channel", "query channel"))
        elif what == "modality":
            maps.append(AttentionMap("modality", a.mean(axis=0)[None, :], groups, ["weight"], "channel", ""))
        elif what == "layers":
            maps += _vit(a, info) if model.input_kind == "image" else _temporal_layers(a)
        elif what in ("temporal", "cross"):
            maps.append(AttentionMap(what, a.mean(axis=0)[None, :], _time_labels(a.shape[-1]), ["weight"], "time step", ""))
        elif what == "scales":
            ks = getattr(getattr(model, "cfg", None), "kernel_sizes", None) or range(a.shape[-1])
            maps.append(AttentionMap("scales", a.mean(axis=0)[None, :], [f"kernel {k}" for k in ks], ["weight"], "scale", ""))
        elif what == "edges":
            maps.append(_edges(a, batch, tickers, edge_index))
    return maps


def _edges(a: np.ndarray, batch: dict[str, Any], tickers: list[str] | None, edge_index: np.ndarray | None) -> AttentionMap:
    """``[G*E, heads]`` -> per-edge weight of one date's graph (mean over heads and the G
    dates; edges cut out of message passing count as 0) and an N x N matrix."""
    g = int(batch.get("n_graphs", 1))
    per_edge = a.mean(axis=1).reshape(g, -1).mean(axis=0)  # [E]
    if edge_index is None:
        edge_index = _np(batch["edge_index"][:, : per_edge.size]).astype(np.int64)
    n = len(tickers) if tickers is not None else int(edge_index.max()) + 1
    mat = np.zeros((n, n))
    np.add.at(mat, (edge_index[1], edge_index[0]), per_edge)  # row = target node, column = source
    labels = list(tickers) if tickers is not None else [str(i) for i in range(n)]
    return AttentionMap("gat_edges", mat, labels, labels, "source", "target",
                        extra={"edge_index": edge_index, "edge_weight": per_edge})
