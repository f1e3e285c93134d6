"""Task heads (one per :class:`~finmt_core.tasks.Task`) and MC dropout.

Signal-gated inference (Down / Neutral / Up from the heads' probabilities) lives in one place,
:class:`finmt_core.inference.gating.GatingPolicy`.

Every model ends in ``build_heads(tasks, in_dim, hidden, dropout)``: the backbone's embedding
``[B, D]`` goes through one small MLP per task, and the head shapes its output by task kind:

=================  =============  ==========================================================
kind               output         notes
=================  =============  ==========================================================
classification     ``[B, C]``     logits (softmax gives class probabilities)
regression         ``[B]``        ``tanh``-bounded to [-1, 1] when ``task.bounded`` (relevance)
quantile           ``[B, Q]``     ascending: ``q_0 = a_0``, ``q_k = q_{k-1} + softplus(a_k)``
=================  =============  ==========================================================
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from finmt_core.tasks import Task

# Quantile deltas start at softplus(-4) ~ 0.018: the spread of daily log returns, so the
# pinball loss does not first spend epochs shrinking a unit-wide interval.
_QUANTILE_DELTA_INIT = -4.0
# Regression/quantile outputs start near zero (targets are small log returns or vols).
_OUTPUT_INIT_GAIN = 0.1


class TaskHead(nn.Module):
    """MLP head of one task: ``Linear(D, hidden) -> GELU -> Dropout -> Linear(hidden, out)``.

    With ``hidden == 0`` the head is a single ``Linear(D, out)`` (the TGCN seed's heads).

    Args:
        task: the task this head predicts.
        in_dim: width D of the backbone embedding.
        hidden: width of the hidden layer (0 = linear head).
        dropout: dropout probability before the output layer.

    Shapes:
        input ``[B, D]`` -> classification ``[B, C]``, regression ``[B]``, quantile ``[B, Q]``.
    """

    def __init__(self, task: Task, in_dim: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.kind = task.kind
        self.bounded = task.bounded
        n_out = task.n_outputs
        layers: list[nn.Module] = []
        if hidden > 0:
            layers += [nn.Linear(in_dim, hidden), nn.GELU(), nn.Dropout(dropout)]
            last_in = hidden
        else:
            layers += [nn.Dropout(dropout)]
            last_in = in_dim
        self.out = nn.Linear(last_in, n_out)
        self.net = nn.Sequential(*layers, self.out)
        if self.kind != "classification":
            with torch.no_grad():
                self.out.weight.mul_(_OUTPUT_INIT_GAIN)
                self.out.bias.zero_()
                if self.kind == "quantile":
                    self.out.bias[1:].fill_(_QUANTILE_DELTA_INIT)

    def forward(self, h: Tensor) -> Tensor:
        """Apply the head to the embedding ``h`` ``[B, D]``."""
        y = self.net(h)
        if self.kind == "classification":
            return y
        if self.kind == "regression":
            y = y[:, 0]
            return torch.tanh(y) if self.bounded else y
        return monotone_quantiles(y)


def monotone_quantiles(raw: Tensor) -> Tensor:
    """Map unconstrained ``[B, Q]`` to strictly ascending quantiles.

    ``q_0 = raw_0`` and ``q_k = raw_0 + sum_{j<=k} softplus(raw_j)``, so quantiles never cross.
    """
    if raw.shape[-1] == 1:
        return raw
    deltas = F.softplus(raw[..., 1:])
    return torch.cat([raw[..., :1], raw[..., :1] + torch.cumsum(deltas, dim=-1)], dim=-1)


def build_heads(tasks: Sequence[Task], in_dim: int, hidden: int, dropout: float) -> nn.ModuleDict:
    """One :class:`TaskHead` per task, keyed by task name (in task order)."""
    return nn.ModuleDict({t.name: TaskHead(t, in_dim, hidden, dropout) for t in tasks})


def apply_heads(heads: nn.ModuleDict, h: Tensor) -> dict[str, Tensor]:
    """Run every head on the embedding ``h`` ``[B, D]``: ``{task name: output}``."""
    return {name: head(h) for name, head in heads.items()}


# ---- Monte-Carlo dropout ------------------------------------------------------------------
def enable_mc_dropout(model: nn.Module) -> int:
    """Put ``model`` in eval mode except its dropout layers (MC dropout, Gal & Ghahramani 2016).

    BatchNorm and everything else keep inference behaviour; only ``nn.Dropout*`` modules
    sample masks, so repeated forward passes give a predictive distribution. Call
    ``model.eval()`` to switch it off again.

    Returns:
        The number of dropout layers with ``p > 0`` now active (0 = MC dropout gives no spread).
    """
    model.eval()
    active = 0
    for m in model.modules():
        if isinstance(m, nn.modules.dropout._DropoutNd):
            m.train()
            active += int(m.p > 0)
    return active
