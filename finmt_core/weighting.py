"""Task-weighting strategies for the multi-task loss.

Each strategy turns the ``[K]`` vector of unweighted per-task losses into one scalar:

- ``fixed``: ``sum_i w_i L_i`` with ``w_i = task.weight``.
- ``learnable`` (the FinNeX seed's): ``w = K * softmax(theta)``, ``theta`` trained with the
  model (initialised so that ``w`` starts proportional to ``task.weight``).
- ``uncertainty`` (Kendall, Gal & Cipolla 2018): one log-variance ``s_i`` per task;
  classification ``exp(-s_i) L_i + s_i / 2``, regression/quantile ``exp(-s_i) L_i / 2 + s_i / 2``
  (from ``1/sigma^2 L + log sigma`` and ``1/(2 sigma^2) L + log sigma``).
- ``dwa`` (Liu, Johns & Davison 2019): ``w_i(t) = K softmax_i(r_i / T)``,
  ``r_i = L_i(t-1) / L_i(t-2)`` from the last two epochs' mean training losses; 1 for the first two.
- ``gradnorm`` (Chen et al. 2018): weights trained to equalise ``||grad_W w_i L_i||`` on the
  last shared layer ``W`` towards ``mean_G * r_i^alpha``, renormalised to sum to ``K``.

``task.weight`` multiplies every strategy's weight (the fixed weights are the prior).
All state lives in parameters and buffers, so ``state_dict()`` round-trips it.

A strategy owns its part of a training step: the trainer calls :meth:`Weighting.backward_step`
(one hook, whatever the strategy) with a function that back-propagates the objective; GradNorm
sets its own weights' gradient around it. ``after_step`` and ``epoch_end`` are the other hooks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar

import torch
from torch import Tensor, nn

from finmt_core.config import LossConfig
from finmt_core.tasks import Task

#: Floor for loss ratios / norms so a task whose loss is exactly 0 cannot produce inf or NaN.
_EPS = 1e-8


class Weighting(nn.Module):
    """Base class: fixed weights ``task.weight``."""

    base: Tensor  # [K] task.weight (buffer)

    #: whether :meth:`backward_step` needs the parameters of the model's last shared layer
    needs_shared_params: ClassVar[bool] = False

    def __init__(self, tasks: list[Task]) -> None:
        super().__init__()
        self.register_buffer("base", torch.tensor([t.weight for t in tasks], dtype=torch.float32))

    @property
    def n_tasks(self) -> int:
        return int(self.base.numel())

    def current(self) -> Tensor:
        """``[K]`` effective task weights (detached use only)."""
        return self.base

    def combine(self, losses: Tensor) -> Tensor:
        """Scalar objective from ``[K]`` unweighted losses."""
        return (self.current() * losses).sum()

    def epoch_end(self, epoch_losses: Tensor) -> None:
        """Receive one epoch's ``[K]`` mean training losses (only DWA uses them)."""

    def after_step(self) -> None:
        """Called after each optimizer step (only GradNorm uses it)."""

    def backward_step(self, task_losses: Tensor, shared: Sequence[Tensor], backward: Callable[[], None]) -> None:
        """Fill one training step's gradients: the model's (``backward()``: the objective's backward
        pass, unscaled by the trainer's grad scaler) and this strategy's own.

        Args:
            task_losses: ``[K]`` unweighted per-task losses of the batch, with graph.
            shared: the model's last shared layer's parameters (empty unless
                :attr:`needs_shared_params`).
            backward: back-propagates the objective (learnable and uncertainty weights get
                their gradients from it, as parameters of the objective).
        """
        backward()


class LearnableWeighting(Weighting):
    """``w = K * softmax(theta) * base / mean(base)``-style learnable weights (FinNeX seed)."""

    def __init__(self, tasks: list[Task]) -> None:
        super().__init__(tasks)
        # log(base) makes the initial softmax proportional to the fixed weights.
        self.logits = nn.Parameter(torch.log(self.base.clamp_min(_EPS)).clone())

    def current(self) -> Tensor:
        return self.n_tasks * torch.softmax(self.logits, dim=0)


class UncertaintyWeighting(Weighting):
    """Homoscedastic-uncertainty weighting (Kendall et al. 2018) with learned ``s_i = log sigma_i^2``."""

    scale: Tensor  # [K] 1 (classification) or 1/2 (Gaussian) (buffer)

    def __init__(self, tasks: list[Task]) -> None:
        super().__init__(tasks)
        self.log_vars = nn.Parameter(torch.zeros(len(tasks)))
        # 1 for classification (softmax likelihood), 1/2 for Gaussian (regression, quantile).
        self.register_buffer(
            "scale", torch.tensor([1.0 if t.kind == "classification" else 0.5 for t in tasks], dtype=torch.float32)
        )

    def current(self) -> Tensor:
        return self.base * self.scale * torch.exp(-self.log_vars)

    def combine(self, losses: Tensor) -> Tensor:
        return (self.current() * losses + 0.5 * self.base * self.log_vars).sum()


class DWAWeighting(Weighting):
    """Dynamic Weight Averaging (Liu et al. 2019) from the last two epochs' mean losses."""

    history: Tensor  # [2, K] mean losses of epochs t-2 and t-1 (buffer)
    seen: Tensor  # () epochs seen (buffer)
    w: Tensor  # [K] current weights (buffer)

    def __init__(self, tasks: list[Task], temperature: float) -> None:
        super().__init__(tasks)
        self.temperature = float(temperature)
        k = len(tasks)
        self.register_buffer("history", torch.zeros(2, k))  # row 0 = epoch t-2, row 1 = epoch t-1
        self.register_buffer("seen", torch.zeros((), dtype=torch.long))
        self.register_buffer("w", torch.ones(k))

    def current(self) -> Tensor:
        return self.base * self.w

    def epoch_end(self, epoch_losses: Tensor) -> None:
        losses = epoch_losses.to(self.history).detach()
        self.history[0] = self.history[1]
        self.history[1] = losses
        self.seen += 1
        if int(self.seen) >= 2:
            ratio = self.history[1] / self.history[0].clamp_min(_EPS)
            self.w = self.n_tasks * torch.softmax(ratio / self.temperature, dim=0)


class GradNormWeighting(Weighting):
    """GradNorm (Chen et al. 2018): learnable weights balanced by gradient norms.

    The weights enter the model objective *detached*; their gradient comes only from
    :meth:`gradnorm_step`, which :meth:`backward_step` runs before back-propagating the objective.
    """

    needs_shared_params: ClassVar[bool] = True
    initial_losses: Tensor  # [K] L_i(0) (buffer)
    initialised: Tensor  # () bool (buffer)

    def __init__(self, tasks: list[Task], alpha: float) -> None:
        super().__init__(tasks)
        self.alpha = float(alpha)
        k = len(tasks)
        self.raw = nn.Parameter(self.base * k / self.base.sum().clamp_min(_EPS))
        self.register_buffer("initial_losses", torch.zeros(k))
        self.register_buffer("initialised", torch.zeros((), dtype=torch.bool))

    def current(self) -> Tensor:
        return self.raw

    def combine(self, losses: Tensor) -> Tensor:
        return (self.raw.detach() * losses).sum()

    def gradnorm_step(self, shared: list[Tensor], losses: Tensor) -> Tensor:
        """Set ``self.raw.grad`` from the GradNorm objective; returns the ``[K]`` norms ``G_i``.

        ``||grad_W (w_i L_i)|| = w_i ||grad_W L_i||``, so the per-task gradients need no
        second-order graph: only ``w_i`` is differentiated.
        """
        k = self.n_tasks
        norms = []
        for i in range(k):  # K autograd passes (K = number of tasks, a handful)
            if not losses[i].requires_grad:
                norms.append(torch.zeros((), device=losses.device))
                continue
            grads = torch.autograd.grad(losses[i], shared, retain_graph=True, allow_unused=True)
            sq = [g.float().pow(2).sum() for g in grads if g is not None]
            norms.append(torch.stack(sq).sum().sqrt() if sq else torch.zeros((), device=losses.device))
        g = torch.stack(norms).detach()
        lv = losses.detach().float()
        first = ~self.initialised
        # L_i(0): the first batch's losses (a task with 0 valid rows there is set later).
        self.initial_losses.copy_(torch.where(first | (self.initial_losses <= 0), lv, self.initial_losses))
        self.initialised.fill_(True)
        weighted = self.raw * g  # G_i, differentiable in w only
        ratio = lv / self.initial_losses.clamp_min(_EPS)
        rel = ratio / ratio.mean().clamp_min(_EPS)
        target = (weighted.mean() * rel.pow(self.alpha)).detach()
        gn_loss = (weighted - target).abs().sum()
        (grad_w,) = torch.autograd.grad(gn_loss, self.raw)
        self.raw.grad = grad_w.detach()
        return weighted.detach()

    def backward_step(self, task_losses: Tensor, shared: Sequence[Tensor], backward: Callable[[], None]) -> None:
        """GradNorm's gradient of the weights, then the objective's backward pass. The weights'
        gradient is set aside meanwhile: it is not scaled, so the grad scaler must not unscale it."""
        self.gradnorm_step(list(shared), task_losses)
        own, self.raw.grad = self.raw.grad, None
        backward()
        self.raw.grad = own

    @torch.no_grad()
    def after_step(self) -> None:
        # Keep the weights positive and summing to K (sum of base weights in relative terms).
        self.raw.clamp_(min=_EPS)
        self.raw.mul_(self.n_tasks / self.raw.sum())


def make_weighting(cfg: LossConfig, tasks: list[Task]) -> Weighting:
    """The strategy named by ``cfg.weighting``."""
    if cfg.weighting == "learnable":
        return LearnableWeighting(tasks)
    if cfg.weighting == "uncertainty":
        return UncertaintyWeighting(tasks)
    if cfg.weighting == "dwa":
        return DWAWeighting(tasks, cfg.dwa_temperature)
    if cfg.weighting == "gradnorm":
        return GradNormWeighting(tasks, cfg.gradnorm_alpha)
    return Weighting(tasks)
