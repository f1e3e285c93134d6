"""Per-task losses, masking and the multi-task loss.

Every task's loss is a *masked mean* over the rows of a batch where ``batch["valid"][task]``
is True (missing targets and, for ``mask_by`` tasks, rows where the masking task's target is
not 1 -- the labels module already folded that into ``valid``). A batch without a single valid
row for a task contributes exactly 0 (and a zero gradient), never NaN.

The per-task losses are combined by a weighting strategy from :mod:`finmt_core.weighting`
(fixed, learnable softmax, uncertainty, DWA, GradNorm), plus two optional penalties: an
anti-collapse term that keeps regression predictions from shrinking to a constant, and the
model's own regularisers (``model.regularization()``, e.g. the dual tower's orthogonality).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from finmt_core.config import LossConfig
from finmt_core.errors import ConfigError
from finmt_core.tasks import Task
from finmt_core.weighting import GradNormWeighting, make_weighting

#: Huber transition point when a task's params give none (targets are standardised-ish log returns).
DEFAULT_HUBER_DELTA = 1.0
#: Guards divisions by a standard deviation.
_EPS = 1e-8


# ---- masked per-row losses ---------------------------------------------------------------
def masked_mean(values: Tensor, valid: Tensor, weights: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Weighted mean of ``values`` over rows where ``valid`` is True.

    Args:
        values: ``[B]`` per-row losses (may hold NaN/inf on invalid rows; they are ignored).
        valid: ``[B]`` bool.
        weights: optional ``[B]`` non-negative row weights (class weights).

    Returns:
        ``(mean, count)``: scalar tensors; ``mean`` is 0 when no row is valid and ``count`` is
        the number of valid rows (float).
    """
    w = valid.to(values.dtype) if weights is None else torch.where(valid, weights, 0.0)
    # where, not multiply: 0 * NaN is NaN, and invalid rows may hold NaN outputs.
    total = torch.where(valid, values * w, 0.0).sum()
    denom = w.sum()
    mean = total / denom.clamp_min(_EPS)
    return mean, valid.sum().to(values.dtype)


def _class_index(target: Tensor, valid: Tensor) -> Tensor:
    """Class indices as int64 with invalid rows set to 0 (their targets may be NaN)."""
    return torch.where(valid, target, torch.zeros_like(target)).long()


def cross_entropy_rows(logits: Tensor, target: Tensor) -> Tensor:
    """Per-row cross-entropy. ``logits [B, C]``, ``target [B]`` int64 -> ``[B]``."""
    return F.cross_entropy(logits, target, reduction="none")


def focal_rows(logits: Tensor, target: Tensor, gamma: float) -> Tensor:
    """Per-row focal loss ``-(1 - p_t)^gamma log p_t`` (Lin et al. 2017). Shapes as CE."""
    logp = F.log_softmax(logits, dim=-1).gather(1, target[:, None]).squeeze(1)
    p = logp.exp()
    return -((1.0 - p).clamp_min(0.0) ** gamma) * logp


def pinball_rows(pred: Tensor, target: Tensor, quantiles: Tensor) -> Tensor:
    """Per-row pinball loss averaged over quantiles.

    Args:
        pred: ``[B, Q]`` predicted quantiles.
        target: ``[B]`` observed values.
        quantiles: ``[Q]`` levels in (0, 1).

    Returns:
        ``[B]``: ``mean_q max(q * e, (q - 1) * e)`` with ``e = target - pred_q``.
    """
    err = target[:, None] - pred
    return torch.maximum(quantiles * err, (quantiles - 1.0) * err).mean(dim=1)


class TaskLoss(nn.Module):
    """The loss of one task on one batch, masked by validity.

    Args:
        task: the task spec (``task.loss`` picks the function).
        cfg: loss config (focal gamma, class weights).
    """

    # buffers (registered in __init__; declared here so their types are known)
    class_weight: Tensor | None  # [C] configured class weights
    focal_alpha: Tensor | None  # [C] alpha_t of the focal loss
    quantiles: Tensor | None  # [Q] quantile levels of a quantile task
    scale: Tensor  # [] target scale (train std) of a regression / quantile task
    balance: Tensor | None  # [C] balanced class weights from the train segment

    def __init__(self, task: Task, cfg: LossConfig) -> None:
        super().__init__()
        self.task = task
        self.gamma = float(cfg.focal_gamma)
        self.delta = float(task.params.get("huber_delta", DEFAULT_HUBER_DELTA))
        cw = cfg.class_weights.get(task.name)
        if cw is not None:
            if task.kind != "classification":
                raise ConfigError(f"loss.class_weights[{task.name!r}]: only classification tasks take class weights")
            if len(cw) != len(task.classes) or any(w < 0 for w in cw):
                raise ConfigError(
                    f"loss.class_weights[{task.name!r}] needs {len(task.classes)} non-negative numbers "
                    f"(one per class {list(task.classes)}), got {cw}"
                )
        self.register_buffer("class_weight", torch.tensor(cw, dtype=torch.float32) if cw else None)
        alpha = cfg.focal_alpha.get(task.name)
        if alpha is not None:
            if task.loss != "focal":
                raise ConfigError(f"loss.focal_alpha[{task.name!r}]: task {task.name!r} uses loss {task.loss!r}; "
                                  "alpha belongs to the focal loss (set the task's loss: focal)")
            if len(alpha) != len(task.classes) or any(a < 0 for a in alpha) or not any(a > 0 for a in alpha):
                raise ConfigError(f"loss.focal_alpha[{task.name!r}] needs {len(task.classes)} non-negative numbers, "
                                  f"not all zero (one per class {list(task.classes)}), got {alpha}")
        # from the config, not learned: not persistent (old checkpoints lack it)
        self.register_buffer("focal_alpha", torch.tensor(alpha, dtype=torch.float32) if alpha else None,
                             persistent=False)
        q = task.quantiles if task.kind == "quantile" else ()
        self.register_buffer("quantiles", torch.tensor(q, dtype=torch.float32) if q else None)
        # Regression/quantile targets are divided by this (their train std, set by the trainer
        # when loss.standardize is on): a daily return's Huber/MSE/pinball loss is ~1e-4 and
        # would vanish beside a cross-entropy of ~0.7 in the shared backbone's gradient.
        # Not persistent: recomputed from the data on resume (old checkpoints lack it).
        self.register_buffer("scale", torch.ones((), dtype=torch.float32), persistent=False)
        # Balanced class weights from the train segment (loss.balance_classes); not persistent
        # either, recomputed on resume. Multiplies any configured class_weights.
        self.register_buffer("balance", None, persistent=False)

    def rows(self, output: Tensor, target: Tensor, valid: Tensor) -> tuple[Tensor, Tensor | None]:
        """Per-row losses ``[B]`` and optional row weights ``[B]`` (class weights)."""
        kind = self.task.kind
        if kind == "classification":
            idx = _class_index(target, valid)
            out = output.float()
            row = cross_entropy_rows(out, idx) if self.task.loss == "ce" else focal_rows(out, idx, self.gamma)
            if self.focal_alpha is not None:  # alpha_t of the focal loss: part of the row's loss, not a weight
                row = row * self.focal_alpha[idx]
            w = self.class_weight[idx] if self.class_weight is not None else None
            if self.balance is not None:
                w = self.balance[idx] if w is None else w * self.balance[idx]
            return row, w
        tgt = torch.where(valid, target, torch.zeros_like(target)).float() / self.scale
        if kind == "quantile":
            assert self.quantiles is not None
            return pinball_rows(output.float() / self.scale, tgt, self.quantiles), None
        pred = output.float().reshape(-1) / self.scale
        if self.task.loss == "mse":
            return (pred - tgt) ** 2, None
        return F.huber_loss(pred, tgt, reduction="none", delta=self.delta), None

    def forward(self, output: Tensor, target: Tensor, valid: Tensor) -> tuple[Tensor, Tensor]:
        """Masked mean loss and the number of valid rows (both scalar tensors)."""
        row, w = self.rows(output, target, valid)
        return masked_mean(row, valid, w)


def anti_collapse_penalty(pred: Tensor, target: Tensor, valid: Tensor) -> Tensor:
    """``relu(1 - std(pred) / std(target))`` over valid rows; 0 with fewer than 2 valid rows.

    Penalises a regression head whose batch predictions vary much less than its targets
    (the "variance collapse" to a constant that multi-task regressors are prone to).
    """
    v = valid.float()
    n = v.sum()
    ok = n >= 2
    denom = (n - 1).clamp_min(1.0)
    p = torch.where(valid, pred.float().reshape(-1), 0.0)
    t = torch.where(valid, target.float(), 0.0)
    p_mean = p.sum() / n.clamp_min(1.0)
    t_mean = t.sum() / n.clamp_min(1.0)
    p_std = (((p - p_mean) ** 2 * v).sum() / denom + _EPS).sqrt()
    t_std = (((t - t_mean) ** 2 * v).sum() / denom + _EPS).sqrt()
    pen = F.relu(1.0 - p_std / t_std)
    return torch.where(ok, pen, torch.zeros_like(pen))


@dataclass
class LossResult:
    """Everything one loss evaluation produced, as tensors (no host sync).

    Attributes:
        total: scalar objective to back-propagate (weighted losses + penalties).
        task_losses: ``[K]`` unweighted per-task losses, in task order (with graph).
        counts: ``[K]`` valid rows per task.
        penalty: scalar, anti-collapse + regularisation terms already included in ``total``.
    """

    total: Tensor
    task_losses: Tensor
    counts: Tensor
    penalty: Tensor


class MultiTaskLoss(nn.Module):
    """Per-task losses combined by the configured weighting strategy.

    Args:
        tasks: the run's tasks (head order).
        cfg: the loss section of the experiment config.

    Its parameters (learnable / uncertainty / GradNorm weights) belong in their own optimizer
    group; its ``state_dict`` (including DWA's loss history) goes into ``last.pt``.
    """

    def __init__(self, tasks: list[Task], cfg: LossConfig) -> None:
        super().__init__()
        self.tasks = list(tasks)
        self.names = [t.name for t in tasks]
        self.cfg = cfg
        self.task_losses = nn.ModuleDict({t.name: TaskLoss(t, cfg) for t in tasks})
        unknown = sorted(set(cfg.class_weights) - set(self.names))
        if unknown:
            raise ConfigError(f"loss.class_weights names tasks that are not in this run: {unknown}; tasks: {self.names}")
        unknown = sorted(set(cfg.focal_alpha) - set(self.names))
        if unknown:
            raise ConfigError(f"loss.focal_alpha names tasks that are not in this run: {unknown}; tasks: {self.names}")
        self.weighting = make_weighting(cfg, tasks)
        self._regression = [t.name for t in tasks if t.kind == "regression"]

    # ---- core -----------------------------------------------------------------------------
    def compute(self, outputs: dict[str, Tensor], batch: dict, model: nn.Module | None = None) -> LossResult:
        """Evaluate the loss on one batch without any host synchronisation.

        Args:
            outputs: task -> model output (logits ``[B, C]``, regression ``[B]``, quantiles ``[B, Q]``).
            batch: a batch dict with ``targets`` and ``valid`` (task -> ``[B]``).
            model: the (unwrapped) model, for ``model.regularization()``.
        """
        missing = [n for n in self.names if n not in outputs]
        if missing:
            raise ConfigError(f"the model returned no output for task(s) {missing}; outputs: {sorted(outputs)}")
        losses, counts = [], []
        for name in self.names:
            loss, count = self.task_losses[name](outputs[name], batch["targets"][name], batch["valid"][name])
            losses.append(loss)
            counts.append(count)
        task_losses = torch.stack(losses)
        total = self.weighting.combine(task_losses)
        penalty = torch.zeros((), device=task_losses.device)
        if self.cfg.anti_collapse > 0 and self._regression:
            for name in self._regression:
                penalty = penalty + self.cfg.anti_collapse * anti_collapse_penalty(
                    outputs[name], batch["targets"][name], batch["valid"][name]
                )
        if self.cfg.regularization > 0 and model is not None:
            reg_fn = getattr(model, "regularization", None)
            reg = reg_fn() if callable(reg_fn) else None
            if reg is not None:
                penalty = penalty + self.cfg.regularization * reg.float()
        return LossResult(total=total + penalty, task_losses=task_losses, counts=torch.stack(counts), penalty=penalty)

    def forward(
        self, outputs: dict[str, Tensor], batch: dict, model: nn.Module | None = None
    ) -> tuple[Tensor, dict[str, float]]:
        """Total loss and per-task *unweighted* losses as floats (syncs; the trainer uses
        :meth:`compute` in its hot loop instead)."""
        res = self.compute(outputs, batch, model)
        vals = res.task_losses.detach().cpu().tolist()
        return res.total, dict(zip(self.names, vals))

    def set_target_scales(self, scales: dict[str, float]) -> None:
        """Divide each named regression/quantile task's targets and outputs by ``scales[name]``
        inside its loss (standardised targets; predictions stay in target units)."""
        for name, s in scales.items():
            if not (s > 0 and torch.isfinite(torch.tensor(s))):
                raise ConfigError(f"target scale of task {name!r} must be a positive number, got {s}")
            self.task_loss(name).scale.fill_(float(s))

    def set_class_balance(self, weights: dict[str, list[float]]) -> None:
        """Per-class row weights of classification tasks (``n / (C * n_c)`` from the train
        segment: every class counts as much as the others, so a head cannot win by predicting
        the majority class)."""
        for name, w in weights.items():
            task_loss = self.task_loss(name)
            task = task_loss.task
            if task.kind != "classification" or len(w) != len(task.classes):
                raise ConfigError(f"class balance of task {name!r} needs {len(task.classes)} weights, got {w}")
            task_loss.balance = torch.tensor(w, dtype=torch.float32)

    def task_loss(self, name: str) -> TaskLoss:
        """The :class:`TaskLoss` of task ``name`` (``nn.ModuleDict`` items are typed ``Module``)."""
        loss = self.task_losses[name]
        if not isinstance(loss, TaskLoss):
            raise TypeError(f"task_losses[{name!r}] is a {type(loss).__name__}, not a TaskLoss")
        return loss

    # ---- strategy hooks -------------------------------------------------------------------
    def weights(self) -> dict[str, float]:
        """Current effective weight of each task."""
        return dict(zip(self.names, self.weighting.current().detach().cpu().tolist()))

    def epoch_end(self, epoch_losses: dict[str, float]) -> None:
        """Feed one epoch's mean per-task training losses (DWA's input; other strategies ignore it)."""
        self.weighting.epoch_end(torch.tensor([float(epoch_losses[n]) for n in self.names]))

    @property
    def uses_gradnorm(self) -> bool:
        return isinstance(self.weighting, GradNormWeighting)

    @property
    def needs_shared_params(self) -> bool:
        """Whether :meth:`backward_step` needs the model's last shared layer (:func:`last_shared_parameters`)."""
        return self.weighting.needs_shared_params

    def backward_step(self, task_losses: Tensor, shared_params: Sequence[Tensor], backward: Callable[[], None]) -> None:
        """The training step's gradients: the weighting strategy's hook around ``backward()``
        (the objective's backward pass); see :meth:`finmt_core.weighting.Weighting.backward_step`."""
        self.weighting.backward_step(task_losses, shared_params, backward)

    def gradnorm_step(self, shared_params: Iterable[Tensor], task_losses: Tensor) -> Tensor:
        """GradNorm: set the gradient of the task weights (call before ``total.backward()``).

        Args:
            shared_params: parameters of the last shared layer (``W`` in Chen et al. 2018).
            task_losses: ``[K]`` unweighted per-task losses of this batch, with graph.

        Returns:
            ``[K]`` gradient norms ``||grad_W w_i L_i||`` (detached) for logging and tests.
        """
        if not isinstance(self.weighting, GradNormWeighting):
            raise ConfigError("gradnorm_step needs loss.weighting: gradnorm")
        return self.weighting.gradnorm_step(list(shared_params), task_losses)

    def after_step(self) -> None:
        """Call after ``optimizer.step()`` (GradNorm renormalises its weights)."""
        self.weighting.after_step()


def last_shared_parameters(model: nn.Module) -> list[Tensor]:
    """The parameters GradNorm measures gradients on: the model's last shared layer.

    A model may say which via ``shared_parameters()``; otherwise this is the last weight
    matrix (ndim >= 2) registered outside the task heads (names containing ``heads``).
    """
    fn = getattr(model, "shared_parameters", None)
    if callable(fn):
        params = [p for p in fn() if p.requires_grad]
        if params:
            return params
    candidates = [
        p for name, p in model.named_parameters() if p.requires_grad and p.ndim >= 2 and "heads" not in name.split(".")
    ]
    if not candidates:
        raise ConfigError(
            f"GradNorm needs a shared weight matrix but {type(model).__name__} has none outside its heads; "
            "use another loss.weighting"
        )
    return [candidates[-1]]
