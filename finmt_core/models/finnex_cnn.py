"""FinNeX multi-task CNN on feature images (seed 000).

Each image channel is one feature group rendered as a picture (features as rows, time as
columns). The seed's three branches map onto the groups: ``trend`` = "macro" (trend and
momentum), ``volume`` = "behavioural", ``volatility`` = "fundamental". Channels missing from
the data (e.g. ``volume`` on close-only prices) simply have no branch.

Architecture::

    image [B, C, H, W]
      -> shared conv stem (strided convs), applied to every channel  [B*C, c, H/4, W/4]
      -> one branch per channel/group (conv + coarse pooling + linear) -> tokens [B, C, D]
      -> cross-modal attention between the C tokens (+ modality embeddings)
      -> attention-weighted sum over modalities                     -> fused [B, D]
      (+ wide path: Linear(x[:, -1, :]), the last day's F features   [B, D], if ``wide``)
      -> embedding [B, D] -> one head per task (seed preset: action Buy/Hold/Sell + return)

Branches pool to a coarse ``pool_size x pool_size`` grid rather than a global average so the
position of a pattern in time (recent columns vs old ones) survives.

The optional wide path (Wide & Deep, Cheng et al. 2016) adds a linear map of the most recent
feature vector, every feature exactly as scaled, to the fused image embedding: the conv stack
reads the recent values through strided, padded 3x3 convolutions and pooling, the wide path
reads them as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import Tensor, nn

from finmt_core.data.images import ImageBuilder
from finmt_core.errors import ConfigError
from finmt_core.models.base import MultiTaskModel
from finmt_core.models.heads import build_heads
from finmt_core.models.registry import register_model
from finmt_core.tasks import Task

if TYPE_CHECKING:
    from finmt_core.data.prepare import InputInfo


@dataclass
class FinNeXCNNConfig:
    """Hyper-parameters of :class:`FinNeXCNN` (the seed's 512px/768-d net, scaled to CPU demos).

    Attributes:
        stem_channels: widths of the shared conv stem (each block: strided conv3x3 halving H and W,
            BN, GELU).
        branch_channels: conv width of each modality branch.
        pool_size: branch pooling grid (pool_size x pool_size cells kept before the linear).
        embed_dim: token / embedding width D.
        attn_heads: heads of the cross-modal attention (must divide ``embed_dim``).
        head_hidden: hidden width of each task head.
        dropout: dropout in the fusion and the heads (also used by MC dropout).
        wide: add the wide path, ``Linear(F, D)`` of the last day's features ``x[:, -1, :]``,
            to the embedding (False in checkpoints written before it existed).
    """

    stem_channels: tuple[int, ...] = (8, 16)
    branch_channels: int = 16
    pool_size: int = 4
    embed_dim: int = 32
    attn_heads: int = 2
    head_hidden: int = 32
    dropout: float = 0.2
    wide: bool = False


def _conv_block(cin: int, cout: int, stride: int) -> nn.Sequential:
    """conv3x3 (stride 2 halves H and W) -> BatchNorm -> GELU."""
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=stride, padding=1), nn.BatchNorm2d(cout), nn.GELU())


class CrossModalAttention(nn.Module):
    """Self-attention across modality tokens, then an attention-weighted sum over them.

    Shapes:
        ``tokens`` ``[B, C, D]`` -> ``(fused [B, D], cross [B, C, C] (head-averaged) or None,
        modality weights [B, C])``.
    """

    def __init__(self, n_modalities: int, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.modality = nn.Parameter(torch.zeros(n_modalities, dim))
        nn.init.normal_(self.modality, std=0.02)
        self.norm = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.gate = nn.Linear(dim, 1)
        self.drop = nn.Dropout(dropout)

    def forward(self, tokens: Tensor, need_weights: bool) -> tuple[Tensor, Tensor | None, Tensor]:
        h = self.norm(tokens + self.modality)
        a, cross = self.attn(h, h, h, need_weights=need_weights, average_attn_weights=True)
        h = h + self.drop(a)
        w = torch.softmax(self.gate(h).squeeze(-1), dim=-1)
        return torch.einsum("bc,bcd->bd", w, h), cross, w


class FinNeXCNNBackbone(nn.Module):
    """Shared stem + per-group branches + cross-modal fusion (see module docstring)."""

    def __init__(self, cfg: FinNeXCNNConfig, groups: list[str], n_features: int) -> None:
        super().__init__()
        blocks, cin = [], 1
        for c in cfg.stem_channels:
            blocks.append(_conv_block(cin, c, stride=2))
            cin = c
        self.stem = nn.Sequential(*blocks)
        flat = cfg.branch_channels * cfg.pool_size * cfg.pool_size
        self.branches = nn.ModuleDict(
            {
                g: nn.Sequential(
                    _conv_block(cin, cfg.branch_channels, stride=1),
                    nn.AdaptiveAvgPool2d(cfg.pool_size),
                    nn.Flatten(),
                    nn.Linear(flat, cfg.embed_dim),
                    nn.GELU(),
                )
                for g in groups
            }
        )
        self.fusion = CrossModalAttention(len(groups), cfg.embed_dim, cfg.attn_heads, cfg.dropout)
        self.wide = nn.Linear(n_features, cfg.embed_dim) if cfg.wide else None

    def forward(self, image: Tensor, last: Tensor | None, explain: bool) -> tuple[Tensor, dict[str, Tensor]]:
        """``image`` ``[B, C, H, W]``, ``last`` ``[B, F]`` (the wide path's input, or None) ->
        (embedding ``[B, D]``, explain extras)."""
        b, c, h, w = image.shape
        shared = self.stem(image.reshape(b * c, 1, h, w))
        shared = shared.reshape(b, c, *shared.shape[1:])
        tokens = torch.stack([branch(shared[:, i]) for i, branch in enumerate(self.branches.values())], dim=1)
        fused, cross, weights = self.fusion(tokens, need_weights=explain)
        if self.wide is not None:
            assert last is not None
            fused = fused + self.wide(last)
        extras: dict[str, Tensor] = {}
        if explain:
            assert cross is not None
            extras = {"attention/cross_modal": cross, "attention/modality": weights}
        return fused, extras


@register_model("finnex_cnn")
class FinNeXCNN(MultiTaskModel):
    """Multi-task CNN on feature images with cross-modal attention (FinNeX, seed 000).

    Args:
        cfg: :class:`FinNeXCNNConfig`.
        tasks: one head per task (preset: ``action`` + ``return``).
        info: InputInfo; ``image_groups`` gives the channels, ``image_size`` H = W.

    Batch keys:
        ``x`` ``[B, T, F]`` (the window): the image is rendered from it with the model's own
        layout (:func:`model_image`) and the wide path reads its last day; without ``x``
        (``wide`` off only), ``image`` ``[B, C, H, W]`` with C = ``len(info.image_groups)``.

    Returns:
        ``{task: output}`` (see heads.py); with ``explain=True`` also ``"embedding"`` ``[B, D]``,
        ``"attention/cross_modal"`` ``[B, C, C]`` (token-to-token, head-averaged; rows sum to 1)
        and ``"attention/modality"`` ``[B, C]`` (fusion weight of each channel; sums to 1).
    """

    input_kind: ClassVar[str] = "image"
    config_class: ClassVar[type] = FinNeXCNNConfig

    def __init__(self, cfg: FinNeXCNNConfig, tasks: list[Task], info: InputInfo) -> None:
        super().__init__(cfg, tasks, info)
        self.groups = list(info.image_groups)
        self.images = ImageBuilder.from_info(info)  # no parameters; not in the state_dict
        self.backbone = FinNeXCNNBackbone(cfg, self.groups, int(info.n_features))
        self.heads = build_heads(tasks, cfg.embed_dim, cfg.head_hidden, cfg.dropout)

    @classmethod
    def check_compatible(cls, cfg: FinNeXCNNConfig, tasks: list[Task], info: InputInfo) -> None:
        super().check_compatible(cfg, tasks, info)
        if not info.image_groups:
            raise ConfigError("finnex_cnn needs at least one image channel (trend, volume or volatility features)")
        if cfg.embed_dim % cfg.attn_heads:
            raise ConfigError(
                f"finnex_cnn: embed_dim={cfg.embed_dim} must be divisible by attn_heads={cfg.attn_heads}"
            )

    def encode(self, batch: dict[str, Any], explain: bool) -> tuple[Tensor, dict[str, Tensor]]:
        image = model_image(self.images, batch)
        if image.ndim != 4 or image.shape[1] != len(self.groups):
            raise ValueError(
                f"finnex_cnn expects image [B, {len(self.groups)}, H, W] (channels {self.groups}), "
                f"got {tuple(image.shape)}"
            )
        return self.backbone(image, last_day(batch, int(self.info.n_features)) if self.cfg.wide else None, explain)


def model_image(images: ImageBuilder, batch: dict[str, Any]) -> Tensor:
    """The image a FinNeX model reads: rendered from the window ``x`` ``[B, T, F]`` by the model's
    own :class:`ImageBuilder` (the layout of the InputInfo it was built from, i.e. the checkpoint's),
    else the batch's ``image`` ``[B, C, S, S]``.

    Rendering in the model keeps a checkpoint on the images it was trained on whatever layout
    the current code's datasets (or an explainer rebuilding batches) would draw."""
    x = batch.get("x")
    return images(x) if x is not None else batch["image"]


def last_day(batch: dict[str, Any], n_features: int) -> Tensor:
    """The wide path's input: the window's last day ``x[:, -1, :]`` ``[B, F]`` (a clear error if absent)."""
    x = batch.get("x")
    if x is None or x.ndim != 3 or x.shape[-1] != n_features:
        got = None if x is None else tuple(x.shape)
        raise ValueError(f"the wide path reads the window x [B, T, {n_features}] from the batch, got {got}")
    return x[:, -1, :]
