"""Weighting strategies own their part of the training step (one hook, ``backward_step``):
GradNorm's weight gradient is computed by the strategy and kept out of the objective's
backward pass (and so out of the grad scaler's unscaling); the others just run it."""

from __future__ import annotations

import torch
from torch import nn

from finmt_core.config import LossConfig
from finmt_core.losses import MultiTaskLoss, last_shared_parameters
from finmt_core.tasks import make_task

TASKS = [make_task("return", name="a", loss="mse"), make_task("return", name="b", loss="mse")]


class TwoHead(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.shared = nn.Linear(4, 8)
        self.heads = nn.ModuleDict({"a": nn.Linear(8, 1), "b": nn.Linear(8, 1)})

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        h = torch.relu(self.shared(x))
        return {k: head(h).squeeze(-1) for k, head in self.heads.items()}


def _batch(n: int = 32) -> tuple[torch.Tensor, dict]:
    x = torch.randn(n, 4, generator=torch.Generator().manual_seed(1))
    return x, {"targets": {"a": x[:, 0], "b": 50 * x[:, 1]}, "valid": {"a": torch.ones(n, dtype=torch.bool),
                                                                      "b": torch.ones(n, dtype=torch.bool)}}


def test_gradnorm_sets_its_own_gradient_around_the_backward_pass() -> None:
    model, (x, batch) = TwoHead(), _batch()
    loss = MultiTaskLoss(TASKS, LossConfig(weighting="gradnorm"))
    assert loss.needs_shared_params
    shared = last_shared_parameters(model)
    seen: list[torch.Tensor | None] = []
    res = loss.compute(model(x), batch)

    def backward() -> None:
        seen.append(loss.weighting.raw.grad)  # what a grad scaler's unscale_ would find
        res.total.backward(retain_graph=True)

    loss.backward_step(res.task_losses, shared, backward)
    assert seen == [None]
    got = loss.weighting.raw.grad.clone()
    assert model.shared.weight.grad is not None and torch.isfinite(got).all() and got.abs().sum() > 0

    reference = MultiTaskLoss(TASKS, LossConfig(weighting="gradnorm"))  # the same step by hand
    ref = reference.compute(model(x), batch)
    reference.gradnorm_step(shared, ref.task_losses)
    torch.testing.assert_close(got, reference.weighting.raw.grad)


def test_other_strategies_take_their_gradients_from_the_objective() -> None:
    for weighting in ("fixed", "learnable", "uncertainty", "dwa"):
        model, (x, batch) = TwoHead(), _batch()
        loss = MultiTaskLoss(TASKS, LossConfig(weighting=weighting))
        assert not loss.needs_shared_params
        res = loss.compute(model(x), batch)
        calls: list[int] = []

        def backward(total: torch.Tensor = res.total, calls: list[int] = calls) -> None:
            calls.append(1)
            total.backward()

        loss.backward_step(res.task_losses, [], backward)
        assert calls == [1] and model.shared.weight.grad is not None
        for p in loss.parameters():  # learnable / uncertainty weights are parameters of the objective
            assert p.grad is not None and torch.isfinite(p.grad).all(), weighting
