"""Dual-tower relevance model (seed 004): a context tower and a stock tower.

Architecture::

    context [B, Fc] (market-wide features at t + their 5-day mean)
        -> context tower: Linear/BatchNorm/ReLU/Dropout MLP   -> c [B, Dc]   (seed 128-64-32)
    stock [B, Fs] (per-stock features at t)
        -> stock tower: same form                             -> s [B, Ds]   (seed 256-128-64)
    fusion: concat(c, s, P c * s) -> Linear/BN/ReLU/Dropout   -> embedding [B, D]
        (P: Dc -> Ds projection; the product is the context-stock interaction)
    heads: seed preset relevance_7d/30d (tanh score in [-1, 1]) + direction_7d/30d
        (positive/negative probabilities), loss weights 1.0/1.0/0.5/0.5

:meth:`DualTower.regularization` is the seed's tower regulariser: an orthogonality term that
keeps the two towers from encoding the same thing plus an embedding-magnitude term.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from finmt_core.errors import ConfigError
from finmt_core.models.base import MultiTaskModel
from finmt_core.models.heads import build_heads
from finmt_core.models.layers import mlp
from finmt_core.models.registry import register_model
from finmt_core.tasks import Task

if TYPE_CHECKING:
    from finmt_core.data.prepare import InputInfo


@dataclass
class DualTowerConfig:
    """Hyper-parameters of :class:`DualTower` (defaults: the seed's tower sizes).

    Attributes:
        context_dims: hidden widths of the context tower; the last one is Dc.
        stock_dims: hidden widths of the stock tower; the last one is Ds.
        fusion_dim: width D of the fused embedding.
        context_dropout: dropout in the context tower (seed 0.2).
        stock_dropout: dropout in the stock tower (seed 0.3).
        head_hidden: hidden width of each task head (seed 16).
        head_dropout: dropout in the fusion layer and the heads.
        orthogonality: weight of the orthogonality term inside :meth:`DualTower.regularization`.
        magnitude: weight of the embedding-magnitude term.
    """

    context_dims: tuple[int, ...] = (128, 64, 32)
    stock_dims: tuple[int, ...] = (256, 128, 64)
    fusion_dim: int = 32
    context_dropout: float = 0.2
    stock_dropout: float = 0.3
    head_hidden: int = 16
    head_dropout: float = 0.1
    orthogonality: float = 1.0
    magnitude: float = 1.0


def tower_regularization(c: Tensor, s: Tensor) -> tuple[Tensor, Tensor]:
    """Orthogonality and magnitude terms of two tower embeddings.

    ``orthogonality = ||C^T S||_F^2 / B^2`` with ``C``, ``S`` the row-normalised embeddings
    ``[B, Dc]``, ``[B, Ds]``: the squared cross-correlation between the towers' features (0
    when the towers' feature spaces are orthogonal; works for Dc != Ds).
    ``magnitude = mean_b (||c_b||^2 / Dc + ||s_b||^2 / Ds)``: keeps embeddings from growing.

    Returns:
        ``(orthogonality, magnitude)``, scalars.
    """
    b = c.shape[0]
    cn, sn = F.normalize(c, dim=-1), F.normalize(s, dim=-1)
    ortho = (cn.transpose(0, 1) @ sn).pow(2).sum() / (b * b)
    magnitude = (c.pow(2).sum(-1) / c.shape[-1] + s.pow(2).sum(-1) / s.shape[-1]).mean()
    return ortho, magnitude


class FusionLayer(nn.Module):
    """Combine the tower embeddings: ``concat(c, s, P c * s)`` -> Linear/BN/ReLU/Dropout.

    Shapes:
        ``c`` ``[B, Dc]``, ``s`` ``[B, Ds]`` -> ``[B, D]``.
    """

    def __init__(self, dc: int, ds: int, out: int, dropout: float) -> None:
        super().__init__()
        self.project = nn.Linear(dc, ds, bias=False)
        self.net = mlp([dc + 2 * ds, out], dropout)

    def forward(self, c: Tensor, s: Tensor) -> Tensor:
        return self.net(torch.cat([c, s, self.project(c) * s], dim=-1))


@register_model("dual_tower")
class DualTower(MultiTaskModel):
    """Context tower + stock tower with relevance/direction heads.

    Args:
        cfg: :class:`DualTowerConfig`.
        tasks: one head per task (seed preset: relevance_7d, relevance_30d, direction_7d,
            direction_30d).
        info: InputInfo; ``context_idx`` and ``stock_idx`` size the two towers (the context
            tower reads ``2 * len(context_idx)`` inputs: the values at t and their 5-day mean).

    Batch keys:
        ``context`` ``[B, Fc]``, ``stock`` ``[B, Fs]``.

    Returns:
        ``{task: output}``; with ``explain=True`` also ``"embedding"`` ``[B, D]`` (fused),
        ``"embedding/context"`` ``[B, Dc]`` and ``"embedding/stock"`` ``[B, Ds]``.
    """

    input_kind: ClassVar[str] = "tower"
    config_class: ClassVar[type] = DualTowerConfig

    def __init__(self, cfg: DualTowerConfig, tasks: list[Task], info: InputInfo) -> None:
        super().__init__(cfg, tasks, info)
        self.n_context = 2 * len(info.context_idx)
        self.n_stock = len(info.stock_idx)
        self.context_tower = mlp([self.n_context, *cfg.context_dims], cfg.context_dropout)
        self.stock_tower = mlp([self.n_stock, *cfg.stock_dims], cfg.stock_dropout)
        self.fusion = FusionLayer(cfg.context_dims[-1], cfg.stock_dims[-1], cfg.fusion_dim, cfg.head_dropout)
        self.heads = build_heads(tasks, cfg.fusion_dim, cfg.head_hidden, cfg.head_dropout)
        self._last: tuple[Tensor, Tensor] | None = None

    @classmethod
    def check_compatible(cls, cfg: DualTowerConfig, tasks: list[Task], info: InputInfo) -> None:
        super().check_compatible(cfg, tasks, info)
        if not info.context_idx:
            raise ConfigError(
                "dual_tower needs market-wide context features for its context tower, but the data has "
                "none (features that are the same for every ticker on a date, e.g. market return; they "
                "need at least 2 tickers or extra numeric context columns). Use another model or add them."
            )
        if not info.stock_idx:
            raise ConfigError("dual_tower needs per-stock features for its stock tower; the data has none")
        if not cfg.context_dims or not cfg.stock_dims:
            raise ConfigError("dual_tower: context_dims and stock_dims need at least one width each")

    def encode(self, batch: dict[str, Any], explain: bool) -> tuple[Tensor, dict[str, Tensor]]:
        context, stock = batch["context"], batch["stock"]
        if context.shape[-1] != self.n_context or stock.shape[-1] != self.n_stock:
            raise ValueError(
                f"dual_tower expects context [B, {self.n_context}] and stock [B, {self.n_stock}], "
                f"got {tuple(context.shape)} and {tuple(stock.shape)}"
            )
        c = self.context_tower(context)
        s = self.stock_tower(stock)
        # kept for regularization(), which the loss calls after this forward pass
        self._last = (c, s)
        emb = self.fusion(c, s)
        extras = {"embedding/context": c, "embedding/stock": s} if explain else {}
        return emb, extras

    def regularization(self) -> Tensor | None:
        """``orthogonality * L_orth + magnitude * L_mag`` on the embeddings of the last forward pass.

        See :func:`tower_regularization`. None before the first forward pass.
        """
        if self._last is None:
            return None
        ortho, magnitude = tower_regularization(*self._last)
        return self.cfg.orthogonality * ortho + self.cfg.magnitude * magnitude
