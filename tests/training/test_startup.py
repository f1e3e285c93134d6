"""Training start-up: start / start_queued / resume / continue_run, the resume overrides (one
place, only the resumable fields), config.yaml read once per start."""

from __future__ import annotations

import pytest

from finmt_core.config import ExperimentConfig
from finmt_core.errors import RunError
from finmt_core.tasks import make_task
from finmt_core.training import continue_run, resume, start, start_queued
from finmt_core.training.callbacks import Callback
from finmt_core.training.pipeline import resumable_overrides, resumed_config
from finmt_core.training.runs import RunDir, create_run

SYNTH = {"n_stocks": 6, "n_days": 220, "n_sectors": 2, "seed": 0}
TINY_NET = {"lstm_hidden": 8, "d_model": 8, "depth": 1, "heads": 2, "head_hidden": 8, "dropout": 0.1}


def estimator_config() -> ExperimentConfig:
    return ExperimentConfig(name="est", data={"source": "synthetic", "synthetic": SYNTH, "window": 10},
                            model={"name": "naive_majority"}, train={"device": "cpu"})


def net_config(epochs: int = 2) -> ExperimentConfig:
    return ExperimentConfig(
        name="net", data={"source": "synthetic", "synthetic": SYNTH, "window": 10},
        tasks=[make_task("direction"), make_task("return", loss="mse")],
        model={"name": "lstm_transformer", "params": TINY_NET},
        train={"epochs": epochs, "batch_size": 128, "device": "cpu", "heartbeat_s": 0.05, "max_batches_per_epoch": 2},
    )


class CancelAfterFirst(Callback):
    def on_epoch_end(self, trainer, record) -> None:  # type: ignore[no-untyped-def]
        if record["epoch"] == 1:
            trainer.request_stop("cancelled")


def test_resumed_config_accepts_only_the_resumable_fields() -> None:
    stored = net_config()
    out = resumed_config(stored, {"train": {"epochs": 5, "device": "auto"}}, "r")
    assert out.train.epochs == 5 and out.train.device == "auto" and out.train.lr == stored.train.lr
    assert resumed_config(stored, None) is stored
    with pytest.raises(RunError, match=r"train\.lr"):
        resumed_config(stored, {"train": {"lr": 0.1}}, "r")
    with pytest.raises(RunError, match="model"):
        resumed_config(stored, {"model": {"name": "tgcn"}}, "r")
    # a whole config given: only the resumable differences become overrides (name/preset aside)
    given = stored.model_copy(update={"name": "other", "train": stored.train.model_copy(update={"epochs": 7})})
    assert resumable_overrides(stored, given) == {"train": {"epochs": 7}}
    assert resumable_overrides(stored, stored) == {}
    changed = stored.model_copy(update={"train": stored.train.model_copy(update={"batch_size": 8})})
    with pytest.raises(RunError, match=r"train\.batch_size"):
        resumable_overrides(stored, changed)


def test_start_queued_reads_config_once_and_refuses_a_trained_run(tmp_path, monkeypatch) -> None:
    create_run(tmp_path, "q", estimator_config())
    reads: list[str] = []
    original = RunDir.config

    def counting(self: RunDir) -> ExperimentConfig:
        reads.append(self.name)
        return original(self)

    monkeypatch.setattr(RunDir, "config", counting)
    run = continue_run("q", tmp_path)  # no last.pt: started from its config.yaml
    assert run.status()["state"] == "done"
    assert reads == ["q"]  # config.yaml read once for the whole start
    with pytest.raises(RunError, match=r"no checkpoints/last\.pt"):
        resume("q", tmp_path)  # an estimator run has nothing to continue from


def test_start_then_resume_from_the_last_checkpoint(tmp_path) -> None:
    run = start(net_config(epochs=2), tmp_path, name="n", callbacks=[CancelAfterFirst()])
    assert run.status()["state"] == "cancelled" and run.last_checkpoint.is_file()
    with pytest.raises(RunError, match="resume it instead"):
        start_queued("n", tmp_path)  # it has trained: starting it again would throw epoch 1 away
    with pytest.raises(RunError, match="only train"):
        resume("n", tmp_path, overrides={"train": {"lr": 1.0}})
    done = resume("n", tmp_path, overrides={"train": {"epochs": 3}})
    assert done.status()["state"] == "done"
    assert [r["epoch"] for r in done.metric_records()] == [1, 2, 3]
    assert done.config().train.epochs == 3  # the override is written back to config.yaml
    assert all("best_epoch" in r for r in done.metric_records())
    with pytest.raises(RunError, match="exists"):
        start(net_config(), tmp_path, name="n")
