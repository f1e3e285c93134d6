"""LSTM followed by transformer encoder layers (seed 003, the AI-Stocks LSTM-Transformer).

Architecture::

    x [B, T, F] -> LSTM (h units)                        [B, T, h]
      -> Linear to D + learned position embeddings       [B, T, D]
      -> L pre-norm attention blocks (weights kept)      [B, T, D]
      -> LayerNorm(concat(last step, mean over time))    -> embedding [B, 2D]
      -> heads: seed preset return + direction (focal loss) + quantiles (Q10/Q50/Q90, pinball)

The focal loss and the pinball loss are properties of the tasks (``loss: focal`` /
``target: quantiles``); the model only builds their heads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import Tensor, nn

from finmt_core.errors import ConfigError
from finmt_core.models.base import MultiTaskModel
from finmt_core.models.heads import build_heads
from finmt_core.models.layers import AttentionBlock
from finmt_core.models.registry import register_model
from finmt_core.tasks import Task

if TYPE_CHECKING:
    from finmt_core.data.prepare import InputInfo


@dataclass
class LSTMTransformerConfig:
    """Hyper-parameters of :class:`LSTMTransformer`.

    Attributes:
        lstm_hidden: LSTM width h.
        lstm_layers: stacked LSTM layers.
        d_model: transformer width D.
        depth: attention blocks L.
        heads: attention heads (must divide D).
        mlp_ratio: block MLP width as a multiple of D.
        head_hidden: hidden width of each task head.
        dropout: dropout in the blocks and heads.
    """

    lstm_hidden: int = 32
    lstm_layers: int = 1
    d_model: int = 32
    depth: int = 2
    heads: int = 4
    mlp_ratio: float = 2.0
    head_hidden: int = 32
    dropout: float = 0.1


class LSTMTransformerBackbone(nn.Module):
    """LSTM -> projection + positions -> attention blocks -> pooled embedding."""

    def __init__(self, cfg: LSTMTransformerConfig, n_features: int, window: int) -> None:
        super().__init__()
        self.lstm = nn.LSTM(n_features, cfg.lstm_hidden, num_layers=cfg.lstm_layers, batch_first=True)
        self.proj = nn.Linear(cfg.lstm_hidden, cfg.d_model)
        self.pos = nn.Parameter(torch.zeros(1, window, cfg.d_model))
        nn.init.trunc_normal_(self.pos, std=0.02)
        self.blocks = nn.ModuleList(
            AttentionBlock(cfg.d_model, cfg.heads, cfg.mlp_ratio, cfg.dropout) for _ in range(cfg.depth)
        )
        self.norm = nn.LayerNorm(2 * cfg.d_model)

    def forward(self, x: Tensor, explain: bool) -> tuple[Tensor, dict[str, Tensor]]:
        h, _ = self.lstm(x)
        # positions are aligned to the end of the window: the last step is always "t"
        h = self.proj(h) + self.pos[:, -x.shape[1] :]
        maps = []
        for block in self.blocks:
            h, w = block(h, need_weights=explain)
            if explain:
                maps.append(w)
        emb = self.norm(torch.cat([h[:, -1], h.mean(dim=1)], dim=-1))
        extras = {"attention/layers": torch.stack(maps, dim=1)} if explain and maps else {}
        return emb, extras


@register_model("lstm_transformer")
class LSTMTransformer(MultiTaskModel):
    """LSTM + transformer encoder over feature windows.

    Args:
        cfg: :class:`LSTMTransformerConfig`.
        tasks: one head per task (seed preset: return, direction, quantiles).
        info: InputInfo (``n_features``, ``window`` sizes the position embeddings).

    Batch keys:
        ``x`` ``[B, T, F]`` with T <= ``info.window``.

    Returns:
        ``{task: output}``; with ``explain=True`` also ``"embedding"`` ``[B, 2D]`` and
        ``"attention/layers"`` ``[B, L, heads, T, T]`` (rows sum to 1; time steps oldest first).
    """

    input_kind: ClassVar[str] = "window"
    config_class: ClassVar[type] = LSTMTransformerConfig

    def __init__(self, cfg: LSTMTransformerConfig, tasks: list[Task], info: InputInfo) -> None:
        super().__init__(cfg, tasks, info)
        self.backbone = LSTMTransformerBackbone(cfg, info.n_features, info.window)
        self.heads = build_heads(tasks, 2 * cfg.d_model, cfg.head_hidden, cfg.dropout)

    @classmethod
    def check_compatible(cls, cfg: LSTMTransformerConfig, tasks: list[Task], info: InputInfo) -> None:
        super().check_compatible(cfg, tasks, info)
        if cfg.d_model % cfg.heads:
            raise ConfigError(f"lstm_transformer: d_model={cfg.d_model} must be divisible by heads={cfg.heads}")
        if cfg.lstm_layers < 1:
            raise ConfigError(f"lstm_transformer: lstm_layers must be >= 1, got {cfg.lstm_layers}")

    def encode(self, batch: dict[str, Any], explain: bool) -> tuple[Tensor, dict[str, Tensor]]:
        x = batch["x"]
        if x.ndim != 3 or x.shape[-1] != self.info.n_features or x.shape[1] > self.info.window:
            raise ValueError(
                f"lstm_transformer expects x [B, T<={self.info.window}, {self.info.n_features}], got {tuple(x.shape)}"
            )
        return self.backbone(x, explain)
