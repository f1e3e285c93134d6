"""The trainer end to end on a tiny synthetic market: run directory, resume, cancel, NaN,
checkpoints, schedules, weighting strategies, estimators."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from finmt_core.config import ExperimentConfig
from finmt_core.errors import ConfigError, RunError
from finmt_core.tasks import make_task
from finmt_core.training import load_run_data, train_run
from finmt_core.training.callbacks import Callback
from finmt_core.training.checkpoint import load_checkpoint, model_from_checkpoint
from finmt_core.training.predict import predict_rows
from finmt_core.training.runs import open_run
from finmt_core.training.trainer import resolve_device

TINY_MODEL = {"lstm_hidden": 8, "d_model": 8, "depth": 1, "heads": 2, "head_hidden": 8, "dropout": 0.1}
SYNTH = {"n_stocks": 8, "n_days": 300, "n_sectors": 2, "seed": 0, "signal_strength": 0.5}


def tiny_config(**train) -> ExperimentConfig:
    t = {"epochs": 2, "batch_size": 128, "device": "cpu", "heartbeat_s": 0.05, "lr": 3e-3}
    t.update(train)
    return ExperimentConfig(
        name="tiny",
        data={"source": "synthetic", "synthetic": SYNTH, "window": 10},
        tasks=[make_task("direction"), make_task("return", loss="mse"), make_task("quantiles")],
        model={"name": "lstm_transformer", "params": TINY_MODEL},
        train=t,
    )


class CancelAfter(Callback):
    """Writes the run's cancel file at the end of epoch ``n`` (a user pressing Cancel)."""

    def __init__(self, n: int) -> None:
        self.n = n

    def on_epoch_end(self, trainer, record) -> None:
        if record["epoch"] == self.n:
            trainer.run.request_cancel()


class PoisonAfter(Callback):
    """Fills the model's weights with NaN after epoch ``n`` (a diverging run)."""

    def __init__(self, n: int) -> None:
        self.n = n

    def on_epoch_end(self, trainer, record) -> None:
        if record["epoch"] == self.n:
            with torch.no_grad():
                for p in trainer.model.parameters():
                    p.fill_(float("nan"))


@pytest.fixture(scope="module")
def done_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    return train_run(tiny_config(), root, name="tiny")


def test_complete_run_directory(done_run) -> None:
    run = done_run
    st = run.status()
    assert st["state"] == "done" and st["progress"] == 1.0 and st["error"] is None
    assert st["best_epoch"] in (1, 2) and st["device"] == "cpu"
    for p in (run.config_path, run.metrics_path, run.best_checkpoint, run.last_checkpoint, run.predictions_path):
        assert p.is_file(), p
    m = run.metrics()
    assert m["epoch"].tolist() == [1, 2]
    for col in ("train_loss", "val_loss", "train.direction", "val.quantiles", "weights.return", "samples_per_s",
                "val_metrics.direction.accuracy", "val_metrics.return.ic", "val_metrics.quantiles.coverage", "lr.heads"):
        assert col in m.columns, col
    assert np.isfinite(m["val_loss"]).all()


def test_predictions_follow_the_contract(done_run) -> None:
    run = done_run
    pred = run.predictions()
    _, prepared = load_run_data(run)
    n_rows = sum(prepared.rows(s)[0].size for s in ("val", "test"))
    assert len(pred) == n_rows
    assert set(pred["split"]) == {"val", "test"}
    expected = {"date", "ticker", "split", "direction_pred", "direction_target", "direction_prob_Down",
                "direction_prob_Up", "return_pred", "return_target", "quantiles_pred", "quantiles_target",
                "quantiles_q10", "quantiles_q50", "quantiles_q90"}
    assert expected <= set(pred.columns)
    assert pd.api.types.is_datetime64_any_dtype(pred["date"])
    np.testing.assert_allclose(pred["direction_prob_Down"] + pred["direction_prob_Up"], 1.0, atol=1e-5)
    # targets: NaN exactly where the target is invalid
    d, n = prepared.rows("val")
    valid = prepared.targets.valid["return"][d, n]
    val_rows = pred[pred["split"] == "val"]
    assert np.array_equal(np.isfinite(val_rows["return_target"].to_numpy()), valid)
    assert (pred["quantiles_q10"] <= pred["quantiles_q90"] + 1e-9).all()


def test_checkpoint_round_trip_gives_identical_predictions(done_run) -> None:
    run = done_run
    ckpt = load_checkpoint(run.best_checkpoint)
    assert ckpt["format"] == "finmt-checkpoint-v1" and ckpt["model_name"] == "lstm_transformer"
    assert {"optimizer", "scheduler", "loss_state", "rng"} <= set(load_checkpoint(run.last_checkpoint))
    model = model_from_checkpoint(ckpt)
    _, prepared = load_run_data(run)
    d, n = prepared.rows("test")
    out = predict_rows(model, prepared, d, n, torch.device("cpu"))
    pred = run.predictions()
    test = pred[pred["split"] == "test"]
    np.testing.assert_allclose(out["return"], test["return_pred"].to_numpy(), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(out["direction"][:, 1], test["direction_prob_Up"].to_numpy(), rtol=1e-5, atol=1e-7)
    # weights_only loading: plain torch.load with the safe unpickler works
    plain = torch.load(run.best_checkpoint, weights_only=True)
    assert plain["input_info"]["window"] == 10


def test_cancel_then_resume_continues_and_matches_uninterrupted(tmp_path) -> None:
    cfg = tiny_config(epochs=3)
    run = train_run(cfg, tmp_path, name="c", callbacks=[CancelAfter(1)])
    st = run.status()
    assert st["state"] == "cancelled" and "resume" in st["message"]
    assert [r["epoch"] for r in run.metric_records()] == [1]
    assert not run.predictions_path.exists()
    resumed = train_run(None, tmp_path, name="c", resume=True)
    assert resumed.status()["state"] == "done"
    epochs = [r["epoch"] for r in resumed.metric_records()]
    assert epochs == [1, 2, 3]
    assert not resumed.cancel_requested()
    straight = train_run(cfg, tmp_path, name="straight")
    a = load_checkpoint(resumed.last_checkpoint)["state_dict"]
    b = load_checkpoint(straight.last_checkpoint)["state_dict"]
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-5, atol=1e-6)
    la = [r["val_loss"] for r in resumed.metric_records()]
    lb = [r["val_loss"] for r in straight.metric_records()]
    np.testing.assert_allclose(la, lb, rtol=1e-5)


def test_resume_heals_metrics_written_after_the_checkpoint(tmp_path) -> None:
    run = train_run(tiny_config(epochs=3), tmp_path, name="h", callbacks=[CancelAfter(2)])
    # a crash between last.pt (epoch 2) and the metrics line: line 2 lost, a stray line 3 present
    recs = run.metric_records()
    run.truncate_metrics(1)
    run.append_metrics({"epoch": 3, "train_loss": 0.0})
    train_run(None, tmp_path, name="h", resume=True)
    recs2 = run.metric_records()
    assert [r["epoch"] for r in recs2] == [1, 2, 3]
    assert recs2[1]["val_loss"] == pytest.approx(recs[1]["val_loss"])


def test_nan_loss_fails_with_a_message(tmp_path) -> None:
    with pytest.raises(RunError, match="NaN"):
        train_run(tiny_config(epochs=3), tmp_path, name="nan", callbacks=[PoisonAfter(1)])
    run = open_run(tmp_path, "nan")
    st = run.status()
    assert st["state"] == "failed"
    assert "direction" in st["error"] and "return" in st["error"]
    assert [r["epoch"] for r in run.metric_records()] == [1]
    assert load_checkpoint(run.last_checkpoint)["epoch"] == 1  # the last good state is kept


def test_early_stopping_and_resume_of_a_finished_run(tmp_path) -> None:
    cfg = tiny_config(epochs=6, patience=1, min_delta=10.0)
    run = train_run(cfg, tmp_path, name="es")
    assert [r["epoch"] for r in run.metric_records()] == [1, 2]
    assert run.status()["state"] == "done"
    train_run(None, tmp_path, name="es", resume=True)
    assert [r["epoch"] for r in run.metric_records()] == [1, 2]


def test_resume_refuses_a_changed_config(tmp_path) -> None:
    train_run(tiny_config(epochs=1), tmp_path, name="r")
    other = tiny_config(epochs=2).model_copy(update={"tasks": [make_task("direction")]})
    with pytest.raises(RunError, match="different configuration"):
        train_run(other, tmp_path, name="r", resume=True)


@pytest.mark.parametrize("weighting", ["fixed", "learnable", "uncertainty", "dwa", "gradnorm"])
def test_weighting_strategies_train(tmp_path, weighting: str) -> None:
    cfg = tiny_config(epochs=2, max_batches_per_epoch=3).model_copy(
        update={"loss": ExperimentConfig().loss.model_copy(update={"weighting": weighting})}
    )
    run = train_run(cfg, tmp_path, name="w")
    recs = run.metric_records()
    assert run.status()["state"] == "done"
    w = recs[-1]["weights"]
    assert set(w) == {"direction", "return", "quantiles"} and all(np.isfinite(list(w.values())))
    if weighting in ("learnable", "uncertainty", "gradnorm"):
        assert "loss_weights" in recs[-1]["lr"]
        assert w != {"direction": 1.0, "return": 1.0, "quantiles": 1.0}


@pytest.mark.parametrize("schedule", ["none", "cosine", "cosine_restarts", "plateau"])
def test_schedules_and_lr_groups(tmp_path, schedule: str) -> None:
    cfg = tiny_config(epochs=2, max_batches_per_epoch=2, schedule=schedule, warmup_epochs=1,
                      lr_groups={"heads": 0.01}, lr=1e-3)
    run = train_run(cfg, tmp_path, name="s")
    lr = run.metric_records()[0]["lr"]
    assert set(lr) >= {"backbone", "heads"}
    ratio = lr["heads"] / lr["backbone"]
    assert ratio == pytest.approx(10.0, rel=1e-6)
    if schedule in ("none", "plateau"):
        assert lr["backbone"] == pytest.approx(1e-3)


def test_unknown_lr_group_is_a_config_error(tmp_path) -> None:
    with pytest.raises(ConfigError, match="lr_groups"):
        train_run(tiny_config(lr_groups={"nonexistent": 0.1}), tmp_path, name="x")
    assert not (tmp_path / "x").exists()  # validated before the run directory is created


def test_estimator_preset_writes_one_line_and_predictions(tmp_path) -> None:
    cfg = tiny_config().model_copy(update={"model": ExperimentConfig().model.model_copy(
        update={"name": "naive_majority", "params": {}})})
    run = train_run(cfg, tmp_path, name="naive")
    assert run.status()["state"] == "done"
    recs = run.metric_records()
    assert len(recs) == 1 and recs[0]["val_loss"] is not None
    pred = run.predictions()
    assert {"direction_prob_Up", "return_pred", "quantiles_q50"} <= set(pred.columns)


def test_cuda_requested_without_gpu_is_a_config_error() -> None:
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(ConfigError, match="no CUDA"):
        resolve_device("cuda")
    assert resolve_device("auto").type == "cpu"


def test_file_source_panel_is_copied(tmp_path, tiny_panel) -> None:
    src = tmp_path / "prices.csv"
    tiny_panel.reset_index().to_csv(src, index=False)
    cfg = tiny_config(epochs=1, max_batches_per_epoch=2).model_copy(
        update={"data": tiny_config().data.model_copy(update={"source": str(src)})})
    run = train_run(cfg, tmp_path / "runs", name="file")
    assert run.panel_path.is_file()
    src.unlink()  # the run no longer needs the original file
    panel, prepared = load_run_data(run)
    assert panel.index.get_level_values("ticker").nunique() == 8
    assert prepared.rows("test")[0].size > 0


def test_queued_run_starts_with_resume_and_a_data_error_marks_it_failed(tmp_path) -> None:
    from finmt_core.errors import DataError
    from finmt_core.training.runs import create_run

    queued = create_run(tmp_path, "queued", tiny_config(epochs=1, max_batches_per_epoch=2))
    train_run(None, tmp_path, name="queued", resume=True)  # the dashboard's way to start a run
    assert queued.status()["state"] == "done" and queued.predictions_path.is_file()

    bad = tiny_config(epochs=1)
    bad = bad.model_copy(update={"data": bad.data.model_copy(update={"tickers": ["NOPE"]})})
    run = create_run(tmp_path, "bad", bad)
    with pytest.raises(DataError, match="NOPE"):
        train_run(None, tmp_path, name="bad", resume=True)
    st = run.status()
    assert st["state"] == "failed" and "NOPE" in st["error"]


class SigtermAfter(Callback):
    """Sends this process SIGTERM at the end of epoch ``n`` (the dashboard's Cancel button)."""

    def __init__(self, n: int) -> None:
        self.n = n

    def on_epoch_end(self, trainer, record) -> None:
        if record["epoch"] == self.n:
            import os
            import signal

            os.kill(os.getpid(), signal.SIGTERM)


class StatusSpy(Callback):
    """Reads status.json at every heartbeat (after the MetricsLogger wrote it)."""

    def __init__(self) -> None:
        self.seen: list[dict] = []

    def on_heartbeat(self, trainer, info) -> None:
        self.seen.append(trainer.run.status())


def test_sigterm_cancels_and_heartbeats_report_progress(tmp_path) -> None:
    import signal

    before = signal.getsignal(signal.SIGTERM)
    spy = StatusSpy()
    run = train_run(tiny_config(epochs=3, heartbeat_s=1e-6), tmp_path, name="sig", callbacks=[SigtermAfter(1), spy])
    assert run.status()["state"] == "cancelled"
    assert [r["epoch"] for r in run.metric_records()] == [1]
    assert signal.getsignal(signal.SIGTERM) == before  # the handler is restored
    assert spy.seen and all(s["state"] == "running" for s in spy.seen)
    progress = [s["progress"] for s in spy.seen]
    assert progress == sorted(progress) and 0 < progress[0] <= 1 / 3 + 1e-9
    assert all(s.get("heartbeat") and s.get("pid") for s in spy.seen)
