"""The common shape of every neural model: an encoder (backbone) plus one head per task.

Subclasses implement :meth:`MultiTaskModel.encode` (batch -> embedding ``[B, D]`` and, on the
explain path, attention tensors) and create ``self.heads = build_heads(...)``. Top-level
sub-modules are named after parameter groups (``backbone``, ``heads``, ``context_tower``,
``stock_tower``, ``fusion``), so per-component learning rates can be set either through
:meth:`MultiTaskModel.param_groups` or by parameter-name prefix (``train.lr_groups``).
"""

from __future__ import annotations

import abc
from typing import Any, ClassVar

from torch import Tensor, nn

from finmt_core.errors import ConfigError
from finmt_core.models.heads import apply_heads
from finmt_core.tasks import Task


class MultiTaskModel(nn.Module, abc.ABC):
    """Base class of the registered neural models.

    Class attributes:
        input_kind: which batch layout the model reads (``window | image | graph | tower``).
        config_class: dataclass of hyper-parameters (defaults from the seed design).
        supported_tasks: target families the model can train (None = every family).
        model_name: the registry name (set by ``@register_model``).
    """

    input_kind: ClassVar[str]
    config_class: ClassVar[type]
    supported_tasks: ClassVar[set[str] | None] = None
    model_name: ClassVar[str] = ""

    heads: nn.ModuleDict

    def __init__(self, cfg: Any, tasks: list[Task], info: Any) -> None:
        super().__init__()
        self.cfg = cfg
        self.tasks = list(tasks)
        self.info = info

    @classmethod
    def check_compatible(cls, cfg: Any, tasks: list[Task], info: Any) -> None:
        """Raise ConfigError when the inputs described by ``info`` cannot feed this model."""
        if getattr(info, "n_features", 0) < 1:
            raise ConfigError(f"model {cls.model_name!r} needs at least one input feature; the data has none")

    @abc.abstractmethod
    def encode(self, batch: dict[str, Any], explain: bool) -> tuple[Tensor, dict[str, Tensor]]:
        """Batch -> (embedding ``[B, D]``, extra explain outputs ``{"attention/...": Tensor}``)."""

    def forward(self, batch: dict[str, Any], explain: bool = False) -> dict[str, Tensor]:
        """Predict every task for a batch (see the class docstring for the batch keys).

        Returns:
            ``{task name: output}``; with ``explain=True`` also ``"embedding"`` ``[B, D]`` and
            the model's ``"attention/<what>"`` tensors.
        """
        emb, extras = self.encode(batch, explain)
        out = apply_heads(self.heads, emb)
        if explain:
            out["embedding"] = emb
            out.update(extras)
        return out

    def regularization(self) -> Tensor | None:
        """Extra loss terms of the model (None: none). Weighted by ``loss.regularization``."""
        return None

    def param_groups(self) -> dict[str, list[nn.Parameter]]:
        """Trainable parameters by component (top-level sub-module name), for per-group lrs."""
        groups: dict[str, list[nn.Parameter]] = {}
        for name, p in self.named_parameters():
            if p.requires_grad:
                groups.setdefault(name.split(".", 1)[0], []).append(p)
        return groups

    def n_parameters(self) -> int:
        """Number of trainable parameters."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)
