"""Callbacks share nothing through the epoch line: the trainer adds the best epoch before any
callback sees it, the line is read-only, and last.pt (written at on_checkpoint) holds every
callback's decision whatever their order."""

from __future__ import annotations

import pytest

from finmt_core.config import ExperimentConfig
from finmt_core.tasks import make_task
from finmt_core.training.callbacks import Callback, EarlyStopping, default_callbacks
from finmt_core.training.checkpoint import load_checkpoint
from finmt_core.training.epoch_record import BestEpoch
from finmt_core.training.run_data import load_source_panel
from finmt_core.training.runs import create_run
from finmt_core.training.session import prepare_setup
from finmt_core.training.trainer import Trainer

CFG = ExperimentConfig(
    name="order", data={"source": "synthetic", "synthetic": {"n_stocks": 6, "n_days": 220, "seed": 0}, "window": 10},
    tasks=[make_task("direction"), make_task("return", loss="mse")],
    model={"name": "lstm_transformer", "params": {"lstm_hidden": 8, "d_model": 8, "depth": 1, "heads": 2,
                                                  "head_hidden": 8, "dropout": 0.1}},
    train={"epochs": 3, "batch_size": 128, "device": "cpu", "heartbeat_s": 0.05, "max_batches_per_epoch": 2,
           "patience": 1, "monitor": "loss"},
)


class Spy(Callback):
    """Sees each line first; a write into it must fail."""

    def __init__(self) -> None:
        self.lines: list[dict] = []
        self.write_error: Exception | None = None

    def on_epoch_end(self, trainer, record) -> None:  # type: ignore[no-untyped-def]
        self.lines.append(dict(record))
        try:
            record["best_epoch"] = -1
        except TypeError as exc:
            self.write_error = exc


def test_reversed_callbacks_give_the_same_files(tmp_path) -> None:
    setup = prepare_setup(CFG, load_source_panel(CFG), None)
    run = create_run(tmp_path, "r", CFG)
    spy = Spy()
    cbs = [spy, *reversed(default_callbacks(run, CFG.train))]  # early stopping now runs after checkpointing
    trainer = Trainer(CFG, setup.prepared, setup.model, setup.device, cbs, run=run)
    trainer.fit()
    assert isinstance(spy.write_error, TypeError)
    lines = run.metric_records()
    assert [r["epoch"] for r in lines] == [r["epoch"] for r in spy.lines]
    for i, line in enumerate(lines):  # the first callback already saw the best epoch so far
        best = min(lines[: i + 1], key=lambda r: (r["val_loss"], r["epoch"]))
        assert line["best_epoch"] == spy.lines[i]["best_epoch"] == best["epoch"]
        assert line["best_val_loss"] == pytest.approx(best["val_loss"])
    assert run.status()["best_epoch"] == lines[-1]["best_epoch"]
    last = load_checkpoint(run.last_checkpoint)
    stopper = next(cb for cb in cbs if isinstance(cb, EarlyStopping))
    assert last["trainer_state"]["callbacks"]["early_stopping"] == stopper.state_dict()
    assert last["trainer_state"]["stop_reason"] == trainer.stop_reason
    assert last["trainer_state"]["best"]["epoch"] == lines[-1]["best_epoch"]


def test_best_epoch_from_an_older_last_pt() -> None:
    best = BestEpoch()
    best.load_legacy({"top": [[-0.12, 3, 0.7, 0.12], [-0.05, 1, 0.8, 0.05]]})
    assert best.update({"epoch": 4, "monitor": -0.1}) == {"best_epoch": 3, "best_val_loss": 0.7, "best_val_score": 0.12}
    oldest = BestEpoch()
    oldest.load_legacy({"top": [[0.5, 2]]})  # [val_loss, epoch]
    assert oldest.update({"epoch": 3, "val_loss": 0.5}) == {"best_epoch": 2, "best_val_loss": 0.5, "best_val_score": None}
    assert BestEpoch().update({"epoch": 1, "monitor": None}) == {}
