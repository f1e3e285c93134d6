"""Small building blocks shared by the architectures.

``nn.TransformerEncoderLayer`` cannot return its attention weights, so the transformer models
use :class:`AttentionBlock`, a pre-norm encoder block around ``nn.MultiheadAttention`` that
returns per-head weights on request.
"""

from __future__ import annotations

from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class AttentionBlock(nn.Module):
    """Pre-norm transformer encoder block: ``x + MHA(LN(x))`` then ``x + MLP(LN(x))``.

    Args:
        dim: token width D.
        heads: attention heads (must divide D).
        mlp_ratio: hidden width of the MLP as a multiple of D.
        dropout: dropout on the attention output, the MLP hidden layer and its output.

    Shapes:
        ``x`` ``[B, L, D]`` -> ``([B, L, D], weights [B, heads, L, L] or None)``.
    """

    def __init__(self, dim: int, heads: int, mlp_ratio: float = 2.0, dropout: float = 0.1) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"attention width {dim} is not divisible by {heads} heads")
        self.norm1 = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.drop1 = nn.Dropout(dropout)
        self.norm2 = nn.LayerNorm(dim)
        hidden = max(1, int(dim * mlp_ratio))
        self.mlp = nn.Sequential(
            nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, dim), nn.Dropout(dropout)
        )

    def forward(self, x: Tensor, need_weights: bool = False) -> tuple[Tensor, Tensor | None]:
        h = self.norm1(x)
        a, w = self.attn(h, h, h, need_weights=need_weights, average_attn_weights=False)
        x = x + self.drop1(a)
        x = x + self.mlp(self.norm2(x))
        return x, w


class AttentionPool(nn.Module):
    """Additive attention pooling over a sequence: ``softmax_L(v^T tanh(W x))``-weighted mean.

    Shapes:
        ``x`` ``[B, L, D]`` -> ``(pooled [B, D], weights [B, L])`` (weights sum to 1 over L).
    """

    def __init__(self, dim: int, hidden: int | None = None) -> None:
        super().__init__()
        hidden = hidden or dim
        self.score = nn.Sequential(nn.Linear(dim, hidden), nn.Tanh(), nn.Linear(hidden, 1))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        w = torch.softmax(self.score(x).squeeze(-1), dim=-1)
        return torch.einsum("bl,bld->bd", w, x), w


class SafeBatchNorm1d(nn.BatchNorm1d):
    """BatchNorm1d that falls back to its running statistics for a training batch of one row.

    A plain BatchNorm1d raises on ``[1, F]`` in training mode; a data loader's last batch can
    hold a single row, and one row carries no batch statistics anyway.
    """

    def forward(self, x: Tensor) -> Tensor:
        if self.training and x.shape[0] == 1:
            return F.batch_norm(
                x, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0, self.eps
            )
        return super().forward(x)


def mlp(dims: list[int], dropout: float, batch_norm: bool = True) -> nn.Sequential:
    """``Linear -> BatchNorm -> ReLU -> Dropout`` for every consecutive pair of ``dims``.

    Shapes:
        ``[B, dims[0]]`` -> ``[B, dims[-1]]``.
    """
    layers: list[nn.Module] = []
    for a, b in pairwise(dims):
        layers.append(nn.Linear(a, b))
        if batch_norm:
            layers.append(SafeBatchNorm1d(b))
        layers += [nn.ReLU(), nn.Dropout(dropout)]
    return nn.Sequential(*layers)
