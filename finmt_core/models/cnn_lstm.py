"""CNN + LSTM hybrid with cross-attention fusion (seed 002).

Architecture::

    x [B, T, F]
      CNN branch:  Conv1d k=3, 5, 7 (same padding) -> GELU          3 x [B, T, c]
                   scale attention (softmax over the 3 scales)       -> cnn_seq [B, T, c]
      LSTM branch: bidirectional LSTM + linear skip from the input   -> lstm_seq [B, T, 2h]
                   temporal attention pooling                        -> lstm_vec [B, 2h]
      fusion:      query = lstm_vec, keys/values = cnn_seq (multi-head cross-attention)
                   concat(lstm_vec, cross, cnn_seq[:, -1]) -> MLP    -> embedding [B, D]
      heads:       seed preset: return, volatility, regime (4 classes)

Ablations (seed 002 validates the hybrid against its branches): ``model.params.cnn_only: true``
(presets ``cnn_lstm_cnn_only``) or ``lstm_only: true`` (``cnn_lstm_lstm_only``) build the same
class with one branch.

Dropout sits in the fusion MLP and the heads, so :func:`~finmt_core.models.heads.enable_mc_dropout`
turns the model into an MC-dropout ensemble at inference.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import Tensor, nn

from finmt_core.errors import ConfigError
from finmt_core.models.base import MultiTaskModel
from finmt_core.models.heads import build_heads
from finmt_core.models.layers import AttentionPool
from finmt_core.models.registry import register_model
from finmt_core.tasks import Task

if TYPE_CHECKING:
    from finmt_core.data.prepare import InputInfo


@dataclass
class CNNLSTMConfig:
    """Hyper-parameters of :class:`CNNLSTM`.

    Attributes:
        kernels: kernel sizes of the multi-scale convolutions (odd).
        conv_channels: channels c of every scale.
        lstm_hidden: hidden width h per direction of the bidirectional LSTM.
        fusion_dim: width of the cross-attention and of the embedding D.
        attn_heads: heads of the cross-attention (must divide ``fusion_dim``).
        head_hidden: hidden width of each task head.
        dropout: dropout of the fusion MLP and the heads (MC dropout uses it).
        cnn_only: ablation (seed 002's CNN baseline): no LSTM branch; the embedding is the
            fusion MLP over the CNN sequence's attention-pooled vector and its last step.
        lstm_only: ablation (seed 002's LSTM baseline): no CNN branch; the embedding is the
            fusion MLP over the LSTM's attention-pooled vector and its last step.
    """

    kernels: tuple[int, ...] = (3, 5, 7)
    conv_channels: int = 16
    lstm_hidden: int = 32
    fusion_dim: int = 32
    attn_heads: int = 2
    head_hidden: int = 32
    dropout: float = 0.2
    cnn_only: bool = False
    lstm_only: bool = False


class CNNLSTMBackbone(nn.Module):
    """Multi-scale CNN + BiLSTM branches and their cross-attention fusion (or one branch alone,
    for the ablations ``cnn_only`` / ``lstm_only``: the other branch is not built at all)."""

    def __init__(self, cfg: CNNLSTMConfig, n_features: int) -> None:
        super().__init__()
        self.cnn_only, self.lstm_only = cfg.cnn_only, cfg.lstm_only
        if not cfg.lstm_only:
            self.convs = nn.ModuleList(nn.Conv1d(n_features, cfg.conv_channels, k, padding=k // 2) for k in cfg.kernels)
            self.act = nn.GELU()
            self.scale_score = nn.Linear(cfg.conv_channels, 1)
        if not cfg.cnn_only:
            self.lstm = nn.LSTM(n_features, cfg.lstm_hidden, batch_first=True, bidirectional=True)
            self.skip = nn.Linear(n_features, 2 * cfg.lstm_hidden)
        if cfg.cnn_only:
            self.pool = AttentionPool(cfg.conv_channels)
            fused_in = 2 * cfg.conv_channels
        elif cfg.lstm_only:
            self.pool = AttentionPool(2 * cfg.lstm_hidden)
            fused_in = 4 * cfg.lstm_hidden  # pooled vector + last step, as cnn_only reads its last step
        else:
            self.pool = AttentionPool(2 * cfg.lstm_hidden)
            self.query = nn.Linear(2 * cfg.lstm_hidden, cfg.fusion_dim)
            self.key = nn.Linear(cfg.conv_channels, cfg.fusion_dim)
            self.cross = nn.MultiheadAttention(cfg.fusion_dim, cfg.attn_heads, batch_first=True)
            fused_in = 2 * cfg.fusion_dim + cfg.conv_channels
        self.fuse = nn.Sequential(
            nn.LayerNorm(fused_in), nn.Linear(fused_in, cfg.fusion_dim), nn.GELU(), nn.Dropout(cfg.dropout)
        )

    def _cnn(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Multi-scale convolutions over time: ``(cnn_seq [B, T, c], scale weights [B, S])``."""
        xc = x.transpose(1, 2)  # [B, F, T]
        scales = torch.stack([self.act(conv(xc)).transpose(1, 2) for conv in self.convs], dim=1)  # [B, S, T, c]
        scale_w = torch.softmax(self.scale_score(scales.mean(dim=2)).squeeze(-1), dim=1)  # [B, S]
        return torch.einsum("bs,bstc->btc", scale_w, scales), scale_w

    def forward(self, x: Tensor, explain: bool) -> tuple[Tensor, dict[str, Tensor]]:
        if self.cnn_only:
            cnn_seq, scale_w = self._cnn(x)
            cnn_vec, temporal_w = self.pool(cnn_seq)
            emb = self.fuse(torch.cat([cnn_vec, cnn_seq[:, -1]], dim=-1))
            return emb, ({"attention/temporal": temporal_w, "attention/scales": scale_w} if explain else {})
        # LSTM branch with a skip connection from the raw inputs
        lstm_seq, _ = self.lstm(x)
        lstm_seq = lstm_seq + self.skip(x)
        lstm_vec, temporal_w = self.pool(lstm_seq)
        if self.lstm_only:
            # the last step beside the pooled summary: attention pooling alone averages the newest
            # day away, and next-day structure lives there (share of the oracle's edge -0.04 without it)
            emb = self.fuse(torch.cat([lstm_vec, lstm_seq[:, -1]], dim=-1))
            return emb, ({"attention/temporal": temporal_w} if explain else {})
        # CNN branch: [B, F, T] convolutions, scale attention on the time-averaged maps
        cnn_seq, scale_w = self._cnn(x)
        # cross-attention: the LSTM summary asks the CNN sequence what matters
        q = self.query(lstm_vec).unsqueeze(1)
        kv = self.key(cnn_seq)
        cross, cross_w = self.cross(q, kv, kv, need_weights=explain, average_attn_weights=True)
        emb = self.fuse(torch.cat([q.squeeze(1), cross.squeeze(1), cnn_seq[:, -1]], dim=-1))
        extras: dict[str, Tensor] = {}
        if explain:
            assert cross_w is not None
            extras = {
                "attention/temporal": temporal_w,
                "attention/cross": cross_w.squeeze(1),
                "attention/scales": scale_w,
            }
        return emb, extras


@register_model("cnn_lstm")
class CNNLSTM(MultiTaskModel):
    """Multi-scale CNN + BiLSTM hybrid with cross-attention fusion.

    Args:
        cfg: :class:`CNNLSTMConfig`.
        tasks: one head per task (seed preset: return, volatility, regime).
        info: InputInfo (``n_features``).

    Batch keys:
        ``x`` ``[B, T, F]``.

    Returns:
        ``{task: output}``; with ``explain=True`` also ``"embedding"`` ``[B, D]``,
        ``"attention/temporal"`` ``[B, T]`` (LSTM attention pooling over time steps),
        ``"attention/cross"`` ``[B, T]`` (fusion query over CNN time steps, head-averaged)
        and ``"attention/scales"`` ``[B, S]`` (weight of each kernel size). All sum to 1.
    """

    input_kind: ClassVar[str] = "window"
    config_class: ClassVar[type] = CNNLSTMConfig

    def __init__(self, cfg: CNNLSTMConfig, tasks: list[Task], info: InputInfo) -> None:
        super().__init__(cfg, tasks, info)
        self.backbone = CNNLSTMBackbone(cfg, info.n_features)
        self.heads = build_heads(tasks, cfg.fusion_dim, cfg.head_hidden, cfg.dropout)

    @classmethod
    def check_compatible(cls, cfg: CNNLSTMConfig, tasks: list[Task], info: InputInfo) -> None:
        super().check_compatible(cfg, tasks, info)
        if cfg.cnn_only and cfg.lstm_only:
            raise ConfigError("cnn_lstm: cnn_only and lstm_only cannot both be true (that leaves no branch); "
                              "set at most one of them")
        if not cfg.kernels or any(k < 1 or k % 2 == 0 for k in cfg.kernels):
            raise ConfigError(f"cnn_lstm: kernels must be odd sizes >= 1, got {list(cfg.kernels)}")
        if cfg.fusion_dim % cfg.attn_heads:
            raise ConfigError(
                f"cnn_lstm: fusion_dim={cfg.fusion_dim} must be divisible by attn_heads={cfg.attn_heads}"
            )

    def encode(self, batch: dict[str, Any], explain: bool) -> tuple[Tensor, dict[str, Tensor]]:
        x = batch["x"]
        if x.ndim != 3 or x.shape[-1] != self.info.n_features:
            raise ValueError(f"cnn_lstm expects x [B, T, {self.info.n_features}], got {tuple(x.shape)}")
        return self.backbone(x, explain)
