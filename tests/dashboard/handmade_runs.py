"""Hand-written run directories that follow the run-directory contract (ARCHITECTURE.md).

They need no trainer: ``config.yaml``, ``status.json``, ``metrics.jsonl`` and
``predictions.parquet`` are written from deterministic random numbers, so page tests that only
read a run (Home, Training curves, Train's job list) stay fast and independent of training.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from finmt_core.config import ExperimentConfig
from finmt_core.tasks import Task

N_TICKERS = 6
N_VAL_DAYS = 30
N_TEST_DAYS = 30


def _iso(t: datetime) -> str:
    return t.astimezone(timezone.utc).isoformat()


def _config(name: str, model: str, tasks: list[Task]) -> ExperimentConfig:
    return ExperimentConfig.model_validate(
        {
            "name": name,
            "preset": model,
            "data": {"source": "synthetic", "synthetic": {"n_stocks": N_TICKERS, "n_days": 300}},
            "tasks": [t.model_dump() for t in tasks],
            "model": {"name": model, "params": {}},
            "train": {"epochs": 5, "batch_size": 64, "device": "cpu"},
        }
    )


def _metrics(tasks: list[Task], epochs: int, rng: np.random.Generator) -> list[dict]:
    lines = []
    for e in range(1, epochs + 1):
        train = {t.name: float(1.0 / e + 0.3 + 0.05 * rng.random()) for t in tasks}
        val = {t.name: float(1.1 / e + 0.35 + 0.05 * rng.random()) for t in tasks}
        lines.append(
            {
                "epoch": e,
                "time": _iso(datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=10 * e)),
                "train_loss": sum(train.values()),
                "val_loss": sum(val.values()),
                "train": train,
                "val": val,
                "val_metrics": {t.name: {"accuracy": 0.5 + 0.01 * e} for t in tasks if t.kind == "classification"},
                "weights": {t.name: 1.0 / len(tasks) + 0.01 * e * (i - 0.5) for i, t in enumerate(tasks)},
                "lr": {"default": 1e-3 * (1 - e / (epochs + 1))},
                "samples_per_s": 1500.0 + 10 * e,
                "epoch_time_s": 1.2,
            }
        )
    return lines


def _predictions(tasks: list[Task], rng: np.random.Generator) -> pd.DataFrame:
    dates = pd.bdate_range("2025-01-02", periods=N_VAL_DAYS + N_TEST_DAYS)
    tickers = [f"S{i:02d}" for i in range(N_TICKERS)]
    idx = pd.MultiIndex.from_product([dates, tickers], names=["date", "ticker"])
    df = idx.to_frame(index=False)
    df["split"] = np.where(df["date"] < dates[N_VAL_DAYS], "val", "test")
    n = len(df)
    fwd = rng.normal(0.0, 0.02, n)
    for t in tasks:
        if t.kind == "classification":
            logits = rng.normal(size=(n, len(t.classes)))
            if t.target == "direction":
                y = (fwd > 0).astype(float)
                logits[:, 1] += 2.0 * np.sign(fwd)  # a model with some skill
            else:
                y = (np.abs(fwd) > 0.02).astype(float)
                logits[:, 1] += 1.5 * (np.abs(fwd) > 0.02)
            probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
            for j, c in enumerate(t.classes):
                df[f"{t.name}_prob_{c}"] = probs[:, j].astype(np.float32)
            df[f"{t.name}_pred"] = probs.argmax(axis=1).astype(float)
            df[f"{t.name}_target"] = y
        elif t.kind == "quantile":
            mid = 0.5 * fwd + rng.normal(0, 0.01, n)
            for q, z in zip(t.quantiles, (-1.2816, 0.0, 1.2816)):
                df[f"{t.name}_q{round(q * 100):02d}"] = (mid + z * 0.02).astype(np.float32)
            df[f"{t.name}_pred"] = mid
            df[f"{t.name}_target"] = fwd
        else:
            df[f"{t.name}_pred"] = 0.5 * fwd + rng.normal(0, 0.01, n)
            df[f"{t.name}_target"] = fwd
    # the masked direction task has no target where the signal head's target is Noise
    for t in tasks:
        if t.mask_by:
            df.loc[df[f"{t.mask_by}_target"] != 1, f"{t.name}_target"] = np.nan
    return df


def write_run(
    root: Path,
    name: str,
    model: str,
    tasks: list[Task],
    *,
    state: str = "done",
    epochs_done: int = 5,
    error: str | None = None,
    seed: int = 0,
) -> Path:
    """Write one run directory under ``root`` and return its path."""
    rng = np.random.default_rng(seed)
    path = root / name
    path.mkdir(parents=True, exist_ok=True)
    cfg = _config(name, model, tasks)
    (path / "config.yaml").write_text(cfg.to_yaml())
    lines = _metrics(tasks, epochs_done, rng)
    (path / "metrics.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    now = datetime.now(timezone.utc)
    status = {
        "state": state,
        "epoch": epochs_done,
        "epochs": cfg.train.epochs,
        "progress": epochs_done / cfg.train.epochs,
        "heartbeat": _iso(now),
        "started": _iso(now - timedelta(minutes=2)),
        "finished": _iso(now) if state in ("done", "failed", "cancelled") else None,
        "pid": None,
        "device": "cpu",
        "error": error,
        "message": error or ("finished" if state == "done" else f"epoch {epochs_done}/{cfg.train.epochs}"),
        "eta_s": None if state == "done" else 30.0,
        "best_epoch": epochs_done,
        "best_val_loss": min(x["val_loss"] for x in lines) if lines else None,
    }
    (path / "status.json").write_text(json.dumps(status))
    if state == "done":
        _predictions(tasks, rng).to_parquet(path / "predictions.parquet", index=False)
    return path


TGCN_TASKS = [
    Task(target="signal", horizon=1),
    Task(target="direction", horizon=1, mask_by="signal"),
]
SEQ_TASKS = [
    Task(target="return", horizon=1),
    Task(target="direction", horizon=1),
    Task(target="quantiles", horizon=1),
]


def write_fixture_runs(root: Path) -> dict[str, Path]:
    """Two finished runs (graph model with signal+direction; sequence model with return,
    direction, quantiles), one failed run and one cancelled run."""
    return {
        "fx-tgcn": write_run(root, "fx-tgcn", "tgcn", TGCN_TASKS, seed=1),
        "fx-seq": write_run(root, "fx-seq", "lstm_transformer", SEQ_TASKS, seed=2),
        "fx-failed": write_run(
            root, "fx-failed", "cnn_lstm", SEQ_TASKS, state="failed", epochs_done=2,
            error="loss became NaN at epoch 3 (task return); lower the learning rate", seed=3,
        ),
        "fx-cancelled": write_run(root, "fx-cancelled", "finnex_cnn", SEQ_TASKS, state="cancelled", epochs_done=1),
    }
