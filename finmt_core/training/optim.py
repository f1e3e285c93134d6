"""Optimizer and learning-rate schedule from a :class:`~finmt_core.config.TrainConfig`.

AdamW with one parameter group per model component (``model.param_groups()``: backbone,
heads, towers ...), optionally split further by parameter-name prefix; ``train.lr_groups``
maps a group name or a prefix to its learning rate. The loss-weighting parameters (learnable,
uncertainty, GradNorm weights) get their own group ``loss_weights`` without weight decay.

Schedules (stepped once per optimizer step unless noted):

- ``cosine``: linear warm-up over ``warmup_epochs``, then cosine decay to 0 at the last step;
- ``none``: the warm-up (if any), then constant;
- ``cosine_restarts``: ``CosineAnnealingWarmRestarts`` with a period of ``restart_epochs``
  (default a third of ``epochs``: the schedule restarts within the epochs trained);
- ``plateau``: ``ReduceLROnPlateau`` on the validation loss, stepped once per epoch.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn
from torch.optim.lr_scheduler import CosineAnnealingWarmRestarts, LambdaLR, LRScheduler, ReduceLROnPlateau

from finmt_core.config import TrainConfig
from finmt_core.errors import ConfigError

LOSS_GROUP = "loss_weights"


class WarmupCosine:
    """LR multiplier: linear warm-up to 1 over ``warmup`` steps, then cosine to 0 at ``total``
    (``cosine=False``: constant 1 after warm-up). A plain object so LambdaLR can save it."""

    def __init__(self, warmup: int, total: int, cosine: bool = True) -> None:
        self.warmup = int(warmup)
        self.total = int(total)
        self.cosine = bool(cosine)

    def __call__(self, step: int) -> float:
        if self.warmup > 0 and step < self.warmup:
            return (step + 1) / self.warmup
        if not self.cosine:
            return 1.0
        span = max(1, self.total - self.warmup)
        frac = min(1.0, (step - self.warmup) / span)
        return 0.5 * (1.0 + math.cos(math.pi * frac))


def build_param_groups(model: nn.Module, loss_fn: nn.Module | None, cfg: TrainConfig) -> list[dict[str, Any]]:
    """AdamW parameter groups ``{"name", "params", "lr", "weight_decay"}`` (see module doc)."""
    fn = getattr(model, "param_groups", None)
    base = fn() if callable(fn) else {"model": [p for p in model.parameters() if p.requires_grad]}
    group_of = {id(p): g for g, ps in base.items() for p in ps}
    names = list(base)
    prefixes = sorted((k for k in cfg.lr_groups if k not in base and k != LOSS_GROUP), key=len, reverse=True)
    matched: set[str] = set()
    buckets: dict[str, list[nn.Parameter]] = {}
    for pname, p in model.named_parameters():
        if not p.requires_grad:
            continue
        g = group_of.get(id(p), "other")
        for pre in prefixes:
            if pname.startswith(pre):
                g = pre
                matched.add(pre)
                break
        buckets.setdefault(g, []).append(p)
    unknown = [k for k in prefixes if k not in matched]
    if unknown:
        raise ConfigError(
            f"train.lr_groups keys {unknown} match no parameter group or parameter name; groups of "
            f"{type(model).__name__}: {', '.join([*names, LOSS_GROUP])} (or use a parameter-name prefix)"
        )
    groups = [
        {"name": g, "params": ps, "lr": float(cfg.lr_groups.get(g, cfg.lr)), "weight_decay": cfg.weight_decay}
        for g, ps in buckets.items()
    ]
    if loss_fn is not None:
        lp = [p for p in loss_fn.parameters() if p.requires_grad]
        if lp:
            groups.append({"name": LOSS_GROUP, "params": lp, "lr": float(cfg.lr_groups.get(LOSS_GROUP, cfg.lr)),
                           "weight_decay": 0.0})
    if not groups:
        raise ConfigError(f"{type(model).__name__} has no trainable parameters")
    return groups


def build_optimizer(model: nn.Module, loss_fn: nn.Module | None, cfg: TrainConfig, device: torch.device) -> torch.optim.Optimizer:
    groups = build_param_groups(model, loss_fn, cfg)
    # The fused CUDA kernel is one launch for all parameters. CPU keeps torch's default (a loop of
    # per-tensor ops): the CPU fused kernel is ~4x faster on one thread but splits every tensor
    # over the OpenMP threads, and on a shared machine those wake-ups made it 2.5-11x *slower* per
    # step (measured; docs/PERFORMANCE.md, "Where an epoch's time goes").
    kwargs: dict[str, Any] = {"fused": True} if device.type == "cuda" else {}
    return torch.optim.AdamW(groups, lr=cfg.lr, weight_decay=cfg.weight_decay, **kwargs)


def build_scheduler(
    optimizer: torch.optim.Optimizer, cfg: TrainConfig, steps_per_epoch: int
) -> tuple[LRScheduler | ReduceLROnPlateau, str]:
    """The schedule and when to step it: ``"batch"`` (after every optimizer step) or ``"epoch"``
    (plateau: with the validation loss after every epoch)."""
    steps_per_epoch = max(1, int(steps_per_epoch))
    if cfg.schedule == "plateau":
        return ReduceLROnPlateau(optimizer, mode="min", factor=cfg.plateau_factor, patience=cfg.plateau_patience), "epoch"
    if cfg.schedule == "cosine_restarts":
        return CosineAnnealingWarmRestarts(optimizer, T_0=cfg.restart_period * steps_per_epoch), "batch"
    lam = WarmupCosine(cfg.warmup_epochs * steps_per_epoch, cfg.epochs * steps_per_epoch, cosine=cfg.schedule == "cosine")
    return LambdaLR(optimizer, lam), "batch"


def refresh_schedule(scheduler: Any, cfg: TrainConfig, steps_per_epoch: int) -> None:
    """After loading a scheduler state on resume: adopt the (possibly extended) epoch count."""
    if isinstance(scheduler, LambdaLR):
        for lam in scheduler.lr_lambdas:
            if isinstance(lam, WarmupCosine):
                lam.total = cfg.epochs * max(1, steps_per_epoch)


def current_lrs(optimizer: torch.optim.Optimizer) -> dict[str, float]:
    return {str(g.get("name", i)): float(g["lr"]) for i, g in enumerate(optimizer.param_groups)}
