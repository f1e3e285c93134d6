"""Checkpoint choice by a validation score every task counts in; standardised regression
targets in the loss; cosine warm restarts inside the trained epochs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from finmt_core.config import ExperimentConfig, LossConfig, TrainConfig
from finmt_core.errors import ConfigError
from finmt_core.losses import MultiTaskLoss
from finmt_core.tasks import make_task
from finmt_core.training import train_run
from finmt_core.training.metrics import task_metrics, task_skill, validation_score
from finmt_core.training.optim import build_scheduler

DIRECTION = make_task("direction")
REGIME = make_task("regime", 5)
RETURN = make_task("return")
QUANT = make_task("quantiles")


def test_a_collapsed_head_scores_zero_skill_however_imbalanced() -> None:
    y = np.r_[np.zeros(90), np.ones(10)]
    majority = np.tile([0.9, 0.1], (100, 1))  # always "Down": 90 % accuracy
    m = task_metrics(DIRECTION, majority, y)
    assert m["accuracy"] == pytest.approx(0.9)
    assert task_skill(DIRECTION, m) == pytest.approx(0.0)
    perfect = np.eye(2)[y.astype(int)]
    assert task_skill(DIRECTION, task_metrics(DIRECTION, perfect, y)) == pytest.approx(0.5)
    four = np.tile([0.1, 0.7, 0.1, 0.1], (8, 1))  # always "Sideways"
    assert task_skill(REGIME, task_metrics(REGIME, four, np.arange(8) % 4)) == pytest.approx(0.0)


def test_regression_and_quantile_skill_is_the_ic_and_zero_when_constant() -> None:
    rng = np.random.default_rng(0)
    y = rng.normal(size=500)
    noisy = task_metrics(RETURN, y + rng.normal(size=500), y)
    assert 0.6 < noisy["ic"] < 0.8 and task_skill(RETURN, noisy) == noisy["ic"]
    assert task_skill(RETURN, task_metrics(RETURN, np.zeros(500), y)) == 0.0  # collapse
    q = np.stack([y - 1, y, y + 1], axis=1)
    m = task_metrics(QUANT, q, y)
    assert m["ic"] == pytest.approx(1.0) and task_skill(QUANT, m) == pytest.approx(1.0)


def test_validation_score_is_the_unweighted_mean_over_tasks() -> None:
    metrics = {"direction": {"n": 10, "balanced_accuracy": 0.6}, "return": {"n": 10, "ic": 0.1}}
    assert validation_score([DIRECTION, RETURN], metrics) == pytest.approx((0.1 + 0.1) / 2)
    assert validation_score([DIRECTION], {"direction": {"n": 0}}) is None


def _config(monitor: str, tmp_epochs: int = 4) -> ExperimentConfig:
    return ExperimentConfig(
        name=f"mon-{monitor}",
        data={"source": "synthetic", "synthetic": {"n_stocks": 8, "n_days": 300, "n_sectors": 2, "seed": 0,
                                                     "signal_strength": 0.5}, "window": 10},
        tasks=[make_task("direction"), make_task("return")],
        model={"name": "lstm_transformer", "params": {"lstm_hidden": 8, "d_model": 8, "depth": 1, "heads": 2,
                                                       "head_hidden": 8}},
        train={"epochs": tmp_epochs, "batch_size": 256, "device": "cpu", "monitor": monitor, "patience": 10,
               "heartbeat_s": 0.05},
    )


@pytest.mark.parametrize("monitor", ["score", "loss"])
def test_best_epoch_follows_the_monitored_criterion(tmp_path, monitor: str) -> None:
    run = train_run(_config(monitor), tmp_path)
    m = run.metrics()
    assert {"val_score", "monitor"} <= set(m.columns)
    expect = m["val_score"].idxmax() if monitor == "score" else m["val_loss"].idxmin()
    best_epoch = int(m.loc[expect, "epoch"])
    st = run.status()
    assert st["best_epoch"] == best_epoch
    assert st["best_val_loss"] == pytest.approx(m.loc[expect, "val_loss"])
    assert st["best_val_score"] == pytest.approx(m.loc[expect, "val_score"])
    if monitor == "score":
        np.testing.assert_allclose(m["monitor"], -m["val_score"])


def test_regression_losses_are_standardised_by_the_train_std() -> None:
    tasks = [RETURN, QUANT]
    loss = MultiTaskLoss(tasks, LossConfig())
    batch = {"targets": {"return": torch.tensor([0.01, -0.02, 0.03]), "quantiles": torch.tensor([0.01, -0.02, 0.03])},
             "valid": {"return": torch.ones(3, dtype=torch.bool), "quantiles": torch.ones(3, dtype=torch.bool)}}
    out = {"return": torch.zeros(3), "quantiles": torch.zeros(3, 3)}
    raw = loss.compute(out, batch).task_losses.tolist()
    loss.set_target_scales({"return": 0.02, "quantiles": 0.02})
    scaled = loss.compute(out, batch).task_losses.tolist()
    # huber (delta 1) on the standardised errors 0.5, 1, 1.5; pinball scales by 1/s
    z = torch.tensor([0.5, 1.0, 1.5])
    expect = torch.nn.functional.huber_loss(z, torch.zeros(3), delta=1.0).item()
    assert raw[0] == pytest.approx(0.5 * (0.01**2 + 0.02**2 + 0.03**2) / 3, rel=1e-5)  # raw: all quadratic
    assert scaled[0] == pytest.approx(expect, rel=1e-5)
    assert scaled[1] == pytest.approx(raw[1] / 0.02, rel=1e-5)
    assert "task_losses.return.scale" not in loss.state_dict()  # recomputed from the data on resume
    with pytest.raises(ConfigError):
        loss.set_target_scales({"return": 0.0})


def test_cosine_restarts_restart_inside_the_epochs() -> None:
    cfg = TrainConfig(epochs=6, schedule="cosine_restarts", lr=1.0)
    assert cfg.restart_period == 2
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched, mode = build_scheduler(opt, cfg, steps_per_epoch=5)
    lrs = []
    for _ in range(30):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert mode == "batch"
    restarts = [i for i in range(1, 30) if lrs[i] > lrs[i - 1] + 1e-9]
    assert restarts == [10, 20]  # two restarts within 6 epochs of 5 steps
    assert math.isclose(lrs[10], 1.0)
    with pytest.raises(ValueError, match="never restart"):
        TrainConfig(epochs=6, schedule="cosine_restarts", restart_epochs=6)


def test_balanced_class_weights_from_the_train_segment(tiny_panel) -> None:
    from finmt_core.data.prepare import prepare
    from finmt_core.training.target_stats import CLASS_WEIGHT_RANGE, balanced_class_weights

    cfg = ExperimentConfig(data={"window": 10}, tasks=[make_task("signal"), make_task("regime", 5), make_task("return")])
    prep = prepare(tiny_panel, cfg)
    w = balanced_class_weights(prep, cfg.tasks)
    assert set(w) == {"signal", "regime"}  # classification tasks only
    d, n = prep.rows("train")
    for name, weights in w.items():
        y = prep.targets.values[name][d, n]
        y = y[np.isfinite(y)].astype(int)
        counts = np.bincount(y, minlength=len(weights))
        expect = np.clip(y.size / (len(weights) * np.maximum(counts, 1)), *CLASS_WEIGHT_RANGE)
        np.testing.assert_allclose(weights, np.where(counts > 0, expect, CLASS_WEIGHT_RANGE[1]))
        # every class then carries the same total weight (before clipping)
        if np.all((expect > CLASS_WEIGHT_RANGE[0]) & (expect < CLASS_WEIGHT_RANGE[1])):
            np.testing.assert_allclose(counts * np.asarray(weights), y.size / len(weights), rtol=1e-9)


def test_class_balance_weights_the_rows_of_the_loss() -> None:
    loss = MultiTaskLoss([DIRECTION], LossConfig())
    logits = torch.tensor([[2.0, 0.0], [2.0, 0.0], [2.0, 0.0], [0.0, 2.0]])
    batch = {"targets": {"direction": torch.tensor([0.0, 0.0, 0.0, 1.0])},
             "valid": {"direction": torch.ones(4, dtype=torch.bool)}}
    plain = loss.compute({"direction": logits}, batch).task_losses.item()
    loss.set_class_balance({"direction": [2.0 / 3.0, 2.0]})  # 3 Down, 1 Up
    balanced = loss.compute({"direction": logits}, batch).task_losses.item()
    assert balanced == pytest.approx(plain)  # every row has the same CE here: a weighted mean of equals
    worse = torch.tensor([[2.0, 0.0], [2.0, 0.0], [2.0, 0.0], [2.0, 0.0]])  # misses the one Up row
    plain_w = MultiTaskLoss([DIRECTION], LossConfig()).compute({"direction": worse}, batch).task_losses.item()
    assert loss.compute({"direction": worse}, batch).task_losses.item() > plain_w  # the rare class counts more
    with pytest.raises(ConfigError):
        loss.set_class_balance({"direction": [1.0]})
