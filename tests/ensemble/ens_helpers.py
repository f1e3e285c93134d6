"""Shared pieces of the ensemble tests: the planted market and tiny member configs."""

from __future__ import annotations

from finmt_core.config import ExperimentConfig

#: the planted market: the same panel as synthetic_market_with_oracle(**MARKET)[0]
MARKET = {"n_stocks": 8, "n_days": 320, "n_sectors": 2, "seed": 3, "signal_strength": 1.5}
TASKS = [{"name": "direction", "target": "direction", "horizon": 1}, {"name": "return", "target": "return", "horizon": 1}]
GBM = {"n_estimators": 40, "num_leaves": 7, "min_child_samples": 20}
TINY_CNN_LSTM = {"conv_channels": 4, "lstm_hidden": 4, "fusion_dim": 4, "attn_heads": 1, "head_hidden": 4}


def tiny_config(model: str, params: dict, seed: int = 0, tasks: list | None = None) -> ExperimentConfig:
    """A 1-epoch, 4-batch config of ``model`` on the planted market (window 10)."""
    return ExperimentConfig.from_dict({
        "name": model, "data": {"source": "synthetic", "synthetic": MARKET, "window": 10},
        "tasks": tasks or TASKS, "model": {"name": model, "params": params},
        "train": {"epochs": 1, "batch_size": 128, "max_batches_per_epoch": 4, "device": "cpu", "seed": seed,
                  "heartbeat_s": 60}})
