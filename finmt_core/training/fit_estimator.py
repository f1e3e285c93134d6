"""Non-torch presets (LightGBM, naive rules): fit once, predict, log one metrics line.

Estimators follow the registry's fit/predict contract: ``fit(prepared)`` on the train
segment, ``predict(prepared, date_idx, ticker_idx) -> {task: array}`` (class probabilities,
regression values or quantiles). Their losses are computed with the same per-task losses as
the neural models (classification: cross-entropy of the predicted probabilities), so the
metrics line is comparable with a neural run's.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from finmt_core.config import ExperimentConfig
from finmt_core.losses import TaskLoss
from finmt_core.tasks import Task
from finmt_core.training.metrics import task_metrics, validation_score
from finmt_core.training.predict import segment_predictions
from finmt_core.training.runs import RunDir, now_iso

if TYPE_CHECKING:
    from finmt_core.data.prepare import PreparedData

log = logging.getLogger(__name__)

#: Probabilities are clipped before the log so a hard 0/1 rule gives a finite cross-entropy.
PROB_FLOOR = 1e-7


def numpy_task_loss(task: Task, cfg: Any, pred: np.ndarray, target: np.ndarray, valid: np.ndarray) -> float | None:
    """The task's training loss on estimator-format predictions (None without valid rows)."""
    if not valid.any():
        return None
    out = torch.as_tensor(np.asarray(pred), dtype=torch.float32)
    if task.kind == "classification":
        out = torch.log(out.clamp_min(PROB_FLOOR))  # log-probabilities act as logits
    loss, _ = TaskLoss(task, cfg)(out, torch.as_tensor(target, dtype=torch.float32), torch.as_tensor(valid))
    value = float(loss)
    return value if np.isfinite(value) else None


def segment_losses(config: ExperimentConfig, prepared: PreparedData, preds: dict[str, np.ndarray],
                   d: np.ndarray, n: np.ndarray) -> dict[str, float | None]:
    out = {}
    for t in config.tasks:
        valid = prepared.targets.valid[t.name][d, n]
        target = np.nan_to_num(prepared.targets.training(t.name)[d, n].astype(np.float32))
        out[t.name] = numpy_task_loss(t, config.loss, preds[t.name], target, valid)
    return out


def _weighted(config: ExperimentConfig, losses: dict[str, float | None]) -> float | None:
    vals = [(t.weight, v) for t in config.tasks if (v := losses[t.name]) is not None]
    return float(sum(w * v for w, v in vals)) if vals else None


def fit_estimator_run(config: ExperimentConfig, prepared: PreparedData, run: RunDir) -> dict[str, Any]:
    """Fit the configured estimator, write predictions.parquet and one metrics line.

    Returns:
        The metrics record written.
    """
    from finmt_core.models import create_estimator

    est = create_estimator(config.model.name, config.model.params, config.tasks)
    run.write_status(message=f"fitting {config.model.name}", progress=0.1)
    t0 = time.monotonic()
    est.fit(prepared)
    fit_s = time.monotonic() - t0

    def predict(d: np.ndarray, n: np.ndarray) -> dict[str, np.ndarray]:
        return est.predict(prepared, d, n)

    dt, nt = prepared.rows("train")
    dv, nv = prepared.rows("val")
    train_losses = segment_losses(config, prepared, predict(dt, nt), dt, nt)
    val_preds = predict(dv, nv)
    val_losses = segment_losses(config, prepared, val_preds, dv, nv)
    metrics = {}
    for t in config.tasks:
        ok = prepared.targets.valid[t.name][dv, nv]
        tgt = prepared.targets.training(t.name)[dv, nv][ok].astype(np.float64)
        metrics[t.name] = task_metrics(t, np.asarray(val_preds[t.name])[ok], tgt)
    record = {
        "epoch": 1, "time": now_iso(),
        "train_loss": _weighted(config, train_losses), "val_loss": _weighted(config, val_losses),
        "val_score": (score := validation_score(config.tasks, metrics)),
        # what tuning minimises (as the trainer's record): the negated score or the loss
        "monitor": (None if score is None else -score) if config.train.monitor == "score"
        else _weighted(config, val_losses),
        "train": train_losses, "val": val_losses, "val_metrics": metrics,
        "weights": {t.name: t.weight for t in config.tasks}, "lr": {},
        "samples_per_s": len(dt) / fit_s if fit_s > 0 else None, "epoch_time_s": fit_s, "train_time_s": fit_s,
    }
    run.truncate_metrics(0)  # an estimator run has exactly one line, also when re-run
    run.append_metrics(record)
    run.write_predictions(segment_predictions(predict, prepared))
    summary = getattr(est, "summary", None)  # an ensemble records its weights beside the run
    if callable(summary):
        from finmt_core.training.runs import atomic_write_json

        atomic_write_json(run.path / "ensemble.json", summary())
    log.info("%s fitted in %.1fs; val loss %s", config.model.name, fit_s, record["val_loss"])
    return record
