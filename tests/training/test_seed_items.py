"""Small seed items: focal-loss alpha per class, balanced sampling of a classification task's
classes (train rows only), several horizons of one family in one model, keep-best-k and
warm-up from the preset."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from finmt_core.commands.train import set_horizon
from finmt_core.config import ExperimentConfig, LossConfig, load_preset
from finmt_core.data.balanced_sampling import BalancedBatchSampler, balanced_loader, balanced_row_weights
from finmt_core.data.prepare import prepare
from finmt_core.data.tensors import make_dataset
from finmt_core.errors import ConfigError
from finmt_core.losses import TaskLoss, focal_rows
from finmt_core.tasks import make_task

ACTION = make_task("action", 1, loss="focal")


# ---- focal alpha ----------------------------------------------------------------------------
def test_focal_alpha_scales_each_row_by_its_class() -> None:
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.0, 1.0, 0.0], [-1.0, 0.5, 3.0]])
    y = torch.tensor([0.0, 1.0, 2.0])
    alpha = [0.25, 0.5, 1.0]
    loss = TaskLoss(ACTION, LossConfig(focal_gamma=2.0, focal_alpha={"action": alpha}))
    rows, w = loss.rows(logits, y, torch.ones(3, dtype=torch.bool))
    expected = torch.tensor(alpha) * focal_rows(logits, y.long(), 2.0)
    torch.testing.assert_close(rows, expected)
    assert w is None
    plain = TaskLoss(ACTION, LossConfig(focal_gamma=2.0)).rows(logits, y, torch.ones(3, dtype=torch.bool))[0]
    torch.testing.assert_close(rows, plain * torch.tensor(alpha))


def test_focal_alpha_is_validated() -> None:
    with pytest.raises(ConfigError, match="needs 3 non-negative"):
        TaskLoss(ACTION, LossConfig(focal_alpha={"action": [0.5, 0.5]}))
    with pytest.raises(ConfigError, match="loss: focal"):
        TaskLoss(make_task("action", 1), LossConfig(focal_alpha={"action": [1.0, 1.0, 1.0]}))


# ---- balanced sampling ------------------------------------------------------------------------
def test_balanced_row_weights_give_every_class_the_same_mass() -> None:
    labels = np.array([0, 0, 0, 0, 0, 0, 1, 1, 2, 0], dtype=float)
    valid = np.array([1, 1, 1, 1, 1, 1, 1, 1, 1, 0], dtype=bool)
    w = balanced_row_weights(labels, valid, 3)
    assert w.sum() == pytest.approx(1.0)
    mass = [w[valid & (labels == c)].sum() for c in range(3)]
    np.testing.assert_allclose(mass, [0.9 / 3] * 3)
    assert w[~valid][0] == pytest.approx(0.1)  # an unknown target keeps its natural share 1/n
    s = BalancedBatchSampler(w, batch_size=4, seed=0)
    a = torch.cat(list(s))
    assert len(a) == 10 and torch.equal(torch.cat(list(BalancedBatchSampler(w, 4, 0))), a)  # seeded
    assert not torch.equal(torch.cat(list(s)), a)  # the next epoch draws again


def test_balanced_loader_draws_train_rows_with_balanced_classes(tiny_panel: pd.DataFrame) -> None:
    cfg = ExperimentConfig.from_dict({"data": {"source": "synthetic", "window": 10},
                                      "tasks": [{"target": "action", "params": {"k": 1.0}}, {"target": "return"}],
                                      "train": {"balanced_sampling": "action"}})
    prepared = prepare(tiny_panel, cfg)
    ds = make_dataset("window", prepared, "train")
    natural = prepared.targets.values["action"][ds.date_idx.numpy(), ds.ticker_idx.numpy()]
    natural = np.bincount(natural[np.isfinite(natural)].astype(int), minlength=3) / np.isfinite(natural).sum()
    assert natural.max() > 0.5  # Hold dominates with k = 1
    drawn_labels, dates = [], []
    for epoch in range(3):
        for batch in balanced_loader(ds, prepared, "action", 256, seed=0, epoch=epoch):
            ok = batch["valid"]["action"]
            drawn_labels.append(batch["targets"]["action"][ok].numpy().astype(int))
            dates.append(batch["date_idx"].numpy())
    share = np.bincount(np.concatenate(drawn_labels), minlength=3) / len(np.concatenate(drawn_labels))
    np.testing.assert_allclose(share, 1 / 3, atol=0.05)
    assert np.isin(np.concatenate(dates), prepared.split.train).all()  # train rows only


def test_balanced_sampling_config_is_checked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="must name a classification task"):
        ExperimentConfig.from_dict({"tasks": [{"target": "return"}], "train": {"balanced_sampling": "return"}})
    from finmt_core.training.pipeline import train_run

    cfg = load_preset("tgcn", {"data": {"source": "synthetic", "synthetic": {"n_stocks": 6, "n_days": 260}},
                               "tasks": [{"target": "direction"}], "train": {"balanced_sampling": "direction"}})
    with pytest.raises(ConfigError, match="graph"):
        train_run(cfg, tmp_path)
    assert not any(tmp_path.iterdir())  # refused before a run directory was made


# ---- several horizons in one model, keep-best-k and warm-up from the preset -------------------------
def test_set_horizon_keeps_the_extra_horizons_of_a_family() -> None:
    tasks = [t.model_dump() for t in load_preset("finnex_cnn_h1_h5").tasks]
    out = {t["name"]: t["horizon"] for t in set_horizon(tasks, 3)}
    assert out == {"action": 3, "return": 3, "action_5d": 5, "return_5d": 5}
    out = {t["name"]: t["horizon"] for t in set_horizon(tasks, 5)}
    assert out == {"action": 5, "return": 5}  # a duplicate of the new horizon is dropped
    dual = {t["name"]: t["horizon"] for t in set_horizon([t.model_dump() for t in load_preset("dual_tower").tasks], 1)}
    assert dual == {"relevance_1d": 1, "relevance_30d": 30, "direction_1d": 1, "direction_30d": 30}  # unchanged rule


def test_dual_tower_preset_keeps_three_and_warms_up_five() -> None:
    from finmt_core.training.callbacks import default_callbacks

    cfg = load_preset("dual_tower")
    assert cfg.train.keep_best_k == 3 and cfg.train.warmup_epochs == 5
    ckpt = next(c for c in default_callbacks(None, cfg.train) if c.name == "checkpointing")
    assert ckpt.k == 3


@pytest.mark.slow
def test_two_horizons_of_one_family_train_and_evaluate(tmp_path: Path) -> None:
    from finmt_core.evaluation.evaluate import evaluate_run
    from finmt_core.training import load_run_data
    from finmt_core.training.pipeline import train_run

    cfg = ExperimentConfig.from_dict({
        "data": {"source": "synthetic", "synthetic": {"n_stocks": 6, "n_days": 300, "signal_strength": 1.0}, "window": 10},
        "tasks": [{"name": "direction", "target": "direction", "horizon": 1, "loss": "focal"},
                  {"name": "direction_5d", "target": "direction", "horizon": 5}],
        "model": {"name": "cnn_lstm", "params": {"conv_channels": 4, "lstm_hidden": 4, "fusion_dim": 4, "attn_heads": 1,
                                                 "head_hidden": 4}},
        "loss": {"focal_alpha": {"direction": [0.4, 0.6]}},
        "train": {"epochs": 1, "max_batches_per_epoch": 3, "batch_size": 64, "device": "cpu",
                  "balanced_sampling": "direction_5d"}})
    run = train_run(cfg, tmp_path, name="h1h5")
    assert run.status()["state"] == "done" and cfg.embargo == 5
    preds = run.predictions()
    _, prepared = load_run_data(run.path)
    close = prepared.dense.close
    d = prepared.dates.get_indexer(pd.DatetimeIndex(preds["date"]))
    n = pd.Index(prepared.tickers).get_indexer(preds["ticker"].astype(str))
    for name, h in (("direction", 1), ("direction_5d", 5)):
        assert {f"{name}_prob_Up", f"{name}_target"} <= set(preds.columns)
        known = preds[f"{name}_target"].notna().to_numpy()
        fwd = np.log(close[d[known] + h, n[known]] / close[d[known], n[known]])
        np.testing.assert_array_equal(preds.loc[known, f"{name}_target"].to_numpy(), (fwd > 0).astype(float))
    ev = evaluate_run(run.path, baselines=("naive_zero",), backtest=False)
    assert {"direction", "direction_5d"} <= set(ev["tasks"])
    by_h = ev["breakdowns"]["horizon"]["direction"]
    assert set(by_h["by_horizon"]) == {"1", "5"} and by_h["metric"] in ev["tasks"]["direction"]
    json.dumps(ev)  # JSON-ready
