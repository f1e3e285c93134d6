"""FinNeX Vision-Transformer variant on the same feature images (seed 000, "ViT variant").

Architecture::

    image [B, C, H, W] -> patch embedding (conv p x p, stride p)  [B, P, D], P = (H/p)(W/p)
      -> prepend CLS token, add learned position embeddings      [B, P+1, D]
      -> L pre-norm encoder blocks (attention weights kept)       [B, P+1, D]
      -> LayerNorm(CLS)                                           [B, D]
      (+ wide path: Linear(x[:, -1, :]), the last day's F features, if ``wide``)
      -> embedding [B, D] -> one head per task

The wide path is the one of :mod:`finmt_core.models.finnex_cnn` (Wide & Deep): the most recent
feature values, unblurred by patching, added linearly to the CLS embedding.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import Tensor, nn

from finmt_core.data.images import ImageBuilder
from finmt_core.errors import ConfigError
from finmt_core.models.base import MultiTaskModel
from finmt_core.models.finnex_cnn import last_day, model_image
from finmt_core.models.heads import build_heads
from finmt_core.models.layers import AttentionBlock
from finmt_core.models.registry import register_model
from finmt_core.tasks import Task

if TYPE_CHECKING:
    from finmt_core.data.prepare import InputInfo


@dataclass
class FinNeXViTConfig:
    """Hyper-parameters of :class:`FinNeXViT`.

    Attributes:
        patch_size: patch side p (must divide ``data.image_size``).
        embed_dim: token width D.
        depth: encoder blocks L.
        heads: attention heads per block (must divide D).
        mlp_ratio: MLP width as a multiple of D.
        head_hidden: hidden width of each task head.
        dropout: dropout in blocks and heads.
        wide: add the wide path, ``Linear(F, D)`` of the last day's features ``x[:, -1, :]``,
            to the embedding (False in checkpoints written before it existed).
    """

    patch_size: int = 8
    embed_dim: int = 32
    depth: int = 2
    heads: int = 4
    mlp_ratio: float = 2.0
    head_hidden: int = 32
    dropout: float = 0.1
    wide: bool = False


class FinNeXViTBackbone(nn.Module):
    """Patch embedding + CLS + position embeddings + attention blocks."""

    def __init__(self, cfg: FinNeXViTConfig, channels: int, image_size: int, n_features: int) -> None:
        super().__init__()
        self.patch = nn.Conv2d(channels, cfg.embed_dim, cfg.patch_size, stride=cfg.patch_size)
        n_patches = (image_size // cfg.patch_size) ** 2
        self.cls = nn.Parameter(torch.zeros(1, 1, cfg.embed_dim))
        self.pos = nn.Parameter(torch.zeros(1, n_patches + 1, cfg.embed_dim))
        nn.init.trunc_normal_(self.cls, std=0.02)
        nn.init.trunc_normal_(self.pos, std=0.02)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(
            AttentionBlock(cfg.embed_dim, cfg.heads, cfg.mlp_ratio, cfg.dropout) for _ in range(cfg.depth)
        )
        self.norm = nn.LayerNorm(cfg.embed_dim)
        self.wide = nn.Linear(n_features, cfg.embed_dim) if cfg.wide else None

    def forward(self, image: Tensor, last: Tensor | None, explain: bool) -> tuple[Tensor, dict[str, Tensor]]:
        """``image`` ``[B, C, H, W]``, ``last`` ``[B, F]`` (the wide path's input, or None) ->
        (embedding ``[B, D]``, explain extras)."""
        tokens = self.patch(image).flatten(2).transpose(1, 2)  # [B, P, D]
        x = torch.cat([self.cls.expand(tokens.shape[0], -1, -1), tokens], dim=1) + self.pos
        x = self.drop(x)
        maps = []
        for block in self.blocks:
            x, w = block(x, need_weights=explain)
            if explain:
                maps.append(w)
        emb = self.norm(x[:, 0])
        if self.wide is not None:
            assert last is not None
            emb = emb + self.wide(last)
        extras = {"attention/layers": torch.stack(maps, dim=1)} if explain else {}
        return emb, extras


@register_model("finnex_vit")
class FinNeXViT(MultiTaskModel):
    """Vision Transformer on feature images.

    Args:
        cfg: :class:`FinNeXViTConfig`.
        tasks: one head per task.
        info: InputInfo (``image_groups`` -> channels C, ``image_size`` -> H = W).

    Batch keys:
        ``x`` ``[B, T, F]`` (the window): the image is rendered from it with the model's own
        layout (:func:`~finmt_core.models.finnex_cnn.model_image`) and the wide path reads its
        last day; without ``x`` (``wide`` off only), ``image`` ``[B, C, H, W]``.

    Returns:
        ``{task: output}``; with ``explain=True`` also ``"embedding"`` ``[B, D]`` (the CLS
        token) and ``"attention/layers"`` ``[B, L, heads, P+1, P+1]`` (token 0 is CLS; patches
        in row-major order over the ``(H/p) x (W/p)`` grid; rows sum to 1).
    """

    input_kind: ClassVar[str] = "image"
    config_class: ClassVar[type] = FinNeXViTConfig

    def __init__(self, cfg: FinNeXViTConfig, tasks: list[Task], info: InputInfo) -> None:
        super().__init__(cfg, tasks, info)
        self.channels = len(info.image_groups)
        self.image_size = int(info.image_size)
        self.grid = self.image_size // cfg.patch_size
        self.images = ImageBuilder.from_info(info)  # no parameters; not in the state_dict
        self.backbone = FinNeXViTBackbone(cfg, self.channels, self.image_size, int(info.n_features))
        self.heads = build_heads(tasks, cfg.embed_dim, cfg.head_hidden, cfg.dropout)

    @classmethod
    def check_compatible(cls, cfg: FinNeXViTConfig, tasks: list[Task], info: InputInfo) -> None:
        super().check_compatible(cfg, tasks, info)
        if not info.image_groups:
            raise ConfigError("finnex_vit needs at least one image channel (trend, volume or volatility features)")
        if cfg.patch_size < 1 or info.image_size % cfg.patch_size:
            raise ConfigError(
                f"finnex_vit: data.image_size={info.image_size} must be a multiple of patch_size={cfg.patch_size}; "
                "change one of them (e.g. image_size 32 with patch_size 8)"
            )
        if cfg.embed_dim % cfg.heads:
            raise ConfigError(f"finnex_vit: embed_dim={cfg.embed_dim} must be divisible by heads={cfg.heads}")

    def encode(self, batch: dict[str, Any], explain: bool) -> tuple[Tensor, dict[str, Tensor]]:
        image = model_image(self.images, batch)
        expected = (self.channels, self.image_size, self.image_size)
        if image.ndim != 4 or tuple(image.shape[1:]) != expected:
            raise ValueError(f"finnex_vit expects image [B, {', '.join(map(str, expected))}], got {tuple(image.shape)}")
        return self.backbone(image, last_day(batch, int(self.info.n_features)) if self.cfg.wide else None, explain)
