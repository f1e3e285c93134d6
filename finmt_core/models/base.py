"""The common shape of every neural model: an encoder (backbone) plus one head per task.

Subclasses implement :meth:`MultiTaskModel.encode` (batch -> embedding ``[B, D]`` and, on the
explain path, attention tensors) and create ``self.heads = build_heads(...)``. Top-level
sub-modules are named after parameter groups (``backbone``, ``heads``, ``context_tower``,
``stock_tower``, ``fusion``, ``ticker_embedding``), so per-component learning rates can be set
either through :meth:`MultiTaskModel.param_groups` or by parameter-name prefix
(``train.lr_groups``).

Optional learnable ticker embeddings (``model.ticker_embedding: dim``, any architecture):
:meth:`MultiTaskModel.add_ticker_embedding` adds a :class:`TickerEmbedding` whose projection is
added to the backbone's embedding before the heads. The projection starts at zero, so turning
it on starts from the plain model.
"""

from __future__ import annotations

import abc
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import Tensor, nn

from finmt_core.errors import ConfigError
from finmt_core.models.heads import apply_heads
from finmt_core.tasks import Task

if TYPE_CHECKING:
    from finmt_core.data.prepare import InputInfo

log = logging.getLogger(__name__)


class TickerEmbedding(nn.Module):
    """A learnable vector per training ticker, projected to the model's embedding width.

    Rows follow the training ticker list (``InputInfo.tickers``, the vocabulary). A ticker
    that the model never saw in a training-mode forward pass (not in the vocabulary, or in
    it without training rows, e.g. listed only after the train segment) gets the shared
    "unseen ticker" vector: the mean of the seen tickers' vectors (the average ticker, a
    vector the heads were trained around; a separate learnable row would never be trained,
    since no training row points at it).

    Args:
        n_tickers: vocabulary size N (``InputInfo.n_nodes``).
        dim: embedding dimension.
        out_dim: width D of the backbone embedding the projection is added to.
        tickers: the N training ticker names (None: unknown; then ``bind`` can only keep
            indices as they are).

    Shapes:
        ``ticker_idx`` ``[B]`` int64 (index into the data's ticker list), ``mark`` ``[B]``
        bool or None -> ``[B, out_dim]``.

    State: ``table.weight`` ``[N, dim]``, ``proj.weight`` ``[out_dim, dim]`` (zero at
    start), buffer ``seen`` ``[N + 1]`` bool (slot N is a sink for unmarked rows; saved in
    checkpoints); non-persistent ``remap`` ``[N_data]`` int64 (data index -> row, -1 =
    unknown) set by :meth:`bind`.
    """

    seen: Tensor  # [N + 1] bool buffer
    remap: Tensor | None  # [N_data] int64 buffer, or None (indices are rows)

    def __init__(self, n_tickers: int, dim: int, out_dim: int, tickers: Sequence[str] | None = None) -> None:
        super().__init__()
        if n_tickers < 1 or dim < 1:
            raise ConfigError(f"ticker embedding needs >= 1 ticker and dimension >= 1, got {n_tickers} and {dim}")
        if tickers is not None and len(tickers) != n_tickers:
            raise ConfigError(f"ticker embedding: {len(tickers)} ticker names for {n_tickers} tickers")
        self.n_tickers = n_tickers
        self.vocabulary = [str(t) for t in tickers] if tickers is not None else None
        self.table = nn.Embedding(n_tickers, dim)
        nn.init.normal_(self.table.weight, std=dim**-0.5)  # unit-norm vectors on average
        self.proj = nn.Linear(dim, out_dim, bias=False)
        nn.init.zeros_(self.proj.weight)
        self.register_buffer("seen", torch.zeros(n_tickers + 1, dtype=torch.bool))
        self.register_buffer("remap", None, persistent=False)
        self._bound: tuple[str, ...] | None = None

    def bind(self, tickers: Sequence[str] | None) -> None:
        """Read later batches' ``ticker_idx`` as indices into ``tickers`` (the data's ticker
        list): each maps to its vocabulary row, names not in the vocabulary to the shared
        vector. ``None`` or the vocabulary itself: indices are rows (training data)."""
        key = None if tickers is None else tuple(str(t) for t in tickers)
        if key == self._bound:  # already bound (None: unbound, remap None)
            return
        if key is None or (self.vocabulary is not None and list(key) == self.vocabulary):
            self.remap, self._bound = None, None
            return
        if self.vocabulary is None:
            log.warning("ticker embedding without a ticker vocabulary (an InputInfo without tickers): "
                        "ticker indices are read as rows; indices >= %d get the shared vector", self.n_tickers)
            rows = [i if i < self.n_tickers else -1 for i in range(len(key))]
        else:
            pos = {t: i for i, t in enumerate(self.vocabulary)}
            rows = [pos.get(t, -1) for t in key]
            unknown = sum(r < 0 for r in rows)
            if unknown:
                log.info("%d of %d tickers are not in the model's training tickers: they get the shared "
                         "unseen-ticker embedding", unknown, len(key))
        self.remap = torch.tensor(rows, dtype=torch.long, device=self.table.weight.device)
        self._bound = key

    def forward(self, ticker_idx: Tensor | None, n_rows: int, mark: Tensor | None = None) -> Tensor:
        """The projected ticker vectors ``[B, out_dim]``; ``ticker_idx`` None: all shared.

        In training mode the rows (where ``mark`` is True) are recorded as seen."""
        weight = self.table.weight
        n = self.n_tickers
        if ticker_idx is None:
            idx = torch.full((n_rows,), -1, dtype=torch.long, device=weight.device)
        else:
            if ticker_idx.shape != (n_rows,):
                raise ValueError(f"ticker_idx must be [{n_rows}] (one per embedding row), got {tuple(ticker_idx.shape)}")
            idx = ticker_idx.to(device=weight.device, dtype=torch.long)
            if self.remap is not None:
                idx = self.remap[idx]
        known = (idx >= 0) & (idx < n)
        safe = idx.clamp(0, n - 1)
        if self.training:
            hit = known if mark is None else known & mark.to(known.device)
            self.seen.index_fill_(0, torch.where(hit, safe, torch.full_like(safe, n)), True)
            shared_rows = ~known
        else:
            shared_rows = ~known | ~self.seen[safe]
        seen = self.seen[:n].to(weight.dtype)
        shared = (seen @ weight) / seen.sum().clamp(min=1.0)  # mean of the seen rows ([dim]; 0 if none)
        vec = torch.where(shared_rows.unsqueeze(-1), shared, self.table(safe))
        return self.proj(vec)


def _embedding_width(heads: nn.ModuleDict) -> int:
    """D, the input width of the task heads (every model builds them with ``build_heads``)."""
    for head in heads.values():
        for m in getattr(head, "net", head).modules():
            if isinstance(m, nn.Linear):
                return int(m.in_features)
    raise ConfigError("cannot add a ticker embedding: the model's heads have no linear layer to size it from")


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

    def __init__(self, cfg: Any, tasks: list[Task], info: InputInfo) -> None:
        super().__init__()
        self.cfg = cfg
        self.tasks = list(tasks)
        self.info = info
        self.ticker_embedding: TickerEmbedding | None = None

    def add_ticker_embedding(self, dim: int) -> None:
        """Add a learnable ``dim``-wide embedding per ticker (``info.n_nodes`` tickers, names
        ``info.tickers``) whose zero-initialised projection is added to the backbone
        embedding before the heads (sub-module / parameter group ``ticker_embedding``)."""
        self.ticker_embedding = TickerEmbedding(
            int(getattr(self.info, "n_nodes", 0)), dim, _embedding_width(self.heads), getattr(self.info, "tickers", None)
        )

    def bind_tickers(self, tickers: Sequence[str] | None) -> None:
        """Batches' ``ticker_idx`` index ``tickers`` (the data's list) from now on; mapped to the
        training tickers by name (see :meth:`TickerEmbedding.bind`). No-op without embedding."""
        if self.ticker_embedding is not None:
            self.ticker_embedding.bind(tickers)

    @classmethod
    def check_compatible(cls, cfg: Any, tasks: list[Task], info: InputInfo) -> None:
        """Raise ConfigError when the inputs described by ``info`` cannot feed this model."""
        if getattr(info, "n_features", 0) < 1:
            raise ConfigError(f"model {cls.model_name!r} needs at least one input feature; the data has none")

    @abc.abstractmethod
    def encode(self, batch: dict[str, Any], explain: bool) -> tuple[Tensor, dict[str, Tensor]]:
        """Batch -> (embedding ``[B, D]``, extra explain outputs ``{"attention/...": Tensor}``)."""

    def forward(self, batch: dict[str, Any], explain: bool = False) -> dict[str, Tensor]:
        """Predict every task for a batch (see the class docstring for the batch keys).

        Returns:
            ``{task name: output}``; with ``explain=True`` also ``"embedding"`` ``[B, D]`` (what
            the heads read: with a ticker embedding, backbone + ticker term) and the model's
            ``"attention/<what>"`` tensors.
        """
        emb, extras = self.encode(batch, explain)
        if self.ticker_embedding is not None:
            # batches without ticker_idx (e.g. rebuilt by an explainer) get the shared vector
            emb = emb + self.ticker_embedding(batch.get("ticker_idx"), emb.shape[0], batch.get("node_mask"))
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
