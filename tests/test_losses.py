"""Per-task losses, masking, weighting strategies and penalties, on hand-computed values."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from finmt_core.config import LossConfig
from finmt_core.errors import ConfigError
from finmt_core.losses import (
    MultiTaskLoss,
    TaskLoss,
    anti_collapse_penalty,
    last_shared_parameters,
    masked_mean,
)
from finmt_core.tasks import make_task


def _batch(targets: dict, valid: dict) -> dict:
    return {
        "targets": {k: torch.tensor(v, dtype=torch.float32) for k, v in targets.items()},
        "valid": {k: torch.tensor(v, dtype=torch.bool) for k, v in valid.items()},
    }


def test_masked_ce_equals_hand_computation() -> None:
    task = make_task("direction")
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0], [5.0, -5.0], [float("nan"), 0.0]])
    target = torch.tensor([0.0, 1.0, 1.0, float("nan")])
    valid = torch.tensor([True, True, False, False])
    loss, count = TaskLoss(task, LossConfig())(logits, target, valid)
    hand = (math.log(1 + math.exp(-2.0)) + math.log(1 + math.exp(-1.0))) / 2
    assert count.item() == 2
    assert loss.item() == pytest.approx(hand, rel=1e-6)


def test_zero_valid_rows_gives_zero_loss_and_finite_grad() -> None:
    task = make_task("return", loss="mse")
    pred = torch.tensor([1.0, 2.0], requires_grad=True)
    loss, count = TaskLoss(task, LossConfig())(pred, torch.tensor([float("nan")] * 2), torch.tensor([False, False]))
    loss.backward()
    assert loss.item() == 0.0 and count.item() == 0
    assert torch.equal(pred.grad, torch.zeros(2))


def test_class_weighted_ce() -> None:
    task = make_task("direction")
    cfg = LossConfig(class_weights={"direction": [1.0, 3.0]})
    logits = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    target = torch.tensor([0.0, 1.0])
    loss, _ = TaskLoss(task, cfg)(logits, target, torch.tensor([True, True]))
    ce = F.cross_entropy(logits, target.long(), reduction="none")
    assert loss.item() == pytest.approx(((1 * ce[0] + 3 * ce[1]) / 4).item(), rel=1e-6)
    # matches torch's own weighted mean
    assert loss.item() == pytest.approx(F.cross_entropy(logits, target.long(), weight=torch.tensor([1.0, 3.0])).item())


def test_class_weights_validated() -> None:
    with pytest.raises(ConfigError, match="needs 2"):
        TaskLoss(make_task("direction"), LossConfig(class_weights={"direction": [1.0]}))
    with pytest.raises(ConfigError, match="not in this run"):
        MultiTaskLoss([make_task("direction")], LossConfig(class_weights={"signal": [1.0, 1.0]}))


def test_focal_hand_values() -> None:
    task = make_task("direction", loss="focal")
    logits = torch.tensor([[0.0, math.log(3.0)]])  # p(Up) = 0.75
    loss, _ = TaskLoss(task, LossConfig(focal_gamma=2.0))(logits, torch.tensor([1.0]), torch.tensor([True]))
    assert loss.item() == pytest.approx(-(0.25**2) * math.log(0.75), rel=1e-6)
    loss0, _ = TaskLoss(task, LossConfig(focal_gamma=0.0))(logits, torch.tensor([1.0]), torch.tensor([True]))
    assert loss0.item() == pytest.approx(-math.log(0.75), rel=1e-6)  # gamma 0 = cross-entropy


def test_mse_and_huber_hand_values() -> None:
    pred = torch.tensor([0.5, 3.0, 9.0])
    target = torch.tensor([0.0, 0.0, 0.0])
    valid = torch.tensor([True, True, False])
    mse, _ = TaskLoss(make_task("return", loss="mse"), LossConfig())(pred, target, valid)
    assert mse.item() == pytest.approx((0.25 + 9.0) / 2)
    hub, _ = TaskLoss(make_task("return", loss="huber"), LossConfig())(pred, target, valid)
    assert hub.item() == pytest.approx((0.5 * 0.25 + (3.0 - 0.5)) / 2)  # delta = 1


def test_pinball_hand_values() -> None:
    task = make_task("quantiles")  # q = 0.1, 0.5, 0.9
    pred = torch.tensor([[-1.0, 0.0, 1.0]])
    target = torch.tensor([2.0])
    loss, _ = TaskLoss(task, LossConfig())(pred, target, torch.tensor([True]))
    # errors 3, 2, 1 (target above every quantile): q * e
    assert loss.item() == pytest.approx((0.1 * 3 + 0.5 * 2 + 0.9 * 1) / 3, rel=1e-6)
    loss_below, _ = TaskLoss(task, LossConfig())(pred, torch.tensor([-2.0]), torch.tensor([True]))
    # errors -1, -2, -3: (q - 1) * e
    assert loss_below.item() == pytest.approx((0.9 * 1 + 0.5 * 2 + 0.1 * 3) / 3, rel=1e-6)


def test_multitask_fixed_total_and_parts() -> None:
    tasks = [make_task("direction", weight=2.0), make_task("return", loss="mse", weight=0.5)]
    mtl = MultiTaskLoss(tasks, LossConfig())
    outputs = {"direction": torch.tensor([[0.0, 0.0]]), "return": torch.tensor([1.0])}
    batch = _batch({"direction": [1.0], "return": [0.0]}, {"direction": [True], "return": [True]})
    total, parts = mtl(outputs, batch)
    assert parts["direction"] == pytest.approx(math.log(2))
    assert parts["return"] == pytest.approx(1.0)
    assert total.item() == pytest.approx(2.0 * math.log(2) + 0.5)
    assert mtl.weights() == {"direction": 2.0, "return": 0.5}


def test_missing_output_is_a_clear_error() -> None:
    mtl = MultiTaskLoss([make_task("direction"), make_task("signal")], LossConfig())
    batch = _batch({"direction": [1.0], "signal": [1.0]}, {"direction": [True], "signal": [True]})
    with pytest.raises(ConfigError, match="signal"):
        mtl({"direction": torch.zeros(1, 2)}, batch)


def test_learnable_weights_start_uniform_and_sum_to_k() -> None:
    tasks = [make_task("direction"), make_task("return")]
    mtl = MultiTaskLoss(tasks, LossConfig(weighting="learnable"))
    w = mtl.weights()
    assert w["direction"] == pytest.approx(1.0) and w["return"] == pytest.approx(1.0)
    assert len(list(mtl.parameters())) == 1


def _two_task_outputs(scale: float = 1.0):
    outputs = {"direction": torch.zeros(4, 2, requires_grad=True), "return": torch.zeros(4, requires_grad=True)}
    batch = _batch({"direction": [0, 1, 1, 0], "return": [scale, -scale, scale, 0.0]}, {"direction": [1] * 4, "return": [1] * 4})
    return outputs, batch


def test_uncertainty_log_variances_move_and_formula() -> None:
    tasks = [make_task("direction"), make_task("return", loss="mse")]
    mtl = MultiTaskLoss(tasks, LossConfig(weighting="uncertainty"))
    outputs, batch = _two_task_outputs(scale=3.0)
    res = mtl.compute(outputs, batch)
    l_cls, l_reg = res.task_losses.tolist()
    assert res.total.item() == pytest.approx(l_cls + 0.5 * l_reg, rel=1e-6)  # s = 0
    opt = torch.optim.SGD(mtl.parameters(), lr=0.1)
    for _ in range(20):
        opt.zero_grad()
        mtl.compute(outputs, batch).total.backward()
        opt.step()
    s = mtl.weighting.log_vars.detach()
    # optimum s_i = log(2 c_i L_i): the large regression loss raises its log-variance
    assert s[1] > 0.5 and not torch.allclose(s, torch.zeros(2))
    assert mtl.weights()["return"] < 0.5


def test_dwa_shifts_weight_to_slower_decreasing_task() -> None:
    tasks = [make_task("direction"), make_task("return")]
    mtl = MultiTaskLoss(tasks, LossConfig(weighting="dwa", dwa_temperature=1.0))
    assert mtl.weights() == {"direction": 1.0, "return": 1.0}
    mtl.epoch_end({"direction": 1.0, "return": 1.0})
    assert mtl.weights()["direction"] == pytest.approx(1.0)  # needs two epochs of history
    mtl.epoch_end({"direction": 0.5, "return": 0.95})  # direction halves, return barely moves
    w = mtl.weights()
    assert w["return"] > w["direction"]
    assert w["return"] + w["direction"] == pytest.approx(2.0)
    r = torch.tensor([0.5, 0.95])
    expected = 2 * torch.softmax(r, 0)
    assert w["direction"] == pytest.approx(expected[0].item(), rel=1e-5)
    # state survives a state_dict round trip (resume)
    other = MultiTaskLoss(tasks, LossConfig(weighting="dwa", dwa_temperature=1.0))
    other.load_state_dict(mtl.state_dict())
    assert other.weights() == pytest.approx(w)


class _TwoHead(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.shared = nn.Linear(4, 8)
        self.heads = nn.ModuleDict({"a": nn.Linear(8, 1), "b": nn.Linear(8, 1)})

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        h = torch.relu(self.shared(x))
        return {"a": self.heads["a"](h).squeeze(-1), "b": self.heads["b"](h).squeeze(-1)}


def test_gradnorm_balances_gradient_norms() -> None:
    tasks = [make_task("return", name="a", loss="mse"), make_task("return", name="b", loss="mse")]
    model = _TwoHead()
    mtl = MultiTaskLoss(tasks, LossConfig(weighting="gradnorm", gradnorm_alpha=0.0))
    shared = last_shared_parameters(model)
    assert shared[0] is model.shared.weight
    g = torch.Generator().manual_seed(1)
    x = torch.randn(64, 4, generator=g)
    # task b's target is 100x larger: its raw gradient norm dwarfs task a's
    batch = _batch({"a": (x[:, 0]).tolist(), "b": (100 * x[:, 1]).tolist()}, {"a": [1] * 64, "b": [1] * 64})
    opt = torch.optim.Adam(mtl.parameters(), lr=0.05)
    first = None
    for _ in range(150):
        opt.zero_grad()
        res = mtl.compute(model(x), batch)
        norms = mtl.gradnorm_step(shared, res.task_losses)
        first = norms if first is None else first
        opt.step()
        mtl.after_step()
    ratio_first = (first.max() / first.min()).item()
    ratio_last = (norms.max() / norms.min()).item()
    assert ratio_first > 50
    assert ratio_last < 1.5
    w = mtl.weights()
    assert w["a"] > w["b"] and w["a"] + w["b"] == pytest.approx(2.0, rel=1e-5)


def test_gradnorm_weights_get_no_grad_from_the_objective() -> None:
    tasks = [make_task("return", name="a", loss="mse"), make_task("return", name="b", loss="mse")]
    mtl = MultiTaskLoss(tasks, LossConfig(weighting="gradnorm"))
    res = mtl.compute({"a": torch.ones(2, requires_grad=True), "b": torch.ones(2, requires_grad=True)},
                      _batch({"a": [0, 0], "b": [0, 0]}, {"a": [1, 1], "b": [1, 1]}))
    res.total.backward()
    assert mtl.weighting.raw.grad is None


def test_anti_collapse_penalty() -> None:
    target = torch.tensor([-1.0, 1.0, -1.0, 1.0])
    valid = torch.ones(4, dtype=torch.bool)
    assert anti_collapse_penalty(torch.zeros(4), target, valid).item() == pytest.approx(1.0, abs=1e-4)
    assert anti_collapse_penalty(target.clone(), target, valid).item() == pytest.approx(0.0, abs=1e-6)
    assert anti_collapse_penalty(0.5 * target, target, valid).item() == pytest.approx(0.5, abs=1e-4)
    one = torch.tensor([True, False, False, False])
    assert anti_collapse_penalty(torch.zeros(4), target, one).item() == 0.0


def test_anti_collapse_and_regularization_join_the_total() -> None:
    class Reg(nn.Module):
        def regularization(self) -> torch.Tensor:
            return torch.tensor(2.0)

    tasks = [make_task("return", loss="mse")]
    outputs = {"return": torch.zeros(4)}
    batch = _batch({"return": [-1.0, 1.0, -1.0, 1.0]}, {"return": [1] * 4})
    plain = MultiTaskLoss(tasks, LossConfig()).compute(outputs, batch, model=Reg()).total.item()
    both = MultiTaskLoss(tasks, LossConfig(anti_collapse=3.0, regularization=0.5)).compute(outputs, batch, model=Reg())
    assert both.total.item() == pytest.approx(plain + 3.0 * 1.0 + 0.5 * 2.0, abs=1e-3)
    assert both.penalty.item() == pytest.approx(4.0, abs=1e-3)


def test_masked_mean_ignores_nan_rows() -> None:
    mean, count = masked_mean(torch.tensor([1.0, float("nan"), 3.0]), torch.tensor([True, False, True]))
    assert mean.item() == 2.0 and count.item() == 2


def test_task_loss_accessor_is_typed_and_names_the_task() -> None:
    tasks = [make_task("direction"), make_task("return", loss="mse")]
    mtl = MultiTaskLoss(tasks, LossConfig())
    got = mtl.task_loss("return")
    assert isinstance(got, TaskLoss) and got.task.name == "return"
    assert got.scale.shape == () and got.balance is None and got.quantiles is None
    with pytest.raises(KeyError):
        mtl.task_loss("volatility")


# Weighting strategies own their part of the training step (one hook, ``backward_step``):
# GradNorm's weight gradient is computed by the strategy and kept out of the objective's backward
# pass (and so out of the grad scaler's unscaling); the others just run it.
_STEP_TASKS = [make_task("return", name="a", loss="mse"), make_task("return", name="b", loss="mse")]


def _step_batch(n: int = 32) -> tuple[torch.Tensor, dict]:
    x = torch.randn(n, 4, generator=torch.Generator().manual_seed(1))
    return x, {"targets": {"a": x[:, 0], "b": 50 * x[:, 1]}, "valid": {"a": torch.ones(n, dtype=torch.bool),
                                                                      "b": torch.ones(n, dtype=torch.bool)}}


def test_gradnorm_sets_its_own_gradient_around_the_backward_pass() -> None:
    model, (x, batch) = _TwoHead(), _step_batch()
    loss = MultiTaskLoss(_STEP_TASKS, LossConfig(weighting="gradnorm"))
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

    reference = MultiTaskLoss(_STEP_TASKS, LossConfig(weighting="gradnorm"))  # the same step by hand
    ref = reference.compute(model(x), batch)
    reference.gradnorm_step(shared, ref.task_losses)
    torch.testing.assert_close(got, reference.weighting.raw.grad)


def test_other_strategies_take_their_gradients_from_the_objective() -> None:
    for weighting in ("fixed", "learnable", "uncertainty", "dwa"):
        model, (x, batch) = _TwoHead(), _step_batch()
        loss = MultiTaskLoss(_STEP_TASKS, LossConfig(weighting=weighting))
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
